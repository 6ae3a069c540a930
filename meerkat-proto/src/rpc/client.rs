//! [`Client`]: the JSON-RPC engine as a plain state machine.

use super::codec::{Frame, FrameDecoder, Transmit};
use super::config::Config;
use super::error::{CallError, CloseReason, Diagnostic, EncodeError, ErrorObject};
use super::event::{Event, IncomingRequest, Notification, Response};
use super::id::{IncomingId, RequestId};
use super::message::{
    self, Incoming, OutNotification, OutRequest, OutResponse, RouteFacts, Scanned, Version,
};
use super::pending::Pending;
use crate::model::RunMark;
use bytes::Bytes;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::time::Instant;
use tracing::{debug, trace};

/// Bytes of envelope around a payload, to size the output buffer in one go.
const ENVELOPE_OVERHEAD: usize = 64;

/// The JSON-RPC 2.0 engine of one connection: plain data behind `&mut self`.
///
/// Commands ([`send_request`](Self::send_request), [`notify`](Self::notify),
/// [`respond`](Self::respond), [`cancel`](Self::cancel),
/// [`set_deadline`](Self::set_deadline), [`close`](Self::close)) and inputs
/// ([`handle_bytes`](Self::handle_bytes), [`handle_eof`](Self::handle_eof),
/// [`handle_timeout`](Self::handle_timeout)) only update state and queue
/// outputs. Three independent queues hold them: frames to write
/// ([`poll_transmit`](Self::poll_transmit)), events to act on
/// ([`poll_event`](Self::poll_event)) and the next deadline
/// ([`poll_timeout`](Self::poll_timeout)).
///
/// Every [`RequestId`] resolves exactly once, as an [`Event::Response`]: a
/// result, an error object, [`CallError::TimedOut`] or
/// [`CallError::Closed`]; unless [`cancel`](Self::cancel) forgets it first.
///
/// Memory is bounded by the caller: the event queue grows with the input, so
/// drain [`poll_event`](Self::poll_event) after every input (the transports
/// do), and the transmit queue grows with the commands, so drain
/// [`poll_transmit`](Self::poll_transmit) after every command.
///
/// ```
/// use meerkat_proto::rpc::{Client, Config, Event};
///
/// let mut client = Client::new(Config::default());
/// let id = client.send_request("initialize", None, None).unwrap();
/// let frame = client.poll_transmit().unwrap();
/// assert_eq!(frame.as_bytes(), b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}\n");
///
/// // The peer answers; the bytes may arrive in any chunks.
/// client.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"res");
/// client.handle_bytes(b"ult\":{\"ok\":true}}\n");
/// let Some(Event::Response(response)) = client.poll_event() else { panic!() };
/// assert_eq!(response.id, id);
/// assert_eq!(response.result.unwrap().get(), "{\"ok\":true}");
///
/// client.handle_eof();
/// assert!(matches!(client.poll_event(), Some(Event::Closed(_))));
/// assert!(client.poll_event().is_none());
/// ```
pub struct Client {
    decoder: FrameDecoder,
    pending: Pending,
    max_pending: usize,
    /// The next id to allocate; ids are never reused.
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Queued>,
    /// Route `session/event` notifications in the classifying pass
    /// ([`Queued::Routed`]); set by the `Connection`, off for plain users.
    route_session_events: bool,
    /// Latched on the first close; `Event::Closed` has been queued.
    closed: Option<CloseReason>,
}

/// Shows state and queue sizes, not payloads (those are logged at trace only).
impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("decoder", &self.decoder)
            .field("pending", &self.pending.len())
            .field("next_id", &self.next_id)
            .field("queued_transmits", &self.transmits.len())
            .field("queued_events", &self.events.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Client {
    /// Creates an engine with the given limits.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            decoder: FrameDecoder::new(config.max_frame_len),
            pending: Pending::default(),
            max_pending: config.max_pending,
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            route_session_events: false,
            closed: None,
        }
    }

    /// Queues a request and starts tracking it until it resolves.
    ///
    /// Ids count from 1. `deadline` is absolute; without one, the request
    /// waits until its answer or the close (see also
    /// [`set_deadline`](Self::set_deadline)). A deadline already passed
    /// expires at the next [`handle_timeout`](Self::handle_timeout).
    ///
    /// # Errors
    ///
    /// [`EncodeError::Closed`] after the connection closed;
    /// [`EncodeError::TooManyPending`] when
    /// [`Config::max_pending`] requests are pending;
    /// [`EncodeError::Json`] if the message cannot be serialised. Nothing is
    /// queued on error.
    pub fn send_request(
        &mut self,
        method: &str,
        params: Option<Box<RawValue>>,
        deadline: Option<Instant>,
    ) -> Result<RequestId, EncodeError> {
        if self.closed.is_some() {
            return Err(EncodeError::Closed);
        }
        if self.pending.len() >= self.max_pending {
            return Err(EncodeError::TooManyPending {
                limit: self.max_pending,
            });
        }
        let id = self.next_id;
        let message = OutRequest {
            jsonrpc: Version::V2,
            id,
            method,
            params: params.as_deref(),
        };
        self.queue(
            &message,
            method.len() + params.as_ref().map_or(0, |p| p.get().len()),
        )?;
        self.next_id += 1;
        self.pending.insert(id, deadline);
        Ok(RequestId(id))
    }

    /// Queues a notification (no id, no answer).
    ///
    /// # Errors
    ///
    /// [`EncodeError::Closed`] after the connection closed;
    /// [`EncodeError::Json`] if the message cannot be serialised.
    pub fn notify(
        &mut self,
        method: &str,
        params: Option<Box<RawValue>>,
    ) -> Result<(), EncodeError> {
        if self.closed.is_some() {
            return Err(EncodeError::Closed);
        }
        let message = OutNotification {
            jsonrpc: Version::V2,
            method,
            params: params.as_deref(),
        };
        self.queue(
            &message,
            method.len() + params.as_ref().map_or(0, |p| p.get().len()),
        )
    }

    /// Queues the answer to a request of the peer ([`Event::Request`]).
    ///
    /// The engine does not track the peer's requests: answering twice, or an
    /// id the peer never sent, is the caller's business.
    ///
    /// # Errors
    ///
    /// [`EncodeError::Closed`] after the connection closed;
    /// [`EncodeError::Json`] if the message cannot be serialised.
    pub fn respond(
        &mut self,
        id: IncomingId,
        result: Result<Box<RawValue>, ErrorObject>,
    ) -> Result<(), EncodeError> {
        if self.closed.is_some() {
            return Err(EncodeError::Closed);
        }
        let (result, error, payload_len) = match &result {
            Ok(raw) => (Some(&**raw), None, raw.get().len()),
            Err(error) => (None, Some(error), error.message.len()),
        };
        let message = OutResponse {
            jsonrpc: Version::V2,
            id: &id,
            result,
            error,
        };
        self.queue(&message, payload_len)
    }

    /// Forgets a pending request: no event will ever report it, and a late
    /// answer becomes [`Diagnostic::UnmatchedResponse`]. Sends nothing (a
    /// Meerkat `cancel` notification is the layer above's business).
    ///
    /// Returns `true` if the request was pending.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        self.pending.remove(id.0)
    }

    /// Sets or replaces the absolute deadline of a pending request.
    ///
    /// Returns `true` if the request was pending.
    pub fn set_deadline(&mut self, id: RequestId, at: Instant) -> bool {
        self.pending.set_deadline(id.0, at)
    }

    /// Closes the connection locally: every pending request resolves with
    /// [`CallError::Closed`]`(`[`CloseReason::Local`]`)`, in id order, then
    /// [`Event::Closed`] is queued. Frames already queued stay available to
    /// [`poll_transmit`](Self::poll_transmit), so a transport may still flush
    /// them. A no-op if already closed.
    pub fn close(&mut self) {
        self.shutdown(CloseReason::Local);
    }

    /// Closes the connection with a reason decided by the layer above (a
    /// failed handshake, a fatal protocol violation): like
    /// [`close`](Self::close), but pending requests and [`Event::Closed`]
    /// carry `reason`. A no-op if already closed.
    pub fn close_with(&mut self, reason: CloseReason) {
        self.shutdown(reason);
    }

    /// Classifies `session/event` notifications for routing in the same
    /// pass that frames and classifies them: they come out of
    /// [`poll_queued`](Self::poll_queued) as [`Queued::Routed`], the line
    /// whole, instead of as notifications with their params copied out.
    pub(crate) fn set_route_session_events(&mut self, on: bool) {
        self.route_session_events = on;
    }

    /// Feeds bytes the peer wrote, in any chunking.
    ///
    /// Complete lines become events at once; an unfinished line waits for
    /// more bytes. Lines that are not JSON-RPC messages become
    /// [`Event::Diagnostic`]s; nothing the peer sends can fail this call or
    /// close the connection. Ignored after the connection closed.
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        if self.closed.is_some() {
            trace!(len = bytes.len(), "rpc: bytes after close ignored");
            return;
        }
        let Self {
            decoder,
            pending,
            events,
            route_session_events,
            ..
        } = self;
        let route = *route_session_events;
        decoder.decode(bytes, |frame| handle_frame(pending, events, route, frame));
    }

    /// Handles a line framed and scanned ahead ([`prepare`]) as
    /// [`handle_bytes`](Self::handle_bytes) handles the bytes it came in,
    /// but for a routed `session/event` line (routing on): that one is
    /// given back for the caller to route, instead of going through the
    /// queue as [`Queued::Routed`] (two moves of the line's facts fewer).
    pub(crate) fn take_routed(&mut self, item: Prepared) -> Option<RoutedLine> {
        if self.closed.is_some() {
            trace!("rpc: a line after close ignored");
            return None;
        }
        let route = self.route_session_events;
        match item {
            // Routed as it would be queued (`Queued::Routed`), without the
            // queue: the caller drains this client after every other line,
            // so nothing queued comes before it.
            Prepared::Routed(routed) if route => return Some(routed),
            Prepared::Routed(routed) => handle_frame(
                &mut self.pending,
                &mut self.events,
                false,
                Frame::Line(&routed.line),
            ),
            Prepared::Line(line) => handle_frame(
                &mut self.pending,
                &mut self.events,
                route,
                Frame::Line(&line),
            ),
            Prepared::TooLong { limit } => handle_frame(
                &mut self.pending,
                &mut self.events,
                route,
                Frame::TooLong { limit },
            ),
        }
        None
    }

    /// Reports that the peer's output ended: an unfinished last line is
    /// handled as a line, every pending request resolves with
    /// [`CallError::Closed`]`(`[`CloseReason::Eof`]`)`, then [`Event::Closed`]
    /// is queued. A no-op if already closed.
    pub fn handle_eof(&mut self) {
        if self.closed.is_some() {
            return;
        }
        let Self {
            decoder,
            pending,
            events,
            route_session_events,
            ..
        } = self;
        let route = *route_session_events;
        decoder.finish(|frame| handle_frame(pending, events, route, frame));
        self.shutdown(CloseReason::Eof);
    }

    /// Reports the current time: every pending request whose deadline is
    /// `<= now` resolves with [`CallError::TimedOut`], earliest first.
    /// Early or repeated calls are no-ops.
    pub fn handle_timeout(&mut self, now: Instant) {
        let events = &mut self.events;
        self.pending.expire(now, |id| {
            debug!(id, "rpc: request timed out");
            events.push_back(response(id, Err(CallError::TimedOut)).into());
        });
    }

    /// Takes the next frame to write to the peer, oldest first.
    ///
    /// May return `Some` after [`send_request`](Self::send_request),
    /// [`notify`](Self::notify) and [`respond`](Self::respond). Write each
    /// frame whole, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Takes the next event, oldest first.
    ///
    /// May return `Some` after [`handle_bytes`](Self::handle_bytes),
    /// [`handle_eof`](Self::handle_eof),
    /// [`handle_timeout`](Self::handle_timeout) and [`close`](Self::close).
    /// Drain it after each of them: events queue up until taken.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front().map(Queued::into_event)
    }

    /// Takes the next event, oldest first, with routed `session/event`
    /// lines left whole (see
    /// [`set_route_session_events`](Self::set_route_session_events)).
    pub(crate) fn poll_queued(&mut self) -> Option<Queued> {
        self.events.pop_front()
    }

    /// Returns the earliest deadline of a pending request, or `None` when
    /// no pending request has one. Call
    /// [`handle_timeout`](Self::handle_timeout) when it passes.
    ///
    /// May change after [`send_request`](Self::send_request),
    /// [`set_deadline`](Self::set_deadline), [`cancel`](Self::cancel) and
    /// every input.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.next_deadline()
    }

    /// Returns `true` once the connection closed ([`close`](Self::close) or
    /// [`handle_eof`](Self::handle_eof)); [`Event::Closed`] is then queued or
    /// already taken.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Returns why the connection closed, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Returns the number of requests waiting for their outcome.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn queue(
        &mut self,
        message: &impl serde::Serialize,
        payload_len: usize,
    ) -> Result<(), EncodeError> {
        let transmit = Transmit::encode(message, payload_len + ENVELOPE_OVERHEAD)?;
        trace!(frame = %String::from_utf8_lossy(transmit.json()), "rpc >");
        self.transmits.push_back(transmit);
        Ok(())
    }

    fn shutdown(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        debug!(%reason, pending = self.pending.len(), "rpc: connection closed");
        self.decoder = FrameDecoder::new(self.decoder.max_frame_len());
        let events = &mut self.events;
        self.pending.drain(|id| {
            events.push_back(response(id, Err(CallError::Closed(reason.clone()))).into());
        });
        self.events.push_back(Event::Closed(reason.clone()).into());
        self.closed = Some(reason);
    }
}

fn response(id: u64, result: Result<Box<RawValue>, CallError>) -> Event {
    Event::Response(Response {
        id: RequestId(id),
        result,
    })
}

/// What the engine queued: an [`Event`], or (when the `Connection` asked
/// for it) a `session/event` line routed in the classifying pass.
#[derive(Debug)]
pub(crate) enum Queued {
    Event(Event),
    Routed(RoutedLine),
}

impl From<Event> for Queued {
    fn from(event: Event) -> Self {
        Self::Event(event)
    }
}

impl Queued {
    /// The public shape: a routed line becomes the notification it is.
    fn into_event(self) -> Event {
        match self {
            Self::Event(event) => event,
            Self::Routed(routed) => Event::Notification(Notification {
                method: "session/event".to_owned(),
                params: routed.params(),
            }),
        }
    }
}

/// A `session/event` notification with its routing facts, the line kept
/// whole for the consumer to decode.
#[derive(Debug)]
pub(crate) struct RoutedLine {
    /// The line, as framed (valid UTF-8: the scan checked it).
    pub(crate) line: Bytes,
    /// The session: where it sits in `line`, or unescaped.
    pub(crate) session: SessionText,
    /// The envelope's `seq` (0 when absent).
    pub(crate) seq: u64,
    /// Whether a run starts or ends.
    pub(crate) mark: RunMark,
    /// Where a text or reasoning delta's members are in `line`.
    pub(crate) delta: Option<super::DeltaSpans>,
}

/// Where a routed line's session id is.
#[derive(Debug)]
pub(crate) enum SessionText {
    /// These bytes of the line (the id had no escapes).
    Span(Range<usize>),
    /// The id, unescaped.
    Owned(String),
}

impl RoutedLine {
    /// `line` is the framed line the facts were scanned from; `bytes` the
    /// same bytes as the line kept (a copy, or a slice of the read chunk).
    fn new(line: &[u8], bytes: Bytes, facts: RouteFacts<'_>) -> Self {
        let session = match facts.session {
            Cow::Borrowed(s) => {
                // The id borrows from the line: its offset is where it sits.
                let start = (s.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
                if start <= line.len() && s.len() <= line.len() - start {
                    SessionText::Span(start..start + s.len())
                } else {
                    SessionText::Owned(s.to_owned())
                }
            }
            Cow::Owned(s) => SessionText::Owned(s),
        };
        Self {
            line: bytes,
            session,
            seq: facts.seq,
            mark: facts.mark,
            delta: facts.delta,
        }
    }

    /// The params, raw (for [`Client::poll_event`] users only).
    fn params(&self) -> Option<Box<RawValue>> {
        #[derive(serde::Deserialize)]
        struct Params<'a> {
            #[serde(borrow)]
            params: Option<&'a RawValue>,
        }
        let text = std::str::from_utf8(&self.line).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let params = <Params<'_> as serde::Deserialize>::deserialize(&mut de).ok()?;
        params.params.map(ToOwned::to_owned)
    }
}

fn diagnostic(events: &mut VecDeque<Queued>, diagnostic: Diagnostic) {
    debug!(?diagnostic, "rpc: diagnostic");
    events.push_back(Event::Diagnostic(diagnostic).into());
}

/// A line framed and scanned ahead of the engine (by the reader, outside
/// its lock): a `session/event` line of the usual shape with its routing
/// facts, or any other line as it came, for [`handle_frame`].
#[derive(Debug)]
pub(crate) enum Prepared {
    Routed(RoutedLine),
    Line(Vec<u8>),
    TooLong { limit: usize },
}

/// Frames `frame` for [`Client::handle_prepared`]: the hand-written scan
/// only (cheap, and it gives up early on every other line); the serde way
/// and every other decision are left to the engine. A routed line that lies
/// within `chunk` is kept as a slice of it (no copy, no allocation); any
/// other is copied.
pub(crate) fn prepare(frame: Frame<'_>, chunk: Option<&Bytes>, out: &mut Vec<Prepared>) {
    let line = match frame {
        Frame::Line(line) => line,
        Frame::TooLong { limit } => return out.push(Prepared::TooLong { limit }),
    };
    let routed = simdutf8::basic::from_utf8(line)
        .ok()
        .and_then(super::route_scan::route)
        .map(|facts| RoutedLine::new(line, slice_or_copy(chunk, line), facts));
    out.push(match routed {
        Some(routed) => {
            trace!(frame = %String::from_utf8_lossy(line), "rpc <");
            Prepared::Routed(routed)
        }
        // A blank line is nothing to the engine (`Incoming::Blank`): not
        // kept, so a flood of newlines costs no memory.
        None if line.iter().all(u8::is_ascii_whitespace) => return,
        None => Prepared::Line(line.to_vec()),
    });
}

/// `line` as a slice of `chunk` when it lies within it (a line the framer
/// assembled across reads does not), else a copy.
fn slice_or_copy(chunk: Option<&Bytes>, line: &[u8]) -> Bytes {
    if let Some(chunk) = chunk {
        let start = (line.as_ptr() as usize).wrapping_sub(chunk.as_ptr() as usize);
        if start <= chunk.len() && line.len() <= chunk.len() - start {
            return chunk.slice(start..start + line.len());
        }
    }
    Bytes::copy_from_slice(line)
}

/// Turns one frame into at most one event (two for a line decoded
/// lossily: [`Diagnostic::LossyUtf8`] first). With `route`, a
/// `session/event` line of the usual shape is classified and routed in one
/// pass ([`Queued::Routed`]).
fn handle_frame(
    pending: &mut Pending,
    events: &mut VecDeque<Queued>,
    route: bool,
    frame: Frame<'_>,
) {
    let line = match frame {
        Frame::Line(line) => line,
        Frame::TooLong { limit } => return diagnostic(events, Diagnostic::FrameTooLong { limit }),
    };
    trace!(frame = %String::from_utf8_lossy(line), "rpc <");
    let first = if route {
        match message::classify_routed(line) {
            Scanned::Routed(facts) => {
                let bytes = Bytes::copy_from_slice(line);
                events.push_back(Queued::Routed(RoutedLine::new(line, bytes, facts)));
                return;
            }
            Scanned::Other(incoming) => incoming,
        }
    } else {
        message::classify(line)
    };
    // NB: a line that is JSON but for a bad byte inside a string is decoded
    // lossily, never taken for a log line: its request must not wait for a
    // deadline when its answer came.
    let repaired = message::lossy_retry(line, &first);
    let incoming = match &repaired {
        Some(text) => {
            diagnostic(events, message::lossy_diagnostic(line));
            message::classify(text.as_bytes())
        }
        None => first,
    };
    match incoming {
        Incoming::Blank => {}
        Incoming::Request { id, method, params } => {
            events.push_back(
                Event::Request(IncomingRequest {
                    id,
                    method: method.into_owned(),
                    params: params.map(ToOwned::to_owned),
                })
                .into(),
            );
        }
        Incoming::Notification { method, params } => {
            events.push_back(
                Event::Notification(Notification {
                    method: method.into_owned(),
                    params: params.map(ToOwned::to_owned),
                })
                .into(),
            );
        }
        Incoming::Response {
            id: None,
            outcome: Err(error),
        } => {
            diagnostic(events, Diagnostic::NullIdError(error));
        }
        Incoming::Response {
            id: None,
            outcome: Ok(_),
        } => {
            diagnostic(
                events,
                Diagnostic::UnmatchedResponse {
                    id: "null".to_owned(),
                },
            );
        }
        Incoming::Response {
            id: Some(raw_id),
            outcome,
        } => {
            // Exact JSON type: only a plain integer can be ours ("7" is a
            // string, 7.0 a float; neither parses as u64).
            match raw_id.get().parse::<u64>() {
                Ok(id) if pending.remove(id) => {
                    let result = outcome.map(ToOwned::to_owned).map_err(CallError::Rpc);
                    events.push_back(response(id, result).into());
                }
                _ => diagnostic(
                    events,
                    Diagnostic::UnmatchedResponse {
                        id: message::truncate(raw_id.get()).to_owned(),
                    },
                ),
            }
        }
        Incoming::Diagnostic(d) => diagnostic(events, d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"jsonrpc":"2.0","method":"session/event","params":{"session_id":"s1","event":{"seq":2,"payload":{"type":"text_delta","delta":"x"}}}}"#;

    fn feed(client: &mut Client, chunks: &[&[u8]]) {
        for chunk in chunks {
            client.handle_bytes(chunk);
        }
    }

    #[test]
    fn a_routed_line_keeps_its_facts_whole_or_buffered() {
        // Whole in one chunk, and split so that the decoder buffers it.
        for chunks in [&[LINE, b"\n"][..], &[&LINE[..10], &LINE[10..], b"\n"]] {
            let mut client = Client::default();
            client.set_route_session_events(true);
            feed(&mut client, chunks);
            let Some(Queued::Routed(routed)) = client.poll_queued() else {
                panic!("not routed");
            };
            assert_eq!(&routed.line[..], LINE);
            assert_eq!((routed.seq, &routed.mark), (2, &RunMark::Other));
            let SessionText::Span(span) = routed.session else {
                panic!("session copied");
            };
            assert_eq!(&routed.line[span], b"s1");
            assert!(client.poll_queued().is_none());
        }
    }

    #[test]
    fn a_routed_line_polls_as_the_notification_it_is() {
        let mut plain = Client::default();
        let mut routed = Client::default();
        routed.set_route_session_events(true);
        feed(&mut plain, &[LINE, b"\n"]);
        feed(&mut routed, &[LINE, b"\n"]);
        let (Some(a), Some(b)) = (plain.poll_event(), routed.poll_event()) else {
            panic!("no event");
        };
        assert!(matches!(a, Event::Notification(_)));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
