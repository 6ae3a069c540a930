//! The Meerkat layer: [`Connection`] (handshake, dialect, routing of
//! notifications to turn streams and subscriptions, tool calls) and
//! [`StreamBuffer`], the per-stream memory budget of the transports.

mod buffer;

pub use buffer::{DEFAULT_STREAM_BUDGET, Popped, StreamBuffer};
