//! The glue around the shared [`Engine`]: its lock, and the tasks that move
//! bytes and time into it.
//!
//! ```text
//!  caller tasks ──lock── Engine ──lock── reader task <── stdout
//!      ^ Waker            │  output bytes ──> writer task ──> stdin
//!      └──────────────────┤  deadlines ─────> timer task
//!                         └─ tool calls ────> a task per call
//! ```
//!
//! There is no driver: a caller starts its request under the lock and the
//! reader wakes it with the answer. While the writer sleeps with nothing in
//! flight, whoever touched the engine writes its output to the child's
//! stdin itself, as much as the pipe takes without waiting (the engine's
//! `Effects::write_now`); the writer is woken only for what is left. So a
//! call crosses the pipe with no handoff to the writer. Every decision is
//! the engine's; this file only reads, writes, sleeps and spawns. The lock
//! is a `std` mutex, held for short, non-blocking stretches and never
//! across an `.await`.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::task::{Poll, Waker};

use meerkat_proto::sdk::{DirectWrite, Engine, TimerStep, panic_message};
use meerkat_proto::{RequestId, ToolCall, ToolOutput};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::process::Process;

type BoxFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, String>> + Send>>;

/// A tool handler, as the engine keeps it.
pub(crate) type Handler = Arc<dyn Fn(Value) -> BoxFuture + Send + Sync>;

/// The engine, the tasks' signals and the runtime they run on; shared by
/// every handle and task of one connection (tasks hold it, not the client,
/// so they never keep the child alive).
pub(crate) struct Shared {
    engine: Mutex<Engine<Handler>>,
    writer: Notify,
    timer: Notify,
    runtime: Handle,
    /// The cassette file, when recording ([`Shared::flush_records`]).
    records: Option<meerkat_host::RecordFile>,
    /// How the engine's `Effects::write_now` reaches the child's stdin
    /// ([`Shared::write_directly`]; the writer task owns the pipe).
    direct: OnceLock<DirectWrite>,
}

meerkat_proto::__meerkat_shared_with!(notify: notify_one, tool: |shared, call, handler| run_tool(shared, call, handler));

impl Shared {
    pub(crate) fn new(engine: Engine<Handler>, records: Option<meerkat_host::RecordFile>) -> Arc<Self> {
        Arc::new(Self {
            engine: Mutex::new(engine),
            writer: Notify::new(),
            timer: Notify::new(),
            runtime: Handle::current(),
            records,
            direct: OnceLock::new(),
        })
    }


    /// Waits until `poll` is ready.
    pub(crate) async fn wait<T>(
        self: &Arc<Self>,
        mut poll: impl FnMut(&mut Engine<Handler>, &Waker) -> Poll<T>,
    ) -> T {
        poll_fn(|cx| self.with(|engine| poll(engine, cx.waker()))).await
    }

    /// Spawns `task` on the connection's runtime (also from outside it).
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(task));
    }
}

/// Cancels a call whose future is dropped before its answer: the engine
/// frees its slot at once (and keeps a turn's reset rule).
pub(crate) struct CallGuard<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) id: Option<RequestId>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shared.with(|e| e.cancel_call(id));
        }
    }
}

/// The reader: chunks of `source` (stdout, or with `stderr` the child's
/// stderr) into the engine, then its end.
pub(crate) fn spawn_reader(
    shared: &Arc<Shared>,
    mut source: impl AsyncRead + Unpin + Send + 'static,
    stderr: bool,
) {
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        // NB: a runtime that shuts down drops this task mid-read: the guard
        // then ends the connection, so no caller waits for bytes that no
        // task will read.
        let mut guard = EndOnDrop((!stderr).then(|| Arc::clone(&task_shared)));
        let shared = task_shared;
        // NB: read straight into the ingest's buffers.
        let mut ingest = shared.with(|e| e.ingest());
        loop {
            match source.read(ingest.buffer()).await {
                Ok(0) => break,
                Ok(n) => shared.read_into_engine(&mut ingest, n, stderr, now()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, stderr, "reading the child's output failed");
                    break;
                }
            }
        }
        if stderr {
            shared.with(|e| e.handle_stderr_eof(now()));
        } else {
            tracing::debug!("server output closed");
            guard.0 = None; // an orderly end: the engine waits for the exit
            let rest = ingest.finish();
            shared.with(|e| {
                e.handle_ingested(rest, now());
                e.handle_eof(now());
            });
        }
    });
}

/// The engine's clock reading: tokio's (pausable in tests) as a std
/// `Instant`.
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Ends the connection when dropped (the reader task's end, however it
/// ends).
struct EndOnDrop(Option<Arc<Shared>>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.with(|e| {
                if !e.is_closed() {
                    e.handle_io_lost(now());
                }
            });
        }
    }
}

/// The writer of a child's stdin: [`spawn_writer`] over the pipe, set
/// non-blocking, and the tasks and threads that touch the engine write too
/// while it sleeps (`Engine::set_direct_writes`). Elsewhere than on unix,
/// or when the pipe cannot be taken over, the writer alone.
pub(crate) fn spawn_stdin_writer(
    shared: &Arc<Shared>,
    stdin: tokio::process::ChildStdin,
) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::net::unix::pipe::Sender;
        let stdin = Arc::new(stdin.into_owned_fd().and_then(Sender::from_owned_fd)?);
        let weak = Arc::downgrade(&stdin);
        spawn_writer(shared, PipeWriter(stdin));
        shared.write_directly(move |bytes| {
            let Some(stdin) = weak.upgrade() else { return 0 };
            loop {
                match stdin.try_write(bytes) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Ok(n) => return n,
                    Err(_) => return 0,
                }
            }
        });
    }
    #[cfg(not(unix))]
    spawn_writer(shared, stdin);
    Ok(())
}

/// The writer task's handle on the child's stdin (a non-blocking pipe that
/// callers write too): waits for room as any async write does; dropping
/// the last strong handle closes the pipe.
#[cfg(unix)]
struct PipeWriter(Arc<tokio::net::unix::pipe::Sender>);

#[cfg(unix)]
impl AsyncWrite for PipeWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            if let Err(e) = std::task::ready!(self.0.poll_write_ready(cx)) {
                return Poll::Ready(Err(e));
            }
            match self.0.try_write(bytes) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The writer: the engine's output to stdin, a batch of whole frames at a
/// time, each with one `write_all` (taking the next batch tells the engine
/// the last one was written; the engine bounds what waits, see
/// `ConnectOptions::max_output_bytes`); ends (closing stdin) once the
/// engine is closed and everything is written.
pub(crate) fn spawn_writer(
    shared: &Arc<Shared>,
    mut stdin: impl AsyncWrite + Unpin + Send + 'static,
) {
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        let shared = task_shared;
        loop {
            // NB: registered before looking, so a notify in between is kept.
            let notified = shared.writer.notified();
            let (bytes, closed) = shared.with(|e| (e.take_output(), e.is_closed()));
            shared.flush_records();
            if !bytes.is_empty() {
                if let Err(e) = stdin.write_all(&bytes).await {
                    // The child is gone or closed stdin: the reader sees EOF.
                    tracing::debug!(error = %e, "writing to stdin failed");
                    return;
                }
            } else if closed {
                break;
            } else {
                notified.await;
            }
        }
        tracing::debug!("closing stdin");
        let _ = stdin.shutdown().await;
    });
}

/// The timer: steps the engine ([`Engine::timer_step`]: its deadlines and
/// the exit watch) with the child's state, then sleeps as the step says or
/// until the engine asks for a rearm.
pub(crate) fn spawn_timer(shared: &Arc<Shared>, process: Option<Weak<Process>>) {
    let task_shared = Arc::clone(shared);
    shared.spawn(async move {
        let shared = task_shared;
        loop {
            let notified = shared.timer.notified();
            // The client is gone when its process is: nothing to watch then.
            let child = process.as_ref().and_then(Weak::upgrade);
            let child = child.map(|c| c.try_status().map(|s| s.to_string()));
            let now = Instant::now();
            match shared.with(|e| e.timer_step(now.into_std(), child)) {
                TimerStep::Sleep(Some(wake)) => tokio::select! {
                    () = tokio::time::sleep_until(Instant::from_std(wake)) => {}
                    () = notified => {}
                },
                TimerStep::Sleep(None) => notified.await,
                _ => return,
            }
        }
    });
}

/// Runs a tool handler on a task of its own: the reader never waits for a
/// handler, a handler may call the client, and a panic answers with an
/// error result.
fn run_tool(shared: &Arc<Shared>, call: ToolCall, handler: Handler) {
    let ToolCall {
        id,
        name,
        arguments,
        ..
    } = call;
    let weak = Arc::downgrade(shared);
    let span = tracing::debug_span!("meerkat_tool", tool = %name);
    shared.spawn(
        async move {
            let output = run(handler, arguments).await;
            if let Some(shared) = weak.upgrade() {
                shared.with(|e| e.respond_tool(id, output, now()));
            }
        }
        .instrument(span),
    );
}

/// Erases a user's handler into a [`Handler`].
pub(crate) fn erase<F, Fut, E>(handler: F) -> Handler
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ToolOutput, E>> + Send + 'static,
    E: std::fmt::Display + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |args| {
        let handler = Arc::clone(&handler);
        Box::pin(async move { handler(args).await.map_err(|e| e.to_string()) })
    })
}

async fn run(handler: Handler, arguments: Value) -> Result<ToolOutput, String> {
    match tokio::spawn(async move { handler(arguments).await }).await {
        Ok(output) => output,
        Err(e) if e.is_panic() => Err(panic_message(&*e.into_panic())),
        Err(e) => Err(format!("tool handler did not finish: {e}")),
    }
}
