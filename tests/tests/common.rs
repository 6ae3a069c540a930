//! Helpers of every module: whether a process is gone, and the files through
//! which the fake `rkat-rpc` says what it did (`FAKE_RKAT_LOG`,
//! `FAKE_RKAT_TRACE`) and is told when to go on (`FAKE_RKAT_GATE`).
//!
//! Nothing here measures time. Tests wait for a state (a log line, a traced
//! request, a process gone) by polling it; only a watchdog bounds the wait,
//! to turn a hang into a failure.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`assert_reaped`] polls before it fails: a watchdog for the
/// check itself, which blocks its thread (the timeout of an async test
/// cannot interrupt it).
const REAP_WATCHDOG: Duration = Duration::from_secs(60);

/// How often a wait polls the state it waits for.
pub(crate) const POLL: Duration = Duration::from_millis(5);

/// Whether process `pid` still exists (running or a zombie).
pub(crate) fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Asserts that process `pid` is gone: exited and reaped, no zombie (a
/// zombie keeps its `/proc` entry).
pub(crate) fn assert_reaped(pid: u32) {
    let watchdog = Instant::now() + REAP_WATCHDOG;
    while exists(pid) {
        assert!(
            Instant::now() < watchdog,
            "child {pid} still exists: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()
        );
        std::thread::sleep(POLL);
    }
}

/// The wire type names of a normal echo turn of the fake with `n` deltas.
pub(crate) fn echo_kinds(n: usize) -> Vec<&'static str> {
    let mut kinds = vec!["run_started", "turn_started"];
    kinds.extend(std::iter::repeat_n("text_delta", n));
    kinds.extend(["text_complete", "turn_completed", "run_completed"]);
    kinds
}

/// The files of one fake server, in a temporary directory: its lifecycle
/// log, its gate and its trace of the client's lines. Pass them with the
/// transport's `watched` helper.
pub(crate) struct FakeFiles {
    dir: tempfile::TempDir,
}

impl FakeFiles {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// `FAKE_RKAT_LOG`.
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.path().join("fake.log")
    }

    /// `FAKE_RKAT_GATE`.
    pub(crate) fn gate(&self) -> PathBuf {
        self.dir.path().join("gate")
    }

    /// `FAKE_RKAT_TRACE`.
    pub(crate) fn trace(&self) -> PathBuf {
        self.dir.path().join("trace.jsonl")
    }

    /// The whole lines of the log so far (a line being written is left
    /// out until its newline is there).
    pub(crate) fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether the log has the line `line`.
    pub(crate) fn logged(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// The number after `word` in the first log line `word NUMBER`.
    fn logged_pid(&self, word: &str) -> Option<u32> {
        self.lines().iter().find_map(|l| {
            l.strip_prefix(word)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|pid| pid.parse().ok())
        })
    }

    /// The fake's pid, once it logged its start.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.logged_pid("start")
    }

    /// The pid of the grandchild that holds the fake's stdout
    /// (`FAKE_RKAT_GRANDCHILD`).
    pub(crate) fn grandchild(&self) -> Option<u32> {
        self.logged_pid("grandchild")
    }

    /// How many turns of session `session_id` ended, all their bytes on
    /// the pipe.
    pub(crate) fn turns_done(&self, session_id: &str) -> usize {
        let line = format!("turn {session_id}");
        self.lines().iter().filter(|l| **l == line).count()
    }

    /// Lets every stalled turn (`[[stall N]]`) emit one more delta.
    pub(crate) fn open_gate(&self) {
        let mut gate = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.gate())
            .expect("open the gate file");
        gate.write_all(b"go\n").expect("write the gate file");
    }

    /// Every message the client wrote to the fake so far.
    pub(crate) fn sent(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.trace())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The requests for `method` the fake received so far.
    pub(crate) fn received(&self, method: &str) -> Vec<serde_json::Value> {
        self.sent()
            .into_iter()
            .filter(|m| m["method"] == method)
            .collect()
    }
}
