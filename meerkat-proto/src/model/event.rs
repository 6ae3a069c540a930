//! Agent events (PROTOCOL.md §5.6 and §5.9) and their supporting values.

use super::content::{ContentBlock, Prompt};
use super::report::{
    ErrorReport, HookFailure, RetrySchedule, RunIdentity, RunInput, TerminalCause,
    TruncationReason, reason_text,
};
use super::result::{SchemaWarning, Usage, lenient_usage};
use super::skill::SkillKey;
use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

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
        /// 0.9.x: the model refused.
        Refusal = "refusal",
        /// 0.9.x: the provider paused the turn.
        PauseTurn = "pause_turn",
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
        /// 0.9.x: a runtime input was accepted.
        RuntimeInputAccepted = "runtime_input_accepted",
        /// 0.9.x: a runtime input was rejected.
        RuntimeInputRejected = "runtime_input_rejected",
        /// 0.9.x: a runtime input was deduplicated.
        RuntimeInputDeduplicated = "runtime_input_deduplicated",
        /// 0.9.x: peer input was committed.
        PeerIngressCommitted = "peer_ingress_committed",
        /// 0.9.x: output to a peer was committed.
        PeerEgressCommitted = "peer_egress_committed",
        /// 0.9.x: an interaction completed.
        InteractionCompleted = "interaction_completed",
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
    /// 0.9.x: the typed status (tag `kind`), opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_info: Option<Value>,
    /// 0.9.x: whether the change settled (replaces `persisted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled: Option<bool>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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
/// One struct variant per event type of contract 0.5 (0.5.0 and 0.5.2) and
/// 0.9 (0.9.8), plus `Scoped` (an event wrapped with its scope), `Unknown` (a
/// type this SDK does not know, or a payload that does not fit its type:
/// decoding never fails) and two signals the SDK itself emits in a stream:
/// `EventsLost` (the server dropped events: a gap in `seq`) and `Lagged`
/// (the consumer fell behind the stream's memory budget and events were
/// dropped). Missing fields default to empty or zero.
///
/// A variant holds the fields of both lines. Where 0.9 replaced a 0.5 field
/// by a typed one (`run_started.prompt` by `input`, `run_failed.error` by
/// `error_report`, the flat `retrying` fields by `retry`, ...), the typed
/// field is kept and the 0.5 field is filled from it, so code written for
/// 0.5 reads the same values from a 0.9 server. Wire variants are
/// `#[non_exhaustive]`: match them with `..`, so fields a later server
/// adds do not break the match.
///
/// ```
/// use meerkat_proto::Event;
/// let e = Event::from_payload(r#"{"type":"text_delta","delta":"Hel"}"#);
/// assert!(matches!(e, Event::TextDelta { ref delta, .. } if delta == "Hel"));
/// let e = Event::from_payload(r#"{"type":"run_failed","error_report":{"class":"cancelled","message":"Run was cancelled"}}"#);
/// assert!(matches!(e, Event::RunFailed { ref error, .. } if error == "Run was cancelled"));
/// let e = Event::from_payload(r#"{"type":"brand_new","x":1}"#);
/// assert!(matches!(e, Event::Unknown { ref event_type, .. } if event_type == "brand_new"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
#[allow(missing_docs)] // Fields are documented in PROTOCOL.md §5.6 and §7.6; names say what they hold.
pub enum Event {
    /// A run started.
    #[non_exhaustive]
    RunStarted {
        #[serde(default)]
        session_id: String,
        /// The text projection of the input (0.5.x; filled from `input` on 0.9.x).
        #[serde(default)]
        prompt: String,
        /// 0.9.x: what the run started from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Box<RunInput>>,
        /// 0.9.x: the run's lineage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<Box<RunIdentity>>,
        /// 0.9.x: the reasoning effort the run asked for, opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_reasoning: Option<Value>,
    },
    /// A run completed.
    #[non_exhaustive]
    RunCompleted {
        #[serde(default)]
        session_id: String,
        /// The final text.
        #[serde(default)]
        result: String,
        /// 0.9.x: session-cumulative usage.
        #[serde(default, deserialize_with = "lenient_usage")]
        usage: Usage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<Box<RunIdentity>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        structured_output: Option<Value>,
        /// 0.9.x: an `extraction_succeeded` or `extraction_failed` follows.
        #[serde(default)]
        extraction_required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminal_cause_kind: Option<TerminalCause>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// 0.9.x: structured output was extracted after the run completed.
    #[non_exhaustive]
    ExtractionSucceeded {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        structured_output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema_warnings: Option<Vec<SchemaWarning>>,
        /// One row per extraction request.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        request_usage: Vec<Usage>,
        /// `extraction_request` (absent) or `final_reply`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// 0.9.x: structured-output extraction failed after the run completed.
    #[non_exhaustive]
    ExtractionFailed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        last_output: String,
        #[serde(default)]
        attempts: u32,
        #[serde(default)]
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        request_usage: Vec<Usage>,
    },
    /// A run failed.
    #[non_exhaustive]
    RunFailed {
        #[serde(default)]
        session_id: String,
        /// The error text (0.5.x; filled from `error_report.message` on 0.9.x).
        #[serde(default)]
        error: String,
        /// 0.9.x: the typed failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_report: Option<Box<ErrorReport>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<Box<RunIdentity>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminal_cause_kind: Option<TerminalCause>,
    },
    /// A hook started.
    #[non_exhaustive]
    HookStarted {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
    },
    /// A hook completed.
    #[non_exhaustive]
    HookCompleted {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        duration_ms: u64,
    },
    /// A hook failed.
    #[non_exhaustive]
    HookFailed {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        /// The error text (0.5.x; filled from `reason` on 0.9.x).
        #[serde(default)]
        error: String,
        /// 0.9.x: the typed reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<HookFailure>,
    },
    /// A hook denied the operation.
    #[non_exhaustive]
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
    /// 0.5.x: a hook rewrote part of the request or response.
    #[non_exhaustive]
    HookRewriteApplied {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        patch: HookPatch,
    },
    /// 0.5.x: a hook published a patch.
    #[non_exhaustive]
    HookPatchPublished {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default)]
        envelope: HookPatchEnvelope,
    },
    /// 0.9.x: a hook was refused before it ran.
    #[non_exhaustive]
    HookLaunchRefused {
        #[serde(default)]
        hook_id: String,
        #[serde(default)]
        point: HookPoint,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<HookFailure>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
    },
    /// An LLM call began.
    #[non_exhaustive]
    TurnStarted {
        #[serde(default)]
        turn_number: u32,
        /// 0.9.x: the assistant message this call commits, if it commits one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// Reasoning text chunk.
    #[non_exhaustive]
    ReasoningDelta {
        #[serde(default)]
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// Full reasoning text of the call.
    #[non_exhaustive]
    ReasoningComplete {
        #[serde(default)]
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// Text chunk.
    #[non_exhaustive]
    TextDelta {
        #[serde(default)]
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// Full text of the call.
    #[non_exhaustive]
    TextComplete {
        #[serde(default)]
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// 0.9.x: content of a tool the provider ran itself (web search, ...).
    #[non_exhaustive]
    ServerToolContent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// `{"kind": "web_search"}`, ... (opaque).
        #[serde(default)]
        kind: Value,
        #[serde(default)]
        content: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// 0.9.x: an image was appended to an assistant message.
    #[non_exhaustive]
    AssistantImageAppended {
        #[serde(default)]
        image: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// The model asked for a tool.
    #[non_exhaustive]
    ToolCallRequested {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        args: Value,
    },
    /// A tool result went back to the model.
    #[non_exhaustive]
    ToolResultReceived {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        is_error: bool,
        /// 0.9.x: the result itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentBlock>>,
    },
    /// An LLM call finished (0.5.x: final and extraction calls; 0.9.x: every
    /// call that committed a message). On 0.9.x an absent `usage` (no
    /// accounting from the provider) decodes as zero.
    #[non_exhaustive]
    TurnCompleted {
        #[serde(default)]
        stop_reason: StopReason,
        #[serde(default, deserialize_with = "lenient_usage")]
        usage: Usage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// A tool began executing.
    #[non_exhaustive]
    ToolExecutionStarted {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
    },
    /// A tool finished executing. `result` and `has_images` exist on 0.5.x
    /// only: 0.9.x carries the result on [`Event::ToolResultReceived`].
    #[non_exhaustive]
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
    #[non_exhaustive]
    ToolExecutionTimedOut {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        timeout_ms: u64,
    },
    /// Context compaction began.
    #[non_exhaustive]
    CompactionStarted {
        #[serde(default)]
        input_tokens: u64,
        #[serde(default)]
        estimated_history_tokens: u64,
        #[serde(default)]
        message_count: u64,
    },
    /// Context compaction finished.
    #[non_exhaustive]
    CompactionCompleted {
        #[serde(default)]
        summary_tokens: u64,
        #[serde(default)]
        messages_before: u64,
        #[serde(default)]
        messages_after: u64,
        /// 0.9.x: who wrote the summary, opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary_source: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_history_tokens_after: Option<u64>,
    },
    /// Context compaction failed.
    #[non_exhaustive]
    CompactionFailed {
        /// The error text (0.5.x; filled from `reason` on 0.9.x).
        #[serde(default)]
        error: String,
        /// 0.9.x: the typed reason (tag `kind`), opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Value>,
    },
    /// A budget threshold was crossed (`percent`: 1.0 = 100 %).
    #[non_exhaustive]
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
    /// An LLM request is being retried. The flat fields are 0.5.x's; on
    /// 0.9.x they are filled from `retry` (`max_attempts` is
    /// `plan.max_retries`, `delay_ms` is `plan.selected_delay_ms`).
    #[non_exhaustive]
    Retrying {
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        max_attempts: u32,
        #[serde(default)]
        error: String,
        #[serde(default)]
        delay_ms: u64,
        /// 0.9.x: the typed failure and plan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<Box<RetrySchedule>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
    },
    /// Skills were resolved for the turn (0.5.x: id strings; 0.9.x:
    /// `{source_uuid, skill_name}` keys).
    #[non_exhaustive]
    SkillsResolved {
        #[serde(default)]
        skills: Vec<Value>,
        #[serde(default)]
        injection_bytes: u64,
    },
    /// A skill reference could not be resolved.
    #[non_exhaustive]
    SkillResolutionFailed {
        /// 0.5.x; filled from `skill_key` on 0.9.x.
        #[serde(default)]
        reference: String,
        /// 0.5.x; filled from `reason` on 0.9.x.
        #[serde(default)]
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skill_key: Option<SkillKey>,
        /// 0.9.x: the typed reason (tag `reason_type`), opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Value>,
    },
    /// A comms interaction completed.
    #[non_exhaustive]
    InteractionComplete {
        #[serde(default)]
        interaction_id: String,
        #[serde(default)]
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        structured_output: Option<Value>,
    },
    /// A comms interaction failed.
    #[non_exhaustive]
    InteractionFailed {
        #[serde(default)]
        interaction_id: String,
        /// 0.5.x; filled from `reason` on 0.9.x.
        #[serde(default)]
        error: String,
        /// 0.9.x: the typed reason (tag `kind`), opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Value>,
    },
    /// The server truncated the event stream.
    #[non_exhaustive]
    StreamTruncated {
        #[serde(default)]
        reason: TruncationReason,
    },
    /// The session's tool configuration changed.
    #[non_exhaustive]
    ToolConfigChanged {
        #[serde(default)]
        payload: ToolConfigChangedPayload,
    },
    /// 0.5.2+: an interaction waits on a callback.
    #[non_exhaustive]
    InteractionCallbackPending {
        #[serde(default)]
        interaction_id: String,
        #[serde(default)]
        tool_name: String,
        #[serde(default)]
        args: Value,
        /// 0.9.x: every pending callback, opaque.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pending_tool_calls: Vec<Value>,
    },
    /// 0.5.2+: a background job completed.
    #[non_exhaustive]
    BackgroundJobCompleted {
        #[serde(default)]
        job_id: String,
        #[serde(default)]
        display_name: String,
        /// 0.5.2; filled from `terminal_status` on 0.9.x.
        #[serde(default)]
        status: String,
        /// 0.9.x: `completed`, `failed`, `aborted`, `cancelled`, ...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminal_status: Option<String>,
        #[serde(default)]
        detail: String,
    },
    /// 0.9.x: a compatibility record of a transcript rewrite.
    #[non_exhaustive]
    TranscriptRewriteCommitted {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        record: Value,
    },
    /// 0.9.x: the receipt of a transcript rewrite.
    #[non_exhaustive]
    TranscriptRewriteAuditReceiptCommitted {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        receipt: Value,
        #[serde(default)]
        final_assistant_text: Option<String>,
    },
    /// 0.9.x: provider cache breakpoints were dropped at a turn commit.
    #[non_exhaustive]
    ProviderCacheBreakpointsDiscarded {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        retained: u64,
        #[serde(default)]
        discarded: Vec<Value>,
    },
    /// 0.9.x: peer content entered the session's context.
    #[non_exhaustive]
    PeerContentIngested {
        /// `message`, `request`, `response_progress`, `response_terminal`, `lifecycle`.
        #[serde(default)]
        kind: String,
        /// `{id, display_name?}` of the sender.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender_taint: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery_id: Option<String>,
    },
    /// 0.9.x: a turn's provider accounting was absent.
    #[non_exhaustive]
    TurnUsageAccountingUnmeasured {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        unmeasured: Value,
    },
    /// 0.9.x: a turn's accounting named another provider or model.
    #[non_exhaustive]
    TurnUsageAccountingIdentityDisputed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        dispute: Value,
    },
    /// 0.9.x: a model fallback was skipped.
    #[non_exhaustive]
    ModelFallbackSkipped {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<Box<RetrySchedule>>,
        #[serde(default)]
        target: Value,
    },
    /// 0.9.x: a model fallback was staged.
    #[non_exhaustive]
    ModelFallbackStaged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<Box<RetrySchedule>>,
        #[serde(default)]
        previous: Value,
        #[serde(default)]
        target: Value,
    },
    /// 0.9.x: a model fallback was committed.
    #[non_exhaustive]
    ModelFallbackCommitted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry: Option<Box<RetrySchedule>>,
        #[serde(default)]
        previous: Value,
        #[serde(default)]
        target: Value,
    },
    /// 0.9.x: the fallback model failed too.
    #[non_exhaustive]
    ModelFallbackTargetFailed {
        #[serde(default)]
        previous: Value,
        #[serde(default)]
        target: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<Box<ErrorReport>>,
    },
    /// 0.9.x: a runtime input joined the running turn.
    #[non_exhaustive]
    BoundaryAppendApplied {
        #[serde(default)]
        run_id: String,
        #[serde(default)]
        input_id: String,
        /// What the model sees of the appended rows.
        #[serde(default)]
        content: Prompt,
        #[serde(default)]
        append_count: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notices: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transcript_start: Option<u64>,
    },
    /// 0.9.x: boundary appends were discarded.
    #[non_exhaustive]
    BoundaryAppendsDiscarded {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        run_id: String,
        #[serde(default)]
        input_ids: Vec<String>,
    },
    /// 0.9.x: the runtime closed a live channel.
    #[non_exhaustive]
    LiveChannelClosed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        reason: String,
        #[serde(default)]
        reopen_recommended: bool,
    },
    /// 0.9.x: an operation's audit outcome could not be kept.
    #[non_exhaustive]
    OperationObservationFailed {
        #[serde(default)]
        operation_id: String,
        #[serde(default)]
        phase: Value,
    },
    /// 0.9.x: what one provider attempt sent of the requested reasoning effort.
    #[non_exhaustive]
    RequestReasoningLowered {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        turn_number: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback_attempt: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default)]
        requested: Value,
        #[serde(default)]
        baseline: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<Value>,
    },
    /// 0.9.x: a durable run resumed after a restart (instead of `run_started`).
    #[non_exhaustive]
    RunResumed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        run_id: String,
        #[serde(default)]
        round: u64,
        /// `tools_pending` or `awaiting_model`.
        #[serde(default)]
        resume_point: String,
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
    #[non_exhaustive]
    Unknown {
        /// The `type` string ("" when missing).
        event_type: String,
        /// The whole payload.
        data: Value,
        /// Why it did not decode: `None` for a type this SDK does not know
        /// (a newer server), else what was wrong with the payload (a known
        /// type with a field of the wrong shape, not an object, ...).
        reason: Option<String>,
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
            Ok(e) => e.normalized(),
            Err(e) => match serde_json::from_str(raw) {
                Ok(value) => Self::unknown(value, &e),
                Err(syntax) => Self::Unknown {
                    event_type: String::new(),
                    data: Value::Null,
                    reason: Some(format!("not JSON: {syntax}")),
                },
            },
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
            #[serde(default)]
            assistant_message_id: Option<String>,
        }
        let tag: Tag<'_> = serde_json::from_str(raw).ok()?;
        match tag.ty.as_deref()? {
            "text_delta" => serde_json::from_str::<Delta>(raw)
                .ok()
                .map(|d| Self::TextDelta {
                    delta: d.delta,
                    assistant_message_id: d.assistant_message_id,
                }),
            "reasoning_delta" => {
                serde_json::from_str::<Delta>(raw)
                    .ok()
                    .map(|d| Self::ReasoningDelta {
                        delta: d.delta,
                        assistant_message_id: d.assistant_message_id,
                    })
            }
            _ => None,
        }
    }

    /// Decodes an event payload from a JSON value. Never fails.
    pub fn from_value(v: Value) -> Self {
        match Self::deserialize(&v) {
            Ok(e) => e.normalized(),
            Err(e) => Self::unknown(v, &e),
        }
    }

    /// An event that did not decode, with why (none for a type this SDK
    /// does not know: nothing was wrong with it).
    fn unknown(data: Value, err: &impl std::fmt::Display) -> Self {
        let event_type = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let reason = err.to_string();
        let reason = if !data.is_object() {
            Some(format!("the event is not an object: {reason}"))
        } else if reason.starts_with("unknown variant") {
            None
        } else {
            Some(reason)
        };
        Self::Unknown {
            event_type,
            data,
            reason,
        }
    }

    /// Fills the 0.5.x fields of an event decoded from a 0.9.x payload from
    /// the typed fields that replaced them (see the type's doc). A field
    /// the wire carried is never overwritten.
    fn normalized(mut self) -> Self {
        match &mut self {
            Self::RunStarted { prompt, input, .. } if prompt.is_empty() => {
                if let Some(text) = input.as_deref().and_then(RunInput::prompt_text) {
                    *prompt = text;
                }
            }
            Self::RunFailed {
                error,
                error_report: Some(report),
                ..
            } if error.is_empty() => error.clone_from(&report.message),
            Self::HookFailed {
                error,
                reason: Some(reason),
                ..
            } if error.is_empty() => *error = reason.to_string(),
            Self::CompactionFailed {
                error,
                reason: Some(reason),
            }
            | Self::InteractionFailed {
                error,
                reason: Some(reason),
                ..
            } if error.is_empty() => *error = reason_text(reason),
            Self::SkillResolutionFailed {
                reference,
                error,
                skill_key,
                reason,
            } => {
                if let (true, Some(key)) = (reference.is_empty(), skill_key) {
                    *reference = key.to_string();
                }
                if let (true, Some(reason)) = (error.is_empty(), reason) {
                    *error = reason_text(reason);
                }
            }
            Self::Retrying {
                attempt,
                max_attempts,
                error,
                delay_ms,
                retry: Some(retry),
                ..
            } => {
                if *attempt == 0 {
                    *attempt = retry.plan.attempt;
                }
                if *max_attempts == 0 {
                    *max_attempts = retry.plan.max_retries;
                }
                if error.is_empty() {
                    error.clone_from(&retry.failure.message);
                }
                if *delay_ms == 0 {
                    *delay_ms = retry.plan.selected_delay_ms;
                }
            }
            Self::BackgroundJobCompleted {
                status,
                terminal_status: Some(terminal),
                ..
            } if status.is_empty() => status.clone_from(terminal),
            _ => {}
        }
        self
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
            Self::ExtractionSucceeded { .. } => "extraction_succeeded",
            Self::ExtractionFailed { .. } => "extraction_failed",
            Self::RunFailed { .. } => "run_failed",
            Self::HookStarted { .. } => "hook_started",
            Self::HookCompleted { .. } => "hook_completed",
            Self::HookFailed { .. } => "hook_failed",
            Self::HookDenied { .. } => "hook_denied",
            Self::HookRewriteApplied { .. } => "hook_rewrite_applied",
            Self::HookPatchPublished { .. } => "hook_patch_published",
            Self::HookLaunchRefused { .. } => "hook_launch_refused",
            Self::TurnStarted { .. } => "turn_started",
            Self::ReasoningDelta { .. } => "reasoning_delta",
            Self::ReasoningComplete { .. } => "reasoning_complete",
            Self::TextDelta { .. } => "text_delta",
            Self::TextComplete { .. } => "text_complete",
            Self::ServerToolContent { .. } => "server_tool_content",
            Self::AssistantImageAppended { .. } => "assistant_image_appended",
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
            Self::TranscriptRewriteCommitted { .. } => "transcript_rewrite_committed",
            Self::TranscriptRewriteAuditReceiptCommitted { .. } => {
                "transcript_rewrite_audit_receipt_committed"
            }
            Self::ProviderCacheBreakpointsDiscarded { .. } => {
                "provider_cache_breakpoints_discarded"
            }
            Self::PeerContentIngested { .. } => "peer_content_ingested",
            Self::TurnUsageAccountingUnmeasured { .. } => "turn_usage_accounting_unmeasured",
            Self::TurnUsageAccountingIdentityDisputed { .. } => {
                "turn_usage_accounting_identity_disputed"
            }
            Self::ModelFallbackSkipped { .. } => "model_fallback_skipped",
            Self::ModelFallbackStaged { .. } => "model_fallback_staged",
            Self::ModelFallbackCommitted { .. } => "model_fallback_committed",
            Self::ModelFallbackTargetFailed { .. } => "model_fallback_target_failed",
            Self::BoundaryAppendApplied { .. } => "boundary_append_applied",
            Self::BoundaryAppendsDiscarded { .. } => "boundary_appends_discarded",
            Self::LiveChannelClosed { .. } => "live_channel_closed",
            Self::OperationObservationFailed { .. } => "operation_observation_failed",
            Self::RequestReasoningLowered { .. } => "request_reasoning_lowered",
            Self::RunResumed { .. } => "run_resumed",
            Self::Scoped { .. } => "scoped",
            Self::Unknown { .. } => "unknown",
            Self::EventsLost { .. } => "events_lost",
            Self::Lagged { .. } => "lagged",
        }
    }

    /// Whether this event is the last of a run: `run_failed`,
    /// `run_completed`, or, when a 0.9.x `run_completed` says
    /// `extraction_required`, the `extraction_succeeded` or
    /// `extraction_failed` that follows it.
    pub fn is_terminal(&self) -> bool {
        match self {
            Self::RunCompleted {
                extraction_required,
                ..
            } => !extraction_required,
            Self::RunFailed { .. }
            | Self::ExtractionSucceeded { .. }
            | Self::ExtractionFailed { .. } => true,
            Self::Scoped { event, .. } => event.is_terminal(),
            _ => false,
        }
    }

    /// The payload as it travels: the typed fields for a known event, the
    /// payload as received for [`Event::Unknown`], the inner event for
    /// [`Event::Scoped`], and `{"type": "events_lost" | "lagged", ...}` for
    /// the SDK's signals. Unlike `Serialize` (which refuses the SDK-made
    /// variants), this never fails.
    pub fn to_wire_value(&self) -> Value {
        match self {
            Self::Unknown { data, .. } => data.clone(),
            Self::Scoped { event, .. } => event.to_wire_value(),
            Self::EventsLost { missing } => json!({"type": "events_lost", "missing": missing}),
            Self::Lagged { dropped } => json!({"type": "lagged", "dropped": dropped}),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_that_does_not_decode_says_why_and_a_new_type_does_not() {
        let reason = |raw: &str| match Event::from_payload(raw) {
            Event::Unknown {
                event_type, reason, ..
            } => (event_type, reason),
            other => panic!("decoded: {other:?}"),
        };
        assert_eq!(
            reason(r#"{"type":"brand_new","x":1}"#),
            ("brand_new".into(), None)
        );
        let (ty, why) = reason(r#"{"type":"run_completed","session_id":7}"#);
        assert_eq!(ty, "run_completed");
        assert!(why.is_some_and(|w| w.contains("invalid type")));
        let (ty, why) = reason("[1,2]");
        assert_eq!(ty, "");
        assert!(why.is_some_and(|w| w.contains("not an object")));
        let (_, why) = reason(r#"{"no_type":1}"#);
        assert!(why.is_some_and(|w| w.contains("type")));
    }

    /// Whether `typed` has every key and value of `wire` (`null` may be absent).
    fn covers(wire: &Value, typed: Option<&Value>) -> bool {
        match (wire, typed) {
            (Value::Null, None | Some(Value::Null)) => true,
            (Value::Object(w), Some(Value::Object(t))) => {
                w.iter().all(|(k, v)| covers(v, t.get(k)))
            }
            (Value::Array(w), Some(Value::Array(t))) => {
                w.len() == t.len() && w.iter().zip(t).all(|(a, b)| covers(a, Some(b)))
            }
            (Value::Number(w), Some(Value::Number(t))) => w.as_f64() == t.as_f64(),
            (w, Some(t)) => w == t,
            (_, None) => false,
        }
    }

    /// 0.9.8 payloads of the types the transcripts do not show, written
    /// after `meerkat-core` 0.9.8's serde shapes and tests.
    const NINE: &[&str] = &[
        r#"{"type":"run_started","session_id":"s","input":{"kind":"pending_tool_results"},"request_reasoning":{"level":"high"}}"#,
        r#"{"type":"run_completed","session_id":"s","identity":{"run_id":"r","objective_id":"o","realtime_origin":{"provider_item_ids":["i"]}},"result":"{}","structured_output":{"a":1},"extraction_required":true,"usage":{"input_tokens":5,"output_tokens":3,"cache_creation_tokens":null,"cache_read_tokens":2,"reasoning_tokens":1,"provider_accounting":{"provider":"openai","model":"m","presented_tokens":7,"convention":"c","aggregation":"a"}},"terminal_cause_kind":"structured_output_validation_failed","assistant_message_id":"m1"}"#,
        r#"{"type":"extraction_succeeded","session_id":"s","structured_output":{"a":1},"schema_warnings":[{"provider":"gemini","path":"/x","message":"dropped"}],"origin":"final_reply"}"#,
        r#"{"type":"extraction_failed","session_id":"s","last_output":"nope","attempts":2,"reason":"invalid","request_usage":[{"input_tokens":1,"output_tokens":1,"cache_creation_tokens":null,"cache_read_tokens":null,"accounting":{"provider":"anthropic","model":"m","presented_tokens":1,"convention":"c","aggregation":"a"}}]}"#,
        r#"{"type":"hook_failed","hook_id":"h","point":"pre_tool_execution","reason":{"reason_code":"timeout","timeout_ms":5000}}"#,
        r#"{"type":"hook_launch_refused","hook_id":"guard-start","point":"run_started","reason":{"reason_code":"execution_failed","message":"spawn setup failed"},"tool_use_id":"t1"}"#,
        r#"{"type":"hook_failed","hook_id":"h","point":"runtime_input_accepted","reason":{"reason_code":"confinement_refused","refusal":{"kind":"network","detail":"denied"}}}"#,
        r#"{"type":"reasoning_complete","content":"hmm","assistant_message_id":"m1"}"#,
        r#"{"type":"server_tool_content","id":"st1","kind":{"kind":"web_search"},"content":{"results":[1]},"assistant_message_id":"m1"}"#,
        r#"{"type":"assistant_image_appended","image":{"media_type":"image/png","blob_id":"b"},"assistant_message_id":"m1"}"#,
        r#"{"type":"tool_result_received","id":"t","name":"n","content":[{"type":"text","text":"a"},{"type":"structured","data":{"rows":[1,2]}},{"type":"image","media_type":"image/png","source":"blob","blob_id":"b1"}],"is_error":true}"#,
        r#"{"type":"tool_call_requested","id":"t","name":"n","args":{"q":1}}"#,
        r#"{"type":"turn_completed","stop_reason":"refusal","assistant_message_id":"m1"}"#,
        r#"{"type":"compaction_completed","summary_tokens":5,"messages_before":9,"messages_after":2,"summary_source":{"kind":"llm","history_tokens":100},"estimated_history_tokens_after":40}"#,
        r#"{"type":"compaction_failed","reason":{"kind":"llm_failed","error_class":"llm","message":"boom"}}"#,
        r#"{"type":"skills_resolved","skills":[{"source_uuid":"u","skill_name":"n"}],"injection_bytes":12}"#,
        r#"{"type":"skill_resolution_failed","skill_key":{"source_uuid":"u","skill_name":"n"},"reason":{"reason_type":"not_found","key":{"source_uuid":"u","skill_name":"n"}}}"#,
        r#"{"type":"interaction_complete","interaction_id":"i","result":"ok","structured_output":[1]}"#,
        r#"{"type":"interaction_callback_pending","interaction_id":"i","tool_name":"t","args":{},"pending_tool_calls":[{"tool_use_id":"x","tool_name":"t","args":{}}]}"#,
        r#"{"type":"interaction_failed","interaction_id":"550e8400-e29b-41d4-a716-446655440001","reason":{"kind":"abandoned","detail":"timeout"},"error":"timeout"}"#,
        r#"{"type":"stream_truncated","reason":{"kind":"stream_lagged","dropped":1}}"#,
        r#"{"type":"tool_config_changed","payload":{"operation":"add","target":"fs","status_info":{"kind":"boundary_applied","base_changed":true,"visible_changed":true,"revision":3},"settled":true,"applied_at_turn":2}}"#,
        r#"{"type":"background_job_completed","job_id":"j_123","display_name":"sleep 2","terminal_status":"failed","detail":"exit_code: 1"}"#,
        r#"{"type":"transcript_rewrite_committed","session_id":"s","record":{"revision":1}}"#,
        r#"{"type":"transcript_rewrite_audit_receipt_committed","session_id":"s","receipt":{"batch":[1]},"final_assistant_text":null}"#,
        r#"{"type":"provider_cache_breakpoints_discarded","session_id":"s","retained":1,"discarded":[{"origin":"inherited"}]}"#,
        r#"{"type":"peer_content_ingested","kind":"request","peer":{"id":"p","display_name":"w1"},"request_id":"q","sender_taint":{"level":"clean"},"delivery_id":"d"}"#,
        r#"{"type":"turn_usage_accounting_unmeasured","session_id":"s","unmeasured":{"provider":"openai","model":"m"}}"#,
        r#"{"type":"turn_usage_accounting_identity_disputed","session_id":"s","dispute":{"reported":{"model":"x"}}}"#,
        r#"{"type":"model_fallback_skipped","retry":{"failure":{"provider":"anthropic","kind":"rate_limited","retry_after_ms":900,"message":"slow down"},"plan":{"attempt":2,"max_retries":3,"computed_delay_ms":800,"selected_delay_ms":900,"retry_after_hint_ms":900,"rate_limit_floor_applied":true,"budget_capped":false}},"target":{"model":"b"}}"#,
        r#"{"type":"model_fallback_staged","retry":{"failure":{"provider":"a","kind":"call_timeout","duration_ms":5,"message":"m"},"plan":{"attempt":1,"max_retries":1,"computed_delay_ms":0,"selected_delay_ms":0,"rate_limit_floor_applied":false,"budget_capped":false}},"previous":{"model":"a"},"target":{"model":"b"}}"#,
        r#"{"type":"model_fallback_committed","retry":{"failure":{"provider":"a","kind":"call_timeout","message":"m"},"plan":{"attempt":1,"max_retries":1,"computed_delay_ms":0,"selected_delay_ms":0,"rate_limit_floor_applied":false,"budget_capped":false}},"previous":{"model":"a"},"target":{"model":"b"}}"#,
        r#"{"type":"model_fallback_target_failed","previous":{"model":"a"},"target":{"model":"b"},"error":{"class":"auth","message":"no key"}}"#,
        r#"{"type":"boundary_append_applied","run_id":"r","input_id":"i","content":"legacy model projection","append_count":1,"notices":[{"kind":"background_job"}],"transcript_start":4}"#,
        r#"{"type":"boundary_appends_discarded","session_id":"s","run_id":"r","input_ids":["a","b"]}"#,
        r#"{"type":"live_channel_closed","session_id":"s","channel_id":"c","reason":"media_fault","reopen_recommended":true}"#,
        r#"{"type":"operation_observation_failed","operation_id":"op","phase":"outcome"}"#,
        r#"{"type":"request_reasoning_lowered","turn_number":1,"provider":"anthropic","model":"m","requested":{"level":"high"},"baseline":{"kind":"absent"},"outcome":{"kind":"sent"}}"#,
        r#"{"type":"run_resumed","session_id":"s","run_id":"r","round":2,"resume_point":"tools_pending"}"#,
    ];

    #[test]
    fn every_nine_line_type_decodes_typed_and_whole() {
        for payload in NINE {
            let wire: Value = serde_json::from_str(payload).unwrap();
            let event = Event::from_payload(payload);
            assert!(!matches!(event, Event::Unknown { .. }), "{payload}");
            assert_eq!(event.event_type(), wire["type"], "{payload}");
            let typed = event.to_wire_value();
            assert!(covers(&wire, Some(&typed)), "{payload}\n -> {typed}");
        }
    }

    #[test]
    fn nine_line_fields_fill_the_five_line_ones() {
        let e = |i: usize| Event::from_payload(NINE[i]);
        assert!(
            matches!(e(4), Event::HookFailed { ref error, .. } if error == "hook timed out after 5000ms")
        );
        assert!(matches!(e(14), Event::CompactionFailed { ref error, .. } if error == "boom"));
        assert!(matches!(
            e(16),
            Event::SkillResolutionFailed { ref reference, ref error, .. }
                if reference == "u/n" && error == "not_found"
        ));
        // A 0.5 field the wire carries is kept as it is.
        assert!(matches!(e(19), Event::InteractionFailed { ref error, .. } if error == "timeout"));
        assert!(matches!(
            e(20),
            Event::StreamTruncated { ref reason } if reason.as_str() == "stream_lagged" && reason.dropped() == Some(1)
        ));
        assert!(
            matches!(e(22), Event::BackgroundJobCompleted { ref status, .. } if status == "failed")
        );
        assert!(matches!(
            e(0),
            Event::RunStarted { ref prompt, input: Some(ref i), .. }
                if prompt.is_empty() && matches!(**i, RunInput::PendingToolResults)
        ));
        let Event::RunCompleted { usage, .. } = e(1) else {
            panic!()
        };
        assert_eq!(usage.reasoning_tokens, Some(1));
        assert_eq!(usage.provider_accounting.unwrap().presented_tokens, 7);
        let Event::ToolResultReceived {
            content: Some(blocks),
            ..
        } = e(10)
        else {
            panic!()
        };
        assert!(matches!(blocks[1], ContentBlock::Unknown(ref v) if v["type"] == "structured"));
        let retrying = Event::from_payload(
            r#"{"type":"retrying","retry":{"failure":{"provider":"anthropic","kind":"network_timeout","duration_ms":30000,"message":"Network timeout after 30000ms"},"plan":{"attempt":1,"max_retries":3,"computed_delay_ms":484,"selected_delay_ms":484,"rate_limit_floor_applied":false,"budget_capped":false}}}"#,
        );
        assert!(matches!(
            retrying,
            Event::Retrying { attempt: 1, max_attempts: 3, delay_ms: 484, ref error, .. }
                if error == "Network timeout after 30000ms"
        ));
    }
}
