//! The child process as the tokio transport handles it: the 5 s SIGTERM ->
//! SIGKILL escalation of `close`, a child killed from outside mid-turn,
//! `close` racing a running stream on another task, failed connects, and
//! what only an async runtime brings: a client that outlives its runtime,
//! and a client dropped on a current-thread runtime.
//!
//! No test here reads the clock to decide: the fake logs what happened to
//! it (`FAKE_RKAT_LOG`), holds its turns until told (`[[stall N]]`), and
//! plays the stubborn server or the leaky one as modes of the binary.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::process::Command;
use std::time::{Duration, Instant};

use meerkat_transport_tokio::{ConnectOptions, DiagnosticKind, Error, Event, MeerkatClient};

use crate::tokio_common::{
    FakeFiles, REQUEST_TIMEOUT, assert_reaped, connect, exists, until, watched, within,
};

const LIMIT: Duration = Duration::from_secs(60);

/// A turn of the fake that holds after its first delta until it is
/// interrupted or the fake goes away: it is still running whenever the test
/// looks.
const HELD: &str = "[[stall 1]] [[chunks 50]] a held answer";

/// Sends `signal` (`"KILL"`, ...) to `pid`.
fn kill(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A child that obeys ends by itself (stdin EOF or SIGTERM): `close`
/// reaps it and never needs SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_of_a_polite_child_needs_no_sigkill() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files))
            .await
            .expect("connect");
        let pid = client.pid().expect("a child process");
        client.close().await.expect("close");
        assert_reaped(pid);
        assert!(files.logged("exit"), "it ended itself: {:?}", files.lines());
        // A second close is a no-op, and calls say the client is closed.
        client.close().await.expect("close again");
        let err = client.list_sessions().await.expect_err("closed");
        assert_eq!(err.code(), "CLIENT_CLOSED", "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_escalates_to_sigkill_after_five_seconds() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let options = watched("normal", &files).env("FAKE_RKAT_STUBBORN", "1");
        let client = MeerkatClient::connect(options).await.expect("connect");
        let session = client
            .create_session("hi")
            .await
            .expect("the stubborn fake answers");
        assert_eq!(session.text(), "You said: hi");
        let pid = client.pid().expect("a child process");
        let t0 = Instant::now();
        client.close().await.expect("close");
        // A lower bound only: load can make the escalation late, never early.
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(4900),
            "SIGKILL came early: {took:?}"
        );
        assert_reaped(pid);
        // Asked politely first; it never ended itself, so SIGKILL did.
        assert!(files.logged("sigterm"), "{:?}", files.lines());
        assert!(!files.logged("exit"), "{:?}", files.lines());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_killed_from_outside_fails_every_waiter_with_its_status() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files))
            .await
            .expect("connect");
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").await.expect("create");
        let mut events = session.stream(HELD).await.expect("stream");
        let first = events.next().await.expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        // A plain (not streamed) turn waits on another session meanwhile:
        // kill once the fake has its request.
        let other = client.create_session("other").await.expect("create");
        let waiting = tokio::spawn(async move { other.turn(HELD).await });
        until(|| files.received("turn/start").len() == 2).await;

        kill("KILL", pid);

        let err = loop {
            match events.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break e,
                None => panic!("the stream ended without an error"),
            }
        };
        assert_eq!(err.code(), "CONNECTION_CLOSED", "{err}");
        match &err {
            Error::ConnectionClosed { exit_status, .. } => {
                let status = exit_status.as_deref().unwrap_or_default();
                assert!(status.contains("signal: 9"), "{status:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(events.next().await.is_none(), "fused after the error");
        assert!(events.result().is_none());
        let turn = waiting.await.expect("task").expect_err("dead server");
        assert_eq!(turn.code(), "CONNECTION_CLOSED", "{turn}");
        assert!(turn.to_string().contains("signal: 9"), "{turn}");
        let later = client.list_sessions().await.expect_err("dead client");
        assert_eq!(later.code(), "CONNECTION_CLOSED");
        assert_reaped(pid);
        client.close().await.expect("close of a dead client");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_on_another_task_ends_a_running_stream_with_client_closed() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").await.expect("create");
        let mut events = session.stream(HELD).await.expect("stream");
        assert!(events.next().await.expect("an event").is_ok());
        // The session keeps a handle: the client itself can move.
        let closer = tokio::spawn(async move { client.close().await });
        let mut seen = 0usize;
        let err = loop {
            match events.next().await {
                Some(Ok(_)) => seen += 1,
                Some(Err(e)) => break e,
                None => panic!("ended without an error after {seen} events"),
            }
        };
        assert_eq!(err.code(), "CLIENT_CLOSED", "{err}");
        assert!(seen < 50, "the held turn never finished ({seen} events)");
        assert!(events.next().await.is_none());
        closer.await.expect("closer").expect("close");
        assert_reaped(pid);
        let later = session.turn("again").await.expect_err("closed");
        assert_eq!(later.code(), "CLIENT_CLOSED");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_mid_stream_leaves_no_process() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").await.expect("create");
        let mut events = session.stream(HELD).await.expect("stream");
        assert!(matches!(
            events.next().await,
            Some(Ok(Event::RunStarted { .. }))
        ));
        drop(client);
        drop(session);
        // The stream still holds the connection: it keeps working.
        assert!(events.next().await.expect("more").is_ok());
        assert!(exists(pid));
        drop(events);
        assert_reaped(pid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_reaps_the_child() {
    within(LIMIT, async {
        for (scenario, timeout, code, says) in [
            (
                "never-answer initialize",
                Duration::from_millis(500),
                "TIMEOUT",
                "initialize",
            ),
            (
                "exit-during-handshake",
                REQUEST_TIMEOUT,
                "CONNECTION_CLOSED",
                "exit status: 1",
            ),
            (
                "wrong-version 1.0.0",
                REQUEST_TIMEOUT,
                "VERSION_MISMATCH",
                "0.5.x or 0.9.x",
            ),
        ] {
            let pid = loop {
                let files = FakeFiles::new();
                let options = watched(scenario, &files).request_timeout(timeout);
                let err = MeerkatClient::connect(options).await.expect_err(scenario);
                assert_eq!(err.code(), code, "{scenario}: {err}");
                assert!(err.to_string().contains(says), "{scenario}: {err}");
                // The fake logs its pid first thing. Only a timeout can
                // come before that (a loaded machine): nothing to check
                // then, so try again.
                match files.pid() {
                    Some(pid) => break pid,
                    None => assert_eq!(code, "TIMEOUT", "{scenario}: {:?}", files.lines()),
                }
            };
            assert_reaped(pid);
        }
    })
    .await;
}

/// A connect future dropped halfway (here: once the child runs and waits
/// for an `initialize` it will never answer) leaves no process behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_connect_reaps_the_child() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let options = watched("never-answer initialize", &files).request_timeout(LIMIT);
        let pid = {
            let connect = MeerkatClient::connect(options);
            tokio::pin!(connect);
            loop {
                tokio::select! {
                    result = &mut connect => panic!("the handshake cannot end: {:?}", result.err()),
                    () = tokio::time::sleep(crate::common::POLL) => {
                        if let Some(pid) = files.pid() {
                            break pid;
                        }
                    }
                }
            }
            // The connect future is dropped here.
        };
        assert_reaped(pid);
    })
    .await;
}

/// The runtime that ran `connect` is gone (its driver and pipe tasks with
/// it): the client's calls fail at once instead of hanging, and dropping it
/// still kills and reaps the child, without a runtime.
#[test]
fn a_client_that_outlives_its_runtime_fails_fast_and_reaps_on_drop() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime.block_on(connect("normal"));
    let pid = client.pid().expect("a child process");
    drop(runtime);
    assert!(exists(pid), "the client still owns the child");

    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = other
        .block_on(async { tokio::time::timeout(LIMIT, client.list_sessions()).await })
        .expect("no hang")
        .expect_err("the driver is gone");
    assert_eq!(err.code(), "CONNECTION_CLOSED", "{err}");
    drop(other);

    drop(client);
    assert_reaped(pid);
}

/// Everything on one thread: turns, a tool handler, a stream, then the
/// last handle dropped inside the runtime.
#[tokio::test(flavor = "current_thread")]
async fn a_current_thread_runtime_runs_everything_and_drop_reaps() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let pid = client.pid().expect("a child process");
        client
            .register_tool(
                meerkat_transport_tokio::ToolDef::new("wait", "Takes its time"),
                |_args: serde_json::Value| async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok::<_, String>(meerkat_transport_tokio::ToolOutput::text("done"))
                },
            )
            .await
            .expect("register");
        let session = client.create_session("hi").await.expect("create");
        let tool = session.turn("[[tool wait {}]] go").await.expect("turn");
        assert_eq!(tool.text, "Tool wait returned: done");
        let (text, _) = session
            .stream("streamed")
            .await
            .expect("stream")
            .collect_text()
            .await
            .expect("text");
        assert_eq!(text, "You said: streamed");
        drop(session);
        drop(client);
        assert_reaped(pid);
    })
    .await;
}

/// A `close` cut short by a timeout (the child ignores SIGTERM) is finished
/// by the next `close`; one cut short and never retried is finished by the
/// drop of the last handle. Either way no process is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_close_is_finished_by_the_next_close_or_by_drop() {
    within(LIMIT, async {
        // The stubborn fake never ends by itself: a close must wait for the
        // 5 s grace, far longer than the 500 ms that cut it here.
        let stubborn = |files: &FakeFiles| watched("normal", files).env("FAKE_RKAT_STUBBORN", "1");

        let files = FakeFiles::new();
        let client = MeerkatClient::connect(stubborn(&files))
            .await
            .expect("connect");
        let pid = client.pid().expect("a child process");
        let cut = tokio::time::timeout(Duration::from_millis(500), client.close()).await;
        assert!(cut.is_err(), "the stubborn child outlives SIGTERM");
        assert!(exists(pid));
        let err = client.list_sessions().await.expect_err("closed");
        assert_eq!(err.code(), "CLIENT_CLOSED", "{err}");
        client.close().await.expect("close again");
        assert_reaped(pid);
        assert!(
            !files.logged("exit"),
            "SIGKILL ended it: {:?}",
            files.lines()
        );

        let files = FakeFiles::new();
        let client = MeerkatClient::connect(stubborn(&files))
            .await
            .expect("connect");
        let pid = client.pid().expect("a child process");
        let cut = tokio::time::timeout(Duration::from_millis(500), client.close()).await;
        assert!(cut.is_err(), "the stubborn child outlives SIGTERM");
        drop(client);
        assert_reaped(pid);
        assert!(
            !files.logged("exit"),
            "SIGKILL ended it: {:?}",
            files.lines()
        );
    })
    .await;
}

/// The child crashes mid-turn, but a process it started still holds its
/// stdout open (a background job of a shell tool, say): no EOF comes, yet
/// every waiter still fails at once with the child's exit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_reported_even_when_a_grandchild_holds_stdout_open() {
    within(LIMIT, async {
        let files = FakeFiles::new();
        let options = watched("crash-mid-stream", &files).env("FAKE_RKAT_GRANDCHILD", "1");
        let client = MeerkatClient::connect(options).await.expect("connect");
        let pid = client.pid().expect("a child process");
        let grandchild = files.grandchild().expect("logged before the handshake");
        let err = client.create_session("hi").await.expect_err("crash");
        // The grandchild holds stdout open until it is killed: the error
        // came without an EOF.
        assert!(exists(grandchild), "the grandchild still holds stdout");
        kill("KILL", grandchild);
        assert_eq!(err.code(), "CONNECTION_CLOSED", "{err}");
        let message = err.to_string();
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("simulated crash"), "{message}");
        let later = client.list_sessions().await.expect_err("dead");
        assert_eq!(later.code(), "CONNECTION_CLOSED", "{later}");
        assert_reaped(pid);
        client.close().await.expect("close");
    })
    .await;
}

/// A TCP address that never answers fails the connect within the request
/// timeout (bounded like the handshake), not after the OS's minutes: the
/// 60 s watchdog is half of Linux's connect timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connect_to_a_silent_address_is_bounded() {
    within(LIMIT, async {
        // TEST-NET-1 (RFC 5737): nothing answers there.
        let options = ConnectOptions::new()
            .tcp("192.0.2.1:4999")
            .request_timeout(Duration::from_millis(500));
        let err = MeerkatClient::connect(options)
            .await
            .expect_err("nothing listens");
        // A sandbox without a route fails at once with an IO error instead.
        assert!(matches!(&*err.code(), "TIMEOUT" | "IO_ERROR"), "{err}");
    })
    .await;
}

/// A child that stops reading its stdin while the caller keeps sending:
/// the bytes waiting for it are bounded, and a request over the bound fails
/// at once with its own code instead of growing the client's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_stops_reading_stdin_makes_new_requests_fail_with_write_queue_full() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    type Pending = Pin<Box<dyn Future<Output = Result<serde_json::Value, Error>> + Send>>;

    within(LIMIT, async {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("deaf", &files))
            .await
            .expect("connect");
        let blob = "x".repeat(1 << 20);
        let mut waiting: Vec<Pending> = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let refused = loop {
            assert!(
                waiting.len() < 64,
                "64 MiB accepted for a child that reads nothing"
            );
            let client = client.clone();
            let params = serde_json::json!({ "blob": blob });
            let mut call = Box::pin(async move { client.call_raw("echo", params).await });
            // One poll sends the request (or refuses it) under the lock.
            match call.as_mut().poll(&mut cx) {
                Poll::Ready(Err(e)) => break e,
                Poll::Ready(Ok(v)) => panic!("the deaf child answered {v}"),
                Poll::Pending => waiting.push(call),
            }
        };
        assert_eq!(refused.code(), "WRITE_QUEUE_FULL", "{refused}");
        assert!(waiting.len() >= 16, "refused after {} MiB", waiting.len());
        let diagnostics = client.diagnostics();
        // The bound was reached; what waits stays there but for what the
        // pipe took at once (a caller writes its own request into the
        // empty pipe and says so after the fact; at most the pipe's buffer,
        // 64 KiB on Linux).
        assert!(diagnostics.output_peak >= 16 << 20, "{diagnostics:?}");
        assert!(
            diagnostics.output_bytes + (1 << 20) >= 16 << 20,
            "{diagnostics:?}"
        );
        assert_eq!(
            diagnostics.count(DiagnosticKind::WriteQueueFull),
            1,
            "{diagnostics:?}"
        );
        drop(waiting);
        let pid = client.pid().expect("a child");
        drop(client);
        assert_reaped(pid);
    })
    .await;
}
