//! Helpers of every module: whether a process is gone, and the events of
//! a normal turn of the fake.

use std::path::Path;
use std::time::{Duration, Instant};

/// Whether process `pid` still exists (running or a zombie).
pub(crate) fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
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

/// The wire type names of a normal echo turn of the fake with `n` deltas.
pub(crate) fn echo_kinds(n: usize) -> Vec<&'static str> {
    let mut kinds = vec!["run_started", "turn_started"];
    kinds.extend(std::iter::repeat_n("text_delta", n));
    kinds.extend(["text_complete", "turn_completed", "run_completed"]);
    kinds
}
