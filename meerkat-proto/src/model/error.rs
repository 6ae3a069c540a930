//! Errors of the Meerkat layer: server error payloads, caller misuse and
//! results of the wrong shape.

use super::report::TerminalCause;
use crate::rpc::{CallError, ErrorCode, ErrorObject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The kind of a server error, from its numeric code (PROTOCOL.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// -32700.
    ParseError,
    /// -32600.
    InvalidRequest,
    /// -32601.
    MethodNotFound,
    /// -32602.
    InvalidParams,
    /// -32603 (also how 0.5.x reports failed turns: "turn abandoned: ...").
    InternalError,
    /// -32001.
    SessionNotFound,
    /// -32002.
    SessionBusy,
    /// -32003.
    SessionNotRunning,
    /// -32004.
    DuplicateInput,
    /// -32005.
    RequestCancelled,
    /// -32010.
    ProviderError,
    /// -32011.
    BudgetExhausted,
    /// -32012.
    HookDenied,
    /// -32013.
    AgentError,
    /// -32020.
    CapabilityUnavailable,
    /// -32021.
    SkillNotFound,
    /// -32022.
    SkillResolutionFailed,
    /// -32023 (0.5.2+ / 0.9.x).
    ScheduleNotFound,
    /// -32024 (0.9.x).
    SupervisorRotationIncomplete,
    /// -32025 (0.9.x).
    ScopeDenied,
    /// -32026 (0.9.x).
    HostUnavailable,
    /// -32027 (0.9.x).
    StaleCursor,
    /// -32028 (0.9.x).
    StaleFence,
    /// -32029 (0.9.x).
    MemberReloadRequired,
    /// -32030 (0.9.x).
    InputRefused,
    /// -32031 (0.9.x).
    InputNotReady,
    /// -32032 (0.9.x).
    SessionRuntimeUnavailable,
    /// -32033 (0.9.x).
    ApprovalStoreUnavailable,
    /// -32034 (0.9.x).
    ApprovalConflict,
    /// -32035 (0.9.x).
    ApprovalCommitUnknown,
    /// -32036 (0.9.x).
    StaleDeliveryScope,
    /// -32037 (0.9.x).
    ForkInstructionRefused,
    /// Any other code.
    Other,
}

impl ErrorKind {
    /// The kind of a numeric code.
    pub fn from_code(code: ErrorCode) -> Self {
        match code.0 {
            -32700 => Self::ParseError,
            -32600 => Self::InvalidRequest,
            -32601 => Self::MethodNotFound,
            -32602 => Self::InvalidParams,
            -32603 => Self::InternalError,
            -32001 => Self::SessionNotFound,
            -32002 => Self::SessionBusy,
            -32003 => Self::SessionNotRunning,
            -32004 => Self::DuplicateInput,
            -32005 => Self::RequestCancelled,
            -32010 => Self::ProviderError,
            -32011 => Self::BudgetExhausted,
            -32012 => Self::HookDenied,
            -32013 => Self::AgentError,
            -32020 => Self::CapabilityUnavailable,
            -32021 => Self::SkillNotFound,
            -32022 => Self::SkillResolutionFailed,
            -32023 => Self::ScheduleNotFound,
            -32024 => Self::SupervisorRotationIncomplete,
            -32025 => Self::ScopeDenied,
            -32026 => Self::HostUnavailable,
            -32027 => Self::StaleCursor,
            -32028 => Self::StaleFence,
            -32029 => Self::MemberReloadRequired,
            -32030 => Self::InputRefused,
            -32031 => Self::InputNotReady,
            -32032 => Self::SessionRuntimeUnavailable,
            -32033 => Self::ApprovalStoreUnavailable,
            -32034 => Self::ApprovalConflict,
            -32035 => Self::ApprovalCommitUnknown,
            -32036 => Self::StaleDeliveryScope,
            -32037 => Self::ForkInstructionRefused,
            _ => Self::Other,
        }
    }

    /// The contract's SCREAMING_SNAKE_CASE name, if the code has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::ParseError => "PARSE_ERROR",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::MethodNotFound => "METHOD_NOT_FOUND",
            Self::InvalidParams => "INVALID_PARAMS",
            Self::InternalError => "INTERNAL_ERROR",
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::SessionBusy => "SESSION_BUSY",
            Self::SessionNotRunning => "SESSION_NOT_RUNNING",
            Self::DuplicateInput => "DUPLICATE_INPUT",
            Self::RequestCancelled => "REQUEST_CANCELLED",
            Self::ProviderError => "PROVIDER_ERROR",
            Self::BudgetExhausted => "BUDGET_EXHAUSTED",
            Self::HookDenied => "HOOK_DENIED",
            Self::AgentError => "AGENT_ERROR",
            Self::CapabilityUnavailable => "CAPABILITY_UNAVAILABLE",
            Self::SkillNotFound => "SKILL_NOT_FOUND",
            Self::SkillResolutionFailed => "SKILL_RESOLUTION_FAILED",
            Self::ScheduleNotFound => "SCHEDULE_NOT_FOUND",
            Self::SupervisorRotationIncomplete => "SUPERVISOR_ROTATION_INCOMPLETE",
            Self::ScopeDenied => "SCOPE_DENIED",
            Self::HostUnavailable => "HOST_UNAVAILABLE",
            Self::StaleCursor => "STALE_CURSOR",
            Self::StaleFence => "STALE_FENCE",
            Self::MemberReloadRequired => "MEMBER_RELOAD_REQUIRED",
            Self::InputRefused => "INPUT_REFUSED",
            Self::InputNotReady => "INPUT_NOT_READY",
            Self::SessionRuntimeUnavailable => "SESSION_RUNTIME_UNAVAILABLE",
            Self::ApprovalStoreUnavailable => "APPROVAL_STORE_UNAVAILABLE",
            Self::ApprovalConflict => "APPROVAL_CONFLICT",
            Self::ApprovalCommitUnknown => "APPROVAL_COMMIT_UNKNOWN",
            Self::StaleDeliveryScope => "STALE_DELIVERY_SCOPE",
            Self::ForkInstructionRefused => "FORK_INSTRUCTION_REFUSED",
            Self::Other => return None,
        })
    }
}

/// A server error, with the official SDKs' unwrapping (PROTOCOL.md §6.4):
/// a nested `data.code` (comms errors) or a JSON object in the message wins.
///
/// ```
/// use meerkat_proto::{ErrorCode, ErrorKind, ErrorObject, RpcError};
/// let e = RpcError::from(ErrorObject::new(ErrorCode(-32001), "Session not found: x"));
/// assert_eq!(e.kind, ErrorKind::SessionNotFound);
/// assert_eq!(e.code_string(), "-32001");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RpcError {
    /// The numeric JSON-RPC code.
    pub code: ErrorCode,
    /// Its kind.
    pub kind: ErrorKind,
    /// The message (the nested message when there is one).
    pub message: String,
    /// The symbolic nested code (`data.code`), e.g. `peer_not_found_or_not_trusted`.
    pub nested_code: Option<String>,
    /// Details (`data.details`, else `data.reason`, else `data`).
    pub details: Option<Value>,
    /// The raw `data`.
    pub data: Option<Value>,
}

impl From<ErrorObject> for RpcError {
    fn from(e: ErrorObject) -> Self {
        let mut out = Self {
            code: e.code,
            kind: ErrorKind::from_code(e.code),
            message: e.message.clone(),
            nested_code: None,
            details: e.data.clone(),
            data: e.data.clone(),
        };
        let nested = match &e.data {
            Some(Value::Object(_)) => e.data.clone(),
            _ => serde_json::from_str::<Value>(&e.message)
                .ok()
                .filter(Value::is_object),
        };
        if let Some(Value::Object(m)) = nested {
            out.nested_code = m.get("code").and_then(|c| match c {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            if let Some(msg) = m.get("message").and_then(Value::as_str) {
                out.message = msg.to_owned();
            }
            out.details = m
                .get("details")
                .or_else(|| m.get("reason"))
                .cloned()
                .or_else(|| Some(Value::Object(m.clone())));
        }
        out
    }
}

impl RpcError {
    /// The SDK-level code: the nested code, else the numeric code as a string.
    pub fn code_string(&self) -> String {
        self.nested_code
            .clone()
            .unwrap_or_else(|| self.code.0.to_string())
    }

    /// The typed detail of a failed turn: `data.error` of a 0.9.x turn
    /// failure (`-32010` for LLM failures, `-32603` with kind
    /// `runtime_apply_failure`, ...). `None` for other errors and on 0.5.x,
    /// whose turn failures carry no data.
    ///
    /// ```
    /// use meerkat_proto::{ErrorCode, ErrorObject, RpcError, TerminalCause};
    /// let mut o = ErrorObject::new(ErrorCode(-32010), "turn abandoned: ...");
    /// o.data = Some(serde_json::json!({"error": {"kind": "retry_exhausted",
    ///     "outcome": "failed", "terminal": true, "detail": "retry exhausted"}}));
    /// let f = RpcError::from(o).turn_failure().unwrap();
    /// assert_eq!((f.kind, f.terminal), (TerminalCause::RetryExhausted, true));
    /// ```
    pub fn turn_failure(&self) -> Option<TurnFailure> {
        let error = self.data.as_ref()?.get("error")?;
        error.get("kind")?;
        TurnFailure::deserialize(error).ok()
    }
}

/// Why a turn failed, as 0.9.x reports it in `error.data.error`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TurnFailure {
    /// What ended the turn (`llm_failure`, `retry_exhausted`,
    /// `runtime_apply_failure`, ...).
    pub kind: TerminalCause,
    /// Whether the failure ended the turn.
    pub terminal: bool,
    /// `failed`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The server's diagnostic text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The LLM provider, for LLM failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The model, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Whether trying again may succeed, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// The typed reason (tag `reason_type`: `llm_provider_error`, ...), opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code_string())
    }
}

impl std::error::Error for RpcError {}

/// A command could not be sent: the caller's mistake, not the peer's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The params could not be encoded.
    #[error("could not encode params: {0}")]
    Encode(#[from] serde_json::Error),
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// Too many requests are pending.
    #[error("too many pending requests (limit {limit})")]
    TooManyPending {
        /// The configured limit.
        limit: usize,
    },
    /// This server does not offer what was asked.
    #[error("{method} is not supported by this server: {reason}")]
    Unsupported {
        /// The method or feature.
        method: String,
        /// Why.
        reason: String,
    },
    /// The arguments are invalid.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
}

impl From<crate::rpc::EncodeError> for UsageError {
    fn from(e: crate::rpc::EncodeError) -> Self {
        use crate::rpc::EncodeError as E;
        match e {
            E::Json(j) => Self::Encode(j),
            E::TooManyPending { limit } => Self::TooManyPending { limit },
            _ => Self::Closed,
        }
    }
}

/// A result did not have the shape its method promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {method} result: {message}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The method.
    pub method: String,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    /// Builds a decode error.
    pub fn new(method: impl Into<String>, message: impl fmt::Display) -> Self {
        Self {
            method: method.into(),
            message: message.to_string(),
        }
    }
}

/// Whether a failed `turn/start` (or an interrupted one) leaves the
/// session's input queued on a 0.5.x server, so `runtime/reset` must run
/// before the next turn (fixtures: `hard_error`, `stuck_queue`, `interrupt`).
pub fn needs_runtime_reset(err: &CallError) -> bool {
    match err {
        CallError::Rpc(e) => {
            e.code == ErrorCode::INTERNAL_ERROR
                || e.code.0 == -32005
                || e.message.starts_with("turn abandoned")
                || e.message.starts_with("runtime terminated")
        }
        // A timed-out turn may still be running and then fail: reset too.
        CallError::TimedOut => true,
        _ => false,
    }
}

/// Whether a `runtime/reset` error means "still running, try again"
/// (`-32602 "Runtime not ready: running"`).
pub fn is_runtime_not_ready(err: &ErrorObject) -> bool {
    err.message.starts_with("Runtime not ready")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_codes_unwrap() {
        let mut o = ErrorObject::new(ErrorCode(-32603), "peer 'bob' is not found or not trusted");
        o.data = Some(json!({"code":"peer_not_found_or_not_trusted","peer":"bob",
            "message":"peer 'bob' is not found or not trusted"}));
        let e = RpcError::from(o);
        assert_eq!(e.code_string(), "peer_not_found_or_not_trusted");
        assert_eq!(e.kind, ErrorKind::InternalError);
        let mut o = ErrorObject::new(ErrorCode(-32602), "Command validation failed");
        o.data = Some(
            json!({"code":"invalid_command","message":"Command validation failed",
            "details":[{"field":"to","issue":"required_field"}]}),
        );
        let e = RpcError::from(o);
        assert_eq!(e.details.unwrap()[0]["field"], "to");
        let e = RpcError::from(ErrorObject::new(
            ErrorCode(-1),
            r#"{"code":"X","message":"m"}"#,
        ));
        assert_eq!((e.code_string().as_str(), e.message.as_str()), ("X", "m"));
    }

    #[test]
    fn reset_rules_follow_the_fixtures() {
        let abandoned = ErrorObject::new(
            ErrorCode(-32603),
            "turn abandoned: apply failed: Apply failed: agent error: Run was cancelled",
        );
        assert!(needs_runtime_reset(&CallError::Rpc(abandoned)));
        let busy = ErrorObject::new(ErrorCode(-32001), "Session not found: x");
        assert!(!needs_runtime_reset(&CallError::Rpc(busy)));
        assert!(is_runtime_not_ready(&ErrorObject::new(
            ErrorCode(-32602),
            "Runtime not ready: running"
        )));
    }
}
