//! One type per JSON-RPC method, implementing [`Method`].
//!
//! Transports call them as `connection.request::<methods::TurnStart>(&params, opts)`.

use super::content::Prompt;
use super::dialect::Dialect;
use super::error::{DecodeError, UsageError};
use super::method::{Method, Route};
use super::misc::{
    CommsCommand, ConfigEnvelope, HandlingMode, MemberInfo, MemberSendResult, MobAction,
    MobCreated, MobSpec, MobSummary, Peer, SkillInfo, SpawnResult, SpawnSpec, StreamClosed,
    StreamOpened,
};
use super::mob::{FlowRun, RespawnResult};
use super::options::{SessionOptions, TurnOptions};
use super::result::{DeferredCreated, RunResult};
use super::session::{SessionHistory, SessionInfo};
use super::tool::ToolDef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn to_raw<T: Serialize + ?Sized>(v: &T) -> Result<Option<Box<RawValue>>, UsageError> {
    Ok(Some(serde_json::value::to_raw_value(v)?))
}

fn decode<T: DeserializeOwned>(method: &str, raw: &RawValue) -> Result<T, DecodeError> {
    serde_json::from_str(raw.get()).map_err(|e| DecodeError::new(method, e))
}

/// Decodes `field` of an object result (missing => default).
fn decode_field<T: DeserializeOwned + Default>(
    method: &str,
    raw: &RawValue,
    field: &str,
) -> Result<T, DecodeError> {
    let v: Value = decode(method, raw)?;
    match v.get(field) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(f) => T::deserialize(f).map_err(|e| DecodeError::new(method, e)),
    }
}

/// Declares a method whose params serialise as they are and whose result
/// decodes with serde (`=> field` decodes one field of the result object).
macro_rules! simple_method {
    ($(#[$doc:meta])* $name:ident, $wire:literal, $params:ty, $out:ty $(, route $route:ident)? $(=> $field:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub struct $name;

        impl Method for $name {
            type Params = $params;
            type Output = $out;
            $(const ROUTE: Route = Route::$route;)?

            fn name(_: &Dialect) -> Result<&'static str, UsageError> {
                Ok($wire)
            }

            fn encode_params(p: &$params, _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
                to_raw(p)
            }

            fn decode_result(raw: &RawValue, _: &Dialect) -> Result<$out, DecodeError> {
                simple_method!(@decode $wire, raw $(, $field)?)
            }
        }
    };
    (@decode $wire:literal, $raw:ident) => { decode($wire, $raw) };
    (@decode $wire:literal, $raw:ident, $field:literal) => { decode_field($wire, $raw, $field) };
}

/// `{"session_id"}` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionIdParams {
    /// The session.
    pub session_id: String,
}

impl SessionIdParams {
    /// Params naming `session_id`.
    pub fn new(session_id: impl Into<String>) -> Self {
        Self {
            session_id: session_id.into(),
        }
    }
}

/// `{"stream_id"}` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamIdParams {
    /// The stream.
    pub stream_id: String,
}

impl StreamIdParams {
    /// Params naming `stream_id`.
    pub fn new(stream_id: impl Into<String>) -> Self {
        Self {
            stream_id: stream_id.into(),
        }
    }
}

/// `{"mob_id"}` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MobIdParams {
    /// The mob.
    pub mob_id: String,
}

impl MobIdParams {
    /// Params naming `mob_id`.
    pub fn new(mob_id: impl Into<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
        }
    }
}

/// Params of `turn/start`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TurnParams {
    /// The session.
    pub session_id: String,
    /// The prompt.
    pub prompt: Prompt,
    /// Per-turn options.
    pub options: TurnOptions,
}

impl TurnParams {
    /// A turn of `prompt` on `session_id`.
    pub fn new(
        session_id: impl Into<String>,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            prompt: prompt.into(),
            options,
        }
    }
}

/// Params of `session/list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ListParams {
    /// Only sessions with all these labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Skip this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// At most this many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Params of `session/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HistoryParams {
    /// The session.
    pub session_id: String,
    /// First message.
    pub offset: u64,
    /// At most this many (all when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl HistoryParams {
    /// A page of `session_id`'s transcript.
    pub fn new(session_id: impl Into<String>, offset: u64, limit: Option<u64>) -> Self {
        Self {
            session_id: session_id.into(),
            offset,
            limit,
        }
    }
}

/// Params of `comms/send`: the session plus the flat command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CommsSendParams {
    /// The sending session.
    pub session_id: String,
    /// The command.
    #[serde(flatten)]
    pub command: CommsCommand,
}

impl CommsSendParams {
    /// `command` sent from `session_id`.
    pub fn new(session_id: impl Into<String>, command: CommsCommand) -> Self {
        Self {
            session_id: session_id.into(),
            command,
        }
    }
}

/// Params of `config/set`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConfigSetParams {
    /// The whole config.
    pub config: Value,
    /// Fail unless the stored generation is this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_generation: Option<u64>,
}

impl ConfigSetParams {
    /// Replace the config with `config`.
    pub fn new(config: Value) -> Self {
        Self {
            config,
            expected_generation: None,
        }
    }
}

/// Params of `config/patch` (JSON merge patch).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConfigPatchParams {
    /// The merge patch.
    pub patch: Value,
    /// Fail unless the stored generation is this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_generation: Option<u64>,
}

impl ConfigPatchParams {
    /// Apply `patch`.
    pub fn new(patch: Value) -> Self {
        Self {
            patch,
            expected_generation: None,
        }
    }
}

/// Params naming a mob member.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MemberParams {
    /// The mob.
    pub mob_id: String,
    /// The member.
    pub meerkat_id: String,
    /// A first message (respawn only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_message: Option<Prompt>,
}

impl MemberParams {
    /// Member `meerkat_id` of `mob_id`.
    pub fn new(mob_id: impl Into<String>, meerkat_id: impl Into<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            meerkat_id: meerkat_id.into(),
            initial_message: None,
        }
    }
}

/// Params of `mob/spawn`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SpawnParams {
    /// The mob.
    pub mob_id: String,
    /// The member.
    #[serde(flatten)]
    pub spec: SpawnSpec,
}

impl SpawnParams {
    /// Spawn `spec` into `mob_id`.
    pub fn new(mob_id: impl Into<String>, spec: SpawnSpec) -> Self {
        Self {
            mob_id: mob_id.into(),
            spec,
        }
    }
}

/// Params of `mob/lifecycle`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LifecycleParams {
    /// The mob.
    pub mob_id: String,
    /// The action.
    pub action: MobAction,
}

impl LifecycleParams {
    /// `action` on `mob_id`.
    pub fn new(mob_id: impl Into<String>, action: MobAction) -> Self {
        Self {
            mob_id: mob_id.into(),
            action,
        }
    }
}

/// Params of `mob/wire` and `mob/unwire` (two local members).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WireParams {
    /// The mob.
    pub mob_id: String,
    /// One member.
    pub member: String,
    /// The peer: `{"local": "<id>"}` or `{"external": {...}}`.
    pub peer: Value,
}

impl WireParams {
    /// Wire local members `a` and `b` of `mob_id`.
    pub fn local(mob_id: impl Into<String>, a: impl Into<String>, b: impl Into<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            member: a.into(),
            peer: json!({"local": b.into()}),
        }
    }
}

/// Params of `mob/send` / `mob/member_send`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MemberSendParams {
    /// The mob.
    pub mob_id: String,
    /// The member.
    pub meerkat_id: String,
    /// What to send.
    pub content: Prompt,
    /// How a busy member handles it.
    pub handling_mode: HandlingMode,
}

impl MemberSendParams {
    /// Send `content` to member `meerkat_id` of `mob_id`.
    pub fn new(
        mob_id: impl Into<String>,
        meerkat_id: impl Into<String>,
        content: impl Into<Prompt>,
        handling_mode: HandlingMode,
    ) -> Self {
        Self {
            mob_id: mob_id.into(),
            meerkat_id: meerkat_id.into(),
            content: content.into(),
            handling_mode,
        }
    }
}

/// Params of `mob/flow_run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FlowRunParams {
    /// The mob.
    pub mob_id: String,
    /// The flow.
    pub flow_id: String,
    /// Its activation params.
    pub params: Value,
}

impl FlowRunParams {
    /// Run `flow_id` of `mob_id` with `params`.
    pub fn new(mob_id: impl Into<String>, flow_id: impl Into<String>, params: Value) -> Self {
        Self {
            mob_id: mob_id.into(),
            flow_id: flow_id.into(),
            params,
        }
    }
}

/// Params naming a flow run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FlowRunIdParams {
    /// The mob.
    pub mob_id: String,
    /// The run.
    pub run_id: String,
}

impl FlowRunIdParams {
    /// Run `run_id` of `mob_id`.
    pub fn new(mob_id: impl Into<String>, run_id: impl Into<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            run_id: run_id.into(),
        }
    }
}

/// Params of `mob/stream_open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MobStreamParams {
    /// The mob.
    pub mob_id: String,
    /// One member only (its agent events), or the whole mob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

impl MobStreamParams {
    /// A stream of `mob_id` (one member's when `member_id` is set).
    pub fn new(mob_id: impl Into<String>, member_id: Option<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            member_id,
        }
    }
}

simple_method!(
    /// `initialize` (the Connection sends it; result kept raw).
    Initialize, "initialize", Value, Value);
simple_method!(
    /// `capabilities/get` (the Connection sends it; result kept raw).
    CapabilitiesGet, "capabilities/get", Value, Value);
simple_method!(
    /// `turn/interrupt`: `{"interrupted": true}` even when nothing ran.
    TurnInterrupt, "turn/interrupt", SessionIdParams, bool => "interrupted");
simple_method!(
    /// `session/list`.
    SessionList, "session/list", ListParams, Vec<SessionInfo> => "sessions");
simple_method!(
    /// `session/read`.
    SessionRead, "session/read", SessionIdParams, SessionInfo);
simple_method!(
    /// `session/history`.
    SessionHistoryGet, "session/history", HistoryParams, SessionHistory);
simple_method!(
    /// `session/archive`.
    SessionArchive, "session/archive", SessionIdParams, bool => "archived");
simple_method!(
    /// `session/stream_open`: a standalone subscription to a session's events.
    SessionStreamOpen, "session/stream_open", SessionIdParams, StreamOpened, route SessionSubscription);
simple_method!(
    /// `session/stream_close`.
    SessionStreamClose, "session/stream_close", StreamIdParams, StreamClosed);
simple_method!(
    /// `comms/send` (result kept as JSON: its shape depends on the kind).
    CommsSend, "comms/send", CommsSendParams, Value);
simple_method!(
    /// `comms/peers`.
    CommsPeers, "comms/peers", SessionIdParams, Vec<Peer> => "peers");
simple_method!(
    /// `config/set`.
    ConfigSet, "config/set", ConfigSetParams, ConfigEnvelope);
simple_method!(
    /// `config/patch`.
    ConfigPatch, "config/patch", ConfigPatchParams, ConfigEnvelope);
simple_method!(
    /// `runtime/reset`: abandons queued inputs (`inputs_abandoned`).
    RuntimeReset, "runtime/reset", SessionIdParams, u64 => "inputs_abandoned");
simple_method!(
    /// `mob/status`.
    MobStatus, "mob/status", MobIdParams, MobSummary);
simple_method!(
    /// `mob/lifecycle`.
    MobLifecycle, "mob/lifecycle", LifecycleParams, Value);
simple_method!(
    /// `mob/spawn`.
    MobSpawn, "mob/spawn", SpawnParams, SpawnResult);
simple_method!(
    /// `mob/retire`.
    MobRetire, "mob/retire", MemberParams, Value);
simple_method!(
    /// `mob/respawn` (result kept as JSON: receipt or topology failure).
    MobRespawn, "mob/respawn", MemberParams, RespawnResult);
simple_method!(
    /// `mob/wire`.
    MobWire, "mob/wire", WireParams, Value);
simple_method!(
    /// `mob/unwire`.
    MobUnwire, "mob/unwire", WireParams, Value);
simple_method!(
    /// `mob/members`.
    MobMembers, "mob/members", MobIdParams, Vec<MemberInfo> => "members");
simple_method!(
    /// `mob/flows`.
    MobFlows, "mob/flows", MobIdParams, Vec<String> => "flows");
simple_method!(
    /// `mob/flow_run`: the run id.
    MobFlowRun, "mob/flow_run", FlowRunParams, String => "run_id");
simple_method!(
    /// `mob/flow_status`: the run, or `None` when unknown.
    MobFlowStatus, "mob/flow_status", FlowRunIdParams, Option<FlowRun> => "run");
simple_method!(
    /// `mob/flow_cancel`.
    MobFlowCancel, "mob/flow_cancel", FlowRunIdParams, Value);
simple_method!(
    /// `mob/stream_open`: a mob-wide or per-member subscription.
    MobStreamOpen, "mob/stream_open", MobStreamParams, StreamOpened, route MobSubscription);
simple_method!(
    /// `mob/stream_close`.
    MobStreamClose, "mob/stream_close", StreamIdParams, StreamClosed);

/// Methods with no params: `()` writes `{}`.
macro_rules! no_params_method {
    ($(#[$doc:meta])* $name:ident, $wire:literal, $out:ty $(=> $field:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub struct $name;

        impl Method for $name {
            type Params = ();
            type Output = $out;

            fn name(_: &Dialect) -> Result<&'static str, UsageError> {
                Ok($wire)
            }

            fn encode_params(_: &(), _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
                to_raw(&json!({}))
            }

            fn decode_result(raw: &RawValue, _: &Dialect) -> Result<$out, DecodeError> {
                simple_method!(@decode $wire, raw $(, $field)?)
            }
        }
    };
}

no_params_method!(
    /// `config/get`.
    ConfigGet, "config/get", ConfigEnvelope);
no_params_method!(
    /// `skills/list`.
    SkillsList, "skills/list", Vec<SkillInfo> => "skills");
no_params_method!(
    /// `mob/list`.
    MobList, "mob/list", Vec<MobSummary> => "mobs");

/// `session/create`, running the first turn (its events route to the request).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SessionCreate;

impl Method for SessionCreate {
    type Params = SessionOptions;
    type Output = RunResult;
    const ROUTE: Route = Route::Create;

    fn name(_: &Dialect) -> Result<&'static str, UsageError> {
        Ok("session/create")
    }

    fn encode_params(p: &SessionOptions, _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.to_params(false))
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<RunResult, DecodeError> {
        decode("session/create", raw)
    }
}

/// `session/create` with `initial_turn: "deferred"`: no turn runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SessionCreateDeferred;

impl Method for SessionCreateDeferred {
    type Params = SessionOptions;
    type Output = DeferredCreated;

    fn name(_: &Dialect) -> Result<&'static str, UsageError> {
        Ok("session/create")
    }

    fn encode_params(p: &SessionOptions, _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.to_params(true))
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<DeferredCreated, DecodeError> {
        decode("session/create", raw)
    }
}

/// `turn/start` (its events route to the request).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TurnStart;

impl Method for TurnStart {
    type Params = TurnParams;
    type Output = RunResult;
    const ROUTE: Route = Route::Turn;

    fn name(_: &Dialect) -> Result<&'static str, UsageError> {
        Ok("turn/start")
    }

    fn encode_params(p: &TurnParams, _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.options.to_params(&p.session_id, &p.prompt))
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<RunResult, DecodeError> {
        decode("turn/start", raw)
    }

    fn session_id(p: &TurnParams) -> Option<&str> {
        Some(&p.session_id)
    }
}

/// `tools/register` (served by 0.5.2 although not listed): how many were registered.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ToolsRegister;

impl Method for ToolsRegister {
    type Params = [ToolDef];
    type Output = u64;

    fn name(_: &Dialect) -> Result<&'static str, UsageError> {
        Ok("tools/register")
    }

    fn encode_params(p: &[ToolDef], _: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&json!({ "tools": p }))
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<u64, DecodeError> {
        decode_field("tools/register", raw, "registered")
    }
}

/// `mob/create` from a prefab (0.5.0 only) or a definition.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MobCreate;

impl Method for MobCreate {
    type Params = MobSpec;
    type Output = String;

    fn name(_: &Dialect) -> Result<&'static str, UsageError> {
        Ok("mob/create")
    }

    fn encode_params(p: &MobSpec, dialect: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        match p {
            MobSpec::Prefab(name) if dialect.supports_mob_prefabs() => {
                to_raw(&json!({ "prefab": name }))
            }
            MobSpec::Prefab(name) => Err(UsageError::Unsupported {
                method: "mob/create".into(),
                reason: format!(
                    "prefab {name:?} needs a server that lists mob/prefabs (0.5.0); \
                     this one accepts only a definition"
                ),
            }),
            MobSpec::Definition(def) => to_raw(&json!({ "definition": def })),
        }
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<String, DecodeError> {
        decode_field("mob/create", raw, "mob_id")
    }
}

/// `mob/create` like [`MobCreate`], answering the whole result: the id and,
/// on 0.9.x, the `claim_token` (a bearer secret for
/// `mob/claim_callback_route`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MobCreateDetailed;

impl Method for MobCreateDetailed {
    type Params = MobSpec;
    type Output = MobCreated;

    fn name(dialect: &Dialect) -> Result<&'static str, UsageError> {
        MobCreate::name(dialect)
    }

    fn encode_params(p: &MobSpec, dialect: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
        MobCreate::encode_params(p, dialect)
    }

    fn decode_result(raw: &RawValue, _: &Dialect) -> Result<MobCreated, DecodeError> {
        decode("mob/create", raw)
    }
}

/// Sends to a mob member: `mob/send` where listed (0.5.0), else
/// `mob/member_send` (0.5.2). Both result shapes decode.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct MobMemberSend;

impl Method for MobMemberSend {
    type Params = MemberSendParams;
    type Output = MemberSendResult;

    fn name(dialect: &Dialect) -> Result<&'static str, UsageError> {
        Ok(dialect.member_send_method())
    }

    fn encode_params(
        p: &MemberSendParams,
        _: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(p)
    }

    fn decode_result(raw: &RawValue, dialect: &Dialect) -> Result<MemberSendResult, DecodeError> {
        decode(dialect.member_send_method(), raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::server::ContractVersion;

    #[test]
    fn member_send_follows_the_method_list() {
        let v050 = Dialect::new(
            ContractVersion {
                major: 0,
                minor: 5,
                patch: 0,
            },
            ["mob/send".to_owned(), "mob/prefabs".to_owned()],
        );
        let v052 = Dialect::new(
            ContractVersion {
                major: 0,
                minor: 5,
                patch: 2,
            },
            ["mob/member_send".to_owned()],
        );
        assert_eq!(MobMemberSend::name(&v050).unwrap(), "mob/send");
        assert_eq!(MobMemberSend::name(&v052).unwrap(), "mob/member_send");
        assert!(MobCreate::encode_params(&MobSpec::prefab("pipeline"), &v050).is_ok());
        let err = MobCreate::encode_params(&MobSpec::prefab("pipeline"), &v052).unwrap_err();
        assert!(matches!(err, UsageError::Unsupported { .. }));
    }

    #[test]
    fn turn_start_never_sends_refused_overrides() {
        let p = TurnParams::new("s", "hi", TurnOptions::new().model("m"));
        let raw = TurnStart::encode_params(&p, &Dialect::default())
            .unwrap()
            .unwrap();
        assert_eq!(raw.get(), r#"{"model":"m","prompt":"hi","session_id":"s"}"#);
    }
}
