//! The request behind every public method of the SDK, once: each function
//! is the [`Call`] of one method of `MeerkatClient`, `Session`,
//! `DeferredSession`, `Mob`, `Member` or `EventSubscription`, and both
//! transports run the same function.
//!
//! ```
//! use meerkat_proto::sdk::ops;
//!
//! let call = ops::session_history("3f2a", 0, Some(10));
//! # let _ = call;
//! ```

use serde_json::Value;

use super::call::{Call, Kind};
use crate::model::methods::{self as m};
use crate::model::{
    CommsCommand, ConfigEnvelope, DeferredCreated, FlowRun, HandlingMode, MemberInfo,
    MemberSendResult, MobAction, MobSpec, MobSummary, Peer, Prompt, RespawnResult, RunResult,
    SessionHistory, SessionInfo, SessionOptions, SkillInfo, SkillRef, SpawnResult, SpawnSpec,
    StreamOpened, ToolDef, TurnOptions,
};
use crate::model::{
    EventCursor, EventPage, InputSelector, InputState, MobDestroyed, MobRunOutcome, ModelCatalog,
    RuntimeHealth, SessionFork, StopRunResult,
};

/// `session/create`: a session and its first turn.
pub fn create_session(options: SessionOptions) -> Call<RunResult> {
    Call::new::<m::SessionCreate, _>(options)
}

/// `session/create` with `initial_turn: "deferred"`.
pub fn create_deferred_session(options: SessionOptions) -> Call<DeferredCreated> {
    Call::new::<m::SessionCreateDeferred, _>(options)
}

/// `session/list`: every session; on 0.9.x (100 by default, 1000 at most
/// a page) page by page until a page is not full.
pub fn list_sessions() -> Call<Vec<SessionInfo>> {
    Call::new::<m::SessionList, _>(m::ListParams::default()).pager(super::pages::Pager {
        method: "session/list",
        items: "sessions",
        next: Box::new(|offset| {
            let params = m::ListParams {
                offset: Some(offset),
                limit: Some(super::pages::MAX_PAGE),
                ..m::ListParams::default()
            };
            Call::new::<m::SessionList, _>(params).map(drop)
        }),
        full_page: Some(super::pages::DEFAULT_PAGE),
        pages_on: |d| d.line() == crate::ContractLine::V0_9,
    })
}

/// `session/read`.
pub fn read_session(session_id: &str) -> Call<SessionInfo> {
    Call::new::<m::SessionRead, _>(m::SessionIdParams::new(session_id))
}

/// `session/history`; with no `limit`, every message from `offset` on,
/// page by page where the server pages (0.9.x serves 100 by default).
pub fn session_history(session_id: &str, offset: u64, limit: Option<u64>) -> Call<SessionHistory> {
    let call =
        Call::new::<m::SessionHistoryGet, _>(m::HistoryParams::new(session_id, offset, limit));
    if limit.is_some() {
        return call;
    }
    let session = session_id.to_owned();
    call.pager(super::pages::Pager {
        method: "session/history",
        items: "messages",
        next: Box::new(move |offset| {
            let params =
                m::HistoryParams::new(session.as_str(), offset, Some(super::pages::MAX_PAGE));
            Call::new::<m::SessionHistoryGet, _>(params).map(drop)
        }),
        full_page: None,
        pages_on: |_| true,
    })
}

/// `turn/start`: a failure that can leave its input queued is followed by
/// a runtime reset before it is reported.
pub fn turn(session_id: &str, prompt: Prompt, options: TurnOptions) -> Call<RunResult> {
    Call::new::<m::TurnStart, _>(m::TurnParams::new(session_id, prompt, options))
        .kind(Kind::Turn(session_id.to_owned()))
}

/// A turn that invokes `skill` (needs the `skills` capability).
pub fn invoke_skill(session_id: &str, skill: SkillRef, prompt: Prompt) -> Call<RunResult> {
    turn(
        session_id,
        prompt,
        TurnOptions::new().skill_refs(vec![skill]),
    )
    .requires("skills")
}

/// `session/archive`.
pub fn archive(session_id: &str) -> Call<()> {
    Call::new::<m::SessionArchive, _>(m::SessionIdParams::new(session_id)).map(drop)
}

/// `turn/interrupt`, followed by a runtime reset where the server would
/// replay the interrupted input.
pub fn interrupt(session_id: &str) -> Call<()> {
    Call::new::<m::TurnInterrupt, _>(m::SessionIdParams::new(session_id))
        .map(drop)
        .kind(Kind::Interrupt(session_id.to_owned()))
}

/// `comms/send` (needs `comms`).
pub fn comms_send(session_id: &str, command: CommsCommand) -> Call<Value> {
    Call::new::<m::CommsSend, _>(m::CommsSendParams::new(session_id, command)).requires("comms")
}

/// `comms/peers` (needs `comms`).
pub fn comms_peers(session_id: &str) -> Call<Vec<Peer>> {
    Call::new::<m::CommsPeers, _>(m::SessionIdParams::new(session_id)).requires("comms")
}

/// `session/stream_open`.
pub fn subscribe_session(session_id: &str) -> Call<StreamOpened> {
    Call::new::<m::SessionStreamOpen, _>(m::SessionIdParams::new(session_id))
        .closer(close_session_stream)
}

/// `session/stream_close`.
pub fn close_session_stream(stream_id: String) -> Call<()> {
    Call::new::<m::SessionStreamClose, _>(m::StreamIdParams::new(stream_id)).map(drop)
}

/// `config/get`.
pub fn get_config() -> Call<ConfigEnvelope> {
    Call::new::<m::ConfigGet, _>(())
}

/// `config/set`.
pub fn set_config(config: Value) -> Call<ConfigEnvelope> {
    Call::new::<m::ConfigSet, _>(m::ConfigSetParams::new(config))
}

/// `config/patch`.
pub fn patch_config(patch: Value) -> Call<ConfigEnvelope> {
    Call::new::<m::ConfigPatch, _>(m::ConfigPatchParams::new(patch))
}

/// `skills/list` (needs `skills`).
pub fn list_skills() -> Call<Vec<SkillInfo>> {
    Call::new::<m::SkillsList, _>(()).requires("skills")
}

/// `tools/register` of one tool; run it with
/// [`Engine::start_register_tool`](super::Engine::start_register_tool), which
/// installs the handler first and drops it if the server refuses the tool.
pub fn register_tool(def: ToolDef) -> Call<()> {
    let name = def.name.clone();
    Call::new::<m::ToolsRegister, _>([def])
        .map(drop)
        .kind(Kind::Register(name, 0))
}

/// `mob/create` (needs `mob`): the new mob's id.
pub fn create_mob(spec: MobSpec) -> Call<String> {
    Call::new::<m::MobCreate, _>(spec).requires("mob")
}

/// `mob/list` (needs `mob`).
pub fn list_mobs() -> Call<Vec<MobSummary>> {
    Call::new::<m::MobList, _>(()).requires("mob")
}

/// `mob/status`.
pub fn mob_status(mob_id: &str) -> Call<MobSummary> {
    Call::new::<m::MobStatus, _>(m::MobIdParams::new(mob_id))
}

/// `mob/lifecycle`.
pub fn mob_lifecycle(mob_id: &str, action: MobAction) -> Call<()> {
    Call::new::<m::MobLifecycle, _>(m::LifecycleParams::new(mob_id, action)).map(drop)
}

/// `mob/spawn`.
pub fn mob_spawn(mob_id: &str, spec: SpawnSpec) -> Call<SpawnResult> {
    Call::new::<m::MobSpawn, _>(m::SpawnParams::new(mob_id, spec))
}

/// `mob/retire`.
pub fn mob_retire(mob_id: &str, member: &str) -> Call<()> {
    Call::new::<m::MobRetire, _>(m::MemberParams::new(mob_id, member)).map(drop)
}

/// `mob/respawn`.
pub fn mob_respawn(mob_id: &str, member: &str) -> Call<RespawnResult> {
    Call::new::<m::MobRespawn, _>(m::MemberParams::new(mob_id, member))
}

/// `mob/wire` of two local members.
pub fn mob_wire(mob_id: &str, member: &str, peer: &str) -> Call<()> {
    Call::new::<m::MobWire, _>(m::WireParams::local(mob_id, member, peer)).map(drop)
}

/// `mob/unwire` of two local members.
pub fn mob_unwire(mob_id: &str, member: &str, peer: &str) -> Call<()> {
    Call::new::<m::MobUnwire, _>(m::WireParams::local(mob_id, member, peer)).map(drop)
}

/// `mob/members`.
pub fn mob_members(mob_id: &str) -> Call<Vec<MemberInfo>> {
    Call::new::<m::MobMembers, _>(m::MobIdParams::new(mob_id))
}

/// `mob/flows`.
pub fn mob_flows(mob_id: &str) -> Call<Vec<String>> {
    Call::new::<m::MobFlows, _>(m::MobIdParams::new(mob_id))
}

/// `mob/flow_run`: the run's id.
pub fn mob_run_flow(mob_id: &str, flow_id: &str, params: Value) -> Call<String> {
    Call::new::<m::MobFlowRun, _>(m::FlowRunParams::new(mob_id, flow_id, params))
}

/// `mob/flow_status`.
pub fn mob_flow_status(mob_id: &str, run_id: &str) -> Call<Option<FlowRun>> {
    Call::new::<m::MobFlowStatus, _>(m::FlowRunIdParams::new(mob_id, run_id))
}

/// `mob/flow_cancel`.
pub fn mob_cancel_flow(mob_id: &str, run_id: &str) -> Call<()> {
    Call::new::<m::MobFlowCancel, _>(m::FlowRunIdParams::new(mob_id, run_id)).map(drop)
}

/// A member's message (`mob/member_send`, or `mob/send` on 0.5.0).
pub fn member_send(
    mob_id: &str,
    member: &str,
    content: Prompt,
    mode: HandlingMode,
) -> Call<MemberSendResult> {
    Call::new::<m::MobMemberSend, _>(m::MemberSendParams::new(mob_id, member, content, mode))
}

/// `mob/stream_open` for the whole mob or one member.
pub fn subscribe_mob(mob_id: &str, member: Option<&str>) -> Call<StreamOpened> {
    Call::new::<m::MobStreamOpen, _>(m::MobStreamParams::new(mob_id, member.map(str::to_owned)))
        .closer(close_mob_stream)
}

/// `mob/stream_close`.
pub fn close_mob_stream(stream_id: String) -> Call<()> {
    Call::new::<m::MobStreamClose, _>(m::StreamIdParams::new(stream_id)).map(drop)
}

/// `turn/stop_run` (0.9): stops the run `run_id` of the session, if it is
/// the current one.
pub fn stop_run(session_id: &str, run_id: &str, reason: &str) -> Call<StopRunResult> {
    Call::new::<m::TurnStopRun, _>(m::StopRunParams::new(session_id, run_id, reason))
}

/// `session/fork_at` (0.9): a new session with the first `message_index`
/// messages of this one.
pub fn fork_at(session_id: &str, message_index: u64) -> Call<SessionFork> {
    Call::new::<m::SessionForkAt, _>(m::ForkAtParams::new(session_id, message_index))
}

/// `events/latest_cursor` (0.9) of a session's events.
pub fn latest_event_cursor(session_id: &str) -> Call<EventCursor> {
    Call::new::<m::EventsLatestCursor, _>(m::LatestCursorParams::session(session_id))
}

/// `events/list_since` (0.9): one page of the events after `cursor`.
pub fn events_since(cursor: EventCursor, limit: Option<u64>) -> Call<EventPage> {
    Call::new::<m::EventsListSince, _>(m::ListSinceParams::new(cursor, limit))
}

/// `session/input_status` (0.9).
pub fn input_status(session_id: &str, selector: InputSelector) -> Call<Option<InputState>> {
    Call::new::<m::SessionInputStatus, _>(m::InputStatusParams::new(session_id, selector))
}

/// `mob/destroy` (0.9).
pub fn mob_destroy(mob_id: &str) -> Call<MobDestroyed> {
    Call::new::<m::MobDestroy, _>(m::MobIdParams::new(mob_id))
}

/// `mob/run` (0.9): the run's id. `flow_id` `None` runs `main`.
pub fn mob_run(mob_id: &str, flow_id: Option<&str>, params: Value) -> Call<String> {
    let mut p = m::MobRunParams::new(mob_id).params(params);
    p.flow_id = flow_id.map(str::to_owned);
    Call::new::<m::MobRun, _>(p)
}

/// `mob/run_result` (0.9).
pub fn mob_run_result(mob_id: &str, run_id: &str) -> Call<Option<MobRunOutcome>> {
    Call::new::<m::MobRunResult, _>(m::FlowRunIdParams::new(mob_id, run_id))
}

/// `models/catalog`.
pub fn models_catalog() -> Call<ModelCatalog> {
    Call::new::<m::ModelsCatalog, _>(())
}

/// `runtime/health` (0.9).
pub fn runtime_health() -> Call<RuntimeHealth> {
    Call::new::<m::RuntimeHealthGet, _>(())
}
