//! Every real-server capture (`tests/fixtures/**/*.jsonl`) replayed through
//! the tokio transport: a generic driver sends each recorded request with
//! `call_raw`, in recorded order, and checks every answer against the
//! recorded one; the replay itself checks every client line. Plus the
//! replay's failures: a mismatch and a cassette that ends early.

use std::time::Duration;

use crate::tokio_common::{until, within};
use meerkat_tests::replay::{captures, cassette, expected, handshake, outcome, prepare};
use meerkat_transport_tokio::proto::cassette::Replay;
use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(120);

async fn drive(capture: &std::path::Path, paced: bool) {
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
        .await
        .unwrap_or_else(|e| panic!("{}: connect: {e}", capture.display()));
    let mut calls = Vec::new();
    for request in &prepared.requests {
        // A request goes once the replay expects it: every client message
        // recorded before it (the SDK's own answers to tool calls
        // included) was matched. The order of the recording, whatever
        // order the tasks run in.
        until(|| {
            let p = client.replay_progress().expect("a replay");
            p.matched >= request.send_index || p.ended
        })
        .await;
        let (c, r) = (client.clone(), request.clone());
        calls.push((
            request.clone(),
            tokio::spawn(async move { c.call_raw(&r.method, r.params).await }),
        ));
    }
    for (request, call) in calls {
        let result = call.await.expect("the call task");
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
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_replays() {
    let all = captures();
    assert!(all.len() >= 9, "{all:?}");
    within(LIMIT, async {
        for capture in &all {
            drive(capture, false).await;
        }
    })
    .await;
}

/// At the recorded pace (the shortest capture, 2.4 s recorded): the
/// same answers, the lines held back until due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_replay_gives_the_same_answers() {
    let basic = captures()
        .into_iter()
        .find(|c| c.ends_with("rkat-rpc-0.5.0/basic.jsonl"))
        .expect("the 0.5.0 basic capture");
    within(LIMIT, drive(&basic, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_and_an_early_end_are_errors_not_hangs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut lines = handshake();
    lines.push(json!({"dir":"send","msg":{"jsonrpc":"2.0","id":3,"method":"session/list","params":{"limit":5}}}));
    lines.push(json!({"dir":"recv","msg":{"jsonrpc":"2.0","id":3,"result":{"sessions":[]}}}));
    let path = cassette(dir.path(), &lines);
    within(LIMIT, async {
        let client = MeerkatClient::connect(ConnectOptions::new().replay(path.as_path()))
            .await
            .expect("connect");
        let err = client
            .call_raw("session/list", json!({"limit": 6}))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "REPLAY_MISMATCH");
        let text = err.to_string();
        assert!(text.contains("params.limit: expected 5, got 6"), "{text}");

        let client = MeerkatClient::connect(ConnectOptions::new().replay(path.as_path()))
            .await
            .expect("connect");
        let ok = client.call_raw("session/list", json!({"limit": 5})).await;
        assert_eq!(ok.expect("recorded"), json!({"sessions": []}));
        let err = client
            .call_raw("session/list", json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "CONNECTION_CLOSED");
        assert!(err.to_string().contains("the cassette ended"), "{err}");

        // A cassette that ends with a request unanswered.
        lines.pop();
        let path = cassette(dir.path(), &lines);
        let client = MeerkatClient::connect(ConnectOptions::new().replay(path.as_path()))
            .await
            .expect("connect");
        let err = client
            .call_raw("session/list", json!({"limit": 5}))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("ended early, with no recorded answer to session/list"),
            "{err}"
        );
    })
    .await;
}

/// The example's scenario (`meerkat-transport-tokio/examples/replay_test`),
/// the same code the example runs.
#[path = "../../meerkat-transport-tokio/examples/replay_test/scenario.rs"]
#[allow(dead_code)]
mod scenario;

/// Against the real server (only when `MEERKAT_RKAT_RPC` names it, as the
/// README's test command does): a demo-like session recorded live, then
/// replayed from its cassette with no server, and both runs give the same
/// typed results and events. With `MEERKAT_RECORD_EXAMPLE=1` it also
/// re-records the example's committed cassette.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_a_live_session_then_replay_it() {
    if std::env::var_os("MEERKAT_RKAT_RPC").is_none() {
        eprintln!("MEERKAT_RKAT_RPC is not set: no live recording (the captures still replay)");
        return;
    }
    let llm = meerkat_tests::llm::ScriptedLlm::start();
    let server = meerkat_tests::real::RealServer::new(&llm);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("live.jsonl");
    within(LIMIT, async {
        let live = scenario::run(server.connect_options().record(&path))
            .await
            .expect("the live run");
        let text = std::fs::read_to_string(&path).expect("the cassette");
        assert!(text.lines().count() > 10, "{text}");
        assert!(text.lines().all(|l| l.contains("\"t_ms\":")));
        let replayed = scenario::run(ConnectOptions::new().replay(path.as_path()))
            .await
            .expect("the replay");
        assert_eq!(live, replayed);
        if std::env::var_os("MEERKAT_RECORD_EXAMPLE").is_some() {
            let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../meerkat-transport-tokio/examples/replay_test/cassette.jsonl");
            std::fs::copy(&path, example).expect("write the example's cassette");
        }
    })
    .await;
}
