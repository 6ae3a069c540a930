//! The typed records the 0.9.x events and results carry (PROTOCOL.md §7.6):
//! who a run is, what started it, why it failed, how an LLM call is retried,
//! why a hook failed, and the provider's token accounting.
//!
//! Records are open-ended: what this SDK does not know of one lands in its
//! `extra` map (and is written back by `Serialize`), so nothing the server
//! sends is dropped. Tagged reasons whose variants change often are kept as
//! JSON values.

use super::content::Prompt;
use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

wire_enum! {
    /// What ended a turn (`terminal_cause_kind`, `data.error.kind` of a turn failure).
    pub enum TerminalCause {
        /// Not classified.
        Unknown = "unknown",
        /// A hook denied.
        HookDenied = "hook_denied",
        /// A hook failed.
        HookFailure = "hook_failure",
        /// The LLM call failed.
        LlmFailure = "llm_failure",
        /// A tool failed.
        ToolFailure = "tool_failure",
        /// Structured output did not validate.
        StructuredOutputValidationFailed = "structured_output_validation_failed",
        /// The token or tool-call budget ran out.
        BudgetExhausted = "budget_exhausted",
        /// The time budget ran out.
        TimeBudgetExceeded = "time_budget_exceeded",
        /// LLM retries ran out.
        RetryExhausted = "retry_exhausted",
        /// `max_turns` was reached.
        TurnLimitReached = "turn_limit_reached",
        /// The runtime could not apply the input.
        RuntimeApplyFailure = "runtime_apply_failure",
        /// A fatal failure.
        FatalFailure = "fatal_failure",
    }
}

wire_enum! {
    /// The class of an agent error (`error_report.class`).
    pub enum ErrorClass {
        /// The LLM provider.
        Llm = "llm",
        /// An operation was refused.
        OperationRefused = "operation_refused",
        /// The session store.
        Store = "store",
        /// A tool.
        Tool = "tool",
        /// A policy could not be decided.
        PolicyIndeterminate = "policy_indeterminate",
        /// An MCP server.
        Mcp = "mcp",
        /// The session does not exist.
        SessionNotFound = "session_not_found",
        /// A budget ran out.
        Budget = "budget",
        /// The output token limit was hit.
        MaxTokens = "max_tokens",
        /// The provider filtered the content.
        ContentFiltered = "content_filtered",
        /// `max_turns` was reached.
        MaxTurns = "max_turns",
        /// The run was cancelled (an interrupt).
        Cancelled = "cancelled",
        /// An invalid state.
        InvalidState = "invalid_state",
        /// An unknown operation.
        OperationNotFound = "operation_not_found",
        /// Sub-agent depth limit.
        DepthLimit = "depth_limit",
        /// Concurrency limit.
        ConcurrencyLimit = "concurrency_limit",
        /// Configuration.
        Config = "config",
        /// Internal error.
        Internal = "internal",
        /// The agent could not be built.
        Build = "build",
        /// Authentication.
        Auth = "auth",
        /// A callback tool result is pending.
        CallbackPending = "callback_pending",
        /// A skill.
        Skill = "skill",
        /// Structured output.
        StructuredOutput = "structured_output",
        /// The output schema is invalid.
        InvalidOutputSchema = "invalid_output_schema",
        /// A hook.
        Hook = "hook",
        /// A terminal failure.
        Terminal = "terminal",
        /// No pending boundary to resume.
        NoPendingBoundary = "no_pending_boundary",
    }
}

/// The transcript lineage of a run (`identity` of 0.9.x run events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunIdentity {
    /// The interaction (one per input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interaction_id: Option<String>,
    /// The run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The delegated objective the run belongs to (mob members).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective_id: Option<String>,
    /// Who authored the input when it was not conversational (`typed_text`,
    /// `runtime_authored`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_input: Option<String>,
    /// Realtime provenance, opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realtime_origin: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a 0.9.x run started from (`run_started.input`, tag `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunInput {
    /// Caller content: text or blocks.
    Content {
        /// The content.
        #[serde(default)]
        content: Prompt,
    },
    /// The run resumes staged tool results; there is no prompt.
    PendingToolResults,
    /// A kind this SDK does not know, kept whole.
    #[serde(untagged)]
    Unknown(Value),
}

impl RunInput {
    /// The text projection of the content (`None` for pending tool results).
    pub fn prompt_text(&self) -> Option<String> {
        match self {
            Self::Content { content } => Some(content.text_projection()),
            _ => None,
        }
    }
}

/// Why a run failed (`run_failed.error_report`, 0.9.x).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorReport {
    /// The class (`llm`, `cancelled`, ...).
    pub class: ErrorClass,
    /// The typed reason (tag `reason_type`: `turn_terminal_cause`,
    /// `llm_provider_error`, ...), kept as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Value>,
    /// The display message.
    pub message: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An LLM call being retried (`retrying.retry`, 0.9.x).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetrySchedule {
    /// What failed.
    pub failure: RetryFailure,
    /// When and how often it is retried.
    pub plan: RetryPlan,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The recoverable failure a retry answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetryFailure {
    /// The provider (`anthropic`, ...).
    pub provider: String,
    /// `rate_limited`, `network_timeout`, `call_timeout`, `retryable_provider_error`.
    pub kind: String,
    /// The provider's `retry-after`, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// How long the failed call took, in ms (timeouts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The display message.
    pub message: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The schedule of a retry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetryPlan {
    /// The retry being scheduled, from 1.
    pub attempt: u32,
    /// Retries allowed.
    pub max_retries: u32,
    /// The backoff computed, in ms.
    pub computed_delay_ms: u64,
    /// The delay actually waited, in ms.
    pub selected_delay_ms: u64,
    /// The provider's hint, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_hint_ms: Option<u64>,
    /// Whether a rate-limit floor raised the delay.
    pub rate_limit_floor_applied: bool,
    /// Whether the time budget capped the delay.
    pub budget_capped: bool,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a hook failed or was refused (`hook_failed.reason`,
/// `hook_launch_refused.reason`, tag `reason_code`, 0.9.x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason_code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HookFailure {
    /// The hook timed out.
    Timeout {
        /// Its timeout.
        #[serde(default)]
        timeout_ms: u64,
    },
    /// The hook failed to run.
    ExecutionFailed {
        /// What went wrong.
        #[serde(default)]
        message: String,
    },
    /// The hook's configuration is invalid.
    ConfigInvalid {
        /// What is wrong.
        #[serde(default)]
        message: String,
    },
    /// A background hook tried to do more than observe.
    ObserveOnlyViolation,
    /// Confinement refused to launch the hook.
    ConfinementRefused {
        /// The refusal, opaque.
        #[serde(default)]
        refusal: Value,
    },
    /// A reason this SDK does not know, kept whole.
    #[serde(untagged)]
    Unknown(Value),
}

impl std::fmt::Display for HookFailure {
    /// The server's display text of the reason.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout { timeout_ms } => write!(f, "hook timed out after {timeout_ms}ms"),
            Self::ExecutionFailed { message } | Self::ConfigInvalid { message } => {
                f.write_str(message)
            }
            Self::ObserveOnlyViolation => f.write_str("background hooks are observe-only"),
            Self::ConfinementRefused { refusal } => f.write_str(&reason_text(refusal)),
            Self::Unknown(v) => f.write_str(&reason_text(v)),
        }
    }
}

/// Why the server truncated a stream: free text on 0.5.x, a typed object
/// tagged by `kind` on 0.9.x (`channel_full`, `stream_lagged{dropped}`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum TruncationReason {
    /// 0.5.x: the reason as text.
    Text(String),
    /// 0.9.x: the typed reason, kept as JSON.
    Typed(Value),
}

impl Default for TruncationReason {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl TruncationReason {
    /// The text (0.5.x) or the `kind` (0.9.x).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text(s) => s,
            Self::Typed(v) => v.get("kind").and_then(Value::as_str).unwrap_or_default(),
        }
    }

    /// Events dropped, when the reason says (`stream_lagged`).
    pub fn dropped(&self) -> Option<u64> {
        match self {
            Self::Typed(v) => v.get("dropped").and_then(Value::as_u64),
            Self::Text(_) => None,
        }
    }
}

impl std::fmt::Display for TruncationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The provider's accounting of one request (`accounting` of a 0.9.x
/// per-request usage row).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TokenAccounting {
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Tokens presented to the model (input side).
    pub presented_tokens: u64,
    /// How the provider counts input components.
    pub convention: String,
    /// How the components were added up.
    pub aggregation: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The structured-output extraction failure of a run (`extraction_error`
/// of a 0.9.x result).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExtractionError {
    /// The main-turn output extraction tried to transform.
    pub last_output: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed.
    pub reason: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A display text for a typed 0.9.x reason object: its `message`, `detail`
/// or text `reason`, else its tag (`kind`, `reason_type`, `reason_code`).
pub(crate) fn reason_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => [
            "message",
            "detail",
            "reason",
            "kind",
            "reason_type",
            "reason_code",
        ]
        .iter()
        .find_map(|k| m.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_are_kept_whole() {
        let r: HookFailure = serde_json::from_str(r#"{"reason_code":"later","x":1}"#).unwrap();
        assert!(matches!(r, HookFailure::Unknown(ref v) if v["x"] == 1));
        let i: RunInput = serde_json::from_str(r#"{"kind":"later"}"#).unwrap();
        assert!(matches!(i, RunInput::Unknown(_)));
        let i: RunInput = serde_json::from_str(r#"{"kind":"content","content":"hi"}"#).unwrap();
        assert_eq!(i.prompt_text().as_deref(), Some("hi"));
        let t: TruncationReason =
            serde_json::from_str(r#"{"kind":"stream_lagged","dropped":3}"#).unwrap();
        assert_eq!((t.as_str(), t.dropped()), ("stream_lagged", Some(3)));
        let h: HookFailure =
            serde_json::from_str(r#"{"reason_code":"timeout","timeout_ms":5}"#).unwrap();
        assert_eq!(h.to_string(), "hook timed out after 5ms");
    }
}
