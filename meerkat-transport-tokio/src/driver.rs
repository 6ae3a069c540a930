//! The driver task: the one owner of the [`Connection`].
//!
//! ```text
//!  reader task ──FromReader (bounded)──┐
//!  user tasks ───Input::Command────────┼──> driver task ──> Connection
//!  tool tasks ───Input::Command────────┘        │
//!                     frames <── poll_transmit ─┤──> writer task ──> stdin
//!   oneshot replies, stream buffers, tool tasks <── poll_output
//! ```
//!
//! The loop: wait for one input (a command, stdout bytes, or the next
//! deadline from `poll_timeout`), apply it, write every frame, act on every
//! output. Nothing in the loop waits on a user: replies go into oneshots,
//! stream items into bounded [`StreamBuffer`](meerkat_proto::StreamBuffer)s,
//! frames into the writer's queue, tool calls onto tasks of their own.

use meerkat_proto::dispatch::{Dispatcher, ExitInfo, ReadyReply};
use meerkat_proto::{Connection, Output, Transmit};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::io::FromReader;
use crate::stream::WakerSlot;
use crate::tools::Tools;

/// A command: a closure the driver runs on its [`Core`].
pub(crate) type Command = Box<dyn FnOnce(&mut Core) + Send>;

/// What user and tool tasks send the driver.
pub(crate) enum Input {
    /// Run this on the core.
    Command(Command),
    /// `close()` or the last handle's drop: close the connection, then stop.
    Shutdown,
}

/// The driver's state; commands get `&mut` access to it.
pub(crate) struct Core {
    /// The protocol state machine.
    pub(crate) conn: Connection,
    /// Who waits for what (shared with the blocking transport).
    pub(crate) dispatch: Dispatcher<WakerSlot>,
    /// The callback tools.
    pub(crate) tools: Tools,
    /// Frames for the writer task; `None` once stdin is to be closed.
    frames: Option<mpsc::UnboundedSender<Transmit>>,
}

/// The driver: the [`Core`] plus its inputs.
pub(crate) struct Driver {
    core: Core,
    rx: mpsc::UnboundedReceiver<Input>,
    reader: mpsc::Receiver<FromReader>,
    reader_done: bool,
    pid: u32,
}

impl Driver {
    /// Builds a driver whose handshake answer goes to `ready`.
    pub(crate) fn new(
        conn: Connection,
        rx: mpsc::UnboundedReceiver<Input>,
        reader: mpsc::Receiver<FromReader>,
        frames: mpsc::UnboundedSender<Transmit>,
        tools: Tools,
        ready: ReadyReply,
        pid: u32,
    ) -> Self {
        Self {
            core: Core {
                conn,
                dispatch: Dispatcher::new(ready),
                tools,
                frames: Some(frames),
            },
            rx,
            reader,
            reader_done: false,
            pid,
        }
    }

    /// Runs until shut down, or until every handle and the reader are gone.
    pub(crate) async fn run(mut self) {
        tracing::debug!(pid = self.pid, "driver started");
        loop {
            self.flush();
            let deadline = self.core.conn.poll_timeout().map(Instant::from_std);
            let stop = tokio::select! {
                biased;
                input = self.rx.recv() => match input {
                    Some(Input::Command(command)) => {
                        command(&mut self.core);
                        false
                    }
                    Some(Input::Shutdown) | None => {
                        self.core.dispatch.set_closed_locally();
                        self.core.conn.close();
                        true
                    }
                },
                msg = self.reader.recv(), if !self.reader_done => {
                    self.on_reader(msg);
                    false
                }
                () = sleep_until(deadline), if deadline.is_some() => false,
            };
            // NB: also after inputs, so a steady flow of them cannot starve
            // the deadlines.
            let now = std::time::Instant::now();
            if self.core.conn.poll_timeout().is_some_and(|at| at <= now) {
                self.core.conn.handle_timeout(now);
            }
            if stop {
                self.flush();
                break;
            }
        }
        self.finish();
    }

    fn on_reader(&mut self, msg: Option<FromReader>) {
        match msg {
            Some(FromReader::Bytes(bytes)) => {
                self.core.conn.handle_bytes(&bytes);
                // Take what else is already read before flushing: fewer
                // wakeups under a burst.
                for _ in 0..16 {
                    match self.reader.try_recv() {
                        Ok(FromReader::Bytes(more)) => self.core.conn.handle_bytes(&more),
                        Ok(FromReader::Eof(info)) => {
                            self.on_eof(info);
                            return;
                        }
                        Err(_) => break,
                    }
                    // Deliver as we go: outputs must not pile up unbounded.
                    self.flush();
                }
            }
            Some(FromReader::Eof(info)) => self.on_eof(info),
            None => self.on_eof(ExitInfo::default()),
        }
    }

    fn on_eof(&mut self, info: ExitInfo) {
        tracing::debug!(status = ?info.exit_status, "rkat-rpc output ended");
        self.reader_done = true;
        self.core.dispatch.set_exit(info);
        self.core.conn.handle_eof();
    }

    /// Writes every frame and acts on every output.
    fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(frame) = self.core.conn.poll_transmit() {
                progressed = true;
                if let Some(frames) = &self.core.frames
                    && frames.send(frame).is_err()
                {
                    // The writer is gone (stdin broke): the reader sees EOF
                    // soon; frames go nowhere until then.
                    self.core.frames = None;
                }
            }
            while let Some(output) = self.core.conn.poll_output() {
                progressed = true;
                self.on_output(output);
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_output(&mut self, output: Output) {
        let core = &mut self.core;
        let (tool_call, closed) = core.dispatch.on_output(&core.conn, output);
        if let Some(call) = tool_call {
            core.tools.dispatch(call);
        }
        if closed {
            // Close stdin: the server's graceful shutdown.
            core.frames = None;
        }
    }

    /// Releases everything still waiting (the Connection normally did).
    fn finish(mut self) {
        if !self.core.conn.is_closed() {
            self.core.dispatch.set_closed_locally();
            self.core.conn.close();
            self.flush();
        }
        self.core.dispatch.finish();
        self.core.tools.clear();
        self.core.frames = None;
        tracing::debug!("driver stopped");
    }
}

/// Sleeps until `deadline` (never called with `None`: the branch is off).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
