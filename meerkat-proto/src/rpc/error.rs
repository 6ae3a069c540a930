//! Error types of the JSON-RPC layer.
//!
//! Caller misuse is returned as `Result` from commands ([`EncodeError`]);
//! peer misbehaviour never fails a command: it is reported through
//! [`Event::Diagnostic`](super::Event::Diagnostic) (recoverable) or
//! [`Event::Closed`](super::Event::Closed) (fatal, latched).
//!
//! The engine itself treats nothing the peer sends as fatal (JSON Lines
//! resynchronise at the next newline), so it closes only with
//! [`CloseReason::Local`] or [`CloseReason::Eof`]. The other reasons, and
//! [`ProtocolError`], are for the layer above, which may give up on a peer
//! (a failed handshake, an incompatible contract).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A JSON-RPC error code. Open: any `i32` the peer sends is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// `-32700`: the peer could not parse a line.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// `-32600`: not a valid request object.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// `-32601`: unknown method.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// `-32602`: invalid parameters.
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// `-32603`: internal error.
    pub const INTERNAL_ERROR: Self = Self(-32603);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A JSON-RPC error object, as received or sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorObject {
    /// The numeric code.
    pub code: ErrorCode,
    /// The human-readable message.
    #[serde(default)]
    pub message: String,
    /// Optional structured data (small; parsed for nested codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl ErrorObject {
    /// Builds an error object without data.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The terminal outcome of a request that did not get a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The peer answered with an error object.
    #[error("server error: {0}")]
    Rpc(ErrorObject),
    /// The request's deadline passed before an answer came.
    #[error("request timed out")]
    TimedOut,
    /// The connection closed before an answer came.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
}

/// Why the connection closed. Latched: reported once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The caller called `close`.
    #[error("closed locally")]
    Local,
    /// The peer's output ended (EOF).
    #[error("the server closed its output")]
    Eof,
    /// A fatal protocol violation (decided by the layer above).
    #[error("protocol error: {0}")]
    Protocol(ProtocolError),
    /// The handshake found a contract version of a line the SDK does not
    /// speak.
    #[error("contract version mismatch: server {server}, sdk {sdk}")]
    VersionMismatch {
        /// What the server reported.
        server: String,
        /// What this SDK speaks (`0.5.x or 0.9.x`).
        sdk: String,
    },
    /// The handshake failed for another reason.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// A handshake request got no answer before its deadline.
    #[error("handshake timed out waiting for {method}")]
    HandshakeTimedOut {
        /// `initialize` or `capabilities/get`.
        method: String,
    },
}

/// A protocol-level problem with what the peer sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A line exceeded the configured maximum length.
    #[error("frame longer than {limit} bytes")]
    FrameTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// A line was not JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A JSON value was not a JSON-RPC message.
    #[error("invalid JSON-RPC envelope: {0}")]
    InvalidEnvelope(String),
}

/// Something worth reporting that did not stop the connection.
///
/// Diagnostics are informational: the engine has already recovered (skipped
/// the line, dropped the response) when one is reported.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// A line that does not start with a JSON object was skipped (0.5.x
    /// writes its logs to stdout).
    SkippedLine {
        /// The start of the line (at most 256 bytes), lossily decoded, with
        /// ANSI escape sequences and the trailing `\r` removed.
        line: String,
    },
    /// A line longer than the limit was discarded up to its newline.
    ///
    /// Reported as soon as the line crosses the limit; the rest of the line
    /// is never buffered.
    FrameTooLong {
        /// The configured limit ([`Config::max_frame_len`](super::Config::max_frame_len)).
        limit: usize,
    },
    /// A JSON object that is not a usable JSON-RPC message.
    ///
    /// A request the message may have answered stays pending until its
    /// deadline, as with [`Diagnostic::NullIdError`].
    InvalidEnvelope {
        /// What was wrong.
        reason: String,
    },
    /// A response whose id matches no pending request: late (after a
    /// timeout or `cancel`), unknown, duplicate, or of the wrong JSON type.
    UnmatchedResponse {
        /// The id as received (JSON text, so `"7"` keeps its quotes).
        id: String,
    },
    /// An error response with `id: null` (or no id): some request failed but
    /// we cannot tell which. It stays pending until its deadline.
    NullIdError(ErrorObject),
    /// A line with invalid UTF-8 was decoded lossily (each bad sequence
    /// becomes U+FFFD) and then handled as usual: a response with it still
    /// resolves its request. Reported before the message itself.
    LossyUtf8 {
        /// The start of the line, as for [`Diagnostic::SkippedLine`].
        line: String,
    },
    /// A `session/event` of a session this client never created, opened
    /// or ran a turn on (reported by the Meerkat layer).
    UnknownSessionEvent {
        /// The session id.
        session_id: String,
    },
    /// A session or stream event too malformed to route to its stream
    /// (reported by the Meerkat layer; one that can be routed but not
    /// decoded arrives as `Event::Unknown` instead).
    UndecodableEvent {
        /// What was wrong.
        reason: String,
    },
}

/// A command could not encode its payload (caller misuse).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Serialisation failed.
    #[error("could not encode params: {0}")]
    Json(#[from] serde_json::Error),
    /// The connection is closed; no new request can be sent.
    #[error("connection is closed")]
    Closed,
    /// [`Config::max_pending`](super::Config::max_pending) requests are
    /// already pending; resolve or cancel some first.
    #[error("too many pending requests (limit {limit})")]
    TooManyPending {
        /// The configured limit.
        limit: usize,
    },
}
