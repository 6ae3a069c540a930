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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Instant;

use meerkat_proto::rpc::CallError;
use meerkat_proto::{
    CloseReason, Connection, Dialect, Output, RequestId, ServerInfo, StreamEnd, StreamItem, Transmit,
};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::pipes::ByteBudget;
use crate::stream::StreamShared;
use crate::tools::Tools;

/// A command: a closure the driver runs on its [`Core`].
pub(crate) type Command = Box<dyn FnOnce(&mut Core) + Send>;

/// Where the outcome of the handshake goes.
pub(crate) type ReadyReply = SyncSender<Result<(ServerInfo, Dialect), Error>>;

/// Where the answer to one request goes.
pub(crate) type Reply = SyncSender<Result<Box<RawValue>, Error>>;

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

/// What we know about a child whose output ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExitInfo {
    /// Its exit status, if it had exited.
    pub(crate) exit_status: Option<String>,
    /// The tail of its stderr.
    pub(crate) stderr_tail: String,
}

/// The driver's state; commands get `&mut` access to it.
pub(crate) struct Core {
    /// The protocol state machine.
    pub(crate) conn: Connection,
    /// Pending plain requests: reply channel and method name (for errors).
    calls: HashMap<RequestId, (Reply, &'static str)>,
    /// Open streams (turn streams and subscriptions), by request id.
    streams: HashMap<RequestId, Arc<StreamShared>>,
    /// Waits for the handshake.
    ready: Option<ReadyReply>,
    /// The callback tools.
    pub(crate) tools: Tools,
    /// Set when the child's output ended.
    exit: Option<ExitInfo>,
    /// Set when `close()` (or drop) closed the connection.
    closed_locally: bool,
    /// Why the connection closed, once it did.
    close_reason: Option<CloseReason>,
    /// Frames for the writer thread; `None` once stdin is to be closed.
    frames: Option<Sender<Transmit>>,
}

impl Core {
    /// Sends a request and routes its answer to `reply`.
    pub(crate) fn track_call(&mut self, id: RequestId, method: &'static str, reply: Reply) {
        self.calls.insert(id, (reply, method));
    }

    /// Routes the items of stream `id` into `stream`.
    pub(crate) fn track_stream(&mut self, id: RequestId, stream: Arc<StreamShared>) {
        self.streams.insert(id, stream);
    }

    /// Forgets a stream (its consumer is gone) and tells the Connection.
    pub(crate) fn drop_stream(&mut self, id: RequestId) {
        if self.streams.remove(&id).is_some() {
            self.conn.cancel(id);
        }
    }

    /// The error every waiter gets once the connection is closed.
    pub(crate) fn closed_error(&self) -> Error {
        if self.closed_locally {
            return Error::Closed;
        }
        let info = self.exit.clone().unwrap_or_default();
        Error::ConnectionClosed {
            reason: self
                .close_reason
                .as_ref()
                .map_or_else(|| CloseReason::Eof.to_string(), ToString::to_string),
            exit_status: info.exit_status,
            stderr_tail: info.stderr_tail,
        }
    }

    /// Turns an engine-level failure into this crate's error.
    pub(crate) fn call_error(&self, err: CallError, method: &str) -> Error {
        match err {
            CallError::Rpc(obj) => Error::Rpc(obj.into()),
            CallError::TimedOut => Error::TimedOut {
                method: method.to_owned(),
            },
            CallError::Closed(CloseReason::VersionMismatch { server, sdk }) => {
                Error::VersionMismatch { server, sdk }
            }
            CallError::Closed(reason) => {
                let mut err = self.closed_error();
                if let Error::ConnectionClosed { reason: r, .. } = &mut err {
                    *r = reason.to_string();
                }
                err
            }
            other => Error::InvalidResponse {
                method: method.to_owned(),
                message: other.to_string(),
            },
        }
    }

    /// Whether the connection is closed (no new request can succeed).
    pub(crate) fn is_closed(&self) -> bool {
        self.close_reason.is_some() || self.conn.is_closed()
    }
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
                calls: HashMap::new(),
                streams: HashMap::new(),
                ready: Some(ready),
                tools,
                exit: None,
                closed_locally: false,
                close_reason: None,
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
                self.core.exit = Some(info);
                self.core.conn.handle_eof();
            }
            Input::Command(command) => command(&mut self.core),
            Input::Shutdown => {
                self.core.closed_locally = true;
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
        match output {
            Output::Ready(info) => {
                tracing::debug!(version = %info.version, "handshake done");
                if let Some(ready) = core.ready.take() {
                    let _ = ready.try_send(Ok((info, core.conn.dialect().clone())));
                }
            }
            Output::Response { id, result } => {
                if let Some((reply, method)) = core.calls.remove(&id) {
                    let result = result.map_err(|e| core.call_error(e, method));
                    // NB: one-slot channel, one send: never blocks.
                    let _ = reply.try_send(result);
                }
            }
            Output::StreamItem { id, item } => {
                if let Some(stream) = core.streams.get(&id) {
                    match item {
                        StreamItem::Event(envelope) => stream.push_event(envelope),
                        StreamItem::EventsLost {
                            expected_seq,
                            received_seq,
                        } => stream.push_lost(received_seq.saturating_sub(expected_seq)),
                        _ => {}
                    }
                }
            }
            Output::StreamEnd { id, end } => {
                if let Some(stream) = core.streams.remove(&id) {
                    let end = match end {
                        StreamEnd::Turn(Ok(raw)) => Ok(Some(raw)),
                        StreamEnd::Turn(Err(e)) => Err(core.call_error(e, stream.method())),
                        StreamEnd::Subscription { outcome, error } => {
                            stream.set_outcome(outcome, error);
                            Ok(None)
                        }
                        StreamEnd::Closed(reason) => {
                            Err(core.call_error(CallError::Closed(reason), stream.method()))
                        }
                        _ => Ok(None),
                    };
                    stream.finish(end);
                }
            }
            Output::ToolCall(call) => core.tools.dispatch(call),
            Output::Diagnostic(diagnostic) => {
                tracing::debug!(?diagnostic, "protocol diagnostic");
            }
            Output::Closed(reason) => {
                tracing::debug!(%reason, "connection closed");
                core.close_reason = Some(reason.clone());
                if let Some(ready) = core.ready.take() {
                    let err = match reason {
                        CloseReason::VersionMismatch { server, sdk } => {
                            Error::VersionMismatch { server, sdk }
                        }
                        _ => core.closed_error(),
                    };
                    let _ = ready.try_send(Err(err));
                }
                // Close stdin: the server's graceful shutdown.
                core.frames = None;
            }
            _ => {}
        }
    }

    /// Releases everything still waiting (the Connection normally did).
    fn finish(mut self) {
        if !self.core.conn.is_closed() {
            self.core.closed_locally = true;
            self.core.conn.close();
            self.flush();
        }
        let core = &mut self.core;
        for (_, (reply, _)) in std::mem::take(&mut core.calls) {
            let _ = reply.try_send(Err(core.closed_error()));
        }
        for (_, stream) in std::mem::take(&mut core.streams) {
            stream.finish(Err(core.closed_error()));
        }
        if let Some(ready) = core.ready.take() {
            let _ = ready.try_send(Err(core.closed_error()));
        }
        core.tools.clear();
        self.core.frames = None;
        self.budget.close();
        tracing::debug!("driver stopped");
    }
}
