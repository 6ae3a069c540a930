//! Helpers of the `tokio_*` modules: connecting to the fake server, a
//! watchdog on every test, waiting for a state, and checking that no child
//! process is left behind.

use std::future::Future;
use std::time::Duration;

use meerkat_transport_tokio::{ConnectOptions, Error, Event, MeerkatClient};

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
pub(crate) async fn connect(scenario: &str) -> MeerkatClient {
    MeerkatClient::connect(fake(scenario))
        .await
        .expect("connect to the fake server")
}

/// Awaits `f`, failing the test if it takes longer than `limit` (a
/// watchdog: a hang is a failure, not a stuck CI job).
pub(crate) async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish in {limit:?}"),
    }
}

/// Waits until `state` holds, polling; only the test's watchdog bounds it.
pub(crate) async fn until(mut state: impl FnMut() -> bool) {
    while !state() {
        tokio::time::sleep(crate::common::POLL).await;
    }
}

/// Calls `call` until it answers something else than `TIMEOUT`: for a
/// client whose short request timeout is meant for another request, so a
/// loaded machine only makes a test slower, never wrong.
pub(crate) async fn patiently<T, F>(mut call: impl FnMut() -> F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    loop {
        match call().await {
            Err(e) if e.code() == "TIMEOUT" => {}
            other => return other,
        }
    }
}

/// Closes `client` and checks its child is gone.
pub(crate) async fn close(client: MeerkatClient) {
    let pid = client.pid().expect("a child process");
    client.close().await.expect("close");
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
