//! Create a session, then stream a turn with typed events (the Python docs'
//! "penguin facts" example).
//!
//! Run: `cargo run -p meerkat-transport-tokio --example facts_stream`.

use meerkat_transport_tokio::{ConnectOptions, Error, Event, MeerkatClient, SessionOptions};
use std::io::Write as _;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    let session = client
        .create_session(
            SessionOptions::new("List three interesting facts about penguins.")
                .model("claude-sonnet-4-5"),
        )
        .await?;
    println!("First turn: {}\n", session.text());

    let mut events = session.stream("Now give me three more facts.").await?;
    while let Some(event) = events.next().await {
        match event? {
            Event::TextDelta { delta, .. } => {
                print!("{delta}");
                let _ = std::io::stdout().flush();
            }
            Event::TurnCompleted { usage, .. } => {
                println!(
                    "\nTokens: {} in / {} out",
                    usage.input_tokens, usage.output_tokens
                );
            }
            _ => {}
        }
    }
    client.close().await
}
