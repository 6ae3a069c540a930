//! The Meerkat layer: [`Connection`] (handshake, dialect, routing of
//! notifications to turn streams and subscriptions, tool calls) and
//! [`StreamBuffer`], the per-stream memory budget of the SDK engine's
//! streams ([`sdk`](crate::sdk)).
//!
//! `Connection` is a facade (`connection.rs`): it owns the JSON-RPC engine
//! and the output queue and dispatches to sub-states, one concern per file,
//! each with its invariants beside its data:
//!
//! - `handshake.rs`: `initialize` -> `initialized` -> `capabilities/get`,
//!   the contract check and the dialect;
//! - `routing.rs`: where a `session/event` goes (seq gaps, the client's
//!   sessions and a bounded LRU of strangers,
//!   binding a create to its session), over
//!   - `turns.rs`: turn and create entries and when each stream ends
//!     (terminal event and response, grace, next run, cancel, close),
//!   - `unbound.rs`: creates whose session is not known yet and the
//!     bounded buffer of new sessions' events;
//! - `subscriptions.rs`: `session/stream_open` and `mob/stream_open`
//!   streams, orphan notifications and cancelled stream ids.

mod buffer;
mod config;
mod connection;
mod handshake;
mod output;
mod routing;
mod subscriptions;
mod turns;
mod unbound;

pub use buffer::{DEFAULT_STREAM_BUDGET, Popped, StreamBuffer, Taken};
pub use config::{
    ConnectionConfig, DEFAULT_MAX_UNBOUND_EVENTS, DEFAULT_TURN_GRACE, RequestOptions,
};
pub use connection::Connection;
#[cfg(any(test, fuzzing))]
pub(crate) use output::decode_line_serde;
pub use output::{Output, StreamEnd, StreamEvent, StreamItem};
