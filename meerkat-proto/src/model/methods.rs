//! One type per JSON-RPC method, implementing [`Method`].
//!
//! Transports call them as `connection.request::<methods::TurnStart>(&params, opts)`.

use super::dialect::{ContractLine, Dialect};
use super::error::{DecodeError, UsageError};
use super::method::{Method, Route};
use super::misc::{
    ConfigEnvelope, MemberInfo, MemberSendResult, MobCreated, MobSpec, MobSummary, Peer, SkillInfo,
    SpawnResult, StreamClosed, StreamOpened,
};
use super::mob::{FlowRun, RespawnResult};
use super::options::SessionOptions;
use super::result::{DeferredCreated, RunResult};
use super::session::{SessionHistory, SessionInfo};
use super::tool::ToolDef;
use super::v09::{
    EventCursor, EventPage, InputState, MobDestroyed, MobRunOutcome, ModelCatalog, RuntimeHealth,
    SessionFork, StopRunResult,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::params::to_raw;
pub use super::params::*;
pub use super::v09::{
    ForkAtParams, InputStatusParams, LatestCursorParams, ListSinceParams, MobRunParams,
    StopRunParams,
};

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

/// Declares a method whose params serialise as they are (`encode f`: as
/// `f(params, dialect)` writes them) and whose result decodes with serde
/// (`=> field` decodes one field of the result object). `only V0_9`: a
/// method of contract 0.9 only, refused on 0.5 before anything is sent
/// ([`UsageError::Unsupported`] naming the method and the line).
macro_rules! simple_method {
    ($(#[$doc:meta])* $name:ident, $wire:literal, $params:ty, $out:ty $(, route $route:ident)? $(, encode $enc:path)? $(, only $line:ident)? $(=> $field:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub struct $name;

        impl Method for $name {
            type Params = $params;
            type Output = $out;
            $(const ROUTE: Route = Route::$route;)?

            fn name(dialect: &Dialect) -> Result<&'static str, UsageError> {
                simple_method!(@name $wire, dialect $(, $line)?)
            }

            fn encode_params(p: &$params, dialect: &Dialect) -> Result<Option<Box<RawValue>>, UsageError> {
                simple_method!(@encode p, dialect $(, $enc)?)
            }

            fn decode_result(raw: &RawValue, _: &Dialect) -> Result<$out, DecodeError> {
                simple_method!(@decode $wire, raw $(, $field)?)
            }
        }
    };
    (@name $wire:literal, $dialect:ident) => {{
        let _ = $dialect;
        Ok($wire)
    }};
    // A method of the 0.9 line only: refused on 0.5 before sending.
    (@name $wire:literal, $dialect:ident, V0_9) => { v09_only($wire, $dialect) };
    (@encode $p:ident, $dialect:ident) => {{
        let _ = $dialect;
        to_raw($p)
    }};
    (@encode $p:ident, $dialect:ident, $enc:path) => { $enc($p, $dialect) };
    (@decode $wire:literal, $raw:ident) => { decode($wire, $raw) };
    (@decode $wire:literal, $raw:ident, $field:literal) => { decode_field($wire, $raw, $field) };
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
    CommsSend, "comms/send", CommsSendParams, Value, encode CommsSendParams::encode);
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
    MobSpawn, "mob/spawn", SpawnParams, SpawnResult, encode SpawnParams::encode);
simple_method!(
    /// `mob/retire`.
    MobRetire, "mob/retire", MemberParams, Value, encode MemberParams::encode);
simple_method!(
    /// `mob/respawn` (result kept as JSON: receipt or topology failure).
    MobRespawn, "mob/respawn", MemberParams, RespawnResult, encode MemberParams::encode);
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
    MobStreamOpen, "mob/stream_open", MobStreamParams, StreamOpened, route MobSubscription, encode MobStreamParams::encode);
simple_method!(
    /// `mob/stream_close`.
    MobStreamClose, "mob/stream_close", StreamIdParams, StreamClosed);

/// Methods with no params: `()` writes `{}`.
macro_rules! no_params_method {
    ($(#[$doc:meta])* $name:ident, $wire:literal, $out:ty $(, only $line:ident)? $(=> $field:literal)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        #[non_exhaustive]
        pub struct $name;

        impl Method for $name {
            type Params = ();
            type Output = $out;

            fn name(dialect: &Dialect) -> Result<&'static str, UsageError> {
                simple_method!(@name $wire, dialect $(, $line)?)
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

    fn encode_params(
        p: &SessionOptions,
        dialect: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.to_params(false, dialect)?)
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

    fn encode_params(
        p: &SessionOptions,
        dialect: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.to_params(true, dialect)?)
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

    fn encode_params(
        p: &TurnParams,
        dialect: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError> {
        to_raw(&p.options.to_params(&p.session_id, &p.prompt, dialect)?)
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

/// `mob/create` from a prefab (0.5.0 only; refused before sending on 0.5.2
/// and 0.9) or a definition.
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
            MobSpec::Prefab(_) if dialect.line() == ContractLine::V0_9 => Err(dialect.refuse(
                "prefab",
                "mob/create takes only a definition: MobSpec::definition",
            )),
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
/// `mob/member_send` (0.5.2, 0.9; `agent_identity` on 0.9). Both result
/// shapes decode.
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
        dialect: &Dialect,
    ) -> Result<Option<Box<RawValue>>, UsageError> {
        p.encode(dialect)
    }

    fn decode_result(raw: &RawValue, dialect: &Dialect) -> Result<MemberSendResult, DecodeError> {
        decode(dialect.member_send_method(), raw)
    }
}

/// `method`, unless the line is 0.5, which does not have it.
fn v09_only(method: &'static str, dialect: &Dialect) -> Result<&'static str, UsageError> {
    match dialect.line() {
        ContractLine::V0_9 => Ok(method),
        ContractLine::V0_5 => Err(dialect.refuse(method, "a contract 0.9 method")),
    }
}

simple_method!(
    /// `turn/stop_run` (0.9): stops one exact run of a session.
    TurnStopRun, "turn/stop_run", StopRunParams, StopRunResult, only V0_9);
simple_method!(
    /// `session/fork_at` (0.9): a new session from the first messages of one.
    SessionForkAt, "session/fork_at", ForkAtParams, SessionFork, only V0_9);
simple_method!(
    /// `events/latest_cursor` (0.9): the newest position of a scope's events.
    EventsLatestCursor, "events/latest_cursor", LatestCursorParams, EventCursor, only V0_9 => "cursor");
simple_method!(
    /// `events/list_since` (0.9): a page of a scope's events after a cursor.
    EventsListSince, "events/list_since", ListSinceParams, EventPage, only V0_9);
simple_method!(
    /// `session/input_status` (0.9): an input's stored state, `None` when
    /// no input matches.
    SessionInputStatus, "session/input_status", InputStatusParams, Option<InputState>, only V0_9 => "state");
simple_method!(
    /// `mob/destroy` (0.9): destroys a mob and reports the cleanup.
    MobDestroy, "mob/destroy", MobIdParams, MobDestroyed, only V0_9);
simple_method!(
    /// `mob/run` (0.9): runs a flow of the mob as a callable; the run id.
    MobRun, "mob/run", MobRunParams, String, only V0_9 => "run_id");
simple_method!(
    /// `mob/run_result` (0.9): a mob run's outcome, `None` for an unknown run.
    MobRunResult, "mob/run_result", FlowRunIdParams, Option<MobRunOutcome>, only V0_9 => "run");
no_params_method!(
    /// `models/catalog` (0.5 and 0.9).
    ModelsCatalog, "models/catalog", ModelCatalog);

no_params_method!(
    /// `runtime/health` (0.9): the host's health.
    RuntimeHealthGet, "runtime/health", RuntimeHealth, only V0_9);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::misc::{HandlingMode, SpawnSpec};
    use crate::model::options::TurnOptions;
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

    fn v098() -> Dialect {
        let v = ContractVersion {
            major: 0,
            minor: 9,
            patch: 8,
        };
        Dialect::new(v, ["mob/member_send".to_owned(), "mob/create".to_owned()])
    }

    fn json_of(raw: Option<Box<RawValue>>) -> Value {
        serde_json::from_str(raw.expect("params").get()).unwrap()
    }

    #[test]
    fn mob_members_are_agent_identity_on_0_9() {
        let (d05, d09) = (Dialect::default(), v098());
        let spawn = SpawnParams::new("m", SpawnSpec::new("worker", "w1").initial_message("hi"));
        assert_eq!(
            json_of(MobSpawn::encode_params(&spawn, &d05).unwrap()),
            json!({"mob_id":"m","profile":"worker","meerkat_id":"w1","initial_message":"hi"})
        );
        assert_eq!(
            json_of(MobSpawn::encode_params(&spawn, &d09).unwrap()),
            json!({"mob_id":"m","profile":"worker","agent_identity":"w1","initial_message":"hi"})
        );
        let member = MemberParams::new("m", "w2");
        for d in [&d05, &d09] {
            let key = if d.line() == ContractLine::V0_9 {
                "agent_identity"
            } else {
                "meerkat_id"
            };
            let want = json!({"mob_id": "m", key: "w2"});
            assert_eq!(json_of(MobRetire::encode_params(&member, d).unwrap()), want);
            assert_eq!(
                json_of(MobRespawn::encode_params(&member, d).unwrap()),
                want
            );
        }
        let send = MemberSendParams::new("m", "w1", "hi", HandlingMode::Queue);
        assert_eq!(
            json_of(MobMemberSend::encode_params(&send, &d09).unwrap()),
            json!({"mob_id":"m","agent_identity":"w1","content":"hi","handling_mode":"queue"})
        );
        assert_eq!(MobMemberSend::name(&d09).unwrap(), "mob/member_send");
    }

    #[test]
    fn mob_stream_selector_is_never_member_id_on_0_9() {
        let one = MobStreamParams::new("m", Some("w1".into()));
        let all = MobStreamParams::new("m", None);
        assert_eq!(
            json_of(MobStreamOpen::encode_params(&one, &v098()).unwrap()),
            json!({"mob_id":"m","agent_identity":"w1"})
        );
        assert_eq!(
            json_of(MobStreamOpen::encode_params(&all, &v098()).unwrap()),
            json!({"mob_id":"m"})
        );
        assert_eq!(
            json_of(MobStreamOpen::encode_params(&one, &Dialect::default()).unwrap()),
            json!({"mob_id":"m","member_id":"w1"})
        );
    }

    #[test]
    fn idempotency_keys_are_0_9_only() {
        let keyed =
            MemberSendParams::new("m", "w1", "hi", HandlingMode::Steer).idempotency_key("k-1");
        assert_eq!(
            json_of(MobMemberSend::encode_params(&keyed, &v098()).unwrap())["idempotency_key"],
            "k-1"
        );
        let err = MobMemberSend::encode_params(&keyed, &Dialect::default()).unwrap_err();
        let UsageError::Unsupported { method, reason } = err else {
            panic!("{err:?}")
        };
        assert_eq!(method, "idempotency_key");
        assert!(reason.starts_with("not on contract 0.5"), "{reason}");
    }

    #[test]
    fn prefabs_are_refused_on_0_9_naming_the_option() {
        let err = MobCreate::encode_params(&MobSpec::prefab("coding_swarm"), &v098()).unwrap_err();
        let UsageError::Unsupported { method, reason } = err else {
            panic!("{err:?}")
        };
        assert_eq!(method, "prefab");
        assert!(reason.starts_with("not on contract 0.9 ("), "{reason}");
        let def = MobSpec::definition(json!({"id":"probe-mob","profiles":{}}));
        assert_eq!(
            json_of(MobCreate::encode_params(&def, &v098()).unwrap()),
            json!({"definition":{"id":"probe-mob","profiles":{}}})
        );
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
