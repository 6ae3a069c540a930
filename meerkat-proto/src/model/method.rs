//! The `Method` trait: one typed description per JSON-RPC method.

use super::dialect::Dialect;
use super::error::{DecodeError, UsageError};
use serde_json::value::RawValue;

/// How the `Connection` routes the notifications that belong to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// An ordinary request.
    Plain,
    /// A run-immediately `session/create`: its events arrive before the
    /// session id is known.
    Create,
    /// A `turn/start` on a known session.
    Turn,
    /// `session/stream_open`: a standalone subscription.
    SessionSubscription,
    /// `mob/stream_open`: a mob subscription.
    MobSubscription,
}

/// A JSON-RPC method: its name in a dialect, how its params are written and
/// how its result is read.
pub trait Method {
    /// What the caller supplies.
    type Params: ?Sized;
    /// What the result decodes to.
    type Output;
    /// How notifications of this request are routed.
    const ROUTE: Route = Route::Plain;

    /// The wire method name for this dialect.
    ///
    /// # Errors
    /// [`UsageError::Unsupported`] when the server does not offer it.
    fn name(dialect: &Dialect) -> Result<&'static str, UsageError>;

    /// The wire params (`None` to omit them).
    ///
    /// # Errors
    /// [`UsageError`] when the params cannot be written for this dialect.
    fn encode_params(
        params: &Self::Params,
        dialect: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError>;

    /// Reads the result.
    ///
    /// # Errors
    /// [`DecodeError`] when the result does not have the expected shape.
    fn decode_result(raw: &RawValue, dialect: &Dialect) -> Result<Self::Output, DecodeError>;

    /// The session a turn runs on, for routing (`Route::Turn`).
    fn session_id(_params: &Self::Params) -> Option<&str> {
        None
    }
}
