//! [`Engine`]: the SDK layer both transports share, as plain data.
//!
//! It owns the [`Connection`] and decides everything above it: who waits
//! for which answer, each stream's queue and budget, the `runtime/reset`
//! after a failed or interrupted turn (with its retries on the engine's own
//! clock, [`poll_timeout`](Engine::poll_timeout)), what a dropped future or
//! stream leaves behind, callback tools, the exit watch and the mapping of
//! every outcome to [`Error`]. A transport puts it behind its lock, feeds it
//! bytes and time, and wakes the [`Waker`]s it hands back.

use foldhash::HashMap;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::call::{Call, Decoder, Kind, Streaming};
use super::diagnostics::{Counters, DiagnosticKind, Diagnostics};
use super::effects::Effects;
use super::exit::ExitWatch;
use super::outq::OutQueue;
use super::recovery::{Held, Resets};
use super::streams::StreamSlot;
use super::support::{ExitInfo, TailBuffer};
use crate::conn::{Connection, ConnectionConfig, RequestOptions};
use crate::launch::ConnectOptions;
use crate::model::{Dialect, ServerInfo, ToolCall, ToolOutput};
use crate::rpc::{CloseReason, RequestId};
use crate::sdk_error::Error;

/// What a transport's timer loop does after [`Engine::timer_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerStep {
    /// The connection is closed: the loop ends.
    Stop,
    /// Sleep until this time (`None`: until woken by
    /// [`Effects::rearm_timer`]), then step again.
    Sleep(Option<Instant>),
}

/// How long the handshake may take when the request timeout is longer.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long, after the child's stdout ended, the engine waits for its exit
/// status and the end of its stderr, so that both go into the error every
/// waiter gets.
pub const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How long a polite `close` waits for the child to exit after SIGTERM
/// before it sends SIGKILL.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How much of the child's stderr is kept for error messages.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// The engine's settings, taken from [`ConnectOptions`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Every request's timeout (`None`: wait while the connection lives).
    pub request_timeout: Option<Duration>,
    /// How many events a stream holds for a slow consumer.
    pub stream_budget: usize,
    /// How long the handshake may take.
    pub connect_timeout: Duration,
    /// The connection's settings.
    pub connection: ConnectionConfig,
    /// Whether the server is a child process whose exit status and stderr
    /// the transport reports (`false` over TCP and in a replay).
    pub child: bool,
    /// Whether to record the connection's lines
    /// ([`Engine::take_records`]).
    pub record: bool,
    /// The bound of the bytes waiting for the server's stdin
    /// ([`ConnectOptions::max_output_bytes`]).
    pub max_output_bytes: usize,
}

impl EngineConfig {
    /// The settings of `options`.
    #[must_use]
    pub fn from_options(options: &ConnectOptions) -> Self {
        Self {
            request_timeout: Some(options.request_timeout),
            stream_budget: options.stream_budget,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT.min(options.request_timeout),
            connection: ConnectionConfig::default(),
            child: !matches!(options.transport, crate::TransportKind::Tcp(_))
                && options.replay.is_none(),
            record: options.record.is_some(),
            max_output_bytes: options.max_output_bytes.max(1),
        }
    }
}

/// One call's slot.
pub(super) struct CallSlot {
    pub(super) method: std::borrow::Cow<'static, str>,
    pub(super) kind: Kind,
    pub(super) state: SlotState,
}

pub(super) enum SlotState {
    /// The caller waits (its waker, once it polled).
    Waiting(Option<Waker>),
    /// The answer, until the caller takes it.
    Done(Result<Box<RawValue>, Error>),
    /// Nobody waits any more; the engine still keeps the call's rule.
    Detached,
}

pub(super) enum Ready {
    Waiting(Option<Waker>),
    Done(Result<(), Error>),
}

/// The SDK layer of one connection; see the [`sdk`](crate::sdk) module.
///
/// `H` is the transport's tool handler type (cloned for every call).
pub struct Engine<H> {
    pub(super) conn: Connection,
    pub(super) config: EngineConfig,
    pub(super) calls: HashMap<RequestId, CallSlot>,
    pub(super) streams: HashMap<RequestId, StreamSlot>,
    pub(super) resets: Resets,
    pub(super) pages: super::pages::Pages,
    pub(super) tools: HashMap<String, (u64, H)>,
    pub(super) tool_generation: u64,
    pub(super) tool_calls: Vec<(ToolCall, H)>,
    pub(super) wake: Vec<Waker>,
    /// Frames waiting for the server's stdin, bounded in bytes.
    pub(super) out: OutQueue,
    /// Whoever touches the engine may write the output itself while the
    /// writer sleeps ([`Engine::set_direct_writes`]).
    pub(super) direct_writes: bool,
    /// What the engine recovered from, counted.
    pub(super) diag: Counters,
    pub(super) ready: Ready,
    pub(super) exit: Option<ExitInfo>,
    /// The child's exit status, once the transport saw it.
    pub(super) exit_status: Option<String>,
    pub(super) stderr: TailBuffer,
    pub(super) stderr_done: bool,
    /// When the child's stdout ended, while its status and stderr are
    /// awaited (at most [`EXIT_GRACE`]).
    pub(super) eof_at: Option<Instant>,
    pub(super) closed_locally: bool,
    pub(super) close_reason: Option<CloseReason>,
    pub(super) exit_watch: ExitWatch,
    /// When the timer loop next looks at the child ([`Engine::timer_step`]).
    pub(super) exit_due: Option<Instant>,
    pub(super) timer_at: Option<Instant>,
    pub(super) output_seen: bool,
    /// The cassette recorder, when recording.
    pub(super) recorder: Option<crate::cassette::Recorder>,
    /// Why a replay ended the connection, if it did.
    pub(super) replay_end: Option<crate::cassette::ReplayEnd>,
}

impl<H> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("calls", &self.calls.len())
            .field("streams", &self.streams.len())
            .field("tracked_sessions", &self.conn.tracked_sessions())
            .field("output_bytes", &self.out.bytes())
            .field("closed", &self.conn.is_closed())
            .finish_non_exhaustive()
    }
}

impl<H: Clone> Engine<H> {
    /// A new engine whose handshake starts at `now`.
    #[must_use]
    pub fn new(config: EngineConfig, now: Instant) -> Self {
        // NB: the engine refuses unsupported server requests itself, so it
        // can drop the refusals over the output bound (as tool calls).
        let mut conn = Connection::new(config.connection.clone().report_unsupported_requests(true));
        let out = OutQueue::new(config.max_output_bytes);
        conn.start_handshake(Some(now + config.connect_timeout));
        let mut engine = Self {
            conn,
            config,
            calls: HashMap::default(),
            streams: HashMap::default(),
            resets: Resets::default(),
            pages: super::pages::Pages::default(),
            tools: HashMap::default(),
            tool_generation: 0,
            tool_calls: Vec::new(),
            wake: Vec::new(),
            out,
            diag: Counters::default(),
            ready: Ready::Waiting(None),
            exit: None,
            exit_status: None,
            stderr: TailBuffer::new(STDERR_TAIL_BYTES),
            stderr_done: false,
            eof_at: None,
            closed_locally: false,
            close_reason: None,
            exit_watch: ExitWatch::default(),
            exit_due: None,
            timer_at: None,
            output_seen: false,
            recorder: None,
            replay_end: None,
            direct_writes: false,
        };
        if engine.config.record {
            engine.recorder = Some(crate::cassette::Recorder::new(now));
        }
        engine.pump(now);
        engine
    }

    // ---- the handshake and what it told ------------------------------

    /// The handshake's outcome, once known: what the server said about
    /// itself and the dialect chosen; `waker` is woken when it is known.
    ///
    /// # Errors
    ///
    /// [`Error::VersionMismatch`], [`Error::TimedOut`],
    /// [`Error::ConnectionClosed`] (the child ended first).
    pub fn poll_ready(&mut self, waker: &Waker) -> Poll<Result<(ServerInfo, Dialect), Error>> {
        match &mut self.ready {
            Ready::Waiting(w) => {
                *w = Some(waker.clone());
                Poll::Pending
            }
            Ready::Done(Ok(())) => Poll::Ready(match self.conn.server() {
                Some(server) => Ok((server.clone(), self.conn.dialect().clone())),
                None => Err(self.closed_error()),
            }),
            Ready::Done(Err(_)) => {
                // NB: the error is handed out once; a second poll sees the
                // closed error.
                let closed = Ready::Done(Err(self.closed_error()));
                Poll::Ready(match std::mem::replace(&mut self.ready, closed) {
                    Ready::Done(Err(err)) => Err(err),
                    _ => Err(self.closed_error()),
                })
            }
        }
    }

    /// What the server said about itself (after the handshake).
    #[must_use]
    pub fn server(&self) -> Option<&ServerInfo> {
        self.conn.server()
    }

    /// The dialect chosen at the handshake.
    #[must_use]
    pub fn dialect(&self) -> &Dialect {
        self.conn.dialect()
    }

    /// The engine's settings.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    // ---- calls ---------------------------------------------------------

    /// Sends `call` at `now`. Wait for its answer with
    /// [`poll_call`](Self::poll_call) and decode it with the returned
    /// [`Decoder`]; a caller that stops waiting calls
    /// [`cancel_call`](Self::cancel_call).
    ///
    /// # Errors
    ///
    /// The client is closed, the server lacks the call's capability, or
    /// the params cannot be encoded for the dialect in use.
    pub fn start<T: 'static>(
        &mut self,
        call: Call<T>,
        now: Instant,
    ) -> Result<(RequestId, Decoder<T>), Error> {
        self.room_for_a_request()?;
        let (call, decoder) = call.split();
        let id = self.send(call, now, false)?;
        Ok((id, decoder))
    }

    /// Refuses a new request of the user (a call, a turn, a subscription,
    /// a tool registration) while the bytes waiting for stdin are at the
    /// bound: every way in checks here, so the bound holds whichever the
    /// user takes.
    pub(super) fn room_for_a_request(&mut self) -> Result<(), Error> {
        if self.out.is_full() && !self.closed_locally && !self.conn.is_closed() {
            let (limit, queued) = (self.out.limit(), self.out.bytes());
            self.diag.record(DiagnosticKind::WriteQueueFull, || {
                format!("{queued} bytes wait for stdin (limit {limit})")
            });
            return Err(Error::WriteQueueFull { limit, queued });
        }
        Ok(())
    }

    /// Sends `call` and forgets its answer (its rule still holds).
    pub fn start_detached(&mut self, call: Call<()>, now: Instant) {
        if let Err(e) = self.send(call, now, true) {
            tracing::debug!(error = %e, "detached request not sent");
        }
    }

    pub(super) fn send(
        &mut self,
        call: Call<()>,
        now: Instant,
        detached: bool,
    ) -> Result<RequestId, Error> {
        if self.closed_locally {
            return Err(Error::Closed);
        }
        if let Some(cap) = call.capability
            && !self.conn.server().is_some_and(|s| s.has_capability(cap))
        {
            return Err(Error::CapabilityUnavailable {
                capability: cap.to_owned(),
            });
        }
        let mut opts = RequestOptions::new(now).stream(call.streaming == Streaming::Turn);
        if let Some(t) = self.config.request_timeout {
            opts = opts.deadline(now + t);
        }
        let pager = call.pager;
        // NB: what the connection queued before is not this call's; its
        // one frame is the next one (so it can be dropped unwritten).
        self.flush_transmits(now);
        let result = (call.send)(&mut self.conn, opts);
        let (id, method) = match result {
            Ok(sent) => sent,
            Err(e) => {
                let err = self.usage_error(e);
                self.pump(now);
                return Err(err);
            }
        };
        if let Some(frame) = self.conn.poll_transmit() {
            if let Some(recorder) = &mut self.recorder {
                recorder.sent(frame.as_ref(), now);
            }
            self.out.push(frame, Some(id));
            self.note_output_peak();
        }
        if let Some(pager) = pager
            && (pager.pages_on)(self.conn.dialect())
        {
            self.pages.register(id, pager);
        }
        if call.streaming != Streaming::No {
            let session = call.session_id.clone();
            let name = match &method {
                std::borrow::Cow::Borrowed(name) => name,
                std::borrow::Cow::Owned(_) => "raw call",
            };
            let slot = StreamSlot::new(self.config.stream_budget, name, call.streaming, session);
            self.streams.insert(id, slot);
        }
        // NB: a turn stream's answer ends the stream: no call slot.
        if call.streaming != Streaming::Turn {
            let state = if detached {
                SlotState::Detached
            } else {
                SlotState::Waiting(None)
            };
            self.calls.insert(
                id,
                CallSlot {
                    method,
                    kind: call.kind,
                    state,
                },
            );
        }
        self.pump(now);
        Ok(id)
    }

    /// The answer of call `id`, once it came; `waker` is woken when it does.
    /// A call that is unknown (already taken) answers with the closed error.
    pub fn poll_call(
        &mut self,
        id: RequestId,
        waker: &Waker,
    ) -> Poll<Result<Box<RawValue>, Error>> {
        let Some(slot) = self.calls.get_mut(&id) else {
            return Poll::Ready(Err(self.closed_error()));
        };
        match &mut slot.state {
            SlotState::Waiting(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    *w = Some(waker.clone());
                }
                Poll::Pending
            }
            SlotState::Detached => Poll::Ready(Err(self.closed_error())),
            SlotState::Done(_) => match self.calls.remove(&id).map(|s| s.state) {
                Some(SlotState::Done(result)) => Poll::Ready(result),
                _ => Poll::Ready(Err(self.closed_error())),
            },
        }
    }

    /// The caller of `id` stopped waiting (a dropped future). A plain
    /// request is forgotten at once, so it holds no pending slot; a turn,
    /// an interrupt or a tool registration keeps its rule (a failed turn is
    /// still reset).
    pub fn cancel_call(&mut self, id: RequestId) {
        if self
            .streams
            .get(&id)
            .is_some_and(StreamSlot::is_subscription)
        {
            // A subscription whose open was given up: nobody will read it.
            self.streams.remove(&id);
            self.calls.remove(&id);
            self.conn.cancel(id);
            self.drop_unwritten(id);
            return;
        }
        let Some(slot) = self.calls.get_mut(&id) else {
            return;
        };
        match (&slot.state, &slot.kind) {
            (SlotState::Done(_), _) | (_, Kind::Plain) => {
                self.calls.remove(&id);
                self.pages.forget(id);
                if !self.streams.contains_key(&id) {
                    self.conn.cancel(id);
                    self.drop_unwritten(id);
                }
            }
            _ => slot.state = SlotState::Detached,
        }
    }

    pub(super) fn complete(&mut self, id: RequestId, result: Result<Box<RawValue>, Error>) {
        let Some(slot) = self.calls.get_mut(&id) else {
            return;
        };
        match std::mem::replace(&mut slot.state, SlotState::Detached) {
            SlotState::Waiting(waker) => {
                slot.state = SlotState::Done(result);
                self.wake.extend(waker);
            }
            _ => {
                self.calls.remove(&id);
            }
        }
    }

    pub(super) fn release(&mut self, held: Held) {
        match held {
            Held::Call(id, result) => self.complete(id, result),
            Held::End(id, end) => self.finish_stream(id, end),
        }
    }

    // ---- tools ---------------------------------------------------------

    /// Registers `handler` for `def` and sends `tools/register`. The
    /// handler is in place before the request is sent, so the server can
    /// never call a tool without it; a refusal drops it again (unless a
    /// later registration replaced it).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_register_tool(
        &mut self,
        def: crate::ToolDef,
        handler: H,
        now: Instant,
    ) -> Result<(RequestId, Decoder<()>), Error> {
        // Before the handler is kept: a refused registration leaves none.
        self.room_for_a_request()?;
        self.tool_generation += 1;
        let generation = self.tool_generation;
        let name = def.name.clone();
        self.tools.insert(name.clone(), (generation, handler));
        let call = super::ops::register_tool(def).kind(Kind::Register(name, generation));
        self.start(call, now)
    }

    /// Sends a tool's answer.
    pub fn respond_tool(
        &mut self,
        id: crate::IncomingId,
        output: Result<ToolOutput, String>,
        now: Instant,
    ) {
        self.conn.respond_tool(id, output);
        self.pump(now);
    }

    // ---- inputs ----------------------------------------------------------

    /// Bytes from the server.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: Instant) {
        self.output_seen = true;
        if let Some(recorder) = &mut self.recorder {
            recorder.received(bytes, now);
        }
        self.conn.handle_bytes(bytes);
        self.pump(now);
    }

    /// The server's output ended. With a child, the connection closes once
    /// its exit status is known and its stderr ended, or [`EXIT_GRACE`]
    /// later, whichever comes first: both go into the error every waiter
    /// gets.
    pub fn handle_eof(&mut self, now: Instant) {
        if self.eof_at.is_none() {
            self.eof_at = Some(now);
        }
        self.check_eof(now);
    }

    /// The transport can no longer read the server (its reader task was
    /// dropped with its runtime): the connection ends now, with whatever
    /// is known of the child, since nothing will wait for the rest.
    pub fn handle_io_lost(&mut self, now: Instant) {
        tracing::debug!("the transport's reader is gone: ending the connection");
        self.end_output(now);
    }

    /// A chunk of the child's stderr (its last [`STDERR_TAIL_BYTES`] are
    /// kept for error messages).
    pub fn handle_stderr(&mut self, bytes: &[u8]) {
        self.stderr.push(bytes);
    }

    /// The child's stderr ended.
    pub fn handle_stderr_eof(&mut self, now: Instant) {
        self.stderr_done = true;
        self.check_eof(now);
    }

    /// The last lines of the child's stderr.
    #[must_use]
    pub fn stderr_tail(&self) -> String {
        self.stderr.text()
    }

    pub(super) fn check_eof(&mut self, now: Instant) {
        let Some(at) = self.eof_at else {
            return;
        };
        let settled = !self.config.child || (self.exit_status.is_some() && self.stderr_done);
        if settled || now >= at + EXIT_GRACE {
            self.end_output(now);
        }
    }

    pub(super) fn end_output(&mut self, now: Instant) {
        if self.exit.is_none() {
            self.exit = Some(ExitInfo::new(self.exit_status.clone(), self.stderr.text()));
        }
        self.conn.handle_eof();
        self.pump(now);
    }

    /// Expires what is due at `now` (requests, turn grace, reset retries).
    /// Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timer_at = None;
        self.check_eof(now);
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now);
        }
        self.pump(now);
        self.retry_resets(now);
        self.pump(now);
    }

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has
    /// work; `None` if nothing is timed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let eof = self
            .eof_at
            .filter(|_| !self.conn.is_closed())
            .map(|at| at + EXIT_GRACE);
        [self.conn.poll_timeout(), self.resets.poll_timeout(), eof]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timer now sleeps until the returned time (the engine's earliest
    /// deadline); [`Effects::rearm_timer`] says when that must change.
    pub fn arm_timer(&mut self) -> Option<Instant> {
        self.timer_at = self.poll_timeout();
        self.timer_at
    }

    /// The exit watch, called every [`ExitWatch::INTERVAL`] while the child
    /// runs, with its exit status once it exited. A child that exited while
    /// something else holds its stdout open ends the connection once its
    /// output stayed quiet for [`ExitWatch::QUIET`]. Returns whether to keep
    /// watching.
    pub fn exit_tick(&mut self, now: Instant, exited: Option<String>) -> bool {
        if self.conn.is_closed() {
            return false;
        }
        if exited.is_some() {
            self.exit_status = exited;
        }
        let seen = std::mem::take(&mut self.output_seen);
        if self.eof_at.is_some() {
            self.check_eof(now);
        } else if self.exit_watch.tick(now, self.exit_status.is_some(), seen) {
            tracing::debug!("child exited and its output stayed quiet: ending it");
            self.end_output(now);
        }
        !self.conn.is_closed()
    }

    /// One round of a transport's timer loop at `now`: the exit watch when
    /// its [`ExitWatch::INTERVAL`] is due, then the engine's own deadlines.
    /// `child` is the watched child's state, `Some(None)` while it runs and
    /// `Some(Some(status))` once it exited, or `None` when there is no
    /// child to watch (TCP, or the client is gone). The loop then sleeps
    /// as the step says, or until [`Effects::rearm_timer`] wakes it.
    ///
    /// ```
    /// use std::time::Instant;
    /// use meerkat_proto::ConnectOptions;
    /// use meerkat_proto::sdk::{Engine, EngineConfig, ExitWatch, TimerStep};
    ///
    /// let config = EngineConfig::from_options(&ConnectOptions::default());
    /// let now = Instant::now();
    /// let mut engine: Engine<()> = Engine::new(config.clone(), now);
    /// // A running child is looked at every INTERVAL (the handshake's
    /// // deadline is later).
    /// let step = engine.timer_step(now, Some(None));
    /// assert_eq!(step, TimerStep::Sleep(Some(now + ExitWatch::INTERVAL)));
    /// // Over TCP only the handshake's deadline is timed.
    /// let mut tcp: Engine<()> = Engine::new(config.clone(), now);
    /// assert_eq!(tcp.timer_step(now, None), TimerStep::Sleep(Some(now + config.connect_timeout)));
    /// ```
    pub fn timer_step(&mut self, now: Instant, child: Option<Option<String>>) -> TimerStep {
        if self.conn.is_closed() {
            return TimerStep::Stop;
        }
        let watching = child.is_some();
        if let Some(exited) = child {
            let due = *self.exit_due.get_or_insert(now + ExitWatch::INTERVAL);
            if due <= now {
                self.exit_due = Some(due.max(now) + ExitWatch::INTERVAL);
                if !self.exit_tick(now, exited) {
                    return TimerStep::Stop;
                }
            }
        }
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.handle_timeout(now);
        }
        if self.conn.is_closed() {
            return TimerStep::Stop;
        }
        let armed = self.arm_timer();
        let tick = self.exit_due.filter(|_| watching);
        TimerStep::Sleep([armed, tick].into_iter().flatten().min())
    }

    /// Closes the connection at the user's request: every waiter gets
    /// [`Error::Closed`], every stream ends.
    pub fn close(&mut self, now: Instant) {
        self.closed_locally = true;
        self.conn.close();
        self.pump(now);
    }

    /// Whether the user closed the connection ([`close`](Self::close)).
    #[must_use]
    pub fn is_closed_locally(&self) -> bool {
        self.closed_locally
    }

    /// Whether the connection is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    // ---- outputs ---------------------------------------------------------

    /// Takes the next bytes to write to the server: whole frames, at most
    /// [`WRITE_BATCH`](super::WRITE_BATCH) bytes of them (or one larger
    /// frame); empty when nothing waits. Write them with one write call.
    ///
    /// The writer calls it again once the batch is written: until then
    /// the batch counts toward [`ConnectOptions::max_output_bytes`], and a
    /// frame it holds can no longer be dropped. A frame still queued whose
    /// request timed out or was cancelled is never handed out.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.out.take_batch()
    }

    /// Lets the thread or task that touches the engine write the output
    /// itself, instead of waking the writer, while the writer sleeps with
    /// nothing in flight ([`Effects::write_now`]): one thread handoff less
    /// on every call. For a transport whose output can be written without
    /// blocking (a pipe set non-blocking); off by default.
    ///
    /// ```
    /// use std::time::Instant;
    /// use meerkat_proto::ConnectOptions;
    /// use meerkat_proto::sdk::{Engine, EngineConfig};
    ///
    /// let now = Instant::now();
    /// let config = EngineConfig::from_options(&ConnectOptions::default());
    /// let mut engine: Engine<()> = Engine::new(config, now);
    /// engine.set_direct_writes(true);
    /// // The writer has not looked yet (it sleeps): whoever touched the
    /// // engine writes the handshake itself.
    /// let effects = engine.effects();
    /// let batch = effects.write_now.expect("the initialize request");
    /// assert!(!effects.write, "the writer is not woken");
    /// assert!(engine.take_output().is_empty(), "the pipe is the caller's");
    /// // The pipe took 10 bytes: the writer is woken for the rest.
    /// engine.caller_wrote(batch.clone(), 10);
    /// let effects = engine.effects();
    /// assert!(effects.write && effects.write_now.is_none());
    /// assert_eq!(engine.take_output(), batch[10..]);
    /// ```
    pub fn set_direct_writes(&mut self, on: bool) {
        self.direct_writes = on;
    }

    /// The caller wrote the first `written` bytes of `batch`, the
    /// [`Effects::write_now`] it was given (0 when the pipe took nothing,
    /// or writing failed: the writer then meets the error itself). The
    /// rest goes first to the writer, which the effects then wake, as for
    /// anything queued meanwhile.
    pub fn caller_wrote(&mut self, batch: Vec<u8>, written: usize) {
        self.out.caller_wrote(batch, written);
    }

    /// The bytes waiting for the server's stdin: queued frames and the
    /// batch the writer took last (see [`take_output`](Self::take_output)).
    #[must_use]
    pub fn output_bytes(&self) -> usize {
        self.out.bytes()
    }

    /// What the engine recovered from so far (log lines on stdout,
    /// oversized lines, unmatched responses, events of unknown sessions,
    /// refused requests, ...), with the bytes waiting for stdin.
    #[must_use]
    pub fn diagnostics(&self) -> Diagnostics {
        let mut d = self.diag.snapshot();
        d.output_bytes = self.out.bytes();
        d.output_limit = self.out.limit();
        d.tracked_sessions = self.conn.tracked_sessions();
        d
    }

    pub(super) fn note_output_peak(&mut self) {
        self.diag.output_peak = self.diag.output_peak.max(self.out.bytes());
    }

    /// Drops request `id`'s frame if the writer has not taken it.
    pub(super) fn drop_unwritten(&mut self, id: RequestId) {
        let freed = self.out.drop_frame(id);
        if freed > 0 {
            self.diag.record(DiagnosticKind::UnwrittenFrameDropped, || {
                format!("request {id}: {freed} bytes never written")
            });
        }
    }

    /// What the transport must do now (see [`Effects`]).
    pub fn effects(&mut self) -> Effects<H> {
        let next = self.poll_timeout();
        let rearm_timer = match (next, self.timer_at) {
            (Some(next), Some(armed)) => next < armed,
            (Some(_), None) => true,
            (None, _) => false,
        };
        // NB: before the writer is woken: a batch taken here is the
        // caller's, and the writer is then left asleep.
        let write_now = if self.direct_writes {
            self.out.take_for_caller()
        } else {
            None
        };
        Effects {
            wake: std::mem::take(&mut self.wake),
            write_now,
            write: self.out.wake_writer(),
            rearm_timer,
            tool_calls: std::mem::take(&mut self.tool_calls),
            closed: self.conn.is_closed(),
        }
    }
}
