//! A test of your own code that needs no server: record once, replay
//! forever after.
//!
//! ```text
//! # once, against a real rkat-rpc (and its LLM): writes the cassette
//! MEERKAT_RECORD=1 cargo run -p meerkat-transport-tokio --example replay_test
//! # from then on, offline, in CI: replays the committed cassette
//! cargo test -p meerkat-transport-tokio --example replay_test
//! cargo run -p meerkat-transport-tokio --example replay_test
//! ```
//!
//! The cassette (`examples/replay_test/cassette.jsonl`) holds every line
//! both ways. In a replay the client's requests must be the recorded
//! ones, in order: change the scenario and the replay fails with
//! `REPLAY_MISMATCH` and a diff of the params, until it is recorded again.
//! This one was recorded against `rkat-rpc` 0.5.2 with the project's
//! scripted LLM (`tests/tests/tokio_replay.rs` re-records it when
//! `MEERKAT_RECORD_EXAMPLE=1`).

mod scenario;

use std::path::PathBuf;

use meerkat_transport_tokio::ConnectOptions;

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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), meerkat_transport_tokio::Error> {
    let outcome = scenario::run(options()).await?;
    println!("session {}", outcome.session_id);
    for text in &outcome.texts {
        println!("> {text}");
    }
    println!("{} streamed events", outcome.events.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use meerkat_transport_tokio::ConnectOptions;

    #[tokio::test]
    async fn the_scenario_replays_from_the_committed_cassette() {
        let outcome = super::scenario::run(ConnectOptions::new().replay(super::cassette()))
            .await
            .expect("the replay");
        assert_eq!(outcome.texts.len(), 3);
        assert!(outcome.texts.iter().all(|t| !t.is_empty()), "{outcome:?}");
        assert!(!outcome.events.is_empty());
    }
}
