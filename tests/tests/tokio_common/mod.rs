//! Helpers shared by the `tokio_*` test binaries: connecting to the fake
//! server, bounding every test in time, and checking that no child process
//! is left behind.

#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::time::{Duration, Instant};

use meerkat_transport_tokio::{ConnectOptions, Event, MeerkatClient};

/// The default request timeout of test clients.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Options that start the fake server playing `scenario`.
pub(crate) fn fake(scenario: &str) -> ConnectOptions {
    ConnectOptions::new()
        .rkat_path(env!("CARGO_BIN_EXE_fake-rkat-rpc"))
        .env("FAKE_RKAT_SCENARIO", scenario)
        .request_timeout(REQUEST_TIMEOUT)
}

/// A client of the fake server playing `scenario`.
pub(crate) async fn connect(scenario: &str) -> MeerkatClient {
    MeerkatClient::connect(fake(scenario))
        .await
        .expect("connect to the fake server")
}

/// Awaits `f`, failing the test if it takes longer than `limit` (a hang is
/// a failure, not a stuck CI job).
pub(crate) async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish in {limit:?}"),
    }
}

/// Whether process `pid` still exists (running or a zombie).
pub(crate) fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Asserts that process `pid` is gone (exited and reaped: no zombie).
/// Blocks the calling thread (at most 10 s): it is a check, not a wait the
/// code under test may rely on.
pub(crate) fn assert_reaped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while exists(pid) {
        assert!(
            Instant::now() < deadline,
            "child {pid} still exists: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
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
            Event::TextDelta { delta } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

/// The events of a normal echo turn of the fake server with `n` deltas.
pub(crate) fn echo_kinds(n: usize) -> Vec<&'static str> {
    let mut kinds = vec!["run_started", "turn_started"];
    kinds.extend(std::iter::repeat_n("text_delta", n));
    kinds.extend(["text_complete", "turn_completed", "run_completed"]);
    kinds
}
