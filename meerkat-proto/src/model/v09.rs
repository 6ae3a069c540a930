//! The contract 0.9 methods a user reaches for after turns and mobs:
//! stopping one exact run (`turn/stop_run`), forking a session at a
//! message (`session/fork_at`), replaying a session's events from a cursor
//! (`events/latest_cursor`, `events/list_since`), reading an input's
//! stored state (`session/input_status`), a mob as a callable run
//! (`mob/run`, `mob/run_result`), destroying a mob (`mob/destroy`), the
//! model catalog (`models/catalog`, also served by 0.5) and the host's
//! health (`runtime/health`).
//!
//! Params are written exactly as 0.9.8 parses them (its params reject
//! unknown keys); results are lenient (missing fields default, unknown
//! strings are kept as `Other`, unknown fields land in `extra`). The
//! shapes were captured from the real 0.9.8
//! (`tests/fixtures/rkat-rpc-0.9.8/methods.jsonl`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::event::Event;
use super::mob::FlowRunStatus;
use super::wire_enum::wire_enum;

// ---- params ----------------------------------------------------------------

/// Params of `turn/stop_run`: stop the run `run_id` of `session_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StopRunParams {
    /// The session.
    pub session_id: String,
    /// The run to stop (a `run_id` of its events or history).
    pub run_id: String,
    /// Why (recorded by the server; required).
    pub reason: String,
}

impl StopRunParams {
    /// Stop `run_id` of `session_id` for `reason`.
    pub fn new(
        session_id: impl Into<String>,
        run_id: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            run_id: run_id.into(),
            reason: reason.into(),
        }
    }
}

/// Params of `session/fork_at`: a new session with the first
/// `message_index` messages of `session_id` (the system prompt counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ForkAtParams {
    /// The source session (idle: a running one is refused).
    pub session_id: String,
    /// How many of its messages the fork keeps.
    pub message_index: u64,
    /// `"reactivate_inherited"` to carry the source's activated
    /// instructions into the fork; absent, a source with activations is
    /// refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_instructions: Option<String>,
}

impl ForkAtParams {
    /// Fork `session_id` keeping its first `message_index` messages.
    pub fn new(session_id: impl Into<String>, message_index: u64) -> Self {
        Self {
            session_id: session_id.into(),
            message_index,
            inherited_instructions: None,
        }
    }

    /// Carries the source's activated instructions into the fork.
    #[must_use]
    pub fn reactivate_inherited_instructions(mut self) -> Self {
        self.inherited_instructions = Some("reactivate_inherited".into());
        self
    }
}

/// What events are replayed: one session's (`{"type":"session",
/// "session_id"}`, the only scope 0.9.8 has).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReplayScope {
    /// `session`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The session.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ReplayScope {
    /// The events of `session_id`.
    pub fn session(session_id: impl Into<String>) -> Self {
        Self {
            kind: "session".into(),
            session_id: session_id.into(),
            extra: Map::new(),
        }
    }
}

/// A position in a scope's events: replay resumes after `sequence`.
///
/// ```
/// use meerkat_proto::EventCursor;
///
/// let c: EventCursor = serde_json::from_str(
///     r#"{"scope":{"type":"session","session_id":"s1"},"sequence":16}"#,
/// ).unwrap();
/// assert_eq!((c.scope.session_id.as_str(), c.sequence), ("s1", 16));
/// assert_eq!(EventCursor::start("s1").sequence, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EventCursor {
    /// Whose events.
    pub scope: ReplayScope,
    /// The last event seen (0: none yet).
    pub sequence: u64,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EventCursor {
    /// The cursor before the first event of `session_id`.
    pub fn start(session_id: impl Into<String>) -> Self {
        Self {
            scope: ReplayScope::session(session_id),
            sequence: 0,
            extra: Map::new(),
        }
    }
}

/// Params of `events/latest_cursor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LatestCursorParams {
    /// Whose events.
    pub scope: ReplayScope,
}

impl LatestCursorParams {
    /// The latest cursor of `session_id`'s events.
    pub fn session(session_id: impl Into<String>) -> Self {
        Self {
            scope: ReplayScope::session(session_id),
        }
    }
}

/// Params of `events/list_since`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ListSinceParams {
    /// Whose events (the cursor's scope).
    pub scope: ReplayScope,
    /// After this position (`None`: from the first event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<EventCursor>,
    /// At most this many (0.9.8: 100 when `None`, at most 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl ListSinceParams {
    /// The events after `cursor`, at most `limit`.
    pub fn new(cursor: EventCursor, limit: Option<u64>) -> Self {
        Self {
            scope: cursor.scope.clone(),
            cursor: Some(cursor),
            limit,
        }
    }
}

/// Which input `session/input_status` looks up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InputSelector {
    /// The runtime's input id (e.g. a contributor of a
    /// [`RunStopReceipt`]).
    InputId(String),
    /// The caller's idempotency key the input was submitted under.
    IdempotencyKey(String),
}

/// Params of `session/input_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InputStatusParams {
    /// The session.
    pub session_id: String,
    /// Which input.
    pub selector: InputSelector,
}

impl InputStatusParams {
    /// The input `selector` names on `session_id`.
    pub fn new(session_id: impl Into<String>, selector: InputSelector) -> Self {
        Self {
            session_id: session_id.into(),
            selector,
        }
    }
}

/// Params of `mob/run`: run a flow of the mob (`main` when no flow is
/// named) with activation `params`; a `prompt` lands in `params.prompt`
/// unless `params` has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MobRunParams {
    /// The mob.
    pub mob_id: String,
    /// The flow (`None`: `main`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<String>,
    /// A prompt for the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Activation params (an object, or `null` for none).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

impl MobRunParams {
    /// Run `mob_id`'s `main` flow with no params.
    pub fn new(mob_id: impl Into<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            flow_id: None,
            prompt: None,
            params: Value::Null,
        }
    }

    /// Runs this flow instead of `main`.
    #[must_use]
    pub fn flow(mut self, flow_id: impl Into<String>) -> Self {
        self.flow_id = Some(flow_id.into());
        self
    }

    /// Gives the run a prompt.
    #[must_use]
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Sets the activation params (an object).
    #[must_use]
    pub fn params(mut self, params: Value) -> Self {
        self.params = params;
        self
    }
}

// ---- results ---------------------------------------------------------------

wire_enum! {
    /// What `turn/stop_run` found.
    pub enum RunStopOutcome {
        /// The run was stopped; its inputs are the receipt's contributors.
        Stopped = "stopped",
        /// The run is not the session's current one (finished, or never
        /// ran): nothing was stopped.
        NotCurrent = "not_current",
        /// The runtime cannot stop a run in its state
        /// ([`RunStopReceipt::state`]).
        NotStoppable = "not_stoppable",
    }
}

wire_enum! {
    /// How one input of a stopped run was completed.
    pub enum StopCompletion {
        /// Completed.
        Completed = "completed",
        /// Completed without a result.
        CompletedWithoutResult = "completed_without_result",
        /// Waiting for a callback.
        CallbackPending = "callback_pending",
        /// Cancelled.
        Cancelled = "cancelled",
        /// Abandoned.
        Abandoned = "abandoned",
        /// Abandoned with an error.
        AbandonedWithError = "abandoned_with_error",
        /// Completed, but finalising it failed.
        CompletedWithFinalizationFailure = "completed_with_finalization_failure",
        /// The runtime terminated.
        RuntimeTerminated = "runtime_terminated",
    }
}

wire_enum! {
    /// An input's terminal outcome.
    pub enum InputOutcome {
        /// Completed.
        Completed = "completed",
        /// Abandoned.
        Abandoned = "abandoned",
        /// Superseded by a later input.
        Superseded = "superseded",
        /// Merged into another input.
        Coalesced = "coalesced",
        /// Cancelled (a stopped or interrupted run).
        Cancelled = "cancelled",
    }
}

wire_enum! {
    /// Where an input is in its lifecycle.
    pub enum InputLifecycle {
        /// Accepted.
        Accepted = "accepted",
        /// Queued.
        Queued = "queued",
        /// Staged for a run.
        Staged = "staged",
        /// Applied.
        Applied = "applied",
        /// Applied, not consumed yet.
        AppliedPendingConsumption = "applied_pending_consumption",
        /// Consumed.
        Consumed = "consumed",
        /// Superseded.
        Superseded = "superseded",
        /// Coalesced.
        Coalesced = "coalesced",
        /// Abandoned.
        Abandoned = "abandoned",
    }
}

wire_enum! {
    /// A health verdict.
    pub enum HealthStatus {
        /// Healthy.
        Ok = "ok",
        /// Working, impaired.
        Degraded = "degraded",
        /// Not working.
        Unhealthy = "unhealthy",
    }
}

/// What `turn/stop_run` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StopRunResult {
    /// The session.
    pub session_id: String,
    /// What happened.
    pub receipt: RunStopReceipt,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The receipt of `turn/stop_run`, tagged by `outcome`.
///
/// ```
/// use meerkat_proto::{RunStopOutcome, RunStopReceipt, StopCompletion};
///
/// let r: RunStopReceipt = serde_json::from_str(
///     r#"{"outcome":"stopped","run_id":"r1","contributors":
///         [{"input_id":"i1","completion":"cancelled","terminal":"cancelled"}]}"#,
/// ).unwrap();
/// assert_eq!(r.outcome, RunStopOutcome::Stopped);
/// assert_eq!(r.contributors[0].completion, StopCompletion::Cancelled);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunStopReceipt {
    /// What the server found.
    pub outcome: RunStopOutcome,
    /// The run asked for.
    pub run_id: String,
    /// `stopped`: the run's inputs and how each ended.
    pub contributors: Vec<RunStopContributor>,
    /// `not_current`: the session's current run, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_run_id: Option<String>,
    /// `not_stoppable`: the runtime's state (`idle`, `stopped`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One input of a stopped run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunStopContributor {
    /// The input (for [`InputSelector::InputId`]).
    pub input_id: String,
    /// How it was completed.
    pub completion: StopCompletion,
    /// Its terminal outcome, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal: Option<InputOutcome>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `session/fork_at` answers: the new session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionFork {
    /// The session forked from.
    pub source_session_id: String,
    /// The new session.
    pub session_id: String,
    /// `"<realm>:<session_id>"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ref: Option<String>,
    /// Messages the fork starts with.
    pub message_count: u64,
    /// Whether the fork reuses the source's provider cache
    /// (`{"status": "available" | "unavailable", ...}`), opaque.
    pub cache_inheritance: Value,
    /// Activated instructions carried into the fork.
    #[serde(skip_serializing_if = "is_zero")]
    pub reactivated_instruction_count: u64,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A page of replayed events (`events/list_since`).
///
/// Keep [`latest_cursor`](Self::latest_cursor)'s position to resume: the
/// next page starts after the last event of this one
/// ([`next_cursor`](Self::next_cursor)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EventPage {
    /// Whose events.
    pub scope: ReplayScope,
    /// The position this page starts after.
    pub from_cursor: EventCursor,
    /// The scope's newest position when the page was read.
    pub latest_cursor: EventCursor,
    /// The events, oldest first.
    pub events: Vec<ReplayedEvent>,
    /// Whether events after this page were already there.
    pub has_more: bool,
    /// Fields this SDK does not know (`contract_version`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EventPage {
    /// Where the next page starts: after this page's last event, or where
    /// this one started when it is empty.
    pub fn next_cursor(&self) -> EventCursor {
        self.events
            .last()
            .map_or_else(|| self.from_cursor.clone(), |e| e.cursor.clone())
    }
}

/// One replayed event: the agent event and where it sits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReplayedEvent {
    /// Its position (resume after it with this cursor).
    pub cursor: EventCursor,
    /// When it was recorded (Unix milliseconds).
    pub timestamp_ms: u64,
    /// The session it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The run it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The mob, for a member's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mob_id: Option<String>,
    /// The member, for a member's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_identity: Option<String>,
    /// The event, decoded like a live one (an unknown type is
    /// [`Event::Unknown`]).
    #[serde(serialize_with = "event_to_wire", deserialize_with = "event_from_wire")]
    pub event: Event,
    /// Fields this SDK does not know (`event_id`, `source`, `metadata`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for ReplayedEvent {
    fn default() -> Self {
        Self {
            cursor: EventCursor::default(),
            timestamp_ms: 0,
            session_id: None,
            run_id: None,
            mob_id: None,
            agent_identity: None,
            event: Event::from_value(Value::Null),
            extra: Map::new(),
        }
    }
}

fn event_to_wire<S: serde::Serializer>(event: &Event, s: S) -> Result<S::Ok, S::Error> {
    event.to_wire_value().serialize(s)
}

fn event_from_wire<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
    Value::deserialize(d).map(Event::from_value)
}

/// An input's stored state (`session/input_status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InputState {
    /// The input.
    pub input_id: String,
    /// Where it is now.
    pub current_state: InputLifecycle,
    /// How it ended, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_outcome: Option<InputOutcome>,
    /// The key it was submitted under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The last run it was staged for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_id: Option<String>,
    /// Attempts to run it.
    pub attempt_count: u64,
    /// Recoveries after a restart.
    pub recovery_count: u64,
    /// Its transitions, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<InputTransition>,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Fields this SDK does not know (`policy`, `durability`,
    /// `persisted_input`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One transition of an input.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InputTransition {
    /// From this state.
    pub from: InputLifecycle,
    /// To this one.
    pub to: InputLifecycle,
    /// Why (`QueueAccepted`, `StageForRun(<run>)`, `Abandon`, ...).
    pub reason: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A mob run's outcome (`mob/run_result`'s `run`).
///
/// ```
/// use meerkat_proto::{FlowRunStatus, MobRunOutcome};
///
/// let run: MobRunOutcome = serde_json::from_str(
///     r#"{"run_id":"r1","mob_id":"m","flow_id":"main","status":"completed",
///         "outputs":{"summary":"done"}}"#,
/// ).unwrap();
/// assert_eq!(run.status, FlowRunStatus::Completed);
/// assert_eq!(run.outputs["summary"], "done");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MobRunOutcome {
    /// The run.
    pub run_id: String,
    /// Its mob.
    pub mob_id: String,
    /// Its flow.
    pub flow_id: String,
    /// Its state (`pending` and `running` until it ends).
    pub status: FlowRunStatus,
    /// The run's result, once it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Its steps' outputs, by step.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Value>,
    /// Token accounting of the mob's members, opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What `mob/destroy` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MobDestroyed {
    /// The mob.
    pub mob_id: String,
    /// Whether it was destroyed.
    pub ok: bool,
    /// What the destroy cleaned up.
    pub destroy_report: MobDestroyReport,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a mob's destroy cleaned up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MobDestroyReport {
    /// Members destroyed by force.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub force_destroyed_members: Vec<String>,
    /// Remote members left behind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphaned_remote_members: Vec<String>,
    /// Whether remote cleanup ran out of time.
    pub remote_cleanup_deadline_exceeded: bool,
    /// Whether the mob's metadata was scrubbed.
    pub metadata_scrubbed: bool,
    /// Whether its events were cleared.
    pub events_cleared: bool,
    /// Whether its storage was cleaned.
    pub namespace_cleaned: bool,
    /// Cleanup failures, as text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Fields this SDK does not know (`reloaded_members`,
    /// `member_reload_refusals`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The host's health (`runtime/health`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RuntimeHealth {
    /// The verdict.
    pub status: HealthStatus,
    /// Each check's verdict (`jobs`, `session_liveness`, ...).
    pub checks: BTreeMap<String, HealthStatus>,
    /// Fields this SDK does not know (`contract_version`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RuntimeHealth {
    /// Whether the verdict is `ok`.
    pub fn is_ok(&self) -> bool {
        self.status == HealthStatus::Ok
    }
}

/// The model catalog (`models/catalog`): every provider's models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ModelCatalog {
    /// By provider.
    pub providers: Vec<ProviderModels>,
    /// Fields this SDK does not know (`contract_version`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModelCatalog {
    /// The model `id`, of whichever provider.
    pub fn model(&self, id: &str) -> Option<&CatalogModel> {
        self.providers
            .iter()
            .flat_map(|p| &p.models)
            .find(|m| m.id == id)
    }
}

/// One provider's models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ProviderModels {
    /// `anthropic`, `openai`, `gemini`, ...
    pub provider: String,
    /// The model a session of this provider gets by default.
    pub default_model_id: String,
    /// Its models.
    pub models: Vec<CatalogModel>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One model of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CatalogModel {
    /// The id a session names.
    pub id: String,
    /// A name for people.
    pub display_name: String,
    /// `recommended`, `supported`, ...
    pub tier: String,
    /// `stable`, `preview`, ... (0.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_stage: Option<String>,
    /// Context window, in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Input limit, in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// Output limit, in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// A self-hosted server's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
    /// What it supports and its params schema, opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
