//! The fake's process life, for tests that must know what it did instead of
//! guessing from the clock: the lifecycle log (`FAKE_RKAT_LOG`), SIGTERM
//! (logged, obeyed or, `FAKE_RKAT_STUBBORN`, ignored), a grandchild holding
//! stdout open (`FAKE_RKAT_GRANDCHILD`), and the gate file that releases
//! stalled deltas (`FAKE_RKAT_GATE`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The env var that turns the fake into the grandchild of
/// `FAKE_RKAT_GRANDCHILD`: it only sleeps, holding the stdio it inherited.
pub(crate) const HOLDER: &str = "FAKE_RKAT_HOLDER";

/// How long a process that waits for a signal (a stubborn fake after stdin
/// EOF, a grandchild) lives at most, so a failed test leaves no process
/// behind for good.
const SAFETY_NET: Duration = Duration::from_secs(600);

/// The lifecycle log: one line per event (`start PID`, `grandchild PID`,
/// `turn SESSION_ID`, `eof`, `sigterm`, `exit`), each appended with one
/// `write`. A line is written only once what it reports has happened: a
/// `turn` line once the turn's last byte (its response included) is on the
/// pipe, `exit` just before the fake exits by itself.
#[derive(Clone, Default)]
pub(crate) struct Log(Option<Arc<Mutex<File>>>);

impl Log {
    /// The log named by `FAKE_RKAT_LOG`, or a log that writes nothing.
    pub(crate) fn from_env() -> Self {
        let file = std::env::var_os("FAKE_RKAT_LOG")
            .and_then(|path| OpenOptions::new().create(true).append(true).open(path).ok());
        Self(file.map(|f| Arc::new(Mutex::new(f))))
    }

    /// Whether lines go anywhere.
    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Appends `text` and a newline.
    pub(crate) fn line(&self, text: &str) {
        if let Some(file) = &self.0 {
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = file.write_all(format!("{text}\n").as_bytes());
        }
    }
}

/// Ends the fake with `code`, logging `exit` first: a test that finds the
/// line knows the fake ended itself and was not killed.
pub(crate) fn exit(log: &Log, code: i32) -> ! {
    log.line("exit");
    std::process::exit(code)
}

/// Sleeps for the safety net, then exits: for a process that waits to be
/// killed.
pub(crate) fn hold() -> ! {
    std::thread::sleep(SAFETY_NET);
    std::process::exit(0)
}

/// Catches SIGTERM: it is logged, then obeyed (`exit` 143) or, when
/// `stubborn`, ignored. Returns once the handler is in place.
pub(crate) fn watch_sigterm(log: &Log, stubborn: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("invariant: a current-thread runtime can be built");
    let mut term = runtime
        .block_on(async { signal(SignalKind::terminate()) })
        .expect("invariant: SIGTERM can be caught");
    let log = log.clone();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            while term.recv().await.is_some() {
                log.line("sigterm");
                if !stubborn {
                    exit(&log, 143);
                }
            }
        });
    });
}

/// Starts a copy of this binary that inherits stdout and stderr and sleeps
/// (a background job of a shell tool, say): the pipes stay open after the
/// fake exits. Logs `grandchild PID`; the test kills it.
// NB: never waited for: it outlives this process on purpose.
#[allow(clippy::zombie_processes)]
pub(crate) fn spawn_grandchild(log: &Log) {
    let exe = std::env::current_exe().expect("invariant: the fake knows its own path");
    let child = Command::new(exe)
        .env(HOLDER, "1")
        .env_remove("FAKE_RKAT_GRANDCHILD")
        .env_remove("FAKE_RKAT_LOG")
        .stdin(Stdio::null())
        .spawn()
        .expect("invariant: the fake can start a copy of itself");
    log.line(&format!("grandchild {}", child.id()));
}

/// How many deltas past their `[[stall N]]` point the gate file
/// (`FAKE_RKAT_GATE`) releases: one per line written so far.
pub(crate) fn gate_lines() -> usize {
    std::env::var_os("FAKE_RKAT_GATE")
        .and_then(|path| std::fs::read(path).ok())
        .map_or(0, |bytes| bytes.iter().filter(|&&b| b == b'\n').count())
}
