//! The driver thread: the one owner of the [`Connection`].
//!
//! ```text
//!  reader thread ──Input::Bytes/Eof──┐
//!  user threads ───Input::Command────┼──> mpsc ──> driver ──> Connection
//!  tool threads ───Input::Command────┘               │
//!                        frames <── poll_transmit ───┤──> writer thread ──> stdin
//!   replies, stream buffers, tool threads <── poll_output
//! ```
//!
//! The loop: apply one input (bytes, EOF, a command or a timeout), write
//! every frame, act on every output, then wait on the channel with
//! `recv_timeout(poll_timeout - now)`. One channel, no select. Nothing in the
//! loop blocks: replies go into one-slot channels nobody else fills, stream
//! items into bounded [`StreamBuffer`](meerkat_proto::StreamBuffer)s, frames
//! into the writer's queue, tool calls onto their own threads.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use meerkat_proto::dispatch::{Dispatcher, ExitInfo, ReadyReply};
use meerkat_proto::{Connection, Output, Transmit};

use crate::pipes::ByteBudget;
use crate::stream::Wakeup;
use crate::tools::Tools;

/// A command: a closure the driver runs on its [`Core`].
pub(crate) type Command = Box<dyn FnOnce(&mut Core) + Send>;

/// Everything the driver waits for, on one channel.
pub(crate) enum Input {
    /// A chunk of the child's stdout.
    Bytes(Vec<u8>),
    /// The child's stdout ended.
    Eof(ExitInfo),
    /// A command from a user or tool thread.
    Command(Command),
    /// `close()` or the last handle's drop: close the connection, then stop.
    Shutdown,
}

/// The driver's state; commands get `&mut` access to it.
pub(crate) struct Core {
    /// The protocol state machine.
    pub(crate) conn: Connection,
    /// Who waits for what (shared with the tokio transport).
    pub(crate) dispatch: Dispatcher<Wakeup>,
    /// The callback tools.
    pub(crate) tools: Tools,
    /// Frames for the writer thread; `None` once stdin is to be closed.
    frames: Option<Sender<Transmit>>,
}

/// The driver: the [`Core`] plus its inputs.
pub(crate) struct Driver {
    core: Core,
    rx: Receiver<Input>,
    budget: Arc<ByteBudget>,
    pid: u32,
}

impl Driver {
    /// Builds a driver whose handshake answer goes to `ready`.
    pub(crate) fn new(
        conn: Connection,
        rx: Receiver<Input>,
        frames: Sender<Transmit>,
        budget: Arc<ByteBudget>,
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
            budget,
            pid,
        }
    }

    /// Runs until shut down or until every sender is gone.
    pub(crate) fn run(mut self) {
        let _span = tracing::debug_span!("meerkat_driver", pid = self.pid).entered();
        loop {
            self.flush();
            let input = match self.core.conn.poll_timeout() {
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(wait) {
                        Ok(input) => Some(input),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match self.rx.recv() {
                    Ok(input) => Some(input),
                    Err(_) => break,
                },
            };
            let stop = match input {
                Some(input) => self.apply(input),
                None => false,
            };
            // NB: also after inputs, so a steady flow of them cannot starve
            // the deadlines.
            let now = Instant::now();
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

    /// Applies one input; `true` means stop after flushing.
    fn apply(&mut self, input: Input) -> bool {
        match input {
            Input::Bytes(bytes) => {
                self.core.conn.handle_bytes(&bytes);
                self.budget.release(bytes.len());
            }
            Input::Eof(info) => {
                tracing::debug!(status = ?info.exit_status, "rkat-rpc output ended");
                self.core.dispatch.set_exit(info);
                self.core.conn.handle_eof();
            }
            Input::Command(command) => command(&mut self.core),
            Input::Shutdown => {
                self.core.dispatch.set_closed_locally();
                self.core.conn.close();
                return true;
            }
        }
        false
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
                    // The writer is gone (stdin broke): the reader will see
                    // EOF soon; frames go nowhere until then.
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
        self.budget.close();
        tracing::debug!("driver stopped");
    }
}
