//! The child process as the tokio transport handles it: the 5 s SIGTERM ->
//! SIGKILL escalation of `close`, a child killed from outside mid-turn,
//! `close` racing a running stream on another task, failed connects, and
//! what only an async runtime brings: a client that outlives its runtime,
//! and a client dropped on a current-thread runtime.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::process::Command;
use std::time::{Duration, Instant};

use crate::tokio_common::{REQUEST_TIMEOUT, assert_reaped, connect, exists, within};
use meerkat_transport_tokio::{ConnectOptions, Error, Event, MeerkatClient};

use crate::wrappers::{recorded_server, script, stubborn_server};

const LIMIT: Duration = Duration::from_secs(60);

/// `connect`, retrying while exec fails with ETXTBSY: a thread of another
/// test may fork while a fresh script's write handle is open, and exec
/// fails until that child execs in turn.
async fn connect_retrying(options: &ConnectOptions) -> Result<MeerkatClient, Error> {
    let mut tries = 0;
    loop {
        match MeerkatClient::connect(options.clone()).await {
            Err(Error::Io(e)) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// A slow streamed turn of the fake: 50 deltas, 200 ms apart.
const SLOW: &str = "[[slow 200]] [[chunks 50]] a slow answer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_of_a_polite_child_is_quick() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let pid = client.pid();
        let t0 = Instant::now();
        client.close().await.expect("close");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        assert_reaped(pid);
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
        let dir = tempfile::tempdir().expect("tempdir");
        let options = ConnectOptions::new()
            .rkat_path(stubborn_server(&dir))
            .env("FAKE_RKAT_SCENARIO", "normal")
            .request_timeout(REQUEST_TIMEOUT);
        let client = connect_retrying(&options)
            .await
            .expect("connect through the wrapper");
        let session = client
            .create_session("hi")
            .await
            .expect("the wrapped fake answers");
        assert_eq!(session.text(), "You said: hi");
        let pid = client.pid();
        let t0 = Instant::now();
        client.close().await.expect("close");
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(4900),
            "SIGKILL came early: {took:?}"
        );
        assert!(took < Duration::from_secs(9), "close took {took:?}");
        assert_reaped(pid);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_killed_from_outside_fails_every_waiter_with_its_status() {
    within(LIMIT, async {
        let client = connect("normal").await;
        let pid = client.pid();
        let session = client.create_session("hi").await.expect("create");
        let mut events = session.stream(SLOW).await.expect("stream");
        let first = events.next().await.expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        // A plain (not streamed) turn waits on another session meanwhile.
        let mut other = client.create_session("other").await.expect("create");
        let waiting = tokio::spawn(async move { other.turn(SLOW).await });
        tokio::time::sleep(Duration::from_millis(100)).await;

        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());

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
        let pid = client.pid();
        let mut session = client.create_session("hi").await.expect("create");
        let mut events = session.stream(SLOW).await.expect("stream");
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
        assert!(seen < 50, "the turn was cut short ({seen} events)");
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
        let pid = client.pid();
        let session = client.create_session("hi").await.expect("create");
        let mut events = session
            .stream("[[slow 100]] [[chunks 50]] a slow answer")
            .await
            .expect("stream");
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
        for (scenario, code, says) in [
            ("never-answer initialize", "TIMEOUT", "initialize"),
            (
                "exit-during-handshake",
                "CONNECTION_CLOSED",
                "exit status: 1",
            ),
            ("wrong-version 0.9.8", "VERSION_MISMATCH", "0.9.8"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let (path, pid_file) = recorded_server(&dir);
            let options = ConnectOptions::new()
                .rkat_path(path)
                .env("FAKE_RKAT_SCENARIO", scenario)
                .request_timeout(Duration::from_millis(500));
            let t0 = Instant::now();
            let err = connect_retrying(&options).await.expect_err(scenario);
            assert_eq!(err.code(), code, "{scenario}: {err}");
            assert!(err.to_string().contains(says), "{scenario}: {err}");
            assert!(t0.elapsed() < Duration::from_secs(10), "{scenario}");
            let pid: u32 = std::fs::read_to_string(&pid_file)
                .expect("the wrapper ran")
                .trim()
                .parse()
                .expect("a pid");
            assert_reaped(pid);
        }
    })
    .await;
}

/// A connect future dropped halfway (here: by a timeout shorter than the
/// handshake) leaves no process behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_connect_reaps_the_child() {
    within(LIMIT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, pid_file) = recorded_server(&dir);
        let options = ConnectOptions::new()
            .rkat_path(path)
            .env("FAKE_RKAT_SCENARIO", "never-answer initialize")
            .request_timeout(REQUEST_TIMEOUT);
        let mut tries = 0;
        let pid: u32 = loop {
            let attempt =
                tokio::time::timeout(Duration::from_millis(500), connect_retrying(&options)).await;
            assert!(attempt.is_err(), "the handshake cannot succeed");
            if let Ok(pid) = std::fs::read_to_string(&pid_file) {
                break pid.trim().parse().expect("a pid");
            }
            tries += 1;
            assert!(tries < 20, "the wrapper never ran");
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
    let pid = client.pid();
    drop(runtime);
    assert!(exists(pid), "the client still owns the child");

    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = other
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), client.list_sessions()).await
        })
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
        let pid = client.pid();
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
        let mut session = client.create_session("hi").await.expect("create");
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
        let dir = tempfile::tempdir().expect("tempdir");
        let options = ConnectOptions::new()
            .rkat_path(stubborn_server(&dir))
            .env("FAKE_RKAT_SCENARIO", "normal")
            .request_timeout(REQUEST_TIMEOUT);

        let client = connect_retrying(&options).await.expect("connect");
        let pid = client.pid();
        let cut = tokio::time::timeout(Duration::from_millis(500), client.close()).await;
        assert!(cut.is_err(), "the stubborn child outlives SIGTERM");
        assert!(exists(pid));
        let err = client.list_sessions().await.expect_err("closed");
        assert_eq!(err.code(), "CLIENT_CLOSED", "{err}");
        let t0 = Instant::now();
        client.close().await.expect("close again");
        assert!(t0.elapsed() < Duration::from_secs(9), "{:?}", t0.elapsed());
        assert_reaped(pid);

        let client = connect_retrying(&options).await.expect("connect");
        let pid = client.pid();
        let cut = tokio::time::timeout(Duration::from_millis(500), client.close()).await;
        assert!(cut.is_err(), "the stubborn child outlives SIGTERM");
        drop(client);
        assert_reaped(pid);
    })
    .await;
}

/// The child crashes mid-turn, but a process it started still holds its
/// stdout open (a background job of a shell tool, say): no EOF comes, yet
/// every waiter still fails at once with the child's exit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_is_reported_even_when_a_grandchild_holds_stdout_open() {
    within(LIMIT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = env!("CARGO_BIN_EXE_fake-rkat-rpc");
        let path = script(
            &dir,
            "leaky-rkat-rpc",
            &format!("sleep 8 &\nexec '{fake}' \"$@\""),
        );
        let options = ConnectOptions::new()
            .rkat_path(path)
            .env("FAKE_RKAT_SCENARIO", "crash-mid-stream")
            .request_timeout(REQUEST_TIMEOUT);
        let client = connect_retrying(&options).await.expect("connect");
        let pid = client.pid();
        let t0 = Instant::now();
        let err = client.create_session("hi").await.expect_err("crash");
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
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
/// timeout (bounded like the handshake), not after the OS's minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connect_to_a_silent_address_is_bounded() {
    within(LIMIT, async {
        // TEST-NET-1 (RFC 5737): nothing answers there.
        let options = ConnectOptions::new()
            .tcp("192.0.2.1:4999")
            .request_timeout(Duration::from_millis(500));
        let t0 = Instant::now();
        let err = MeerkatClient::connect(options)
            .await
            .expect_err("nothing listens");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        // A sandbox without a route fails at once with an IO error instead.
        assert!(matches!(&*err.code(), "TIMEOUT" | "IO_ERROR"), "{err}");
    })
    .await;
}
