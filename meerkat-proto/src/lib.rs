//! Sans-IO core of the Meerkat Rust SDK.
//!
//! (Crate documentation is completed in the proto issue; see DESIGN.md.)

mod conn;
mod launch;
mod model;
pub mod rpc;

pub use conn::{DEFAULT_STREAM_BUDGET, Popped, StreamBuffer};
pub use launch::*;
pub use model::*;

pub use rpc::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, IncomingId,
    ProtocolError, RequestId, Transmit,
};
