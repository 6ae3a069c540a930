//! What a [`Connection`](super::Connection) reports: [`Output`] and the
//! pieces of a stream, [`StreamItem`] and [`StreamEnd`].

use crate::model::{
    EventEnvelope, RunMark, ServerInfo, ToolCall, decode_session_event_fast,
    decode_session_event_line,
};
use crate::rpc::{CallError, CloseReason, DeltaSpans, Diagnostic, RequestId};
use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;

/// Something that happened on the connection, from
/// [`Connection::poll_output`](super::Connection::poll_output).
///
/// Per [`RequestId`] the outputs follow one of three shapes:
///
/// - an ordinary request (and a turn or create sent with
///   [`RequestOptions::stream`](super::RequestOptions::stream) off): exactly
///   one [`Output::Response`];
/// - a streamed turn or create: any number of [`Output::StreamItem`]s, then
///   exactly one [`Output::StreamEnd`] (which carries the response: there is
///   no separate `Response`);
/// - a subscription (`session/stream_open`, `mob/stream_open`): exactly one
///   [`Output::Response`] (the open result); if it is a success, then any
///   number of [`Output::StreamItem`]s and exactly one [`Output::StreamEnd`].
///
/// [`Connection::cancel`](super::Connection::cancel) silences a request:
/// nothing more is reported for it.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // Moved once per event; boxing would allocate per event.
pub enum Output {
    /// The handshake is done; the same value is then available from
    /// [`Connection::server`](super::Connection::server).
    Ready(ServerInfo),
    /// The outcome of an ordinary request (or of a subscription's open).
    Response {
        /// The request.
        id: RequestId,
        /// The raw `result`, or why there is none.
        result: Result<Box<RawValue>, CallError>,
    },
    /// The next item of a stream (a streamed turn or create, or a
    /// subscription).
    StreamItem {
        /// The request that opened the stream.
        id: RequestId,
        /// The item.
        item: StreamItem,
    },
    /// The end of a stream; exactly one per stream, after its items.
    StreamEnd {
        /// The request that opened the stream.
        id: RequestId,
        /// How it ended.
        end: StreamEnd,
    },
    /// The server asks for a callback tool to run; answer with
    /// [`Connection::respond_tool`](super::Connection::respond_tool).
    ToolCall(ToolCall),
    /// The server asks for a method the client does not serve (only with
    /// [`ConnectionConfig::report_unsupported_requests`](super::ConnectionConfig::report_unsupported_requests);
    /// otherwise the connection refuses it itself). Refuse it with
    /// [`Connection::refuse`](super::Connection::refuse), or drop it.
    UnsupportedRequest {
        /// The server's request id.
        id: crate::rpc::IncomingId,
        /// The method it asked for.
        method: String,
    },
    /// Something odd the connection recovered from (a log line on stdout, an
    /// oversized line, an unmatched response, an undecodable notification).
    Diagnostic(Diagnostic),
    /// The connection closed. Reported exactly once and last: every request
    /// has resolved and every stream has ended before it.
    Closed(CloseReason),
}

/// An event of a stream, with its envelope, decoded when the consumer asks.
///
/// The connection routes a turn's `session/event` on a minimal parse
/// (session, `seq`, run start/end) and hands the event on undecoded; the
/// consumer's thread or task decodes it
/// ([`into_envelope`](Self::into_envelope)) after the engine's lock is
/// released, so on a multi-core machine decoding runs beside the reader
/// instead of in it. Subscription events come already decoded.
#[derive(Clone)]
pub struct StreamEvent {
    seq: u64,
    pub(crate) mark: RunMark,
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// `session/event` params.
    Raw(Box<RawValue>),
    /// A whole `session/event` line (valid UTF-8), routed in the engine's
    /// classifying pass and never copied since; with where a delta's
    /// members are, when the reader's scan found them.
    Line(Bytes, Option<DeltaSpans>),
    Decoded(Box<EventEnvelope>),
}

impl StreamEvent {
    pub(crate) fn raw(params: Box<RawValue>, seq: u64, mark: RunMark) -> Self {
        Self {
            seq,
            mark,
            repr: Repr::Raw(params),
        }
    }

    pub(crate) fn line(line: Bytes, seq: u64, mark: RunMark, delta: Option<DeltaSpans>) -> Self {
        Self {
            seq,
            mark,
            repr: Repr::Line(line, delta),
        }
    }

    pub(crate) fn decoded(envelope: EventEnvelope) -> Self {
        Self {
            seq: envelope.seq,
            mark: RunMark::of(&envelope.event),
            repr: Repr::Decoded(Box::new(envelope)),
        }
    }

    /// The envelope's `seq`.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Decodes the event (never fails: odd payloads become
    /// [`Event::Unknown`](crate::Event::Unknown)).
    #[must_use]
    pub fn into_envelope(self) -> EventEnvelope {
        match self.repr {
            Repr::Decoded(envelope) => *envelope,
            Repr::Raw(params) => decode_raw(&params),
            Repr::Line(line, delta) => decode_line(&line, delta.as_ref()),
        }
    }

    /// Decodes a copy of the event.
    #[must_use]
    pub fn envelope(&self) -> EventEnvelope {
        match &self.repr {
            Repr::Decoded(envelope) => (**envelope).clone(),
            Repr::Raw(params) => decode_raw(params),
            Repr::Line(line, delta) => decode_line(line, delta.as_ref()),
        }
    }
}

fn decode_raw(params: &RawValue) -> EventEnvelope {
    match decode_session_event_fast(params) {
        Ok((_, envelope)) => envelope,
        Err(_) => EventEnvelope::from_raw(params),
    }
}

/// Decodes a whole `session/event` line: the envelope in one pass when it
/// has the usual shape, else through its params as [`decode_raw`] does.
fn decode_line(line: &[u8], delta: Option<&DeltaSpans>) -> EventEnvelope {
    // NB: checked again (the engine did): no unsafe code in this crate.
    let Ok(text) = simdutf8::basic::from_utf8(line) else {
        return EventEnvelope::default();
    };
    // A text or reasoning delta the reader's scan was sure of: built from
    // where its members are, without another scan.
    if let Some(envelope) = delta.and_then(|spans| spans.envelope(text)) {
        return envelope;
    }
    decode_line_serde(text)
}

/// [`decode_line`] the serde way (what the hand-written decode must agree
/// with).
pub(crate) fn decode_line_serde(text: &str) -> EventEnvelope {
    if let Some(envelope) = decode_session_event_line(text) {
        return envelope;
    }
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        params: Option<&'a RawValue>,
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match <Params<'_> as serde::Deserialize>::deserialize(&mut de) {
        Ok(Params {
            params: Some(params),
        }) => decode_raw(params),
        _ => EventEnvelope::default(),
    }
}

impl fmt::Debug for StreamEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StreamEvent")
            .field(&self.envelope())
            .finish()
    }
}

impl PartialEq for StreamEvent {
    fn eq(&self, other: &Self) -> bool {
        self.envelope() == other.envelope()
    }
}

/// One item of a stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // Moved once per event; boxing would allocate per event.
pub enum StreamItem {
    /// An agent event with its envelope (decoded on demand).
    Event(StreamEvent),
    /// The server dropped events of this session (a gap in `seq`; 0.5.x
    /// drops `session/event` notifications when its queue is full). Comes
    /// right before the event that revealed the gap.
    EventsLost {
        /// The `seq` that should have come next.
        expected_seq: u64,
        /// The `seq` that came instead.
        received_seq: u64,
    },
}

/// How a stream ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamEnd {
    /// A streamed turn or create ended: its response (a raw `RunResult`, or
    /// the error), delivered after the turn's last event.
    Turn(Result<Box<RawValue>, CallError>),
    /// A subscription ended (`session/stream_end`, `mob/stream_end`).
    Subscription {
        /// `remote_end`, `explicit_close`, `terminal_error`, or
        /// `invalid_open_response` when the open result named no stream.
        outcome: String,
        /// The error object of a `terminal_error`.
        error: Option<Value>,
    },
    /// The connection closed before the stream ended.
    Closed(CloseReason),
}
