//! Create a session, then stream a turn with typed events (the Python docs'
//! "penguin facts" example).
//!
//! Run: `cargo run -p meerkat-transport-blocking --example facts_stream`.

use meerkat_transport_blocking::{ConnectOptions, Error, Event, MeerkatClient, SessionOptions};
use std::io::Write as _;

fn main() -> Result<(), Error> {
    let client = MeerkatClient::connect(ConnectOptions::default())?;
    let session = client.create_session(
        SessionOptions::new("List three interesting facts about penguins.")
            .model("claude-sonnet-4-5"),
    )?;
    println!("First turn: {}\n", session.text());

    let mut events = session.stream("Now give me three more facts.")?;
    for event in events.by_ref() {
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
    client.close()
}
