//! [`Connection`]: the Meerkat layer over the JSON-RPC engine.
//!
//! A facade: it owns the engine and the output queue, turns engine events
//! into calls on its sub-states and lends them both. Each sub-state keeps
//! its own invariants in its own file: [`Handshake`], [`SessionRouter`]
//! (over `Turns` and `Unbound`) and [`Subscriptions`].

use super::config::{ConnectionConfig, RequestOptions};
use super::handshake::Handshake;
use super::output::{Output, StreamEnd, StreamEvent, StreamItem};
use super::routing::SessionRouter;
use super::subscriptions::Subscriptions;
use super::unbound::text_prompt;
use crate::model::{
    Dialect, Method, Route, ServerInfo, ToolCall, ToolOutput, UsageError,
    decode_session_event_fast, decode_stream_end, decode_stream_event, route_session_event,
};
use crate::rpc::{
    self, CallError, CloseReason, Diagnostic, ErrorCode, ErrorObject, IncomingId, RequestId,
    Transmit,
};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::Instant;
use tracing::{debug, trace, warn};

/// The Meerkat protocol state of one connection to `rkat-rpc`: sans-IO.
///
/// A `Connection` is plain data behind `&mut self`. A transport owns one,
/// feeds it the bytes the server writes ([`handle_bytes`](Self::handle_bytes),
/// [`handle_eof`](Self::handle_eof)) and the time
/// ([`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) passes), writes what
/// [`poll_transmit`](Self::poll_transmit) returns to the server's stdin, and
/// hands what [`poll_output`](Self::poll_output) returns to its users. It
/// never reads a clock, never blocks and never does I/O.
///
/// On top of the JSON-RPC engine ([`rpc::Client`]) it does the handshake
/// (`initialize`, `initialized`, `capabilities/get`, the contract version
/// rule), keeps the server's [`Dialect`], routes `session/event`
/// notifications to the turn that caused them (including the events of a
/// `session/create` whose session id is not known yet), reports gaps in
/// `seq` as [`StreamItem::EventsLost`], keeps a streamed turn open until its
/// `run_completed`/`run_failed` even when the response came first (bounded
/// by [`ConnectionConfig::turn_grace`]), routes `session/stream_*` and
/// `mob/stream_*` notifications to their subscription (buffering those that
/// come before the open result), and turns `tool/execute` into
/// [`Output::ToolCall`].
///
/// # Guarantees
///
/// - Every request resolves exactly once: one [`Output::Response`], or for
///   streams the shapes documented on [`Output`] — unless
///   [`cancel`](Self::cancel) silenced it.
/// - Nothing the server sends can panic, fail a call or stop the
///   connection: odd input becomes an [`Output::Diagnostic`].
/// - Memory is bounded: events of not-yet-known sessions and streams are
///   capped by [`ConnectionConfig::max_unbound_events`]; routing state is
///   kept for this client's sessions (until archived) and for at most 256
///   others ([`tracked_sessions`](Self::tracked_sessions)). Frames to write
///   queue until taken: the SDK engine bounds them.
/// - [`Output::Closed`] comes exactly once, last.
///
/// # Example
///
/// A complete handshake against a scripted server:
///
/// ```
/// use meerkat_proto::{Connection, ConnectionConfig, Output};
/// use std::time::Instant;
///
/// let mut conn = Connection::new(ConnectionConfig::default());
/// conn.start_handshake(None);
/// let sent = conn.poll_transmit().unwrap();
/// assert!(std::str::from_utf8(sent.as_bytes()).unwrap().contains("\"initialize\""));
///
/// conn.handle_bytes(br#"{"jsonrpc":"2.0","id":1,"result":{"contract_version":"0.5.2","methods":["initialize","session/create"],"server_info":{"name":"meerkat-rpc","version":"0.5.2"}}}
/// "#);
/// // `initialized`, then `capabilities/get`.
/// assert!(conn.poll_transmit().is_some());
/// assert!(conn.poll_transmit().is_some());
/// conn.handle_bytes(br#"{"jsonrpc":"2.0","id":2,"result":{"capabilities":[{"id":"sessions","description":"","status":"Available"}]}}
/// "#);
/// match conn.poll_output() {
///     Some(Output::Ready(info)) => assert_eq!(info.version, "0.5.2"),
///     other => panic!("unexpected {other:?}"),
/// }
/// # let _ = Instant::now();
/// ```
#[derive(Debug)]
pub struct Connection {
    /// The JSON-RPC engine: framing, ids, pending table, deadlines. Every
    /// input goes to it first; its events are then drained in order
    /// (`drain_rpc`), so outputs follow the server's order.
    rpc: rpc::Client,
    /// The latest time the caller told us (never decreases): a grace period
    /// waiting to be armed asks for a `handle_timeout` at this time.
    now: Option<Instant>,
    handshake: Handshake,
    /// What `poll_output` returns; only ever appended to, by us and by the
    /// sub-states we lend it to.
    outputs: VecDeque<Output>,
    /// `session/event`s to turns and creates.
    sessions: SessionRouter,
    /// `session/stream_*` and `mob/stream_*` to subscriptions.
    subscriptions: Subscriptions,
    /// `Output::Closed` was queued: it comes once, and after it nothing.
    closed_reported: bool,
    /// [`ConnectionConfig::report_unsupported_requests`].
    report_unsupported: bool,
}

impl Connection {
    /// A new connection, before the handshake.
    #[must_use]
    pub fn new(config: ConnectionConfig) -> Self {
        let mut rpc = rpc::Client::new(config.rpc.clone());
        rpc.set_route_session_events(true);
        Self {
            rpc,
            now: None,
            handshake: Handshake::new(),
            outputs: VecDeque::new(),
            sessions: SessionRouter::new(config.turn_grace, config.max_unbound_events),
            subscriptions: Subscriptions::new(config.max_unbound_events),
            closed_reported: false,
            report_unsupported: config.report_unsupported_requests,
        }
    }

    /// Starts the handshake: `initialize` (with `deadline`), then, on its
    /// result, the `initialized` notification and `capabilities/get`. Ends
    /// with [`Output::Ready`], or with [`Output::Closed`] carrying
    /// [`CloseReason::VersionMismatch`], [`CloseReason::HandshakeTimedOut`]
    /// or [`CloseReason::Handshake`].
    ///
    /// Requests may be sent before the handshake ends (the server does not
    /// gate them); dialect-dependent ones then use the 0.5.0 baseline.
    /// A second call is a no-op.
    pub fn start_handshake(&mut self, deadline: Option<Instant>) {
        if self.handshake.start(&mut self.rpc, deadline) {
            self.drain_rpc();
        }
    }

    /// The server as the handshake found it; `Some` once [`Output::Ready`]
    /// was queued.
    #[must_use]
    pub fn server(&self) -> Option<&ServerInfo> {
        self.handshake.server()
    }

    /// The dialect in use: the server's after the handshake, the 0.5.0
    /// baseline before.
    #[must_use]
    pub fn dialect(&self) -> &Dialect {
        self.handshake.dialect()
    }

    /// Sends a request of method `M`.
    ///
    /// What comes back depends on `M::ROUTE` and `opts.stream` (see
    /// [`Output`]). Decode a successful raw result with
    /// [`Method::decode_result`] and [`dialect`](Self::dialect).
    ///
    /// # Errors
    ///
    /// [`UsageError`] when the connection is closed, the params cannot be
    /// encoded, the server does not serve the method in this dialect, or too
    /// many requests are pending. Nothing is sent then.
    pub fn request<M: Method>(
        &mut self,
        params: &M::Params,
        opts: RequestOptions,
    ) -> Result<RequestId, UsageError> {
        self.observe_now(opts.now);
        if self.rpc.is_closed() {
            return Err(UsageError::Closed);
        }
        let name = M::name(self.handshake.dialect())?;
        let raw = M::encode_params(params, self.handshake.dialect())?;
        let prompt = if M::ROUTE == Route::Create {
            raw.as_deref().and_then(text_prompt)
        } else {
            None
        };
        let archived = if name == "session/archive" {
            raw.as_deref().and_then(archived_session)
        } else {
            None
        };
        let id = self.rpc.send_request(name, raw, opts.deadline)?;
        trace!(method = name, id = id.get(), route = ?M::ROUTE, "conn: request");
        match M::ROUTE {
            Route::Turn => {
                let session = M::session_id(params).map(str::to_owned);
                self.sessions.start_turn(id, session, opts.stream);
            }
            Route::Create => self.sessions.start_create(id, opts.stream, prompt),
            Route::SessionSubscription | Route::MobSubscription => {
                self.subscriptions.opening(id);
            }
            _ => {}
        }
        if let Some(session) = archived {
            self.sessions.start_archive(id, session);
        }
        Ok(id)
    }

    /// Sends `method` with `params` as they are: no dialect check, no
    /// routing of notifications (a raw `turn/start` gets its answer, not its
    /// events). For the methods the typed model does not cover.
    ///
    /// # Errors
    ///
    /// [`UsageError`] when the connection is closed or too many requests
    /// are pending. Nothing is sent then.
    pub fn request_raw(
        &mut self,
        method: &str,
        params: Option<Box<RawValue>>,
        opts: RequestOptions,
    ) -> Result<RequestId, UsageError> {
        self.observe_now(opts.now);
        if self.rpc.is_closed() {
            return Err(UsageError::Closed);
        }
        let id = self.rpc.send_request(method, params, opts.deadline)?;
        trace!(method, id = id.get(), "conn: raw request");
        Ok(id)
    }

    /// Answers a [`ToolCall`]: `Ok` with the tool's output, `Err` with a
    /// failure message (sent as an error result, `is_error: true`, so the
    /// model sees it). A no-op once the connection is closed.
    pub fn respond_tool(&mut self, id: IncomingId, output: Result<ToolOutput, String>) {
        let output = output.unwrap_or_else(ToolOutput::error);
        match serde_json::value::to_raw_value(&output) {
            Ok(raw) => {
                if let Err(e) = self.rpc.respond(id, Ok(raw)) {
                    debug!(error = %e, "conn: tool answer not sent");
                }
            }
            Err(e) => warn!(error = %e, "conn: tool output not encodable"),
        }
    }

    /// Silences a request: nothing more is reported for it. A pending
    /// request is forgotten (a late answer becomes a diagnostic); a streamed
    /// turn keeps absorbing its session's events until the turn ends, so
    /// they never leak into the next turn; a subscription drops its
    /// notifications (close it on the server with `session/stream_close`
    /// or `mob/stream_close`).
    ///
    /// Returns `true` if the request or stream was known.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        let mut known = self.rpc.cancel(id);
        if self.sessions.cancel(id, &mut self.outputs) {
            known = true;
        }
        if self.subscriptions.cancel(id) {
            known = true;
        }
        known
    }

    /// Closes the connection: every pending request resolves with
    /// [`CallError::Closed`], every stream ends, then [`Output::Closed`].
    /// Frames already queued stay available to
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn close(&mut self) {
        self.rpc.close();
        self.drain_rpc();
    }

    /// Feeds bytes the server wrote to stdout, in any chunking.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.rpc.handle_bytes(bytes);
        self.drain_rpc();
    }

    /// Handles lines the reader framed and scanned ahead
    /// ([`Ingest`](crate::sdk::Ingest)), as [`handle_bytes`](Self::handle_bytes)
    /// handles the bytes they came in.
    pub(crate) fn handle_prepared(&mut self, items: Vec<rpc::Prepared>) {
        for item in items {
            // NB: the client's queue is drained after every other line, so
            // a routed line taken straight from it keeps its place.
            match self.rpc.take_routed(item) {
                Some(routed) => self.on_routed_event(routed),
                None => self.drain_rpc(),
            }
        }
    }

    /// Reports that the server's stdout ended (it exited or closed it).
    pub fn handle_eof(&mut self) {
        self.rpc.handle_eof();
        self.drain_rpc();
    }

    /// Reports the current time: expires request deadlines and the grace
    /// periods of turns whose response came before their terminal event.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe_now(now);
        self.rpc.handle_timeout(now);
        self.drain_rpc();
        self.sessions.on_timeout(now, &mut self.outputs);
    }

    /// Takes the next frame to write to the server's stdin, oldest first.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.rpc.poll_transmit()
    }

    /// Takes the next output, oldest first. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work: a request deadline or a turn's grace deadline. A time in
    /// the past means "call it now" (a grace period waits to be scheduled
    /// from the current time).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (
            self.rpc.poll_timeout(),
            self.sessions.next_timeout(self.now),
        ) {
            (Some(request), Some(grace)) => Some(request.min(grace)),
            (request, grace) => request.or(grace),
        }
    }

    /// Whether the connection closed ([`Output::Closed`] is queued or taken).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.rpc.is_closed()
    }

    /// Why the connection closed, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.rpc.close_reason()
    }

    /// The number of requests waiting for an answer.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.rpc.pending_len()
    }

    /// How many sessions the connection keeps routing state for: those of
    /// this client (a turn named them, a create was bound to them; kept
    /// until archived) and at most 256 it was never told about, whose
    /// events came anyway (least recently seen forgotten first).
    #[must_use]
    pub fn tracked_sessions(&self) -> usize {
        self.sessions.tracked_sessions()
    }

    /// How many sessions the connection was never told about were
    /// forgotten to stay under its cap.
    #[must_use]
    pub fn evicted_sessions(&self) -> u64 {
        self.sessions.evicted_sessions()
    }

    // ---- internals -------------------------------------------------------

    fn observe_now(&mut self, now: Instant) {
        self.now = Some(self.now.map_or(now, |n| n.max(now)));
    }

    fn drain_rpc(&mut self) {
        while let Some(queued) = self.rpc.poll_queued() {
            let event = match queued {
                rpc::Queued::Event(event) => event,
                rpc::Queued::Routed(routed) => {
                    self.on_routed_event(routed);
                    continue;
                }
            };
            match event {
                rpc::Event::Response(r) => self.on_response(r.id, r.result),
                rpc::Event::Notification(n) => self.on_notification(&n.method, n.params),
                rpc::Event::Request(r) => self.on_server_request(r.id, &r.method, r.params),
                rpc::Event::Diagnostic(d) => self.outputs.push_back(Output::Diagnostic(d)),
                rpc::Event::Closed(reason) => self.on_closed(reason),
            }
        }
    }

    /// Routes a response to the one owner of its id: the handshake, a turn
    /// or create, a subscription open, or else the caller as a plain
    /// [`Output::Response`].
    fn on_response(&mut self, id: RequestId, result: Result<Box<RawValue>, CallError>) {
        if self
            .handshake
            .on_response(id, &result, &mut self.rpc, &mut self.outputs)
        {
            return;
        }
        self.sessions.on_archive_response(id, result.is_ok());
        if self.sessions.contains(id) {
            self.sessions.on_response(id, result, &mut self.outputs);
        } else if self.subscriptions.is_opening(id) {
            self.subscriptions
                .on_open_response(id, result, &mut self.outputs);
        } else {
            self.outputs.push_back(Output::Response { id, result });
        }
    }

    /// A `session/event` the engine routed while classifying it: the hot
    /// path. The line goes on whole, decoded on the consumer's side.
    fn on_routed_event(&mut self, routed: rpc::RoutedLine) {
        let rpc::RoutedLine {
            line,
            session,
            seq,
            mark,
            delta,
        } = routed;
        // NB: the session id is copied to the stack (ids are short), so the
        // line can move into the event without another allocation.
        let mut stack = [0u8; 64];
        let owned: String;
        let session: &str = match session {
            rpc::SessionText::Span(span) if span.len() <= stack.len() => {
                let n = span.len();
                stack[..n].copy_from_slice(&line[span]);
                std::str::from_utf8(&stack[..n]).unwrap_or_default()
            }
            rpc::SessionText::Span(span) => {
                owned = String::from_utf8_lossy(&line[span]).into_owned();
                &owned
            }
            rpc::SessionText::Owned(s) => {
                owned = s;
                &owned
            }
        };
        self.sessions.on_event(
            session,
            StreamEvent::line(line, seq, mark, delta),
            &mut self.outputs,
        );
    }

    fn on_notification(&mut self, method: &str, params: Option<Box<RawValue>>) {
        let Some(params) = params else {
            trace!(method, "conn: notification without params ignored");
            return;
        };
        match method {
            "session/event" => {
                // The hot path: route on a minimal parse, decode later (on
                // the consumer's side); odd shapes are decoded here.
                let routed = route_session_event(&params)
                    .map(|(session, seq, mark)| (session.into_owned(), seq, mark));
                match routed {
                    Some((session, seq, mark)) => {
                        self.sessions.on_event(
                            &session,
                            StreamEvent::raw(params, seq, mark),
                            &mut self.outputs,
                        );
                    }
                    None => match decode_session_event_fast(&params) {
                        Ok((session, envelope)) => {
                            self.sessions.on_event(
                                &session,
                                StreamEvent::decoded(envelope),
                                &mut self.outputs,
                            );
                        }
                        Err(e) => self.undecodable(method, e),
                    },
                }
            }
            "session/stream_event" | "mob/stream_event" => match decode_stream_event(&params) {
                Ok(p) => self.subscriptions.on_item(
                    p.stream_id,
                    StreamItem::Event(StreamEvent::decoded(p.envelope)),
                    &mut self.outputs,
                ),
                Err(e) => self.undecodable(method, e),
            },
            "session/stream_end" | "mob/stream_end" => match decode_stream_end(&params) {
                Ok(p) => self.subscriptions.on_end(
                    p.stream_id,
                    StreamEnd::Subscription {
                        outcome: p.outcome,
                        error: p.error,
                    },
                    &mut self.outputs,
                ),
                Err(e) => self.invalid(e),
            },
            other => trace!(method = other, "conn: unknown notification ignored"),
        }
    }

    fn undecodable(&mut self, method: &str, e: impl std::fmt::Display) {
        self.outputs
            .push_back(Output::Diagnostic(Diagnostic::UndecodableEvent {
                reason: format!("{method}: {e}"),
            }));
    }

    fn invalid(&mut self, e: impl std::fmt::Display) {
        self.outputs
            .push_back(Output::Diagnostic(Diagnostic::InvalidEnvelope {
                reason: e.to_string(),
            }));
    }

    fn on_server_request(&mut self, id: IncomingId, method: &str, params: Option<Box<RawValue>>) {
        if method == "tool/execute" {
            let params = params.and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
            self.outputs
                .push_back(Output::ToolCall(ToolCall::from_params(id, params.as_ref())));
            return;
        }
        debug!(method, "conn: unsupported server request");
        if self.report_unsupported {
            self.outputs.push_back(Output::UnsupportedRequest {
                id,
                method: method.to_owned(),
            });
        } else {
            self.refuse(id, method);
        }
    }

    /// Refuses the server's request `id` for `method` with -32601 (see
    /// [`Output::UnsupportedRequest`]).
    pub fn refuse(&mut self, id: IncomingId, method: &str) {
        let error = ErrorObject::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not supported: {method}"),
        );
        if let Err(e) = self.rpc.respond(id, Err(error)) {
            debug!(error = %e, "conn: could not refuse server request");
        }
    }

    fn on_closed(&mut self, reason: CloseReason) {
        if self.closed_reported {
            return;
        }
        // NB: the engine resolved every pending request before this event,
        // so turns keep the responses they got. Every turn ends (with its
        // response when it had one, else closed), then every subscription,
        // then `Closed`, last.
        self.sessions.close(&reason, &mut self.outputs);
        self.subscriptions.close(&reason, &mut self.outputs);
        self.closed_reported = true;
        self.outputs.push_back(Output::Closed(reason));
    }
}

/// The `session_id` of `session/archive` params.
fn archived_session(params: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Params {
        session_id: String,
    }
    serde_json::from_str::<Params>(params.get())
        .ok()
        .map(|p| p.session_id)
}
