//! The child process: spawning, the stderr tail, signals, waiting and reaping.
//!
//! Everything here is plain `std::process` plus one signal call. The child is
//! kept in a [`Process`] behind a mutex; the pid is only ever signalled while
//! the child has not been reaped (we hold its [`Child`] and `try_wait` has not
//! returned its status), so the pid cannot have been reused by another
//! process when we signal it.

use meerkat_proto::sdk::TailBuffer;
use std::io::{self, Read};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How much of the child's stderr is kept for error messages.
pub(crate) const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// How often `wait_until` polls `try_wait` (std has no wait with a timeout).
const WAIT_POLL: Duration = Duration::from_millis(10);

/// The last [`STDERR_TAIL_BYTES`] of the child's stderr, filled by a thread.
#[derive(Debug, Default)]
pub(crate) struct StderrTail {
    state: Mutex<TailState>,
    done: Condvar,
}

#[derive(Debug)]
struct TailState {
    tail: TailBuffer,
    finished: bool,
}

impl Default for TailState {
    fn default() -> Self {
        Self {
            tail: TailBuffer::new(STDERR_TAIL_BYTES),
            finished: false,
        }
    }
}

impl StderrTail {
    /// Appends a chunk, dropping the oldest bytes beyond the budget.
    fn push(&self, chunk: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tail.push(chunk);
    }

    fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.finished = true;
        self.done.notify_all();
    }

    /// Waits until stderr reached EOF or `deadline` passed.
    pub(crate) fn wait_finished(&self, deadline: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The kept bytes, lossily decoded, starting at a line boundary when the
    /// tail was cut.
    pub(crate) fn text(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tail.text()
    }
}

/// Spawns the thread that drains `stderr` into `tail` until EOF.
///
/// Draining is not optional: a child blocked on a full stderr pipe would stop
/// answering.
fn spawn_stderr_drain(mut stderr: ChildStderr, tail: Arc<StderrTail>) -> io::Result<()> {
    thread::Builder::new()
        .name("meerkat-stderr".into())
        .spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => tail.push(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            tail.finish();
        })
        .map(drop)
}

/// A spawned child with its pipes taken out.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The process handle, shared by the client, the reader and `Drop`.
    pub(crate) process: Arc<Process>,
    /// The child's stdin, for the writer thread.
    pub(crate) stdin: ChildStdin,
    /// The child's stdout, for the reader thread.
    pub(crate) stdout: ChildStdout,
}

/// The child process and what we know about it.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    child: Mutex<ChildState>,
    stderr: Arc<StderrTail>,
}

#[derive(Debug)]
struct ChildState {
    child: Child,
    status: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command` with piped stdio and starts draining its stderr.
    ///
    /// # Errors
    ///
    /// The spawn error of the OS (`NotFound` for a missing binary).
    pub(crate) fn spawn(mut command: Command) -> io::Result<Spawned> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            // Not reachable with Stdio::piped(); do not leave the child behind.
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("child pipes missing"));
        };
        let tail = Arc::new(StderrTail::default());
        let process = Arc::new(Self {
            pid: child.id(),
            child: Mutex::new(ChildState {
                child,
                status: None,
            }),
            stderr: Arc::clone(&tail),
        });
        if let Err(e) = spawn_stderr_drain(stderr, tail) {
            process.kill_and_reap();
            return Err(e);
        }
        tracing::debug!(pid = process.pid, "spawned rkat-rpc");
        Ok(Spawned {
            process,
            stdin,
            stdout,
        })
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The stderr tail.
    pub(crate) fn stderr(&self) -> &StderrTail {
        &self.stderr
    }

    /// The exit status if the child has exited (reaping it if needed).
    pub(crate) fn try_status(&self) -> Option<ExitStatus> {
        let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if state.status.is_none()
            && let Ok(Some(status)) = state.child.try_wait()
        {
            tracing::debug!(pid = self.pid, %status, "rkat-rpc exited");
            state.status = Some(status);
        }
        state.status
    }

    /// Polls until the child exits or `deadline` passes.
    pub(crate) fn wait_until(&self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            thread::sleep(left.min(WAIT_POLL));
        }
    }

    /// Sends SIGTERM (on non-Unix systems, where there is no polite signal,
    /// this kills).
    pub(crate) fn terminate(&self) {
        let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        // NB: only while unreaped, so the pid is still ours.
        if state.status.is_some() || matches!(state.child.try_wait(), Ok(Some(_))) {
            return;
        }
        #[cfg(unix)]
        {
            let pid = rustix::process::Pid::from_child(&state.child);
            if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
                tracing::debug!(pid = self.pid, error = %e, "SIGTERM failed");
            }
        }
        #[cfg(not(unix))]
        {
            let _ = state.child.kill();
        }
    }

    /// Sends SIGKILL and waits for the child (never leaves a zombie).
    pub(crate) fn kill_and_reap(&self) -> Option<ExitStatus> {
        let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if state.status.is_none() {
            if !matches!(state.child.try_wait(), Ok(Some(_))) {
                let _ = state.child.kill();
            }
            // SIGKILL cannot be caught: this wait is short.
            match state.child.wait() {
                Ok(status) => state.status = Some(status),
                Err(e) => tracing::debug!(pid = self.pid, error = %e, "wait failed"),
            }
        }
        state.status
    }

    /// The polite shutdown: SIGTERM, wait up to `grace`, then SIGKILL and
    /// reap. The caller has closed stdin first.
    pub(crate) fn shutdown(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_status() {
            return Some(status);
        }
        self.terminate();
        if let Some(status) = self.wait_until(Instant::now() + grace) {
            return Some(status);
        }
        tracing::debug!(pid = self.pid, "rkat-rpc ignored SIGTERM; killing it");
        self.kill_and_reap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The last handle is gone: no zombie, no orphan.
        self.kill_and_reap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spawned {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        Process::spawn(cmd).expect("sh spawns")
    }

    #[test]
    fn tail_keeps_the_last_bytes_from_a_line_start() {
        let tail = StderrTail::default();
        for i in 0..10_000 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert!(text.len() <= STDERR_TAIL_BYTES);
        assert!(text.starts_with("line "), "{}", &text[..20]);
        assert!(text.ends_with("line 9999"));
    }

    #[test]
    fn tail_of_a_huge_chunk_is_bounded() {
        let tail = StderrTail::default();
        tail.push(&vec![b'x'; 3 * STDERR_TAIL_BYTES]);
        tail.push(b"\nend");
        assert_eq!(tail.text(), "end");
    }

    #[test]
    fn stderr_is_drained_and_status_reported() {
        let spawned = sh("echo oops >&2; exit 3");
        let status = spawned
            .process
            .wait_until(Instant::now() + Duration::from_secs(10))
            .expect("exits");
        assert_eq!(status.code(), Some(3));
        spawned
            .process
            .stderr()
            .wait_finished(Instant::now() + Duration::from_secs(5));
        assert_eq!(spawned.process.stderr().text(), "oops");
    }

    #[cfg(unix)]
    #[test]
    fn shutdown_escalates_to_sigkill() {
        use std::os::unix::process::ExitStatusExt;
        let spawned = sh("trap '' TERM; echo ready >&2; while :; do sleep 0.05; done");
        // Wait until the trap is installed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while spawned.process.stderr().text().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let t0 = Instant::now();
        let status = spawned
            .process
            .shutdown(Duration::from_millis(300))
            .expect("reaped");
        assert_eq!(status.signal(), Some(9));
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }

    #[cfg(unix)]
    #[test]
    fn shutdown_stops_at_sigterm_when_the_child_obeys() {
        use std::os::unix::process::ExitStatusExt;
        let spawned = sh("exec sleep 30");
        let status = spawned
            .process
            .shutdown(Duration::from_secs(10))
            .expect("reaped");
        assert_eq!(status.signal(), Some(15));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn drop_reaps_the_child() {
        let spawned = sh("exec sleep 30");
        let pid = spawned.process.pid();
        drop(spawned);
        // The pid is gone from the process table: no zombie left.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
