//! Threads and handles of the blocking transport: which handles cross
//! threads, a dropped stream's late events, a tool handler that runs a whole
//! turn through the client that called it, and subscriptions.
//!
//! No test here reads the clock to decide: the fake logs the turns it
//! finished, and tool handlers wait for the test instead of sleeping.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::blocking_common::{
    self, FakeFiles, connect, echo_kinds, kinds, text_of, until, watched, within,
};
use meerkat_transport_blocking::{
    DeferredSession, Error, EventStream, EventSubscription, MeerkatClient, Member, Mob, Session,
    ToolDef, ToolOutput,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn handles_cross_threads() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    clone_send_sync::<MeerkatClient>();
    clone_send_sync::<Session>();
    clone_send_sync::<DeferredSession>();
    clone_send_sync::<Mob>();
    clone_send_sync::<Member>();
    send::<EventStream>();
    send::<EventSubscription>();
    error::<Error>();
}

#[test]
fn a_stream_dropped_midway_never_leaks_into_the_next_turn() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files)).expect("connect");
        let session = client.create_session("hi").expect("create");
        let mut events = session
            .stream("[[slow 50]] [[chunks 6]] first")
            .expect("stream");
        assert_eq!(
            events.next().expect("an event").expect("ok").event_type(),
            "run_started"
        );
        drop(events);
        // The abandoned turn finishes on the server, and the client reads
        // all of it (the answer to a later request comes after it on the
        // pipe) before the next turn starts.
        until(|| files.turns_done(session.id()) == 2);
        client.list_sessions().expect("list");
        let events: Vec<_> = session
            .stream("second")
            .expect("stream")
            .map(|e| e.expect("event"))
            .collect();
        assert_eq!(kinds(&events), echo_kinds(3));
        assert_eq!(text_of(&events), "You said: second");
        client.close().expect("close");
    });
}

#[test]
fn stream_helpers_give_text_result_and_session_id() {
    within(LIMIT, || {
        let client = connect("normal");
        let session = client.create_session("hi").expect("create");
        let mut stream = session.stream("two").expect("stream");
        assert_eq!(stream.session_id(), Some(session.id()));
        assert!(stream.result().is_none());
        let events: Vec<_> = stream.by_ref().map(|e| e.expect("event")).collect();
        assert!(stream.is_finished());
        assert!(stream.next().is_none(), "fused");
        let result = stream.result().expect("result").clone();
        assert_eq!(result.text, text_of(&events));
        session.record(result);
        assert_eq!(session.text(), "You said: two");

        let (text, result) = session
            .stream("three")
            .expect("stream")
            .collect_text()
            .expect("text");
        assert_eq!(text, "You said: three");
        assert_eq!(result.text, text);
        let result = session
            .stream("four")
            .expect("stream")
            .collect()
            .expect("result");
        assert_eq!(result.text, "You said: four");

        let mut created = client.create_session_streaming("five").expect("stream");
        assert_eq!(created.session_id(), None, "not known before the answer");
        let events: Vec<_> = created.by_ref().map(|e| e.expect("event")).collect();
        assert_eq!(kinds(&events), echo_kinds(3));
        let id = created
            .session_id()
            .expect("known after the end")
            .to_owned();
        let new = created.into_session().expect("session");
        assert_eq!(new.id(), id);
        assert_eq!(new.text(), "You said: five");
        client.close().expect("close");
    });
}

#[test]
fn a_tool_handler_runs_a_whole_turn_through_its_own_client() {
    within(LIMIT, || {
        let client = connect("normal");
        let inner = client.clone();
        client
            .register_tool(
                ToolDef::new("ask", "Asks another session").input_schema(json!({"type": "object"})),
                move |args: Value| {
                    let question = args["q"].as_str().unwrap_or("?").to_owned();
                    let nested = inner.create_session(question).map_err(|e| e.to_string())?;
                    Ok::<_, String>(ToolOutput::text(nested.text()))
                },
            )
            .expect("register");
        let session = client.create_session("hi").expect("create");
        let result = session
            .turn(r#"[[tool ask {"q":"nested"}]] go"#)
            .expect("turn");
        assert_eq!(result.text, "Tool ask returned: You said: nested");
        // The handler holds a clone of the client: close ends it anyway.
        blocking_common::close(client);
    });
}

#[test]
fn turns_on_many_threads_and_plain_calls_between_them() {
    within(LIMIT, || {
        let client = connect("normal");
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let client = client.clone();
                std::thread::spawn(move || {
                    let session = client.create_session(format!("s{i}")).expect("create");
                    for turn in 0..5 {
                        let prompt = format!("[[slow 5]] s{i} t{turn}");
                        let text = session.turn(prompt.as_str()).expect("turn").text;
                        assert_eq!(text, format!("You said: s{i} t{turn}"));
                        client.list_sessions().expect("list");
                    }
                    session.id().to_owned()
                })
            })
            .collect();
        let mut ids: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8);
        client.close().expect("close");
    });
}

#[test]
fn a_session_subscription_sees_the_turns_of_its_session() {
    within(LIMIT, || {
        let client = connect("normal");
        let session = client.create_session("hi").expect("create");
        let mut subscription = session.subscribe_events().expect("subscribe");
        assert!(!subscription.stream_id().is_empty());
        session.turn("watched").expect("turn");
        let mut deltas = String::new();
        for envelope in subscription.by_ref() {
            let envelope = envelope.expect("envelope");
            if let meerkat_transport_blocking::Event::TextDelta { delta, .. } = &envelope.event {
                deltas.push_str(delta);
            }
            if envelope.event.event_type() == "run_completed" {
                break;
            }
        }
        assert_eq!(deltas, "You said: watched");
        subscription.close().expect("close the subscription");
        // Dropping an open one is fine too.
        drop(session.subscribe_events().expect("subscribe again"));
        session.turn("after").expect("turn");
        client.close().expect("close");
    });
}

/// Turns and calls complete while a tool handler blocks: the handler waits
/// for the test to let it finish, after them.
#[test]
fn a_tool_handler_that_blocks_stalls_nothing_else() {
    within(LIMIT, || {
        let client = connect("normal");
        let (started, handler_started) = std::sync::mpsc::channel();
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let finished = Arc::new(AtomicBool::new(false));
        let (gate, done) = (Arc::clone(&release), Arc::clone(&finished));
        client
            .register_tool(
                ToolDef::new("wait", "Waits for the test"),
                move |_args: Value| {
                    let _ = started.send(());
                    let (open, opened) = &*gate;
                    let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
                    while !*open {
                        open = opened.wait(open).unwrap_or_else(PoisonError::into_inner);
                    }
                    done.store(true, Ordering::SeqCst);
                    Ok::<_, String>(ToolOutput::text("done"))
                },
            )
            .expect("register");
        let slow = client.create_session("slow").expect("create");
        let quick = client.create_session("quick").expect("create");
        let waiting = std::thread::spawn(move || slow.turn("[[tool wait {}]] go").map(|r| r.text));
        handler_started.recv().expect("the handler runs");
        for i in 0..3 {
            let text = quick.turn(format!("q{i}")).expect("turn").text;
            assert_eq!(text, format!("You said: q{i}"));
        }
        client.list_sessions().expect("list");
        assert!(
            !finished.load(Ordering::SeqCst),
            "the handler is still running"
        );
        assert!(!waiting.is_finished(), "so is its turn");
        let (open, opened) = &*release;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        opened.notify_all();
        let text = waiting.join().expect("worker").expect("turn");
        assert_eq!(text, "Tool wait returned: done");
        client.close().expect("close");
    });
}

#[test]
fn bursts_arrive_whole_and_in_order_on_parallel_streams() {
    within(LIMIT, || {
        let client = connect("burst 10000 8");
        let sessions: Vec<_> = (0..4)
            .map(|i| client.create_session(format!("s{i}")).expect("create"))
            .collect();
        let workers: Vec<_> = sessions
            .into_iter()
            .map(|session| {
                std::thread::spawn(move || {
                    let mut deltas = 0usize;
                    let mut text = String::new();
                    let mut stream = session.stream("go").expect("stream");
                    for event in &mut stream {
                        match event.expect("event") {
                            meerkat_transport_blocking::Event::TextDelta { delta, .. } => {
                                deltas += 1;
                                text.push_str(&delta);
                            }
                            other => assert!(
                                !matches!(
                                    other,
                                    meerkat_transport_blocking::Event::Lagged { .. }
                                        | meerkat_transport_blocking::Event::EventsLost { .. }
                                ),
                                "{other:?}"
                            ),
                        }
                    }
                    let result = stream.result().expect("result").clone();
                    (deltas, text, result.text)
                })
            })
            .collect();
        for worker in workers {
            let (deltas, text, result) = worker.join().expect("worker");
            assert_eq!(deltas, 10_000);
            assert_eq!(text, "x".repeat(80_000));
            assert_eq!(result, format!("You said: {text}"));
        }
        client.close().expect("close");
    });
}

#[test]
fn a_dropped_stream_of_a_failing_turn_still_resets_the_runtime() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files)).expect("connect");
        let session = client.create_session("hi").expect("create");
        let mut events = session.stream("[[error 500]] doomed").expect("stream");
        let first = events.next().expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        drop(events);
        until(|| {
            files
                .received("runtime/reset")
                .iter()
                .any(|m| m["params"]["session_id"] == session.id())
        });
        let next = session.turn("fine").expect("turn");
        assert_eq!(next.text, "You said: fine");
        client.close().expect("close");
    });
}
