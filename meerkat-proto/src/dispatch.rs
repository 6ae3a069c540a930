//! What every transport's driver shares: routing [`Output`]s to the callers
//! waiting for them, the per-stream state, and the mapping of engine
//! outcomes to the SDK's [`Error`].
//!
//! Still sans-IO: a transport supplies how a reply is delivered (a oneshot,
//! a one-slot channel) and how a stream's consumer is woken (a `Waker`, a
//! `Condvar`); the bookkeeping is here, once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use serde_json::value::RawValue;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::conn::{Connection, Output, StreamBuffer, StreamEnd, StreamEvent, StreamItem};
use crate::launch::{ConnectOptions, TransportKind};
use crate::model::{
    Dialect, Event, EventEnvelope, Method, RunResult, ServerInfo, ToolCall, UsageError,
};
use crate::rpc::{CallError, CloseReason, RequestId};
use crate::sdk_error::Error;

/// What we know about a child whose output ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitInfo {
    /// Its exit status, if it had exited (`"exit status: 3"`).
    pub exit_status: Option<String>,
    /// The tail of its stderr.
    pub stderr_tail: String,
}

impl ExitInfo {
    /// Exit information from a status description and a stderr tail.
    pub fn new(exit_status: Option<String>, stderr_tail: String) -> Self {
        Self {
            exit_status,
            stderr_tail,
        }
    }
}

/// How one answer reaches the caller waiting for it: a closure over a
/// oneshot sender or a one-slot channel. It must never block; a caller
/// that stopped waiting is ignored.
pub type Reply = Box<dyn FnOnce(Result<Box<RawValue>, Error>) + Send>;

/// How the handshake's outcome reaches `connect`.
pub type ReadyReply = Box<dyn FnOnce(Result<(ServerInfo, Dialect), Error>) + Send>;

/// How a stream's end reaches its consumer: the raw response of a turn,
/// `None` for a subscription, or the error.
pub type End = Result<Option<Box<RawValue>>, Error>;

/// One stream's queue and end, shared by the driver (pushing) and the
/// consumer (popping) behind a transport's lock; see [`SharedStream`].
pub struct StreamState {
    buffer: StreamBuffer<Entry, End>,
    outcome: Option<(String, Option<Value>)>,
}

/// A queued stream entry.
enum Entry {
    Event(StreamEvent),
    Lost(u64),
}

/// What a stream's consumer gets next (a closed set: an event, a signal,
/// the end).
pub enum Next {
    /// An event; decode it with [`StreamEvent::into_envelope`] once the
    /// stream's lock is released (decoding is the consumer's share of the
    /// work).
    Event(StreamEvent),
    /// An SDK signal: [`Event::EventsLost`] or [`Event::Lagged`].
    Signal(Event),
    /// The end.
    End(End),
}

impl StreamState {
    /// An empty stream holding at most `budget` entries.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self {
            buffer: StreamBuffer::new(budget),
            outcome: None,
        }
    }

    /// Takes the next entry; `None` when nothing is queued yet.
    pub fn pop(&mut self) -> Option<Next> {
        self.buffer.pop().map(|popped| match popped {
            crate::Popped::Item(Entry::Event(envelope)) => Next::Event(envelope),
            crate::Popped::Item(Entry::Lost(missing)) => {
                Next::Signal(Event::EventsLost { missing })
            }
            crate::Popped::Lagged { dropped } => Next::Signal(Event::Lagged { dropped }),
            crate::Popped::End(end) => Next::End(end),
        })
    }

    /// Whether the end was taken: nothing will ever come again.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.buffer.is_done()
    }

    /// How the server ended a subscription, once it did.
    #[must_use]
    pub fn outcome(&self) -> Option<&(String, Option<Value>)> {
        self.outcome.as_ref()
    }
}

/// A stream as a transport shares it: the [`StreamState`] behind a mutex,
/// plus the transport's way of waking the consumer.
pub struct SharedStream<W> {
    state: Mutex<StreamState>,
    method: &'static str,
    /// Queued for the next [`Dispatcher::wake_all`].
    queued: std::sync::atomic::AtomicBool,
    /// The transport's wakeup (a `Condvar`, a `Mutex<Option<Waker>>`).
    pub wake: W,
}

/// How a transport wakes a stream's consumer after the driver changed it.
pub trait Wake: Send + Sync + 'static {
    /// Called after every change, with no lock held.
    fn wake(&self);
}

impl<W: Wake> SharedStream<W> {
    /// A stream of at most `budget` entries, for errors naming `method`.
    pub fn new(budget: usize, method: &'static str, wake: W) -> Self {
        Self {
            state: Mutex::new(StreamState::new(budget)),
            method,
            queued: std::sync::atomic::AtomicBool::new(false),
            wake,
        }
    }

    /// The method that opened the stream.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// Locks the state (a poisoned lock is still used: the state is plain
    /// data, consistent after every call).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn change(&self, f: impl FnOnce(&mut StreamState)) {
        f(&mut self.lock());
        self.wake.wake();
    }

    /// How the server ended a subscription, once it did.
    pub fn outcome(&self) -> Option<(String, Option<Value>)> {
        self.lock().outcome.clone()
    }
}

/// The driver-side bookkeeping of one connection: who waits for which
/// request, which stream gets which items, and how the connection ended.
///
/// A transport's driver owns one next to its [`Connection`], calls
/// [`on_output`](Self::on_output) for every output, and
/// [`finish`](Self::finish) when it stops.
pub struct Dispatcher<W> {
    calls: HashMap<RequestId, (Reply, &'static str)>,
    streams: HashMap<RequestId, Arc<SharedStream<W>>>,
    /// Streams with new items whose consumers are not woken yet.
    to_wake: Vec<Arc<SharedStream<W>>>,
    ready: Option<ReadyReply>,
    exit: Option<ExitInfo>,
    closed_locally: bool,
    close_reason: Option<CloseReason>,
}

impl<W: Wake> Dispatcher<W> {
    /// Nobody waiting yet; the handshake's outcome goes to `ready`.
    pub fn new(ready: ReadyReply) -> Self {
        Self {
            calls: HashMap::new(),
            streams: HashMap::new(),
            to_wake: Vec::new(),
            ready: Some(ready),
            exit: None,
            closed_locally: false,
            close_reason: None,
        }
    }

    /// Sends request `M` on `conn`; its answer goes to `reply`.
    pub fn call<M: Method>(
        &mut self,
        conn: &mut Connection,
        params: &M::Params,
        opts: crate::RequestOptions,
        reply: Reply,
    ) {
        let name = M::name(conn.dialect()).unwrap_or("?");
        match conn.request::<M>(params, opts) {
            Ok(id) => {
                self.calls.insert(id, (reply, name));
            }
            Err(e) => reply(Err(self.usage_error(e))),
        }
    }

    /// Sends request `M` whose notifications form `stream`; for a
    /// subscription the open result goes to `reply`.
    ///
    /// # Errors
    ///
    /// The request could not be sent (the error is also what the caller
    /// should see).
    pub fn open_stream<M: Method>(
        &mut self,
        conn: &mut Connection,
        params: &M::Params,
        opts: crate::RequestOptions,
        stream: Arc<SharedStream<W>>,
        reply: Option<Reply>,
    ) -> Result<RequestId, Error> {
        let name = M::name(conn.dialect()).unwrap_or("?");
        match conn.request::<M>(params, opts) {
            Ok(id) => {
                self.streams.insert(id, stream);
                if let Some(reply) = reply {
                    self.calls.insert(id, (reply, name));
                }
                Ok(id)
            }
            Err(e) => Err(self.usage_error(e)),
        }
    }

    /// Tracks the answer of an already sent request.
    pub fn track_call(&mut self, id: RequestId, method: &'static str, reply: Reply) {
        self.calls.insert(id, (reply, method));
    }

    /// Forgets a stream whose consumer is gone, and tells the Connection.
    pub fn drop_stream(&mut self, conn: &mut Connection, id: RequestId) {
        if self.streams.remove(&id).is_some() {
            self.calls.remove(&id);
            conn.cancel(id);
        }
    }

    /// Records that the child's output ended, before `handle_eof`.
    pub fn set_exit(&mut self, info: ExitInfo) {
        self.exit = Some(info);
    }

    /// Records that the connection is being closed by the user.
    pub fn set_closed_locally(&mut self) {
        self.closed_locally = true;
    }

    /// The error every waiter gets once the connection is closed.
    pub fn closed_error(&self) -> Error {
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

    /// Maps an engine outcome to the SDK's error.
    pub fn call_error(&self, err: CallError, method: &str) -> Error {
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
        }
    }

    /// Maps a refused request to the SDK's error.
    pub fn usage_error(&self, err: UsageError) -> Error {
        match err {
            UsageError::Closed => self.closed_error(),
            UsageError::Unsupported { method, reason } => Error::CapabilityUnavailable {
                capability: format!("{method} ({reason})"),
            },
            UsageError::InvalidArgs(msg) => Error::InvalidArgs(msg),
            UsageError::Encode(e) => Error::InvalidArgs(e.to_string()),
            other => Error::InvalidArgs(other.to_string()),
        }
    }

    /// Acts on one output. Returns a tool call for the transport to run
    /// off the driver, and `true` in `.1` when the connection closed (the
    /// transport then closes the child's stdin).
    pub fn on_output(&mut self, conn: &Connection, output: Output) -> (Option<ToolCall>, bool) {
        match output {
            Output::Ready(info) => {
                tracing::debug!(version = %info.version, "handshake done");
                if let Some(ready) = self.ready.take() {
                    ready(Ok((info, conn.dialect().clone())));
                }
            }
            Output::Response { id, result } => {
                if let Some((reply, method)) = self.calls.remove(&id) {
                    let result = result.map_err(|e| self.call_error(e, method));
                    reply(result);
                }
            }
            Output::StreamItem { id, item } => {
                if let Some(stream) = self.streams.get(&id) {
                    let entry = match item {
                        StreamItem::Event(event) => Entry::Event(event),
                        StreamItem::EventsLost {
                            expected_seq,
                            received_seq,
                        } => Entry::Lost(received_seq.saturating_sub(expected_seq)),
                    };
                    stream.lock().buffer.push(entry);
                    // NB: consumers are woken once per batch of outputs
                    // (`wake_all`), not per event: a wakeup costs more than
                    // decoding an event.
                    if !stream
                        .queued
                        .swap(true, std::sync::atomic::Ordering::AcqRel)
                    {
                        self.to_wake.push(Arc::clone(stream));
                    }
                }
            }
            Output::StreamEnd { id, end } => {
                if let Some(stream) = self.streams.remove(&id) {
                    let mut outcome = None;
                    let end = match end {
                        StreamEnd::Turn(Ok(raw)) => Ok(Some(raw)),
                        StreamEnd::Turn(Err(e)) => Err(self.call_error(e, stream.method())),
                        StreamEnd::Subscription { outcome: o, error } => {
                            outcome = Some((o, error));
                            Ok(None)
                        }
                        StreamEnd::Closed(reason) => {
                            Err(self.call_error(CallError::Closed(reason), stream.method()))
                        }
                    };
                    stream.change(|s| {
                        if outcome.is_some() {
                            s.outcome = outcome;
                        }
                        s.buffer.finish(end);
                    });
                }
            }
            Output::ToolCall(call) => return (Some(call), false),
            Output::Diagnostic(diagnostic) => {
                tracing::debug!(?diagnostic, "protocol diagnostic");
            }
            Output::Closed(reason) => {
                tracing::debug!(%reason, "connection closed");
                self.close_reason = Some(reason.clone());
                if let Some(ready) = self.ready.take() {
                    let err = match reason {
                        CloseReason::VersionMismatch { server, sdk } => {
                            Error::VersionMismatch { server, sdk }
                        }
                        CloseReason::HandshakeTimedOut { method } => Error::TimedOut { method },
                        _ => self.closed_error(),
                    };
                    ready(Err(err));
                }
                return (None, true);
            }
        }
        (None, false)
    }

    /// Wakes the consumers of every stream that got items since the last
    /// call. A transport calls it after draining a batch of outputs.
    pub fn wake_all(&mut self) {
        for stream in self.to_wake.drain(..) {
            stream
                .queued
                .store(false, std::sync::atomic::Ordering::Release);
            stream.wake.wake();
        }
    }

    /// Releases everyone still waiting (the Connection normally did already).
    pub fn finish(&mut self) {
        self.wake_all();
        for (_, (reply, _)) in std::mem::take(&mut self.calls) {
            reply(Err(self.closed_error()));
        }
        for (_, stream) in std::mem::take(&mut self.streams) {
            let err = self.closed_error();
            stream.change(|s| s.buffer.finish(Err(err)));
        }
        if let Some(ready) = self.ready.take() {
            ready(Err(self.closed_error()));
        }
    }
}

/// How a turn stream's end turns into its result: the decoded
/// [`RunResult`], or the error to hand out.
///
/// # Errors
///
/// The turn's error; [`Error::InvalidResponse`] for a turn that ended
/// without a response or with one of the wrong shape.
pub fn turn_result(end: End, method: &str, dialect: &Dialect) -> Result<RunResult, Error> {
    match end {
        Ok(Some(raw)) => crate::methods::TurnStart::decode_result(&raw, dialect).map_err(|e| {
            Error::InvalidResponse {
                method: e.method,
                message: e.message,
            }
        }),
        Ok(None) => Err(Error::InvalidResponse {
            method: method.to_owned(),
            message: "the turn ended without a response".into(),
        }),
        Err(err) => Err(err),
    }
}

/// What a subscription hands out for `next`: events keep their envelope,
/// SDK signals get an empty one; `None` ends the subscription.
pub fn subscription_item(next: Next) -> Option<Result<EventEnvelope, Error>> {
    match next {
        Next::Event(event) => Some(Ok(event.into_envelope())),
        Next::Signal(event) => Some(Ok(EventEnvelope {
            event,
            ..EventEnvelope::default()
        })),
        Next::End(Ok(_)) => None,
        Next::End(Err(err)) => Some(Err(err)),
    }
}

/// How to start `rkat-rpc`: program, arguments and the environment
/// variables to add, decided from [`ConnectOptions`] before anything is
/// spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchPlan {
    /// The binary.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(OsString, OsString)>,
}

impl LaunchPlan {
    /// Decides the launch for `options`, reading the environment through
    /// `env` and the file system through `is_file` (the transports pass
    /// `std::env::var_os` and `Path::is_file`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgs`] for `realm_id` with `isolated`, or for a TCP
    /// transport (a transport connects instead of launching),
    /// [`Error::BinaryNotFound`] naming every place tried.
    pub fn new(
        options: &ConnectOptions,
        env: impl Fn(&str) -> Option<OsString>,
        is_file: impl Fn(&Path) -> bool,
    ) -> Result<Self, Error> {
        if let TransportKind::Tcp(addr) = &options.transport {
            return Err(Error::InvalidArgs(format!(
                "{addr} is a TCP server to connect to: there is nothing to launch"
            )));
        }
        let args = options
            .args()
            .map_err(|e| Error::InvalidArgs(e.to_string()))?;
        let program = options
            .resolve_binary(&env, is_file)
            .map_err(|e| Error::BinaryNotFound { tried: e.tried })?;
        Ok(Self {
            program,
            args,
            env: options.child_env(env),
        })
    }

    /// The error of a failed spawn: a binary that vanished is
    /// [`Error::BinaryNotFound`], anything else [`Error::Io`].
    pub fn spawn_error(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::BinaryNotFound {
                tried: vec![self.program.display().to_string()],
            }
        } else {
            Error::Io(e)
        }
    }
}

/// The last `limit` bytes of a stream (the child's stderr), for error
/// messages: bounded however much is written.
#[derive(Debug, Clone, Default)]
pub struct TailBuffer {
    bytes: VecDeque<u8>,
    limit: usize,
}

impl TailBuffer {
    /// Keeps at most `limit` bytes.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            limit,
        }
    }

    /// Appends a chunk, dropping the oldest bytes beyond the limit.
    pub fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.limit)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The kept bytes, lossily decoded and trimmed; from the next line
    /// start when the tail was cut (a cut tail starts mid-line).
    ///
    /// ```
    /// let mut tail = meerkat_proto::dispatch::TailBuffer::new(12);
    /// tail.push(b"first line\nsecond\n");
    /// assert_eq!(tail.text(), "second");
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.bytes.iter().copied().collect();
        let start = if bytes.len() >= self.limit {
            bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1)
        } else {
            0
        };
        String::from_utf8_lossy(&bytes[start..])
            .trim_end()
            .to_owned()
    }
}
