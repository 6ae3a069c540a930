//! The glue around the shared [`Engine`]: its lock, and the threads that
//! move bytes and time into it.
//!
//! ```text
//!  caller threads ──lock── Engine ──lock── reader thread <── stdout
//!        ^ unpark           │  output bytes ──> writer thread ──> stdin
//!        └──── Waker ───────┤  deadlines ─────> timer thread
//!                           └─ tool calls ────> a thread per call
//! ```
//!
//! There is no driver: a caller starts its request under the lock and the
//! reader wakes it with the answer. While the writer sleeps with nothing in
//! flight, whoever touched the engine writes its output to the child's
//! stdin itself, as much as the pipe takes without waiting (the engine's
//! `Effects::write_now`); the writer is woken only for what is left. So a
//! call crosses the pipe with no handoff to the writer. Every decision is
//! the engine's; this file only reads, writes, sleeps and spawns. The
//! writer is a thread of its own because a child that stops reading fills
//! the pipe and a write then has to wait: that must stall nobody but the
//! writer (a caller's write takes only what the pipe takes at once). What
//! waits behind it is bounded by the engine
//! (`ConnectOptions::max_output_bytes`: new requests then fail with
//! `WRITE_QUEUE_FULL`), not here.

use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::task::{Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use meerkat_proto::sdk::{DirectWrite, Engine, TimerStep, panic_message};
use meerkat_proto::{ToolCall, ToolOutput};
use serde_json::Value;

use crate::process::Process;

/// A tool handler, as the engine keeps it.
pub(crate) type Handler = Arc<dyn Fn(Value) -> Result<ToolOutput, String> + Send + Sync>;

/// A wakeup flag: `notify` sets it, `wait` sleeps until it is set (or the
/// timeout passes) and clears it.
#[derive(Default)]
pub(crate) struct Signal {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    pub(crate) fn notify(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_one();
    }

    /// Callers loop around it: a spurious wakeup costs one more look.
    pub(crate) fn wait(&self, timeout: Option<Duration>) {
        let mut set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        if !*set {
            set = match timeout {
                Some(t) => {
                    self.cv
                        .wait_timeout(set, t)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self.cv.wait(set).unwrap_or_else(PoisonError::into_inner),
            };
        }
        *set = false;
    }
}

/// The engine and the signals of the threads around it; shared by every
/// handle and thread of one connection (threads hold it, not the client,
/// so they never keep the child alive).
pub(crate) struct Shared {
    engine: Mutex<Engine<Handler>>,
    writer: Signal,
    timer: Signal,
    /// The cassette file, when recording ([`Shared::flush_records`]).
    records: Option<meerkat_host::RecordFile>,
    /// How the engine's `Effects::write_now` reaches the child's stdin
    /// ([`Shared::write_directly`]; the writer owns the pipe).
    direct: OnceLock<DirectWrite>,
}

meerkat_proto::__meerkat_shared_with!(notify: notify, tool: |shared, call, handler| run_tool(Arc::downgrade(shared), call, handler));

impl Shared {
    pub(crate) fn new(engine: Engine<Handler>, records: Option<meerkat_host::RecordFile>) -> Arc<Self> {
        Arc::new(Self {
            engine: Mutex::new(engine),
            writer: Signal::default(),
            timer: Signal::default(),
            records,
            direct: OnceLock::new(),
        })
    }


    /// Waits on this thread until `poll` is ready.
    pub(crate) fn wait<T>(
        self: &Arc<Self>,
        mut poll: impl FnMut(&mut Engine<Handler>, &Waker) -> Poll<T>,
    ) -> T {
        let waker = thread_waker();
        loop {
            if let Poll::Ready(out) = self.with(|engine| poll(engine, &waker)) {
                return out;
            }
            // NB: an unpark between the poll and here makes park return at
            // once: no wakeup is lost.
            thread::park();
        }
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(Unpark(thread::current())));
}

fn thread_waker() -> Waker {
    WAKER.with(Clone::clone)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new().name(name.into()).spawn(f).map(drop)
}

/// The reader: chunks of `source` (stdout, or with `stderr` the child's
/// stderr) into the engine, then its end.
pub(crate) fn spawn_reader(
    shared: &Arc<Shared>,
    mut source: impl Read + Send + 'static,
    stderr: bool,
) -> io::Result<()> {
    let shared = Arc::clone(shared);
    let name = if stderr {
        "meerkat-stderr"
    } else {
        "meerkat-reader"
    };
    spawn(name, move || {
        // NB: read straight into the ingest's buffers.
        let mut ingest = shared.with(|e| e.ingest());
        loop {
            match source.read(ingest.buffer()) {
                Ok(0) => break,
                Ok(n) => shared.read_into_engine(&mut ingest, n, stderr, Instant::now()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, stderr, "reading the child's output failed");
                    break;
                }
            }
        }
        if stderr {
            shared.with(|e| e.handle_stderr_eof(Instant::now()));
        } else {
            tracing::debug!("server output closed");
            let rest = ingest.finish();
            shared.with(|e| {
                e.handle_ingested(rest, Instant::now());
                e.handle_eof(Instant::now());
            });
        }
    })
}

/// The writer of a child's stdin: [`spawn_writer`] over the non-blocking
/// pipe, and the threads that touch the engine write too while it sleeps
/// (`Engine::set_direct_writes`). Elsewhere than on unix, the writer alone.
pub(crate) fn spawn_stdin_writer(shared: &Arc<Shared>, stdin: std::process::ChildStdin) -> io::Result<()> {
    #[cfg(unix)]
    {
        let stdin = crate::pipe::Stdin::new(stdin)?;
        let weak = Arc::downgrade(&stdin);
        spawn_writer(shared, crate::pipe::Writer(stdin), drop)?;
        shared.write_directly(move |bytes| weak.upgrade().map_or(0, |stdin| stdin.try_write(bytes)));
        Ok(())
    }
    #[cfg(not(unix))]
    spawn_writer(shared, stdin, drop)
}

/// The writer: the engine's output to stdin, a batch of whole frames at a
/// time, each with one `write_all` (taking the next batch tells the engine
/// the last one was written); ends (and `on_close` closes stdin) once the
/// engine is closed and everything is written.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    shared: &Arc<Shared>,
    mut stdin: W,
    on_close: impl FnOnce(W) + Send + 'static,
) -> io::Result<()> {
    let shared = Arc::clone(shared);
    spawn("meerkat-writer", move || {
        loop {
            let (bytes, closed) = shared.with(|e| (e.take_output(), e.is_closed()));
            shared.flush_records();
            if !bytes.is_empty() {
                if let Err(e) = stdin.write_all(&bytes).and_then(|()| stdin.flush()) {
                    // The child is gone or closed stdin: the reader sees EOF.
                    tracing::debug!(error = %e, "writing to stdin failed");
                    return;
                }
            } else if closed {
                break;
            } else {
                shared.writer.wait(None);
            }
        }
        tracing::debug!("closing stdin");
        on_close(stdin);
    })
}

/// The timer: steps the engine ([`Engine::timer_step`]: its deadlines and
/// the exit watch) with the child's state, then sleeps as the step says or
/// until the engine asks for a rearm.
pub(crate) fn spawn_timer(shared: &Arc<Shared>, process: Option<Weak<Process>>) -> io::Result<()> {
    let shared = Arc::clone(shared);
    spawn("meerkat-timer", move || loop {
        // The client is gone when its process is: nothing to watch then.
        let child = process.as_ref().and_then(Weak::upgrade);
        let child = child.map(|c| c.try_status().map(|s| s.to_string()));
        let now = Instant::now();
        match shared.with(|e| e.timer_step(now, child)) {
            TimerStep::Sleep(wake) => shared
                .timer
                .wait(wake.map(|w| w.saturating_duration_since(now))),
            _ => return,
        }
    })
}

/// Runs a tool handler on a thread of its own: the reader never waits for
/// a handler, a handler may call the client, and a panic answers with an
/// error result.
fn run_tool(shared: Weak<Shared>, call: ToolCall, handler: Handler) {
    let ToolCall {
        id,
        name,
        arguments,
        ..
    } = call;
    let spawned = spawn("meerkat-tool", move || {
        let _span = tracing::debug_span!("meerkat_tool", tool = %name).entered();
        let output = run(&handler, arguments);
        if let Some(shared) = shared.upgrade() {
            shared.with(|e| e.respond_tool(id, output, Instant::now()));
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread for a tool call");
    }
}

fn run(handler: &Handler, arguments: Value) -> Result<ToolOutput, String> {
    catch_unwind(AssertUnwindSafe(|| handler(arguments)))
        .unwrap_or_else(|payload| Err(panic_message(&*payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_result() {
        let handler: Handler = Arc::new(|_| panic!("boom"));
        assert_eq!(
            run(&handler, Value::Null),
            Err("tool handler panicked: boom".to_owned())
        );
    }

    #[test]
    fn a_signal_set_before_the_wait_is_not_lost() {
        let signal = Signal::default();
        signal.notify();
        signal.wait(None); // returns at once
        signal.wait(Some(Duration::from_millis(1))); // times out
    }
}
