//! A test of your own code that needs no server, for sync code: record
//! once, replay forever after (the twin of the tokio crate's example).
//!
//! ```text
//! # once, against a real rkat-rpc (and its LLM): writes the cassette
//! MEERKAT_RECORD=1 cargo run -p meerkat-transport-blocking --example replay_test
//! # from then on, offline, in CI: replays the committed cassette
//! cargo test -p meerkat-transport-blocking --example replay_test
//! cargo run -p meerkat-transport-blocking --example replay_test
//! ```
//!
//! A cassette does not depend on the transport that recorded it: this one
//! is the tokio example's (recorded against `rkat-rpc` 0.5.2 with the
//! project's scripted LLM), and the blocking client makes the same
//! requests. Change the scenario and the replay fails with
//! `REPLAY_MISMATCH` and a diff of the params, until it is recorded again.

use std::path::PathBuf;

use meerkat_transport_blocking::{ConnectOptions, Error, Event, MeerkatClient, SessionOptions};

fn cassette() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/replay_test/cassette.jsonl")
}

/// Record when `MEERKAT_RECORD` is set (the server found as usual:
/// `MEERKAT_BIN_PATH`, then `rkat-rpc` on `PATH`), else replay.
fn options() -> ConnectOptions {
    if std::env::var_os("MEERKAT_RECORD").is_some() {
        ConnectOptions::new().record(cassette())
    } else {
        ConnectOptions::new().replay(cassette())
    }
}

/// What the session produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    session_id: String,
    /// The text of the first turn, the second, and the streamed third.
    texts: Vec<String>,
    /// The streamed turn's events.
    events: Vec<Event>,
}

/// Connect, create a session, a turn, a streamed turn, close: a plain
/// function of the options, the same live and in a replay.
fn run(options: ConnectOptions) -> Result<Outcome, Error> {
    let client = MeerkatClient::connect(options)?;
    let session = client.create_session(
        SessionOptions::new("What is the capital of France?").model("claude-sonnet-4-5"),
    )?;
    let mut texts = vec![session.text()];
    texts.push(session.turn("And of Germany?")?.text);
    let mut stream = session.stream("And of Italy? [[chunks 3]]")?;
    let mut events = Vec::new();
    for event in &mut stream {
        events.push(event?);
    }
    texts.push(stream.result().map(|r| r.text.clone()).unwrap_or_default());
    if let Some(progress) = client.replay_progress() {
        // Every request the recording made was made again.
        assert_eq!(progress.matched, progress.expected, "{progress:?}");
    }
    client.close()?;
    Ok(Outcome {
        session_id: session.id().to_owned(),
        texts,
        events,
    })
}

fn main() -> Result<(), Error> {
    let outcome = run(options())?;
    println!("session {}", outcome.session_id);
    for text in &outcome.texts {
        println!("> {text}");
    }
    println!("{} streamed events", outcome.events.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use meerkat_transport_blocking::ConnectOptions;

    #[test]
    fn the_scenario_replays_from_the_committed_cassette() {
        let outcome =
            super::run(ConnectOptions::new().replay(super::cassette())).expect("the replay");
        assert_eq!(outcome.texts.len(), 3);
        assert!(outcome.texts.iter().all(|t| !t.is_empty()), "{outcome:?}");
        assert!(!outcome.events.is_empty());
    }
}
