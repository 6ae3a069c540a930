//! Invoking a skill by its `SkillKey` (the Python docs' skills example).
//!
//! Run: `cargo run -p meerkat-transport-tokio --example skills -- <source-uuid> <skill-name>`.

use meerkat_transport_tokio::{ConnectOptions, Error, MeerkatClient, SessionOptions, SkillKey};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let source = args.next().unwrap_or_else(|| "abc123".into());
    let name = args.next().unwrap_or_else(|| "code-review".into());
    let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    let session = client
        .create_session(
            SessionOptions::new("I need help reviewing code.").model("claude-sonnet-4-5"),
        )
        .await?;
    let key = SkillKey::new(source, name);
    // Fails with CAPABILITY_UNAVAILABLE when the server has no skills.
    let result = session
        .invoke_skill(key, "Review this Python function for bugs.")
        .await?;
    println!("{}", result.text);
    session.archive().await?;
    client.close().await
}
