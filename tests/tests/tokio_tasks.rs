//! Tasks and handles of the tokio transport: which handles and futures
//! cross tasks, a dropped stream's late events, a tool handler that runs a
//! whole turn through the client that called it, subscriptions, and what
//! only async brings: futures dropped midway (`timeout`, `select!`) and
//! the `Stream` impl.
//!
//! No test here reads the clock to decide: the fake logs the turns it
//! finished and holds a turn until told (`[[stall N]]`, the gate file), and
//! tool handlers wait for the test instead of sleeping.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::tokio_common::{
    self, FakeFiles, connect, echo_kinds, fake, kinds, patiently, text_of, until, watched, within,
};
use meerkat_transport_tokio::{
    DeferredSession, Error, Event, EventStream, EventSubscription, MeerkatClient, Member, Mob,
    Session, ToolDef, ToolOutput,
};
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
fn send_unpin<T: Send + Unpin + 'static>() {}
fn send_future<F: Future + Send>(_: &F) {}

#[test]
fn handles_cross_tasks() {
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    fn stream<T: tokio_stream::Stream + Send + Unpin + 'static>() {}
    clone_send_sync::<MeerkatClient>();
    clone_send_sync::<Session>();
    clone_send_sync::<DeferredSession>();
    clone_send_sync::<Mob>();
    clone_send_sync::<Member>();
    send_unpin::<EventStream>();
    send_unpin::<EventSubscription>();
    stream::<EventStream>();
    stream::<EventSubscription>();
    error::<Error>();
}

/// Every future of the API can go to `tokio::spawn` (never polled here).
#[allow(clippy::let_underscore_future)]
#[test]
fn every_future_is_send() {
    fn check(client: &MeerkatClient, session: &mut Session, mob: &Mob, stream: EventStream) {
        send_future(&MeerkatClient::connect(fake("normal")));
        send_future(&client.close());
        send_future(&client.create_session("x"));
        send_future(&client.create_session_streaming("x"));
        send_future(&client.create_deferred_session("x"));
        send_future(&client.list_sessions());
        send_future(&client.read_session("s"));
        send_future(&client.read_session_history("s", 0, None));
        send_future(&client.get_config());
        send_future(&client.set_config(json!({})));
        send_future(&client.patch_config(json!({})));
        send_future(&client.list_skills());
        send_future(&client.list_mobs());
        send_future(
            &client.register_tool(ToolDef::new("t", "d"), |_: Value| async {
                Ok::<_, String>(ToolOutput::text("x"))
            }),
        );
        send_future(&session.stream("x"));
        send_future(&session.history(0, None));
        send_future(&session.archive());
        send_future(&session.interrupt());
        send_future(&session.peers());
        send_future(&session.subscribe_events());
        send_future(&mob.status());
        send_future(&mob.members());
        send_future(&mob.subscribe_events());
        send_future(&mob.member("w").subscribe_events());
        send_future(&session.turn("x"));
        send_future(&session.invoke_skill("s", "x"));
        send_future(&stream.collect());
    }
    let _ = check;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_midway_never_leaks_into_the_next_turn() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files))
            .await
            .expect("connect");
        let session = client.create_session("hi").await.expect("create");
        let mut events = session
            .stream("[[slow 50]] [[chunks 6]] first")
            .await
            .expect("stream");
        assert_eq!(
            events
                .next()
                .await
                .expect("an event")
                .expect("ok")
                .event_type(),
            "run_started"
        );
        drop(events);
        // The abandoned turn finishes on the server, and the client reads
        // all of it (the answer to a later request comes after it on the
        // pipe) before the next turn starts.
        until(|| files.turns_done(session.id()) == 2).await;
        client.list_sessions().await.expect("list");
        let mut stream = session.stream("second").await.expect("stream");
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event.expect("event"));
        }
        assert_eq!(kinds(&events), echo_kinds(3));
        assert_eq!(text_of(&events), "You said: second");
        client.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_helpers_give_text_result_and_session_id() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let session = client.create_session("hi").await.expect("create");
        let mut stream = session.stream("two").await.expect("stream");
        assert_eq!(stream.session_id(), Some(session.id()));
        assert!(stream.result().is_none());
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event.expect("event"));
        }
        assert!(stream.is_finished());
        assert!(stream.next().await.is_none(), "fused");
        let result = stream.result().expect("result").clone();
        assert_eq!(result.text, text_of(&events));
        session.record(result);
        assert_eq!(session.text(), "You said: two");

        let (text, result) = session
            .stream("three")
            .await
            .expect("stream")
            .collect_text()
            .await
            .expect("text");
        assert_eq!(text, "You said: three");
        assert_eq!(result.text, text);
        let result = session
            .stream("four")
            .await
            .expect("stream")
            .collect()
            .await
            .expect("result");
        assert_eq!(result.text, "You said: four");

        let mut created = client
            .create_session_streaming("five")
            .await
            .expect("stream");
        assert_eq!(created.session_id(), None, "not known before the answer");
        let mut events = Vec::new();
        while let Some(event) = created.next().await {
            events.push(event.expect("event"));
        }
        assert_eq!(kinds(&events), echo_kinds(3));
        let id = created
            .session_id()
            .expect("known after the end")
            .to_owned();
        let new = created.into_session().expect("session");
        assert_eq!(new.id(), id);
        assert_eq!(new.text(), "You said: five");
        client.close().await.expect("close");
    })
    .await;
}

/// The `futures_core::Stream` impl works with stream combinators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_impl_works_with_combinators() {
    use tokio_stream::StreamExt as _;
    within(LIMIT, async {
        let client = connect("normal").await;
        let session = client.create_session("hi").await.expect("create");
        let stream = session
            .stream("[[chunks 5]] combinators")
            .await
            .expect("stream");
        let deltas: Vec<String> = stream
            .filter_map(|event| match event {
                Ok(Event::TextDelta { delta, .. }) => Some(delta),
                _ => None,
            })
            .collect()
            .await;
        assert_eq!(deltas.len(), 5);
        assert_eq!(deltas.concat(), "You said: combinators");
        client.close().await.expect("close");
    })
    .await;
}

/// `next()` raced against a fast timer in `select!` (its future dropped
/// over and over) loses no event and keeps the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_in_select_is_cancel_safe() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files))
            .await
            .expect("connect");
        let session = client.create_session("hi").await.expect("create");
        // The fake holds every delta until the gate lets it through, and
        // only the timer opens the gate: the timer wins (dropping a pending
        // `next()`) at least once per delta, whatever the scheduling.
        let mut stream = session
            .stream("[[stall 0]] [[chunks 40]] raced against a timer, again and again and again")
            .await
            .expect("stream");
        let mut events = Vec::new();
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                event = stream.next() => match event {
                    Some(event) => events.push(event.expect("event")),
                    None => break,
                },
                () = tokio::time::sleep(Duration::from_millis(3)) => {
                    ticks += 1;
                    files.open_gate();
                }
            }
        }
        assert!(
            ticks >= 40,
            "the timer won once per delta at least ({ticks})"
        );
        assert_eq!(kinds(&events), echo_kinds(40));
        let text = "You said: raced against a timer, again and again and again";
        assert_eq!(text_of(&events), text);
        assert_eq!(stream.result().expect("result").text, text);
        client.close().await.expect("close");
    })
    .await;
}

/// A `turn()` cut short by a timeout leaves the session usable; the
/// request timeout that then fails the turn resets the runtime, though
/// nobody waits for the turn any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_turn_is_still_recovered_and_the_session_stays_usable() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        // The short request timeout is for the held turn; a loaded machine
        // may make the other requests miss it too: they try again.
        let options = watched("normal", &files).request_timeout(Duration::from_secs(1));
        let client = patiently(|| MeerkatClient::connect(options.clone()))
            .await
            .expect("connect");
        let session = patiently(|| client.create_session("hi"))
            .await
            .expect("create");
        let cut = tokio::time::timeout(
            Duration::from_millis(200),
            session.turn("[[stall 0]] cut short"),
        )
        .await;
        assert!(cut.is_err(), "the held turn cannot end by itself");
        let id = session.id().to_owned();
        wait_for_reset(&files, &id).await;
        // The abandoned turn ends on the server (the gate lets its three
        // deltas through), then the session answers.
        for _ in 0..3 {
            files.open_gate();
        }
        let next = loop {
            match session.turn("fine").await {
                Err(e) if e.code() == "TIMEOUT" || e.to_string().contains("busy") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other.expect("turn"),
            }
        };
        assert_eq!(next.text, "You said: fine");
        assert_eq!(session.text(), "You said: fine");
        client.close().await.expect("close");
    })
    .await;
}

/// Waits until the client sent `runtime/reset` for `session_id`, as the
/// fake's trace of client lines shows.
async fn wait_for_reset(files: &FakeFiles, session_id: &str) {
    until(|| {
        files
            .received("runtime/reset")
            .iter()
            .any(|m| m["params"]["session_id"] == session_id)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_of_a_failing_turn_still_resets_the_runtime() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files))
            .await
            .expect("connect");
        let session = client.create_session("hi").await.expect("create");
        let mut events = session
            .stream("[[error 500]] doomed")
            .await
            .expect("stream");
        let first = events.next().await.expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        drop(events);
        wait_for_reset(&files, session.id()).await;
        let next = session.turn("fine").await.expect("turn");
        assert_eq!(next.text, "You said: fine");
        client.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_handler_runs_a_whole_turn_through_its_own_client() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let inner = client.clone();
        client
            .register_tool(
                ToolDef::new("ask", "Asks another session").input_schema(json!({"type": "object"})),
                move |args: Value| {
                    let inner = inner.clone();
                    async move {
                        let question = args["q"].as_str().unwrap_or("?").to_owned();
                        let nested = inner
                            .create_session(question)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>(ToolOutput::text(nested.text()))
                    }
                },
            )
            .await
            .expect("register");
        let session = client.create_session("hi").await.expect("create");
        let result = session
            .turn(r#"[[tool ask {"q":"nested"}]] go"#)
            .await
            .expect("turn");
        assert_eq!(result.text, "Tool ask returned: You said: nested");
        // The handler holds a clone of the client: close ends it anyway.
        tokio_common::close(client).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turns_on_many_tasks_and_plain_calls_between_them() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let workers: Vec<_> = (0..16)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let session = client
                        .create_session(format!("s{i}"))
                        .await
                        .expect("create");
                    for turn in 0..5 {
                        let prompt = format!("[[slow 5]] s{i} t{turn}");
                        let text = session.turn(prompt.as_str()).await.expect("turn").text;
                        assert_eq!(text, format!("You said: s{i} t{turn}"));
                        client.list_sessions().await.expect("list");
                    }
                    session.id().to_owned()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for worker in workers {
            ids.push(worker.await.expect("worker"));
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 16);
        client.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_subscription_sees_the_turns_of_its_session() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let session = client.create_session("hi").await.expect("create");
        let mut subscription = session.subscribe_events().await.expect("subscribe");
        assert!(!subscription.stream_id().is_empty());
        session.turn("watched").await.expect("turn");
        let mut deltas = String::new();
        while let Some(envelope) = subscription.next().await {
            let envelope = envelope.expect("envelope");
            if let Event::TextDelta { delta, .. } = &envelope.event {
                deltas.push_str(delta);
            }
            if envelope.event.event_type() == "run_completed" {
                break;
            }
        }
        assert_eq!(deltas, "You said: watched");
        subscription.close().await.expect("close the subscription");
        // Dropping an open one is fine too, and so is a cancelled open.
        drop(session.subscribe_events().await.expect("subscribe again"));
        let _ = tokio::time::timeout(Duration::from_micros(1), session.subscribe_events()).await;
        session.turn("after").await.expect("turn");
        client.close().await.expect("close");
    })
    .await;
}

/// Turns and calls complete while a tool handler is still running: the
/// handler waits for the test to let it finish, after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tool_handler_stalls_nothing_else() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let (started, mut handler_started) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(tokio::sync::Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let (gate, done) = (Arc::clone(&release), Arc::clone(&finished));
        client
            .register_tool(
                ToolDef::new("wait", "Waits for the test"),
                move |_args: Value| {
                    let (started, gate, done) =
                        (started.clone(), Arc::clone(&gate), Arc::clone(&done));
                    async move {
                        let _ = started.send(());
                        gate.notified().await;
                        done.store(true, Ordering::SeqCst);
                        Ok::<_, String>(ToolOutput::text("done"))
                    }
                },
            )
            .await
            .expect("register");
        let slow = client.create_session("slow").await.expect("create");
        let quick = client.create_session("quick").await.expect("create");
        let waiting =
            tokio::spawn(async move { slow.turn("[[tool wait {}]] go").await.map(|r| r.text) });
        handler_started.recv().await.expect("the handler runs");
        for i in 0..3 {
            let text = quick.turn(format!("q{i}")).await.expect("turn").text;
            assert_eq!(text, format!("You said: q{i}"));
        }
        client.list_sessions().await.expect("list");
        assert!(
            !finished.load(Ordering::SeqCst),
            "the handler is still running"
        );
        assert!(!waiting.is_finished(), "so is its turn");
        release.notify_one();
        let text = waiting.await.expect("worker").expect("turn");
        assert_eq!(text, "Tool wait returned: done");
        client.close().await.expect("close");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bursts_arrive_whole_and_in_order_on_parallel_streams() {
    within(LIMIT, async {
        let client = connect("burst 10000 8").await;
        let mut sessions = Vec::new();
        for i in 0..4 {
            sessions.push(
                client
                    .create_session(format!("s{i}"))
                    .await
                    .expect("create"),
            );
        }
        let workers: Vec<_> = sessions
            .into_iter()
            .map(|session| {
                tokio::spawn(async move {
                    let mut deltas = 0usize;
                    let mut text = String::new();
                    let mut stream = session.stream("go").await.expect("stream");
                    while let Some(event) = stream.next().await {
                        match event.expect("event") {
                            Event::TextDelta { delta, .. } => {
                                deltas += 1;
                                text.push_str(&delta);
                            }
                            other => assert!(
                                !matches!(other, Event::Lagged { .. } | Event::EventsLost { .. }),
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
            let (deltas, text, result) = worker.await.expect("worker");
            assert_eq!(deltas, 10_000);
            assert_eq!(text, "x".repeat(80_000));
            assert_eq!(result, format!("You said: {text}"));
        }
        client.close().await.expect("close");
    })
    .await;
}
