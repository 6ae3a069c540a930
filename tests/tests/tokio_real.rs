//! The tokio transport against the real `rkat-rpc` 0.5.2 and the scripted
//! LLM: process life (polite close, drop), tasks (turns on several tasks,
//! an interrupt from another task, a tool handler that runs a nested turn,
//! a turn future cancelled by a timeout), beyond the shared scenarios in
//! `tests/scenarios/real.rs`.

use std::time::Duration;

use crate::tokio_common::{assert_reaped, exists, within};
use meerkat_tests::llm::ScriptedLlm;
use meerkat_tests::real::RealServer;
use meerkat_transport_tokio::{
    Event, MeerkatClient, SessionOptions, ToolDef, ToolOutput, TurnOptions,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);

fn quiet(prompt: &str) -> SessionOptions {
    SessionOptions::new(prompt).model("claude-sonnet-4-5")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_close_is_polite_and_drop_reaps() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    within(LIMIT, async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        client.create_session(quiet("hi")).await.expect("create");
        let pid = client.pid().expect("a child process");
        client.close().await.expect("close");
        assert_reaped(pid);

        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let session = client.create_session(quiet("hi")).await.expect("create");
        let pid = client.pid().expect("a child process");
        drop(client);
        assert!(exists(pid), "the session holds it");
        drop(session);
        assert_reaped(pid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_turns_on_tasks_and_an_interrupt_from_another_task() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    within(LIMIT, async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let session = client
                        .create_session(quiet(&format!("worker {i}")))
                        .await
                        .expect("create");
                    for turn in 0..2 {
                        let text = session
                            .turn(format!("w{i} t{turn}"))
                            .await
                            .expect("turn")
                            .text;
                        assert_eq!(text, format!("You said: w{i} t{turn}"));
                    }
                })
            })
            .collect();

        // Meanwhile: a streamed turn the LLM holds after its first delta,
        // interrupted from this task once the reader saw that delta.
        let session = client
            .create_session(quiet("held one"))
            .await
            .expect("create");
        let mut events = session
            .stream("[[stall 1]] [[chunks 40]] a long answer")
            .await
            .expect("stream");
        let (first_delta, mut streaming) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut deltas = 0usize;
            let mut failed = None;
            while let Some(event) = events.next().await {
                match event {
                    Ok(Event::TextDelta { .. }) => {
                        deltas += 1;
                        let _ = first_delta.send(());
                    }
                    Ok(_) => {}
                    Err(e) => failed = Some(e),
                }
            }
            (deltas, failed, events.result().cloned())
        });
        streaming.recv().await.expect("the first delta");
        session.interrupt().await.expect("interrupt");
        let (deltas, failed, result) = reader.await.expect("reader");
        assert!(deltas < 40, "the turn was cut short ({deltas} deltas)");
        assert!(
            failed.is_some() || result.is_some(),
            "the stream ended either way"
        );
        for worker in workers {
            worker.await.expect("worker");
        }
        // The interrupted input is not replayed.
        let next = session
            .turn("after the interrupt")
            .await
            .expect("next turn");
        assert_eq!(next.text, "You said: after the interrupt");
        client.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tool_handler_runs_a_nested_turn() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    within(LIMIT, async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let inner = client.clone();
        client
            .register_tool(
                ToolDef::new("ask", "Asks another session").input_schema(
                    json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                ),
                move |args: Value| {
                    let inner = inner.clone();
                    async move {
                        let q = args["q"].as_str().unwrap_or("?").to_owned();
                        let nested = inner
                            .create_session(quiet(&q))
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>(ToolOutput::text(nested.text()))
                    }
                },
            )
            .await
            .expect("register");
        let session = client.create_session(quiet("hi")).await.expect("create");
        let result = session
            .turn_with(
                r#"[[tool ask {"q":"nested question"}]] use the tool"#,
                TurnOptions::default(),
            )
            .await
            .expect("turn");
        assert!(
            result.text.contains("You said: nested question"),
            "{}",
            result.text
        );
        assert!(result.tool_calls >= 1, "{result:?}");
        client.close().await.expect("close");
    })
    .await;
}

/// Nobody reads the interrupted turn: `interrupt` itself resets the runtime
/// (0.5.2; 0.9.8 no longer replays an interrupted input), or the next turn
/// would replay the interrupted input (a 12 s model call here) before
/// answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_interrupt_after_dropping_the_stream_then_a_normal_turn() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    within(LIMIT, async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let session = client.create_session(quiet("hi")).await.expect("create");
        let mut events = session
            .stream("[[slow 300]] [[chunks 40]] a long answer")
            .await
            .expect("stream");
        loop {
            match events.next().await {
                Some(Ok(Event::TextDelta { .. })) => break,
                Some(Ok(_)) => {}
                other => panic!("no delta: {other:?}"),
            }
        }
        drop(events);
        session.interrupt().await.expect("interrupt");
        let before = llm.requests().len();
        let next = session
            .turn("after the interrupt")
            .await
            .expect("next turn");
        assert_eq!(next.text, "You said: after the interrupt");
        // One model call, for the new prompt only: the interrupted input
        // was not replayed. Server difference: 0.5.2 keeps the interrupted
        // input in the transcript (once), 0.9.8 drops the cancelled run's
        // input from it (fixtures/rkat-rpc-0.9.8/interrupt.jsonl).
        let requests = llm.requests();
        assert_eq!(requests.len() - before, 1, "{:?}", &requests[before..]);
        let messages = requests[before]["messages"].to_string();
        let kept = usize::from(!meerkat_tests::real::is_v09());
        assert_eq!(
            messages.matches("a long answer").count(),
            kept,
            "{messages}"
        );
        assert_eq!(
            messages.matches("after the interrupt").count(),
            1,
            "{messages}"
        );
        client.close().await.expect("close");
    })
    .await;
}

/// A streamed turn raced against a short timeout in `select!`: the
/// consumer gives up on the stream and interrupts; the session then runs a
/// normal turn on the real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_stream_given_up_in_select_then_interrupt_and_a_normal_turn() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    within(LIMIT, async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let session = client.create_session(quiet("hi")).await.expect("create");
        // The LLM holds the answer after its first delta: once that delta
        // is here, the timer is sure to win.
        let mut events = session
            .stream("[[stall 1]] [[chunks 40]] a long answer")
            .await
            .expect("stream");
        let mut seen = 0usize;
        loop {
            match events.next().await {
                Some(Ok(Event::TextDelta { .. })) => break,
                Some(Ok(_)) => seen += 1,
                other => panic!("no delta: {other:?}"),
            }
        }
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(_)) => seen += 1,
                    other => panic!("the held turn ended: {other:?}"),
                },
                () = tokio::time::sleep(Duration::from_millis(200)) => break,
            }
        }
        assert!(seen > 0, "events came before the consumer gave up");
        drop(events);
        session.interrupt().await.expect("interrupt");
        let next = session.turn("and now").await.expect("next turn");
        assert_eq!(next.text, "You said: and now");
        client.close().await.expect("close");
    })
    .await;
}
