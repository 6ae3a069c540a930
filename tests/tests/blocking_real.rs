//! The blocking transport against the real `rkat-rpc` 0.5.2 and the scripted
//! LLM: process life (polite close, drop), threads (turns on several
//! threads, an interrupt from another thread, a tool handler that runs a
//! nested turn), beyond the shared scenarios in `tests/scenarios/real.rs`.

use std::time::Duration;

use crate::blocking_common::{assert_reaped, exists, within};
use meerkat_tests::llm::ScriptedLlm;
use meerkat_tests::real::RealServer;
use meerkat_transport_blocking::{
    Event, MeerkatClient, SessionOptions, ToolDef, ToolOutput, TurnOptions,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(120);

fn quiet(prompt: &str) -> SessionOptions {
    SessionOptions::new(prompt).model("claude-sonnet-4-5")
}

#[test]
fn real_close_is_polite_and_drop_reaps() {
    within(LIMIT, || {
        let llm = ScriptedLlm::start();
        let server = RealServer::new(&llm);
        let client = MeerkatClient::connect(server.connect_options()).expect("connect");
        client.create_session(quiet("hi")).expect("create");
        let pid = client.pid().expect("a child process");
        client.close().expect("close");
        assert_reaped(pid);

        let client = MeerkatClient::connect(server.connect_options()).expect("connect");
        let session = client.create_session(quiet("hi")).expect("create");
        let pid = client.pid().expect("a child process");
        drop(client);
        assert!(exists(pid), "the session holds it");
        drop(session);
        assert_reaped(pid);
    });
}

#[test]
fn real_turns_on_threads_and_an_interrupt_from_another_thread() {
    within(LIMIT, || {
        let llm = ScriptedLlm::start();
        let server = RealServer::new(&llm);
        let client = MeerkatClient::connect(server.connect_options()).expect("connect");
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let client = client.clone();
                std::thread::spawn(move || {
                    let session = client
                        .create_session(quiet(&format!("worker {i}")))
                        .expect("create");
                    for turn in 0..2 {
                        let text = session.turn(format!("w{i} t{turn}")).expect("turn").text;
                        assert_eq!(text, format!("You said: w{i} t{turn}"));
                    }
                })
            })
            .collect();

        // Meanwhile: a streamed turn the LLM holds after its first delta,
        // interrupted from this thread once the reader saw that delta.
        let session = client.create_session(quiet("held one")).expect("create");
        let events = session
            .stream("[[stall 1]] [[chunks 40]] a long answer")
            .expect("stream");
        let (first_delta, streaming) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut events = events;
            let mut deltas = 0usize;
            let mut failed = None;
            for event in &mut events {
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
        streaming.recv().expect("the first delta");
        session.interrupt().expect("interrupt");
        let (deltas, failed, result) = reader.join().expect("reader");
        assert!(deltas < 40, "the turn was cut short ({deltas} deltas)");
        assert!(
            failed.is_some() || result.is_some(),
            "the stream ended either way"
        );
        for worker in workers {
            worker.join().expect("worker");
        }
        // The interrupted input is not replayed.
        let next = session.turn("after the interrupt").expect("next turn");
        assert_eq!(next.text, "You said: after the interrupt");
        client.close().expect("close");
    });
}

#[test]
fn real_tool_handler_runs_a_nested_turn() {
    within(LIMIT, || {
        let llm = ScriptedLlm::start();
        let server = RealServer::new(&llm);
        let client = MeerkatClient::connect(server.connect_options()).expect("connect");
        let inner = client.clone();
        client
            .register_tool(
                ToolDef::new("ask", "Asks another session").input_schema(
                    json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                ),
                move |args: Value| {
                    let q = args["q"].as_str().unwrap_or("?").to_owned();
                    let nested = inner.create_session(quiet(&q)).map_err(|e| e.to_string())?;
                    Ok::<_, String>(ToolOutput::text(nested.text()))
                },
            )
            .expect("register");
        let session = client.create_session(quiet("hi")).expect("create");
        let result = session
            .turn_with(
                r#"[[tool ask {"q":"nested question"}]] use the tool"#,
                TurnOptions::default(),
            )
            .expect("turn");
        assert!(
            result.text.contains("You said: nested question"),
            "{}",
            result.text
        );
        assert!(result.tool_calls >= 1, "{result:?}");
        client.close().expect("close");
    });
}

/// Nobody reads the interrupted turn: `interrupt` itself resets the runtime
/// (0.5.2; 0.9.8 no longer replays an interrupted input), or the next turn
/// would replay the interrupted input (a 12 s model call here) before
/// answering.
#[test]
fn real_interrupt_after_dropping_the_stream_then_a_normal_turn() {
    within(LIMIT, || {
        let llm = ScriptedLlm::start();
        let server = RealServer::new(&llm);
        let client = MeerkatClient::connect(server.connect_options()).expect("connect");
        let session = client.create_session(quiet("hi")).expect("create");
        let mut events = session
            .stream("[[slow 300]] [[chunks 40]] a long answer")
            .expect("stream");
        let first_delta = events.find(|e| matches!(e, Ok(Event::TextDelta { .. })));
        assert!(first_delta.is_some());
        drop(events);
        session.interrupt().expect("interrupt");
        let before = llm.requests().len();
        let next = session.turn("after the interrupt").expect("next turn");
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
        client.close().expect("close");
    });
}
