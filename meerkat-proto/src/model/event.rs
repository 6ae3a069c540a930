//! Agent events (PROTOCOL.md §5.6 and §5.9) and their supporting values.

use super::result::{Usage, lenient_usage};
use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

wire_enum! {
    /// Why an LLM call stopped.
    pub enum StopReason {
        /// The model finished.
        EndTurn = "end_turn",
        /// The model asked for tools.
        ToolUse = "tool_use",
        /// The output token limit was hit.
        MaxTokens = "max_tokens",
        /// A stop sequence was hit.
        StopSequence = "stop_sequence",
        /// The provider filtered the content.
        ContentFilter = "content_filter",
        /// The run was cancelled.
        Cancelled = "cancelled",
    }
}

wire_enum! {
    /// Where a hook runs.
    pub enum HookPoint {
        /// Run start.
        RunStarted = "run_started",
        /// Run completion.
        RunCompleted = "run_completed",
        /// Run failure.
        RunFailed = "run_failed",
        /// Before an LLM request.
        PreLlmRequest = "pre_llm_request",
        /// After an LLM response.
        PostLlmResponse = "post_llm_response",
        /// Before a tool runs.
        PreToolExecution = "pre_tool_execution",
        /// After a tool ran.
        PostToolExecution = "post_tool_execution",
        /// Between turns.
        TurnBoundary = "turn_boundary",
    }
}

wire_enum! {
    /// Why a hook denied.
    pub enum HookReasonCode {
        /// Policy.
        PolicyViolation = "policy_violation",
        /// Safety.
        SafetyViolation = "safety_violation",
        /// Schema.
        SchemaViolation = "schema_violation",
        /// Timeout.
        Timeout = "timeout",
        /// Runtime error.
        RuntimeError = "runtime_error",
    }
}

wire_enum! {
    /// Which budget a warning is about.
    pub enum BudgetType {
        /// Tokens.
        Tokens = "tokens",
        /// Wall time (seconds).
        Time = "time",
        /// Tool calls.
        ToolCalls = "tool_calls",
    }
}

impl Default for StopReason {
    fn default() -> Self {
        Self::Other(String::new())
    }
}
impl Default for HookPoint {
    fn default() -> Self {
        Self::Other(String::new())
    }
}
impl Default for HookReasonCode {
    fn default() -> Self {
        Self::Other(String::new())
    }
}
impl Default for BudgetType {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

/// What a hook rewrote (`hook_rewrite_applied.patch`, tag `patch_type`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "patch_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HookPatch {
    /// LLM request parameters.
    LlmRequest {
        /// New max tokens.
        #[serde(default)]
        max_tokens: Option<u32>,
        /// New temperature.
        #[serde(default)]
        temperature: Option<f64>,
        /// New provider params.
        #[serde(default)]
        provider_params: Option<Value>,
    },
    /// The assistant's text.
    AssistantText {
        /// The new text.
        #[serde(default)]
        text: String,
    },
    /// A tool call's arguments.
    ToolArgs {
        /// The new arguments.
        #[serde(default)]
        args: Value,
    },
    /// A tool result.
    ToolResult {
        /// The new content.
        #[serde(default)]
        content: String,
        /// Whether it is an error.
        #[serde(default)]
        is_error: Option<bool>,
    },
    /// The run's result text.
    RunResult {
        /// The new text.
        #[serde(default)]
        text: String,
    },
    /// A patch type this SDK does not know (or a missing one).
    #[default]
    #[serde(other)]
    Unknown,
}

/// A published hook patch (`hook_patch_published.envelope`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HookPatchEnvelope {
    /// Revision number.
    pub revision: u64,
    /// The hook.
    pub hook_id: String,
    /// Where it ran.
    pub point: HookPoint,
    /// The patch.
    pub patch: HookPatch,
    /// RFC 3339 UTC.
    pub published_at: String,
}

/// A live tool configuration change (`tool_config_changed.payload`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ToolConfigChangedPayload {
    /// `add`, `remove` or `reload`.
    pub operation: String,
    /// What changed (a server or tool name).
    pub target: String,
    /// Free text: `pending`, `applied`, `failed: ...`, ...
    pub status: String,
    /// Whether the change was persisted.
    pub persisted: bool,
    /// The turn it applied at.
    pub applied_at_turn: Option<u32>,
    /// 0.5.2: `tool_scope` or `deferred_catalog`.
    pub domain: Option<String>,
    /// 0.5.2: changes to the deferred catalog.
    pub deferred_catalog_delta: Option<Value>,
}

/// One element of a scoped event's `scope_path`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ScopeFrame {
    /// `primary` or `mob_member`.
    pub scope: String,
    /// The session.
    pub session_id: String,
    /// The flow run (mob members).
    pub flow_run_id: Option<String>,
    /// The member (mob members).
    pub member_ref: Option<String>,
}

/// An agent event.
///
/// One struct variant per event type of contract 0.5 (0.5.0 and 0.5.2),
/// plus `Scoped` (an event wrapped with its scope), `Unknown` (a type this
/// SDK does not know, or a payload that does not fit its type: decoding
/// never fails) and two signals the SDK itself emits in a stream:
/// `EventsLost` (the server dropped events: a gap in `seq`) and `Lagged`
/// (the consumer fell behind the stream's memory budget and events were
/// dropped). Missing fields default to empty or zero.
///
/// ```
/// use meerkat_proto::Event;
/// let e = Event::from_payload(r#"{"type":"text_delta","delta":"Hel"}"#);
/// assert_eq!(e, Event::TextDelta { delta: "Hel".into() });
/// let e = Event::from_payload(r#"{"type":"brand_new","x":1}"#);
/// assert!(matches!(e, Event::Unknown { ref event_type, .. } if event_type == "brand_new"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)] // Fields are documented in PROTOCOL.md §5.6; names say what they hold.
pub enum Event {
    /// A run started.
    RunStarted {
        #[serde(default)]
        session_id: String,
        /// The text projection of the input.
        #[serde(default)]
        prompt: String,
    },
    /// A run completed.
    RunCompleted {
        #[serde(default)]
        session_id: String,
        /// The final text.
        #[serde(default)]
        result: String,
        #[serde(default, deserialize_with = "lenient_usage")]
        usage: Usage,
    },
    /// A run failed.
    RunFailed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        error: String,
    },
    /// A hook started.
    HookStarted {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
    },
    /// A hook completed.
    HookCompleted {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        duration_ms: u64,
    },
    /// A hook failed.
    HookFailed {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        error: String,
    },
    /// A hook denied the operation.
    HookDenied {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        reason_code: HookReasonCode,
        #[serde(default)]
        message: String,
        #[serde(default)]
        payload: Value,
    },
    /// A hook rewrote part of the request or response.
    HookRewriteApplied {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        patch: HookPatch,
    },
    /// A hook published a patch.
    HookPatchPublished {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        envelope: HookPatchEnvelope,
    },
    /// An LLM call began.
    TurnStarted {
        #[serde(default)]
        turn_number: u32,
    },
    /// Reasoning text chunk.
    ReasoningDelta {
        #[serde(default)]
        delta: String,
    },
    /// Full reasoning text of the call.
    ReasoningComplete {
        #[serde(default)]
        content: String,
    },
    /// Text chunk.
    TextDelta {
        #[serde(default)]
        delta: String,
    },
    /// Full text of the call.
    TextComplete {
        #[serde(default)]
        content: String,
    },
    /// The model asked for a tool.
    ToolCallRequested {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        args: Value,
    },
    /// A tool result went back to the model.
    ToolResultReceived {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        is_error: bool,
    },
    /// An LLM call finished (final and extraction calls).
    TurnCompleted {
        #[serde(default)]
        stop_reason: StopReason,
        #[serde(default, deserialize_with = "lenient_usage")]
        usage: Usage,
    },
    /// A tool began executing.
    ToolExecutionStarted {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
    },
    /// A tool finished executing.
    ToolExecutionCompleted {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        result: String,
        #[serde(default)]
        is_error: bool,
        #[serde(default)]
        duration_ms: u64,
        #[serde(default)]
        has_images: bool,
    },
    /// A tool timed out.
    ToolExecutionTimedOut {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        timeout_ms: u64,
    },
    /// Context compaction began.
    CompactionStarted {
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        estimated_history_tokens: u64,
        #[serde(default)]
        message_count: u64,
    },
    /// Context compaction finished.
    CompactionCompleted {
        #[serde(default)]
        summary_tokens: u64,
        #[serde(default)]
        messages_before: u64,
        #[serde(default)]
        messages_after: u64,
    },
    /// Context compaction failed.
    CompactionFailed {
        #[serde(default)]
        error: String,
    },
    /// A budget threshold was crossed (`percent`: 1.0 = 100 %).
    BudgetWarning {
        #[serde(default)]
        budget_type: BudgetType,
        #[serde(default)]
        used: u64,
        #[serde(default)]
        limit: u64,
        #[serde(default)]
        percent: f64,
    },
    /// An LLM request is being retried.
    Retrying {
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        max_attempts: u32,
        #[serde(default)]
        error: String,
        #[serde(default)]
        delay_ms: u64,
    },
    /// Skills were resolved for the turn.
    SkillsResolved {
        #[serde(default)]
        skills: Vec<Value>,
        #[serde(default)]
        injection_bytes: u64,
    },
    /// A skill reference could not be resolved.
    SkillResolutionFailed {
        #[serde(default)]
        reference: String,
        #[serde(default)]
        error: String,
    },
    /// A comms interaction completed.
    InteractionComplete {
        #[serde(default)]
        interaction_id: String,
        #[serde(default)]
        result: String,
    },
    /// A comms interaction failed.
    InteractionFailed {
        #[serde(default)]
        interaction_id: String,
        #[serde(default)]
        error: String,
    },
    /// The server truncated the event stream.
    StreamTruncated {
        #[serde(default)]
        reason: String,
    },
    /// The session's tool configuration changed.
    ToolConfigChanged {
        #[serde(default)]
        payload: ToolConfigChangedPayload,
    },
    /// 0.5.2: an interaction waits on a callback.
    InteractionCallbackPending {
        #[serde(default)]
        interaction_id: String,
        #[serde(default)]
        tool_name: String,
        #[serde(default)]
        args: Value,
    },
    /// 0.5.2: a background job completed.
    BackgroundJobCompleted {
        #[serde(default)]
        job_id: String,
        #[serde(default)]
        display_name: String,
        #[serde(default)]
        status: String,
        #[serde(default)]
        detail: String,
    },
    /// An event wrapped with the scope it comes from.
    #[serde(skip)]
    Scoped {
        scope_id: String,
        scope_path: Vec<ScopeFrame>,
        event: Box<Self>,
    },
    /// An event this SDK does not know, or whose payload did not fit its type.
    #[serde(skip)]
    Unknown {
        /// The `type` string ("" when missing).
        event_type: String,
        /// The whole payload.
        data: Value,
    },
    /// SDK signal: the server dropped events (a gap in `seq`).
    #[serde(skip)]
    EventsLost {
        /// How many events are missing.
        missing: u64,
    },
    /// SDK signal: the consumer fell behind the stream's memory budget and
    /// this many events were dropped.
    #[serde(skip)]
    Lagged {
        /// How many events were dropped.
        dropped: u64,
    },
}

impl Event {
    /// Decodes an event payload (an object with `type`). Never fails: what
    /// does not fit becomes [`Event::Unknown`].
    pub fn from_payload(raw: &str) -> Self {
        if let Some(event) = Self::fast_path(raw) {
            return event;
        }
        match serde_json::from_str::<Self>(raw) {
            Ok(e) => e,
            Err(_) => Self::unknown(serde_json::from_str(raw).unwrap_or(Value::Null)),
        }
    }

    /// The hot types of a stream, decoded without serde's buffering of
    /// internally tagged enums: the tag first (other fields skipped), then
    /// the variant's own fields. `None`: take the general path.
    fn fast_path(raw: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Tag<'a> {
            #[serde(rename = "type", borrow)]
            ty: Option<std::borrow::Cow<'a, str>>,
        }
        #[derive(Deserialize)]
        struct Delta {
            #[serde(default)]
            delta: String,
        }
        let tag: Tag<'_> = serde_json::from_str(raw).ok()?;
        match tag.ty.as_deref()? {
            "text_delta" => serde_json::from_str::<Delta>(raw)
                .ok()
                .map(|d| Self::TextDelta { delta: d.delta }),
            "reasoning_delta" => serde_json::from_str::<Delta>(raw)
                .ok()
                .map(|d| Self::ReasoningDelta { delta: d.delta }),
            _ => None,
        }
    }

    /// Decodes an event payload from a JSON value. Never fails.
    pub fn from_value(v: Value) -> Self {
        match Self::deserialize(&v) {
            Ok(e) => e,
            Err(_) => Self::unknown(v),
        }
    }

    fn unknown(data: Value) -> Self {
        let event_type = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Self::Unknown { event_type, data }
    }

    /// The wire `type` of this event (`"scoped"`, `"unknown"`, ... for SDK-made ones).
    pub fn event_type(&self) -> &str {
        match self {
            Self::Unknown { event_type, .. } => event_type,
            Self::Scoped { event, .. } => event.event_type(),
            Self::EventsLost { .. } => "events_lost",
            Self::Lagged { .. } => "lagged",
            other => other.wire_type(),
        }
    }

    fn wire_type(&self) -> &'static str {
        match self {
            Self::RunStarted { .. } => "run_started",
            Self::RunCompleted { .. } => "run_completed",
            Self::RunFailed { .. } => "run_failed",
            Self::HookStarted { .. } => "hook_started",
            Self::HookCompleted { .. } => "hook_completed",
            Self::HookFailed { .. } => "hook_failed",
            Self::HookDenied { .. } => "hook_denied",
            Self::HookRewriteApplied { .. } => "hook_rewrite_applied",
            Self::HookPatchPublished { .. } => "hook_patch_published",
            Self::TurnStarted { .. } => "turn_started",
            Self::ReasoningDelta { .. } => "reasoning_delta",
            Self::ReasoningComplete { .. } => "reasoning_complete",
            Self::TextDelta { .. } => "text_delta",
            Self::TextComplete { .. } => "text_complete",
            Self::ToolCallRequested { .. } => "tool_call_requested",
            Self::ToolResultReceived { .. } => "tool_result_received",
            Self::TurnCompleted { .. } => "turn_completed",
            Self::ToolExecutionStarted { .. } => "tool_execution_started",
            Self::ToolExecutionCompleted { .. } => "tool_execution_completed",
            Self::ToolExecutionTimedOut { .. } => "tool_execution_timed_out",
            Self::CompactionStarted { .. } => "compaction_started",
            Self::CompactionCompleted { .. } => "compaction_completed",
            Self::CompactionFailed { .. } => "compaction_failed",
            Self::BudgetWarning { .. } => "budget_warning",
            Self::Retrying { .. } => "retrying",
            Self::SkillsResolved { .. } => "skills_resolved",
            Self::SkillResolutionFailed { .. } => "skill_resolution_failed",
            Self::InteractionComplete { .. } => "interaction_complete",
            Self::InteractionFailed { .. } => "interaction_failed",
            Self::StreamTruncated { .. } => "stream_truncated",
            Self::ToolConfigChanged { .. } => "tool_config_changed",
            Self::InteractionCallbackPending { .. } => "interaction_callback_pending",
            Self::BackgroundJobCompleted { .. } => "background_job_completed",
            Self::Scoped { .. } => "scoped",
            Self::Unknown { .. } => "unknown",
            Self::EventsLost { .. } => "events_lost",
            Self::Lagged { .. } => "lagged",
        }
    }

    /// Whether this event ends a run (`run_completed` or `run_failed`).
    pub fn is_terminal(&self) -> bool {
        match self {
            Self::RunCompleted { .. } | Self::RunFailed { .. } => true,
            Self::Scoped { event, .. } => event.is_terminal(),
            _ => false,
        }
    }
}
