//! The Meerkat layer: [`Connection`] (handshake, dialect, routing of
//! notifications to turn streams and subscriptions, tool calls) and
//! [`StreamBuffer`], the per-stream memory budget of the transports.

mod buffer;
mod config;
mod connection;
mod handshake;
mod output;
mod routing;
mod subscriptions;
mod turns;
mod unbound;

pub use buffer::{DEFAULT_STREAM_BUDGET, Popped, StreamBuffer};
pub use config::{
    ConnectionConfig, DEFAULT_MAX_UNBOUND_EVENTS, DEFAULT_TURN_GRACE, RequestOptions,
};
pub use connection::Connection;
pub use output::{Output, StreamEnd, StreamEvent, StreamItem};
