//! [`Error`]: everything an SDK call can fail with, with stable
//! [`Error::code`]s. Both transports re-export it as their `Error`: one
//! type, so code written against one transport handles the other's errors.

use std::borrow::Cow;
use std::io;

use crate::RpcError;

/// Everything a call of the SDK can fail with.
///
/// `meerkat-transport-tokio` and `meerkat-transport-blocking` both
/// re-export this type as their `Error`. The [`code`](Self::code) strings match the Python SDK's codes where one
/// exists. Caller mistakes ([`InvalidArgs`](Self::InvalidArgs),
/// [`Closed`](Self::Closed), [`CapabilityUnavailable`](Self::CapabilityUnavailable))
/// are told apart from what the server or the child process did
/// ([`Rpc`](Self::Rpc), [`ConnectionClosed`](Self::ConnectionClosed),
/// [`InvalidResponse`](Self::InvalidResponse), [`TimedOut`](Self::TimedOut)).
///
/// ```
/// use meerkat_proto::Error;
///
/// let err = Error::TimedOut { method: "session/list".into() };
/// assert_eq!(err.code(), "TIMEOUT");
/// assert_eq!(err.to_string(), "session/list timed out");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `rkat-rpc` binary was found in any of the places searched.
    #[error("rkat-rpc not found (tried: {}); {}", tried.join(", "), crate::INSTALL_HINT)]
    BinaryNotFound {
        /// Every place that was tried, in order.
        tried: Vec<String>,
    },
    /// Installing `rkat-rpc` ([`AutoInstall`](crate::AutoInstall)) failed.
    #[error("installing rkat-rpc {version} failed: {message}")]
    InstallFailed {
        /// The version being installed.
        version: String,
        /// What went wrong (with the end of the installer's output).
        message: String,
    },
    /// The server speaks a contract of a line this SDK does not speak.
    #[error("server contract {server} is not compatible with this SDK's {sdk}")]
    VersionMismatch {
        /// The server's contract version.
        server: String,
        /// The contract lines this SDK speaks: `0.5.x or 0.9.x`.
        sdk: String,
    },
    /// The call needs a capability the server does not offer.
    #[error("capability {capability:?} is not available on this server")]
    CapabilityUnavailable {
        /// The capability id (`"skills"`, `"comms"`, `"mob"`, ...).
        capability: String,
    },
    /// `MeerkatClient::close` was called on this client.
    #[error("the client was closed")]
    Closed,
    /// The connection to the server ended without `close` being called: the
    /// child exited, crashed or closed its output.
    #[error("{}", connection_closed_message(reason, exit_status.as_deref(), stderr_tail))]
    ConnectionClosed {
        /// Why the connection ended.
        reason: String,
        /// How the child exited (`"exit status: 1"`, `"signal: 9 (SIGKILL)"`),
        /// if it had exited when the error was made.
        exit_status: Option<String>,
        /// The last lines of the child's stderr (at most 64 KiB).
        stderr_tail: String,
    },
    /// The request's deadline passed before the server answered.
    #[error("{method} timed out")]
    TimedOut {
        /// The method that timed out.
        method: String,
    },
    /// The server's answer did not have the expected shape.
    #[error("invalid response to {method}: {message}")]
    InvalidResponse {
        /// The method whose answer was wrong.
        method: String,
        /// What was wrong with it.
        message: String,
    },
    /// The arguments of the call were invalid (caught before sending).
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The server answered with an error.
    #[error("server error: {0}")]
    Rpc(RpcError),
    /// Too many requests are pending at once (the engine's limit); some
    /// must resolve before more are sent.
    #[error("too many pending requests (limit {limit})")]
    TooManyPending {
        /// The limit.
        limit: usize,
    },
    /// The bytes waiting for the server's stdin reached their bound
    /// ([`ConnectOptions::max_output_bytes`](crate::ConnectOptions::max_output_bytes)):
    /// the server is not reading (or not as fast as requests come). The
    /// request was refused at once and nothing was sent; retry once earlier
    /// requests were written, or give up on the server.
    ///
    /// ```no_run
    /// use meerkat_proto::Error;
    ///
    /// fn back_off(err: &Error) -> bool {
    ///     matches!(err, Error::WriteQueueFull { .. }) || err.code() == "WRITE_QUEUE_FULL"
    /// }
    /// ```
    #[error(
        "{queued} bytes wait for the server's stdin (limit {limit}): the server is not reading"
    )]
    WriteQueueFull {
        /// The bound, in bytes.
        limit: usize,
        /// The bytes waiting when the request was refused.
        queued: usize,
    },
    /// The server's contract line cannot do what was asked; refused before
    /// anything was sent.
    #[error("{what} is not supported by this server: {reason}")]
    Unsupported {
        /// The option or method.
        what: String,
        /// Why.
        reason: String,
    },
    /// An I/O error of the transport (spawning the child, starting threads).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// In a replay ([`ConnectOptions::replay`](crate::ConnectOptions::replay)),
    /// the client wrote something other than what the cassette recorded
    /// next; the recorded and the actual message and their differences
    /// are in it.
    #[error("{0}")]
    ReplayMismatch(Box<crate::cassette::ReplayMismatch>),
}

fn connection_closed_message(reason: &str, status: Option<&str>, stderr: &str) -> String {
    let mut msg = format!("connection to rkat-rpc closed: {reason}");
    if let Some(status) = status {
        msg.push_str(&format!(" ({status})"));
    }
    if !stderr.is_empty() {
        msg.push_str("; stderr:\n");
        msg.push_str(stderr);
    }
    msg
}

impl Error {
    /// A stable, machine-readable code for this error.
    ///
    /// For [`Error::Rpc`] it is the server's nested code when there is one
    /// (`"SESSION_NOT_FOUND"`, ...), else the numeric JSON-RPC code as a
    /// string (`"-32602"`).
    ///
    /// ```
    /// use meerkat_proto::Error;
    ///
    /// assert_eq!(Error::Closed.code(), "CLIENT_CLOSED");
    /// assert_eq!(Error::InvalidArgs("x".into()).code(), "INVALID_ARGS");
    /// ```
    #[must_use]
    pub fn code(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Self::BinaryNotFound { .. } => "BINARY_NOT_FOUND",
            Self::InstallFailed { .. } => "INSTALL_FAILED",
            Self::VersionMismatch { .. } => "VERSION_MISMATCH",
            Self::CapabilityUnavailable { .. } => "CAPABILITY_UNAVAILABLE",
            Self::Closed => "CLIENT_CLOSED",
            Self::ConnectionClosed { .. } => "CONNECTION_CLOSED",
            Self::TimedOut { .. } => "TIMEOUT",
            Self::InvalidResponse { .. } => "INVALID_RESPONSE",
            Self::InvalidArgs(_) => "INVALID_ARGS",
            Self::Rpc(e) => return Cow::Owned(e.code_string()),
            Self::TooManyPending { .. } => "TOO_MANY_PENDING",
            Self::WriteQueueFull { .. } => "WRITE_QUEUE_FULL",
            Self::Unsupported { .. } => "UNSUPPORTED",
            Self::Io(_) => "IO_ERROR",
            Self::ReplayMismatch(_) => "REPLAY_MISMATCH",
        })
    }

    /// The server's error payload, if this is an [`Error::Rpc`].
    #[must_use]
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            Self::Rpc(e) => Some(e),
            _ => None,
        }
    }
}
