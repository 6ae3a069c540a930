//! The typed Meerkat model: options, results, events, capabilities, errors,
//! the contract dialect and one [`Method`] per JSON-RPC method.

mod capability;
mod content;
mod dialect;
mod envelope;
mod error;
mod event;
mod method;
pub mod methods;
mod misc;
mod mob;
mod options;
mod overrides;
mod params;
mod report;
mod result;
mod server;
mod session;
mod skill;
mod tool;
mod v09;
mod wire_enum;

pub use capability::{Capability, CapabilityStatus};
pub use content::{ContentBlock, Prompt};
pub use dialect::{ContractLine, Dialect};
pub use envelope::{
    Attribution, EventEnvelope, EventSource, StreamEndParams, StreamEventParams,
    decode_session_event, decode_stream_end, decode_stream_event,
};
pub(crate) use envelope::{
    LightParams, RunMark, ScannedDelta, decode_session_event_fast, decode_session_event_line,
    route_light, route_session_event,
};
pub use error::{
    DecodeError, ErrorKind, RpcError, TurnFailure, UsageError, is_runtime_not_ready,
    needs_runtime_reset,
};
pub use event::{
    BudgetType, Event, HookPatch, HookPatchEnvelope, HookPoint, HookReasonCode, ScopeFrame,
    StopReason, ToolConfigChangedPayload,
};
pub use method::{Method, Route};
pub use misc::{
    CommsCommand, ConfigEnvelope, HandlingMode, MemberInfo, MemberSendResult, MobAction,
    MobCreated, MobSpec, MobSummary, Peer, PeerAddress, SkillInfo, SkillProvenance, SkillSource,
    SpawnResult, SpawnSpec, StreamClosed, StreamOpened,
};
pub use mob::{
    FlowFailure, FlowRun, FlowRunStatus, FlowStep, MobState, RespawnReceipt, RespawnResult,
    RespawnStatus, StreamOutcome,
};
pub use options::{SessionOptions, TurnOptions};
pub use overrides::{ProviderParams, ReasoningMode, ToolChoice, ToolFilter, TurnToolOverlay};
pub use report::{
    ErrorClass, ErrorReport, ExtractionError, HookFailure, RetryFailure, RetryPlan, RetrySchedule,
    RunIdentity, RunInput, TerminalCause, TokenAccounting, TruncationReason,
};
pub use result::{
    DeferredCreated, RunResult, SchemaWarning, SkillDiagnostics, SourceHealth, Usage,
};
pub use server::{ContractVersion, SDK_CONTRACT_VERSION, ServerInfo};
pub use session::{AssistantBlock, HistoryMessage, SessionHistory, SessionInfo};
pub use skill::{InvalidSkillRef, SkillKey, SkillRef};
pub use tool::{ToolCall, ToolDef, ToolOutput};
pub use v09::{
    CatalogModel, EventCursor, EventPage, HealthStatus, InputLifecycle, InputOutcome,
    InputSelector, InputState, InputTransition, MobDestroyReport, MobDestroyed, MobRunOutcome,
    ModelCatalog, ProviderModels, ReplayScope, ReplayedEvent, RunStopContributor, RunStopOutcome,
    RunStopReceipt, RuntimeHealth, SessionFork, StopCompletion, StopRunResult,
};
