//! The child process: spawning, signals, waiting and reaping.
//!
//! Everything here is plain `std::process` plus one signal call. The child is
//! kept in a [`Process`] behind a mutex; the pid is only ever signalled while
//! the child has not been reaped (we hold its [`Child`] and `try_wait` has not
//! returned its status), so the pid cannot have been reused by another
//! process when we signal it.

use std::io;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

const WAIT_POLL: Duration = Duration::from_millis(10);

/// A spawned child with its pipes taken out.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The process handle, shared by the client, the reader and `Drop`.
    pub(crate) process: Arc<Process>,
    /// The child's stdin, for the writer thread.
    pub(crate) stdin: ChildStdin,
    /// The child's stdout, for the reader thread.
    pub(crate) stdout: ChildStdout,
    pub(crate) stderr: ChildStderr,
}

/// The child process and what we know about it.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    child: Mutex<ChildState>,
}

#[derive(Debug)]
struct ChildState {
    child: Child,
    status: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command` with piped stdio; the caller hands the pipes,
    /// stderr included, to its I/O threads.
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
        let process = Arc::new(Self {
            pid: child.id(),
            child: Mutex::new(ChildState {
                child,
                status: None,
            }),
        });
        tracing::debug!(pid = process.pid, "spawned rkat-rpc");
        Ok(Spawned {
            process,
            stdin,
            stdout,
            stderr,
        })
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
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
    fn the_exit_status_is_reported() {
        let spawned = sh("echo oops >&2; exit 3");
        let status = spawned
            .process
            .wait_until(Instant::now() + Duration::from_secs(10))
            .expect("exits");
        assert_eq!(status.code(), Some(3));
    }

    #[cfg(unix)]
    #[test]
    fn shutdown_escalates_to_sigkill() {
        use std::io::BufRead;
        use std::os::unix::process::ExitStatusExt;
        let spawned = sh("trap '' TERM; echo ready >&2; while :; do sleep 0.05; done");
        // The trap is installed once "ready" comes.
        let mut line = String::new();
        let mut stderr = io::BufReader::new(spawned.stderr);
        stderr.read_line(&mut line).expect("ready");
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
