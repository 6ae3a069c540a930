//! The child process: spawning, signals, waiting and reaping.
//!
//! The child lives in a [`Process`] behind a mutex; its pid is only
//! signalled while the child is unreaped (we hold its [`Child`] and
//! `try_wait` has not returned a status), so it cannot be another process's.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

const WAIT_POLL: Duration = Duration::from_millis(10);

/// A spawned child with its pipes taken out.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// The process handle, shared by the client, the reader and `Drop`.
    pub(crate) process: Arc<Process>,
    /// The child's stdin, for the writer task.
    pub(crate) stdin: ChildStdin,
    /// The child's stdout, for the reader task.
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
    /// stderr included, to its I/O tasks.
    pub(crate) fn spawn(mut command: Command) -> io::Result<Spawned> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            let _ = child.start_kill();
            return Err(io::Error::other("child pipes missing"));
        };
        let process = Arc::new(Self {
            pid: child.id().unwrap_or_default(),
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

    /// The exit status, if the child has exited (reaping it).
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

    /// Waits for the child to exit until `deadline`.
    pub(crate) async fn wait_until(&self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            tokio::time::sleep_until(deadline.min(now + WAIT_POLL)).await;
        }
    }

    /// Sends SIGTERM (unless the child is already reaped).
    fn terminate(&self) {
        let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if state.status.is_some() || matches!(state.child.try_wait(), Ok(Some(_))) {
            return;
        }
        #[cfg(unix)]
        {
            let pid = i32::try_from(self.pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid
                && let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            {
                tracing::debug!(pid = self.pid, error = %e, "SIGTERM failed");
            }
        }
        #[cfg(not(unix))]
        {
            let _ = state.child.start_kill();
        }
    }

    /// SIGKILL, then reap without an executor (for `Drop`): SIGKILL cannot
    /// be caught, so this takes milliseconds; a child still unreaped after
    /// a second is left to tokio's orphan reaper (`kill_on_drop`).
    pub(crate) fn kill_and_reap(&self) -> Option<ExitStatus> {
        let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        if state.status.is_some() {
            return state.status;
        }
        if let Ok(Some(status)) = state.child.try_wait() {
            state.status = Some(status);
            return state.status;
        }
        let _ = state.child.start_kill();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = state.child.try_wait() {
                state.status = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        state.status
    }

    /// Ends the child politely: SIGTERM, up to `grace`, then SIGKILL.
    pub(crate) async fn shutdown(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_status() {
            return Some(status);
        }
        self.terminate();
        if let Some(status) = self.wait_until(Instant::now() + grace).await {
            return Some(status);
        }
        tracing::debug!(pid = self.pid, "rkat-rpc ignored SIGTERM; killing it");
        {
            let mut state = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = state.child.start_kill();
        }
        self.wait_until(Instant::now() + Duration::from_secs(2))
            .await
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

    #[cfg(unix)]
    #[tokio::test]
    async fn shutdown_escalates_to_sigkill() {
        use std::os::unix::process::ExitStatusExt;
        use tokio::io::AsyncBufReadExt;
        let spawned = sh("trap '' TERM; echo ready >&2; while :; do sleep 0.05; done");
        // The trap is installed once "ready" comes.
        let mut line = String::new();
        let mut stderr = tokio::io::BufReader::new(spawned.stderr);
        stderr.read_line(&mut line).await.expect("ready");
        let t0 = Instant::now();
        let status = spawned
            .process
            .shutdown(Duration::from_millis(300))
            .await
            .expect("reaped");
        assert_eq!(status.signal(), Some(9));
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn drop_reaps_the_child() {
        let spawned = sh("exec sleep 30");
        let pid = spawned.process.pid();
        drop(spawned);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
