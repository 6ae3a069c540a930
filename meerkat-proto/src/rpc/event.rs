//! What the engine reports: [`Event`] and its payloads.

use super::error::{CallError, CloseReason, Diagnostic};
use super::id::{IncomingId, RequestId};
use serde_json::value::RawValue;

/// Something that happened on the connection, from [`Client::poll_event`](super::Client::poll_event).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The terminal outcome of one of our requests; exactly one per
    /// [`RequestId`] that was not cancelled.
    Response(Response),
    /// A notification of the peer (such as `session/event`).
    Notification(Notification),
    /// A request of the peer (such as `tool/execute`); answer it with
    /// [`Client::respond`](super::Client::respond).
    Request(IncomingRequest),
    /// Something odd the engine recovered from (a log line, an oversized
    /// line, an unmatched or `id: null` response).
    Diagnostic(Diagnostic),
    /// The connection closed. Reported exactly once, after every pending
    /// request has resolved; nothing follows it.
    Closed(CloseReason),
}

/// The terminal outcome of one of our requests.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Response {
    /// The request this resolves.
    pub id: RequestId,
    /// The raw `result`, or why there is none.
    pub result: Result<Box<RawValue>, CallError>,
}

/// A notification of the peer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The raw `params`; `None` when absent or `null`.
    pub params: Option<Box<RawValue>>,
}

/// A request of the peer, waiting for [`Client::respond`](super::Client::respond).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IncomingRequest {
    /// The id to answer with, kept verbatim.
    pub id: IncomingId,
    /// The method name.
    pub method: String,
    /// The raw `params`; `None` when absent or `null`.
    pub params: Option<Box<RawValue>>,
}
