//! The child process as only the blocking transport handles it: the 5 s
//! SIGTERM -> SIGKILL escalation of `close`, a child killed from outside
//! mid-turn, and `close` racing a running stream on another thread.
//!
//! No test here reads the clock to decide: the fake logs what happened to
//! it (`FAKE_RKAT_LOG`), holds its turns until told (`[[stall N]]`), and
//! plays the stubborn server or the leaky one as modes of the binary.
//!
//! (The scenarios both transports share live in `tests/scenarios/`.)

use std::process::Command;
use std::time::{Duration, Instant};

use meerkat_transport_blocking::{DiagnosticKind, Error, Event, MeerkatClient};

use crate::blocking_common::{
    FakeFiles, REQUEST_TIMEOUT, assert_reaped, connect, exists, watched, within,
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
#[test]
fn close_of_a_polite_child_needs_no_sigkill() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("normal", &files)).expect("connect");
        let pid = client.pid().expect("a child process");
        client.close().expect("close");
        assert_reaped(pid);
        assert!(files.logged("exit"), "it ended itself: {:?}", files.lines());
        // A second close is a no-op.
        client.close().expect("close again");
    });
}

#[test]
fn close_escalates_to_sigkill_after_five_seconds() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let options = watched("normal", &files).env("FAKE_RKAT_STUBBORN", "1");
        let client = MeerkatClient::connect(options).expect("connect");
        let session = client
            .create_session("hi")
            .expect("the stubborn fake answers");
        assert_eq!(session.text(), "You said: hi");
        let pid = client.pid().expect("a child process");
        let t0 = Instant::now();
        client.close().expect("close");
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
    });
}

#[test]
fn a_child_killed_from_outside_fails_the_running_turn_with_its_status() {
    within(LIMIT, || {
        let client = connect("normal");
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").expect("create");
        let mut events = session.stream(HELD).expect("stream");
        let first = events.next().expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        kill("KILL", pid);
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
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").expect("create");
        let mut events = session.stream(HELD).expect("stream");
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
        assert!(seen < 50, "the held turn never finished ({seen} events)");
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
        let pid = client.pid().expect("a child process");
        let session = client.create_session("hi").expect("create");
        let mut events = session.stream(HELD).expect("stream");
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
                let err = MeerkatClient::connect(options).expect_err(scenario);
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
    });
}

/// The child crashes mid-turn, but a process it started still holds its
/// stdout open (a background job of a shell tool, say): no EOF comes, yet
/// every waiter still fails at once with the child's exit status.
#[test]
fn a_crash_is_reported_even_when_a_grandchild_holds_stdout_open() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let options = watched("crash-mid-stream", &files).env("FAKE_RKAT_GRANDCHILD", "1");
        let client = MeerkatClient::connect(options).expect("connect");
        let pid = client.pid().expect("a child process");
        let grandchild = files.grandchild().expect("logged before the handshake");
        let err = client.create_session("hi").expect_err("crash");
        // The grandchild holds stdout open until it is killed: the error
        // came without an EOF.
        assert!(exists(grandchild), "the grandchild still holds stdout");
        kill("KILL", grandchild);
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

/// A child that stops reading its stdin while callers keep sending: a
/// request over the bound of bytes waiting for stdin fails at once with its
/// own code; the others wait (here until the client is closed).
#[test]
fn a_child_that_stops_reading_stdin_makes_new_requests_fail_with_write_queue_full() {
    within(LIMIT, || {
        let files = FakeFiles::new();
        let client = MeerkatClient::connect(watched("deaf", &files)).expect("connect");
        let blob = "x".repeat(1 << 20);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut callers = Vec::new();
        for _ in 0..40 {
            let (client, tx, params) = (
                client.clone(),
                tx.clone(),
                serde_json::json!({ "blob": blob }),
            );
            callers.push(std::thread::spawn(move || {
                let _ = tx.send(client.call_raw("echo", params));
            }));
        }
        // Nothing is answered: the first outcome is a refusal.
        let first = rx.recv().expect("an outcome");
        let refused = first.expect_err("the deaf child answered");
        assert_eq!(refused.code(), "WRITE_QUEUE_FULL", "{refused}");
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
        assert!(
            diagnostics.count(DiagnosticKind::WriteQueueFull) >= 1,
            "{diagnostics:?}"
        );
        let pid = client.pid().expect("a child");
        client.close().expect("close");
        for caller in callers {
            caller.join().expect("a caller");
        }
        assert_reaped(pid);
    });
}
