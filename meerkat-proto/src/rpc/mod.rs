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
//!
//! # The drive loop
//!
//! A transport owns the [`Client`] and repeats: apply one input or command,
//! write every [`Client::poll_transmit`] frame whole, act on every
//! [`Client::poll_event`], then wait for bytes, a command or
//! [`Client::poll_timeout`].
//!
//! ```
//! use meerkat_proto::rpc::{CallError, Client, Config, Event};
//! use std::time::{Duration, Instant};
//!
//! let mut client = Client::new(Config::default());
//! let mut child_stdin: Vec<u8> = Vec::new(); // stands in for the pipe
//! let t0 = Instant::now();
//!
//! let list = client.send_request("session/list", None, Some(t0 + Duration::from_secs(30)))?;
//! let read = client.send_request("session/read", None, Some(t0 + Duration::from_secs(5)))?;
//! while let Some(frame) = client.poll_transmit() {
//!     child_stdin.extend_from_slice(frame.as_ref()); // one write per frame
//! }
//!
//! // The child wrote something; any chunking will do.
//! client.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"sessions\":[]}}\n");
//! // Nothing else came before the earliest deadline.
//! assert_eq!(client.poll_timeout(), Some(t0 + Duration::from_secs(5)));
//! client.handle_timeout(t0 + Duration::from_secs(5));
//!
//! let mut outcomes = Vec::new();
//! while let Some(event) = client.poll_event() {
//!     match event {
//!         Event::Response(r) => outcomes.push((r.id, r.result.map(|raw| raw.get().to_owned()))),
//!         Event::Notification(_) | Event::Request(_) | Event::Diagnostic(_) => {}
//!         Event::Closed(_) => break,
//!         _ => {}
//!     }
//! }
//! assert_eq!(outcomes[0], (list, Ok("{\"sessions\":[]}".to_owned())));
//! assert_eq!(outcomes[1], (read, Err(CallError::TimedOut)));
//! # Ok::<(), meerkat_proto::rpc::EncodeError>(())
//! ```

mod client;
mod codec;
mod config;
mod error;
mod event;
mod id;
mod message;
mod pending;
mod route_scan;
pub(crate) use route_scan::DeltaSpans;

pub use client::Client;
pub(crate) use client::{Prepared, Queued, RoutedLine, SessionText, prepare};
pub use codec::{Frame, FrameDecoder, Transmit};
pub use config::{Config, DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_PENDING};
pub use error::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, ProtocolError,
};
pub use event::{Event, IncomingRequest, Notification, Response};
pub use id::{IncomingId, RequestId};

/// Fuzzing only: panics when the hand-written routing scan reads `line`
/// differently from the serde scan (it may give up; it may not disagree),
/// or its exact path differently from its general scan.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn __fuzz_route_scan(line: &[u8]) {
    let Ok(text) = std::str::from_utf8(line) else {
        return;
    };
    if let Some(exact) = route_scan::exact(text) {
        let general =
            route_scan::general(text).expect("the general scan reads what the exact path reads");
        assert_eq!(
            (
                &exact.session,
                exact.seq,
                format!("{:?}", exact.mark),
                &exact.delta
            ),
            (
                &general.session,
                general.seq,
                format!("{:?}", general.mark),
                &general.delta
            ),
            "{text}"
        );
    }
    if let Some(fast) = route_scan::route(text) {
        if let Some(spans) = &fast.delta {
            let envelope = spans.envelope(text).expect("the spans of this line");
            assert_eq!(envelope, crate::conn::decode_line_serde(text), "{text}");
        }
        match message::classify_routed_serde(line) {
            message::Scanned::Routed(slow) => assert_eq!(
                (fast.session, fast.seq, format!("{:?}", fast.mark)),
                (slow.session, slow.seq, format!("{:?}", slow.mark)),
                "{text}"
            ),
            message::Scanned::Other(other) => panic!("read {text:?}, the serde scan: {other:?}"),
        }
    }
}
