//! The child process as only the blocking transport handles it: the 5 s
//! SIGTERM -> SIGKILL escalation of `close`, a child killed from outside
//! mid-turn, and `close` racing a running stream on another thread.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::process::Command;
use std::time::{Duration, Instant};

use crate::blocking_common::{REQUEST_TIMEOUT, assert_reaped, connect, within};
use meerkat_transport_blocking::{ConnectOptions, Error, Event, MeerkatClient};

use crate::wrappers::{recorded_server, script, stubborn_server};

const LIMIT: Duration = Duration::from_secs(60);

/// `connect`, retrying while exec fails with ETXTBSY: a thread of another
/// test may fork while a fresh script's write handle is open, and exec
/// fails until that child execs in turn.
fn connect_retrying(options: &ConnectOptions) -> Result<MeerkatClient, Error> {
    let mut tries = 0;
    loop {
        match MeerkatClient::connect(options.clone()) {
            Err(Error::Io(e)) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[test]
fn close_of_a_polite_child_is_quick() {
    within(LIMIT, || {
        let client = connect("normal");
        let pid = client.pid();
        let t0 = Instant::now();
        client.close().expect("close");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        assert_reaped(pid);
        // A second close is a no-op.
        client.close().expect("close again");
    });
}

#[test]
fn close_escalates_to_sigkill_after_five_seconds() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = ConnectOptions::new()
            .rkat_path(stubborn_server(&dir))
            .env("FAKE_RKAT_SCENARIO", "normal")
            .request_timeout(REQUEST_TIMEOUT);
        let client = connect_retrying(&options).expect("connect through the wrapper");
        let session = client
            .create_session("hi")
            .expect("the wrapped fake answers");
        assert_eq!(session.text(), "You said: hi");
        let pid = client.pid();
        let t0 = Instant::now();
        client.close().expect("close");
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(4900),
            "SIGKILL came early: {took:?}"
        );
        assert!(took < Duration::from_secs(9), "close took {took:?}");
        assert_reaped(pid);
    });
}

#[test]
fn a_child_killed_from_outside_fails_the_running_turn_with_its_status() {
    within(LIMIT, || {
        let client = connect("normal");
        let pid = client.pid();
        let session = client.create_session("hi").expect("create");
        let mut events = session
            .stream("[[slow 200]] [[chunks 50]] a slow answer")
            .expect("stream");
        let first = events.next().expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let err = events
            .find_map(Result::err)
            .expect("the stream ends with an error");
        assert_eq!(err.code(), "CONNECTION_CLOSED", "{err}");
        match &err {
            Error::ConnectionClosed { exit_status, .. } => {
                let status = exit_status.as_deref().unwrap_or_default();
                assert!(status.contains("signal: 9"), "{status:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(events.next().is_none(), "fused after the error");
        assert!(events.result().is_none());
        let later = client.list_sessions().expect_err("dead client");
        assert_eq!(later.code(), "CONNECTION_CLOSED");
        assert_reaped(pid);
        client.close().expect("close of a dead client");
    });
}

#[test]
fn close_on_another_thread_ends_a_running_stream_with_client_closed() {
    within(LIMIT, || {
        let client = connect("normal");
        let pid = client.pid();
        let mut session = client.create_session("hi").expect("create");
        let mut events = session
            .stream("[[slow 200]] [[chunks 50]] a slow answer")
            .expect("stream");
        assert!(events.next().expect("an event").is_ok());
        // The session keeps a handle: the client itself can move.
        let closer = std::thread::spawn(move || client.close());
        let mut seen = 0usize;
        let err = loop {
            match events.next() {
                Some(Ok(_)) => seen += 1,
                Some(Err(e)) => break e,
                None => panic!("ended without an error after {seen} events"),
            }
        };
        assert_eq!(err.code(), "CLIENT_CLOSED", "{err}");
        assert!(seen < 50, "the turn was cut short ({seen} events)");
        assert!(events.next().is_none());
        closer.join().expect("closer").expect("close");
        assert_reaped(pid);
        let later = session.turn("again").expect_err("closed");
        assert_eq!(later.code(), "CLIENT_CLOSED");
    });
}

#[test]
fn dropping_every_handle_mid_stream_leaves_no_process() {
    within(LIMIT, || {
        let client = connect("normal");
        let pid = client.pid();
        let session = client.create_session("hi").expect("create");
        let mut events = session
            .stream("[[slow 100]] [[chunks 50]] a slow answer")
            .expect("stream");
        assert!(matches!(events.next(), Some(Ok(Event::RunStarted { .. }))));
        drop(client);
        drop(session);
        // The stream still holds the connection: it keeps working.
        assert!(events.next().expect("more").is_ok());
        drop(events);
        assert_reaped(pid);
    });
}

#[test]
fn a_failed_connect_reaps_the_child() {
    within(LIMIT, || {
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
            let err = connect_retrying(&options).expect_err(scenario);
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
    });
}

/// The child crashes mid-turn, but a process it started still holds its
/// stdout open (a background job of a shell tool, say): no EOF comes, yet
/// every waiter still fails at once with the child's exit status.
#[test]
fn a_crash_is_reported_even_when_a_grandchild_holds_stdout_open() {
    within(LIMIT, || {
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
            .request_timeout(Duration::from_secs(30));
        let client = connect_retrying(&options).expect("connect");
        let pid = client.pid();
        let t0 = Instant::now();
        let err = client.create_session("hi").expect_err("crash");
        assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
        assert_eq!(err.code(), "CONNECTION_CLOSED", "{err}");
        let message = err.to_string();
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("simulated crash"), "{message}");
        let later = client.list_sessions().expect_err("dead");
        assert_eq!(later.code(), "CONNECTION_CLOSED", "{later}");
        assert_reaped(pid);
        client.close().expect("close");
    });
}
