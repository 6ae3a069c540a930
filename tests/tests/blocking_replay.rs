//! Every real-server capture (`tests/fixtures/**/*.jsonl`) replayed through
//! the blocking transport, as `tokio_replay` does through the tokio one: a
//! generic driver sends each recorded request with `call_raw` (each on a
//! thread, in recorded order) and checks every answer against the
//! recorded one. Plus the replay's failures.

use std::time::Duration;

use crate::blocking_common::{until, within};
use meerkat_tests::replay::{captures, cassette, expected, handshake, outcome, prepare};
use meerkat_transport_blocking::proto::cassette::Replay;
use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(120);

fn drive(capture: &std::path::Path, paced: bool) {
    let prepared = prepare(capture);
    // Answers to the server's tool calls are the SDK's own (no handler is
    // registered here): accept any.
    let mut replay = Replay::new(&prepared.cassette)
        .ignore("result")
        .ignore("error");
    if paced {
        replay = replay.paced();
    }
    let client = MeerkatClient::connect(ConnectOptions::new().replay(replay))
        .unwrap_or_else(|e| panic!("{}: connect: {e}", capture.display()));
    let mut calls = Vec::new();
    for request in &prepared.requests {
        // A request goes once the replay expects it: every client message
        // recorded before it (the SDK's own answers to tool calls
        // included) was matched.
        until(|| {
            let p = client.replay_progress().expect("a replay");
            p.matched >= request.send_index || p.ended
        });
        let (c, r) = (client.clone(), request.clone());
        calls.push((
            request.clone(),
            std::thread::spawn(move || c.call_raw(&r.method, r.params)),
        ));
    }
    for (request, call) in calls {
        let result = call.join().expect("the call thread");
        let got = outcome(&result);
        assert_eq!(
            got,
            expected(request.answer.as_ref()),
            "{} line {}: {} ({:?})",
            capture.display(),
            request.line,
            request.method,
            result.err().map(|e| e.to_string())
        );
    }
    let progress = client.replay_progress().expect("a replay");
    assert_eq!(progress.matched, prepared.sends, "{}", capture.display());
    assert!(progress.finished, "{}: {progress:?}", capture.display());
    client.close().expect("close");
}

#[test]
fn every_capture_replays() {
    let all = captures();
    assert!(all.len() >= 9, "{all:?}");
    within(LIMIT, move || {
        for capture in &all {
            drive(capture, false);
        }
    });
}

/// At the recorded pace (the shortest capture, 2.4 s recorded): the
/// same answers, the lines held back until due.
#[test]
fn a_paced_replay_gives_the_same_answers() {
    let basic = captures()
        .into_iter()
        .find(|c| c.ends_with("rkat-rpc-0.5.0/basic.jsonl"))
        .expect("the 0.5.0 basic capture");
    within(LIMIT, move || drive(&basic, true));
}

#[test]
fn a_mismatch_and_an_early_end_are_errors_not_hangs() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut lines = handshake();
        lines.push(json!({"dir":"send","msg":{"jsonrpc":"2.0","id":3,"method":"session/list","params":{"limit":5}}}));
        lines.push(json!({"dir":"recv","msg":{"jsonrpc":"2.0","id":3,"result":{"sessions":[]}}}));
        let path = cassette(dir.path(), &lines);
        let client =
            MeerkatClient::connect(ConnectOptions::new().replay(path.as_path())).expect("connect");
        let err = client
            .call_raw("session/list", json!({"limit": 6}))
            .unwrap_err();
        assert_eq!(err.code(), "REPLAY_MISMATCH");
        assert!(
            err.to_string().contains("params.limit: expected 5, got 6"),
            "{err}"
        );

        let client =
            MeerkatClient::connect(ConnectOptions::new().replay(path.as_path())).expect("connect");
        let ok = client.call_raw("session/list", json!({"limit": 5}));
        assert_eq!(ok.expect("recorded"), json!({"sessions": []}));
        let err = client.call_raw("session/list", json!({})).unwrap_err();
        assert_eq!(err.code(), "CONNECTION_CLOSED");
        assert!(err.to_string().contains("the cassette ended"), "{err}");

        lines.pop();
        let path = cassette(dir.path(), &lines);
        let client =
            MeerkatClient::connect(ConnectOptions::new().replay(path.as_path())).expect("connect");
        let err = client
            .call_raw("session/list", json!({"limit": 5}))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("ended early, with no recorded answer to session/list"),
            "{err}"
        );
    });
}
