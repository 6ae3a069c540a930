//! Routing: every output of the [`Connection`](crate::Connection) to the
//! slot that waits for it, with the engine's rules on the way (a turn's
//! reset, an interrupt's retry, a page's follow-up, a refused tool), and
//! the mapping of every outcome to [`Error`].

use std::time::Instant;

use serde_json::value::RawValue;

use super::call::Kind;
use super::diagnostics::DiagnosticKind;
use super::engine::{Engine, Ready};
use super::recovery::{Held, is_interrupt_not_settled};
use super::streams::{End, StreamSlot};
use crate::conn::{Output, StreamEnd, StreamItem};
use crate::model::{UsageError, needs_runtime_reset};
use crate::rpc::{CallError, CloseReason, Diagnostic, RequestId};
use crate::sdk_error::Error;

impl<H: Clone> Engine<H> {
    // ---- routing ---------------------------------------------------------

    /// Moves frames to the output buffer and acts on every output.
    pub(super) fn pump(&mut self, now: Instant) {
        loop {
            self.flush_transmits(now);
            let Some(output) = self.conn.poll_output() else {
                return;
            };
            self.route(output, now);
        }
    }

    /// Queues what the connection wrote that no call owns (the handshake,
    /// answers to the server, `cancel` notifications, ...).
    pub(super) fn flush_transmits(&mut self, now: Instant) {
        let mut any = false;
        while let Some(frame) = self.conn.poll_transmit() {
            if let Some(recorder) = &mut self.recorder {
                recorder.sent(frame.as_ref(), now);
            }
            self.out.push(frame, None);
            any = true;
        }
        if any {
            self.note_output_peak();
        }
    }

    pub(super) fn route(&mut self, output: Output, now: Instant) {
        match output {
            Output::Ready(info) => {
                tracing::debug!(version = %info.version, "handshake done");
                if let Ready::Waiting(waker) =
                    std::mem::replace(&mut self.ready, Ready::Done(Ok(())))
                {
                    self.wake.extend(waker);
                }
            }
            Output::Response { id, result } => {
                if matches!(result, Err(CallError::TimedOut)) {
                    self.drop_unwritten(id);
                }
                self.on_response(id, result, now);
            }
            Output::StreamItem { id, item } => {
                if let Some(slot) = self.streams.get_mut(&id) {
                    match item {
                        StreamItem::Event(event) => slot.push_event(event, &mut self.wake),
                        StreamItem::EventsLost {
                            expected_seq,
                            received_seq,
                        } => slot
                            .push_lost(received_seq.saturating_sub(expected_seq), &mut self.wake),
                    }
                }
            }
            Output::StreamEnd { id, end } => {
                if matches!(end, StreamEnd::Turn(Err(CallError::TimedOut))) {
                    self.drop_unwritten(id);
                }
                self.on_stream_end(id, end, now);
            }
            Output::ToolCall(call) if self.out.is_full() => {
                // NB: the server is not reading what we write: running the
                // tool would only queue an answer it does not read. Neither
                // run nor answered, and counted (bounded memory under a
                // server that floods `tool/execute`).
                let queued = self.out.bytes();
                self.diag.record(DiagnosticKind::ServerRequestDropped, || {
                    format!(
                        "tool/execute {:?} ({queued} bytes wait for stdin)",
                        call.name
                    )
                });
            }
            Output::UnsupportedRequest { method, .. } if self.out.is_full() => {
                // NB: as a tool call over the bound: a server that does not
                // read would never see the -32601; dropped and counted.
                let queued = self.out.bytes();
                self.diag.record(DiagnosticKind::ServerRequestDropped, || {
                    format!("{method} refusal ({queued} bytes wait for stdin)")
                });
            }
            Output::UnsupportedRequest { id, method } => self.conn.refuse(id, &method),
            Output::ToolCall(call) => match self.tools.get(&call.name) {
                Some((_, handler)) => self.tool_calls.push((call, handler.clone())),
                None => {
                    tracing::debug!(tool = %call.name, "tool/execute for an unknown tool");
                    let message = format!("no handler registered for tool {:?}", call.name);
                    self.conn.respond_tool(call.id, Err(message));
                }
            },
            Output::Diagnostic(diagnostic) => {
                let kind = DiagnosticKind::of(&diagnostic);
                self.diag.record(kind, || diagnostic_detail(&diagnostic));
                let evicted = self.conn.evicted_sessions();
                if evicted > self.diag.evictions_seen {
                    self.diag.evictions_seen = evicted;
                    self.diag.record(DiagnosticKind::UnknownSessionEvicted, || {
                        format!("{evicted} unknown sessions forgotten so far")
                    });
                }
            }
            Output::Closed(reason) => {
                tracing::debug!(%reason, "connection closed");
                self.close_reason = Some(reason.clone());
                if let Ready::Waiting(waker) = &mut self.ready {
                    self.wake.extend(waker.take());
                    let err = match reason {
                        CloseReason::VersionMismatch { server, sdk } => {
                            Error::VersionMismatch { server, sdk }
                        }
                        CloseReason::HandshakeTimedOut { method } => Error::TimedOut { method },
                        _ => self.closed_error(),
                    };
                    self.ready = Ready::Done(Err(err));
                }
                self.tools.clear();
                // Every call and stream resolved before Closed; anything
                // held for a reset is released now.
                for held in self.resets.drain() {
                    self.release(held);
                }
                for caller in self.resets.take_interrupt_callers() {
                    let err = self.closed_error();
                    self.complete(caller, Err(err));
                }
            }
        }
    }

    fn on_response(
        &mut self,
        id: RequestId,
        result: Result<Box<RawValue>, CallError>,
        now: Instant,
    ) {
        let Some(slot) = self.calls.get(&id) else {
            return;
        };
        let (method, kind) = (slot.method.clone(), slot.kind.clone());
        let can_reset = self.conn.dialect().has_method("runtime/reset") && !self.conn.is_closed();
        match (kind, result) {
            (Kind::Reset(session), result) => {
                self.calls.remove(&id);
                self.on_reset_answer(&session, result, now);
            }
            (Kind::Page(caller), result) => {
                self.calls.remove(&id);
                let result = result.map_err(|e| self.call_error(e, &method));
                if let Some(answer) = self.on_page(caller, result, now) {
                    self.complete(caller, answer);
                }
            }
            (Kind::Plain, result) if self.pages.is_paged(id) => {
                let result = result.map_err(|e| self.call_error(e, &method));
                if let Some(answer) = self.on_page(id, result, now) {
                    self.complete(id, answer);
                }
            }
            (Kind::Turn(session), Err(e)) if can_reset && needs_runtime_reset(&e) => {
                let err = self.call_error(e, &method);
                self.begin_reset(session, Held::Call(id, Err(err)), now);
            }
            (Kind::Interrupt(session), Ok(raw)) if can_reset => {
                self.begin_reset(session, Held::Call(id, Ok(raw)), now);
            }
            (Kind::Interrupt(session), Err(CallError::Rpc(e))) if is_interrupt_not_settled(&e) => {
                if !self.retry_interrupt(id, &session, 1, now) {
                    self.complete(id, Err(Error::Rpc(e.into())));
                }
            }
            (
                Kind::InterruptRetry {
                    caller,
                    session,
                    tries,
                },
                result,
            ) => {
                self.calls.remove(&id);
                match result {
                    Err(CallError::Rpc(e))
                        if is_interrupt_not_settled(&e)
                            && self.retry_interrupt(caller, &session, tries, now) => {}
                    Ok(raw) if can_reset => {
                        self.begin_reset(session, Held::Call(caller, Ok(raw)), now)
                    }
                    result => {
                        let result = result.map_err(|e| self.call_error(e, &method));
                        self.complete(caller, result);
                    }
                }
            }
            (kind, result) => {
                if let (Kind::Register(name, generation), Err(_)) = (&kind, &result)
                    && self.tools.get(name).is_some_and(|(g, _)| g == generation)
                {
                    // NB: the server refused the tool: it will never call
                    // it, so the handler goes.
                    self.tools.remove(name);
                }
                let result = result.map_err(|e| self.call_error(e, &method));
                if result.is_err()
                    && self
                        .streams
                        .get(&id)
                        .is_some_and(StreamSlot::is_subscription)
                {
                    self.streams.remove(&id);
                }
                self.complete(id, result);
            }
        }
    }

    fn on_stream_end(&mut self, id: RequestId, end: StreamEnd, now: Instant) {
        let Some(slot) = self.streams.get(&id) else {
            return;
        };
        let method = slot.method();
        let session = slot.session().map(str::to_owned);
        let can_reset = self.conn.dialect().has_method("runtime/reset") && !self.conn.is_closed();
        let end = match end {
            StreamEnd::Turn(Ok(raw)) => End::Turn(Ok(raw)),
            StreamEnd::Turn(Err(e)) => {
                let reset = can_reset && needs_runtime_reset(&e);
                let err = self.call_error(e, method);
                if let (true, Some(session)) = (reset, session) {
                    self.begin_reset(session, Held::End(id, End::Turn(Err(err))), now);
                    return;
                }
                End::Turn(Err(err))
            }
            StreamEnd::Subscription { outcome, error } => End::Subscription { outcome, error },
            StreamEnd::Closed(reason) => {
                End::Turn(Err(self.call_error(CallError::Closed(reason), method)))
            }
        };
        self.finish_stream(id, end);
    }

    // ---- errors ----------------------------------------------------------

    /// The error every waiter gets once the connection is closed.
    #[must_use]
    pub fn closed_error(&self) -> Error {
        if self.closed_locally {
            return Error::Closed;
        }
        if let Some(end) = &self.replay_end {
            return end.to_error();
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

    pub(super) fn call_error(&self, err: CallError, method: &str) -> Error {
        match err {
            CallError::Rpc(obj) => Error::Rpc(obj.into()),
            CallError::TimedOut => Error::TimedOut {
                method: method.to_owned(),
            },
            CallError::Closed(CloseReason::VersionMismatch { server, sdk }) => {
                Error::VersionMismatch { server, sdk }
            }
            CallError::Closed(_) if self.replay_end.is_some() => self.closed_error(),
            CallError::Closed(reason) => {
                let mut err = self.closed_error();
                if let Error::ConnectionClosed { reason: r, .. } = &mut err {
                    *r = reason.to_string();
                }
                err
            }
        }
    }

    pub(super) fn usage_error(&self, err: UsageError) -> Error {
        match err {
            UsageError::Closed => self.closed_error(),
            UsageError::Unsupported { method, reason } => Error::Unsupported {
                what: method,
                reason,
            },
            UsageError::TooManyPending { limit } => Error::TooManyPending { limit },
            UsageError::InvalidArgs(msg) => Error::InvalidArgs(msg),
            UsageError::Encode(e) => Error::InvalidArgs(e.to_string()),
        }
    }
}

/// What a diagnostic was about, for its sample.
fn diagnostic_detail(diagnostic: &Diagnostic) -> String {
    match diagnostic {
        Diagnostic::SkippedLine { line } | Diagnostic::LossyUtf8 { line } => line.clone(),
        Diagnostic::FrameTooLong { limit } => format!("a line over {limit} bytes"),
        Diagnostic::UnmatchedResponse { id } => format!("response to id {id}"),
        Diagnostic::InvalidEnvelope { reason } | Diagnostic::UndecodableEvent { reason } => {
            reason.clone()
        }
        Diagnostic::NullIdError(e) => format!("error without id: {e}"),
        Diagnostic::UnknownSessionEvent { session_id } => format!("session {session_id}"),
    }
}
