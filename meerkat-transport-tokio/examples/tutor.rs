//! Multi-turn conversation (the Python docs' "math tutor" example).
//!
//! Needs `rkat-rpc` (`MEERKAT_BIN_PATH`, or on `PATH`) and a provider key
//! such as `ANTHROPIC_API_KEY`. Run: `cargo run -p meerkat-transport-tokio --example tutor`.

use meerkat_transport_tokio::{ConnectOptions, Error, MeerkatClient, SessionOptions};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    let session = client
        .create_session(
            SessionOptions::new("You are a helpful math tutor. What is 12 * 15?")
                .model("claude-sonnet-4-5"),
        )
        .await?;
    println!("Turn 1: {}", session.text());

    let result = session.turn("Now divide that result by 3.").await?;
    println!("Turn 2: {}", result.text);

    session.archive().await?;
    client.close().await
}
