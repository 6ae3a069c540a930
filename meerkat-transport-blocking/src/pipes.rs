//! The reader and writer threads: they move bytes and nothing else.
//!
//! - The **reader** reads the child's stdout in chunks and sends each as
//!   [`Input::Bytes`] into the driver's channel, then one [`Input::Eof`]
//!   carrying the exit status and stderr tail. It parses nothing. A byte
//!   budget ([`ByteBudget`]) bounds what is in flight: when the driver is
//!   behind, the reader stops reading and the pipe pushes back on the child.
//! - The **writer** owns the child's stdin and writes each frame with one
//!   `write_all` (PROTOCOL 1.2: a 0.5.x server can tear a line that arrives
//!   in pieces while it is busy). It is a thread, not a call on the driver,
//!   because a child that stops reading fills the pipe and `write_all` then
//!   blocks: that must stall nobody but the writer. Its queue holds frames
//!   the callers already sent, so it is bounded by the engine's
//!   `max_pending` requests. Dropping the queue's sender closes stdin once
//!   the queued frames are written.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use meerkat_proto::Transmit;

use crate::driver::Input;
use crate::process::{Process, describe_status};
use meerkat_proto::dispatch::ExitInfo;

/// Bytes read from stdout but not yet handled by the driver, at most.
pub(crate) const MAX_BYTES_IN_FLIGHT: usize = 4 * 1024 * 1024;

/// Size of one read from stdout.
const READ_CHUNK: usize = 64 * 1024;

/// How long the reader waits, after stdout closed, for the exit status and
/// the rest of stderr, so the error it reports can name them.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The reader's credit: bytes sent to the driver and not yet handled.
#[derive(Debug, Default)]
pub(crate) struct ByteBudget {
    state: Mutex<BudgetState>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct BudgetState {
    in_flight: usize,
    closed: bool,
}

impl ByteBudget {
    /// Blocks while the budget is spent. Returns `false` once closed.
    fn wait_for_room(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.in_flight >= MAX_BYTES_IN_FLIGHT && !state.closed {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !state.closed
    }

    fn spend(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.in_flight += n;
    }

    /// Gives `n` bytes back (the driver handled them).
    pub(crate) fn release(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.in_flight = state.in_flight.saturating_sub(n);
        self.freed.notify_all();
    }

    /// Wakes and stops the reader for good (the driver is gone).
    pub(crate) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        self.freed.notify_all();
    }
}

/// Starts the reader thread.
///
/// # Errors
///
/// The OS refused to start a thread.
pub(crate) fn spawn_reader(
    mut stdout: impl Read + Send + 'static,
    tx: Sender<Input>,
    budget: Arc<ByteBudget>,
    process: Option<Arc<Process>>,
) -> io::Result<()> {
    let pid = process.as_ref().map_or(0, |p| p.pid());
    let activity = Arc::new(AtomicU64::new(0));
    if let Some(process) = &process {
        spawn_exit_watch(Arc::downgrade(process), tx.clone(), Arc::clone(&activity))?;
    }
    thread::Builder::new()
        .name("meerkat-reader".into())
        .spawn(move || {
            let _span = tracing::debug_span!("meerkat_reader", pid).entered();
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                if !budget.wait_for_room() {
                    return;
                }
                match stdout.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        activity.fetch_add(1, Ordering::Relaxed);
                        budget.spend(n);
                        if tx.send(Input::Bytes(buf[..n].to_vec())).is_err() {
                            return; // the driver is gone
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "reading stdout failed");
                        break;
                    }
                }
            }
            tracing::debug!("server output closed");
            activity.store(READER_DONE, Ordering::Release);
            // Give a dying child a moment, so its status and last words can
            // go into the error every waiter gets.
            let info = match process {
                Some(process) => {
                    let deadline = Instant::now() + EXIT_GRACE;
                    let status = process.wait_until(deadline);
                    process.stderr().wait_finished(deadline);
                    ExitInfo::new(status.map(describe_status), process.stderr().text())
                }
                None => ExitInfo::default(),
            };
            let _ = tx.send(Input::Eof(info));
        })
        .map(drop)
}

/// `activity` once the reader has seen EOF (it reports the end itself).
const READER_DONE: u64 = u64::MAX;

/// How long stdout must stay quiet after the child exited before the
/// exit watch reports the end itself.
const QUIET_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Watches for the child's exit. A child that crashed while a process it
/// started (a shell tool's background job, say) still holds its stdout
/// open never gives the reader its EOF; once the child has exited and
/// stdout has been quiet for [`QUIET_AFTER_EXIT`], the watch reports the
/// end with the exit status and stderr tail, so no caller waits for that
/// grandchild. It holds the process weakly: it never keeps a child alive.
fn spawn_exit_watch(
    process: std::sync::Weak<Process>,
    tx: Sender<Input>,
    activity: Arc<AtomicU64>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("meerkat-exit-watch".into())
        .spawn(move || {
            loop {
                thread::sleep(Duration::from_millis(50));
                if activity.load(Ordering::Acquire) == READER_DONE {
                    return; // the reader saw EOF and reported it
                }
                let Some(child) = process.upgrade() else {
                    return; // the client is gone
                };
                if child.try_status().is_none() {
                    continue;
                }
                drop(child);
                let before = activity.load(Ordering::Acquire);
                thread::sleep(QUIET_AFTER_EXIT);
                let after = activity.load(Ordering::Acquire);
                if after == READER_DONE {
                    return;
                }
                if after != before {
                    continue; // still draining what the child wrote
                }
                let Some(child) = process.upgrade() else {
                    return;
                };
                tracing::debug!(
                    pid = child.pid(),
                    "child exited; stdout held open by another process"
                );
                let info = ExitInfo::new(
                    child.try_status().map(describe_status),
                    child.stderr().text(),
                );
                let _ = tx.send(Input::Eof(info));
                return;
            }
        })
        .map(drop)
}

/// Starts the writer thread; frames sent to the returned channel are written
/// in order, each whole.
///
/// # Errors
///
/// The OS refused to start a thread.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    stdin: W,
    frames: Receiver<Transmit>,
    on_close: impl FnOnce(W) + Send + 'static,
) -> io::Result<()> {
    thread::Builder::new()
        .name("meerkat-writer".into())
        .spawn(move || {
            if let Some(stdin) = write_loop(stdin, &frames) {
                on_close(stdin);
            }
        })
        .map(drop)
}

/// Writes frames until the queue closes; returns the writer for its
/// closing (`None` after a write error).
fn write_loop<W: Write>(mut stdin: W, frames: &Receiver<Transmit>) -> Option<W> {
    let _span = tracing::debug_span!("meerkat_writer").entered();
    for frame in frames {
        if let Err(e) = stdin.write_all(frame.as_ref()) {
            // The child is gone or closed stdin: the reader sees EOF and the
            // driver resolves every waiter from there.
            tracing::debug!(error = %e, "writing to stdin failed");
            return None;
        }
    }
    tracing::debug!("closing stdin");
    // Closing the input (dropping a pipe, shutting a socket's write half)
    // is the server's graceful shutdown.
    Some(stdin)
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::mpsc;

    use super::*;

    /// `cat` echoes what the writer writes; the reader brings it back.
    #[test]
    fn frames_round_trip_through_a_child_then_eof_names_the_exit() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("cat; echo bye >&2; exit 7");
        let spawned = Process::spawn(cmd).expect("spawn");
        let (tx, rx) = mpsc::channel();
        let (frames_tx, frames_rx) = mpsc::channel();
        let budget = Arc::new(ByteBudget::default());
        spawn_writer(spawned.stdin, frames_rx, drop).expect("writer");
        spawn_reader(
            spawned.stdout,
            tx,
            Arc::clone(&budget),
            Some(spawned.process),
        )
        .expect("reader");

        // Real frames, from the engine.
        let mut engine = meerkat_proto::rpc::Client::new(meerkat_proto::rpc::Config::default());
        let mut expected = Vec::new();
        for method in ["a", "b"] {
            let _ = engine.send_request(method, None, None).expect("encodes");
        }
        while let Some(frame) = engine.poll_transmit() {
            expected.extend_from_slice(frame.as_ref());
            frames_tx.send(frame).expect("queued");
        }
        drop(frames_tx); // closes stdin once written: cat exits

        let mut echoed = Vec::new();
        let info = loop {
            match rx.recv_timeout(Duration::from_secs(10)).expect("input") {
                Input::Bytes(bytes) => {
                    budget.release(bytes.len());
                    echoed.extend(bytes);
                }
                Input::Eof(info) => break info,
                Input::Command(_) | Input::Shutdown => unreachable!("only bytes and EOF"),
            }
        };
        assert_eq!(echoed, expected);
        assert_eq!(info.exit_status.as_deref(), Some("exit status: 7"));
        assert_eq!(info.stderr_tail, "bye");
    }

    #[test]
    fn a_full_budget_holds_the_reader_until_released() {
        let budget = ByteBudget::default();
        budget.spend(MAX_BYTES_IN_FLIGHT);
        let budget = Arc::new(budget);
        let waiter = {
            let budget = Arc::clone(&budget);
            thread::spawn(move || budget.wait_for_room())
        };
        thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished());
        budget.release(1);
        assert!(waiter.join().expect("joins"));
        budget.close();
        budget.spend(MAX_BYTES_IN_FLIGHT);
        assert!(!budget.wait_for_room(), "closed: the reader stops");
    }
}
