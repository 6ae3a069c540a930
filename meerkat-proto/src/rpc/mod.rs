//! The JSON-RPC 2.0 engine over JSON Lines: framing, ids, the pending table,
//! deadlines and the classification of what the peer sends.
//!
//! This layer knows nothing about Meerkat. It is public as a module (not
//! flattened into the crate root) because its [`Client`], [`Event`] and
//! [`Config`] would otherwise clash with the Meerkat layer's names.
//!
//! ```text
//!  bytes from the peer ──> handle_bytes ──┐            ┌──> poll_event ──> Event
//!  end of output ────────> handle_eof ────┤            │
//!  now ──────────────────> handle_timeout ┼─> Client ──┼──> poll_timeout ─> Instant
//!  send_request, notify, ─────────────────┘            └──> poll_transmit > bytes to the peer
//!  respond, cancel, close
//! ```
//!
//! Rules, each enforced and tested here:
//!
//! - **Framing.** Any chunking. `\r\n` and blank lines are fine. A line longer
//!   than [`Config::max_frame_len`] is discarded up to its newline and
//!   reported ([`Diagnostic::FrameTooLong`]); it is never buffered whole. A
//!   line that does not start with a JSON object (0.5.x logs on stdout,
//!   possibly coloured) is skipped and reported
//!   ([`Diagnostic::SkippedLine`]). Of a line whose leading JSON value is
//!   followed by glued text, the value counts. Nothing the peer sends is
//!   fatal: the engine closes only on [`Client::close`] and
//!   [`Client::handle_eof`].
//! - **Classification** (PROTOCOL 1.5). `method` and `id`: a request of the
//!   peer; `method` alone (or `id: null`): a notification; otherwise a
//!   response matched on `id`. `jsonrpc` is written as `"2.0"` and not
//!   checked on input. Payloads stay raw JSON ([`RawValue`](serde_json::value::RawValue)).
//! - **Ids.** Ours are JSON integers from 1; a response matches only with
//!   that exact JSON type. An error with `id: null` is a
//!   [`Diagnostic::NullIdError`]: the request it concerns stays pending until
//!   its deadline, which is why every request should have one.
//! - **Exactly once.** Every [`RequestId`] resolves once: result, error
//!   object, [`CallError::TimedOut`] or [`CallError::Closed`]; or
//!   [`Client::cancel`] forgets it. On close, every pending request resolves
//!   before the single [`Event::Closed`].
//! - **Time** is a value: the engine never reads a clock. Requests carry
//!   absolute deadlines, [`Client::poll_timeout`] says when to call
//!   [`Client::handle_timeout`].

mod client;
mod codec;
mod config;
mod error;
mod event;
mod id;
mod message;
mod pending;

pub use client::Client;
pub use codec::{Frame, FrameDecoder, Transmit};
pub use config::{Config, DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_PENDING};
pub use error::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, ProtocolError,
};
pub use event::{Event, IncomingRequest, Notification, Response};
pub use id::{IncomingId, RequestId};
