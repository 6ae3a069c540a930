//! The JSON-RPC 2.0 engine over JSON Lines: framing, ids, the pending table,
//! deadlines and the classification of what the peer sends.
//!
//! This layer knows nothing about Meerkat. It is public as a module (not
//! flattened into the crate root) because its `Client`, `Event` and `Config`
//! would otherwise clash with the Meerkat layer's names.

mod error;
mod id;

pub use error::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, ProtocolError,
};
pub use id::{IncomingId, RequestId};
