//! Sans-IO core of the Meerkat Rust SDK.
//!
//! (Crate documentation is completed in the proto issue; see DESIGN.md.)

pub mod rpc;

pub use rpc::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, IncomingId,
    ProtocolError, RequestId, Transmit,
};
