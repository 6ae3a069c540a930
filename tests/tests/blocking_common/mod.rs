//! Helpers of the `blocking_*` modules: connecting to the fake server, a
//! watchdog on every test, waiting for a state, and checking that no child
//! process is left behind.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use meerkat_transport_blocking::{ConnectOptions, Event, MeerkatClient};

pub(crate) use crate::common::{FakeFiles, assert_reaped, echo_kinds, exists};

/// The default request timeout of test clients.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Options that start the fake server playing `scenario`.
pub(crate) fn fake(scenario: &str) -> ConnectOptions {
    ConnectOptions::new()
        .rkat_path(env!("CARGO_BIN_EXE_fake-rkat-rpc"))
        .env("FAKE_RKAT_SCENARIO", scenario)
        .request_timeout(REQUEST_TIMEOUT)
}

/// [`fake`] with the lifecycle log, the gate and the trace in `files`.
pub(crate) fn watched(scenario: &str, files: &FakeFiles) -> ConnectOptions {
    fake(scenario)
        .env("FAKE_RKAT_LOG", files.log())
        .env("FAKE_RKAT_GATE", files.gate())
        .env("FAKE_RKAT_TRACE", files.trace())
}

/// A client of the fake server playing `scenario`.
pub(crate) fn connect(scenario: &str) -> MeerkatClient {
    MeerkatClient::connect(fake(scenario)).expect("connect to the fake server")
}

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `limit` (a watchdog: a hang is a failure, not a stuck CI job).
pub(crate) fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => {
            let _ = worker.join();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it returns"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish in {limit:?}"),
    }
}

/// Waits until `state` holds, polling; only the test's watchdog bounds it.
pub(crate) fn until(mut state: impl FnMut() -> bool) {
    while !state() {
        thread::sleep(crate::common::POLL);
    }
}

/// Closes `client` and checks its child is gone.
pub(crate) fn close(client: MeerkatClient) {
    let pid = client.pid().expect("a child process");
    client.close().expect("close");
    assert_reaped(pid);
}

/// The wire type names of `events` (`"text_delta"`, ...), for order checks.
pub(crate) fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(Event::event_type).collect()
}

/// The concatenated deltas of `events`.
pub(crate) fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}
