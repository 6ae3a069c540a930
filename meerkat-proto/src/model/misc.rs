//! Smaller result and parameter types: comms, config, skills, streams, mobs.

use super::content::Prompt;
use super::skill::SkillKey;
use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A comms command for `comms/send` (flat fields, PROTOCOL.md §4.9).
///
/// ```
/// use meerkat_proto::CommsCommand;
/// let cmd = CommsCommand::peer_message("reviewer", "please look at PR 7");
/// let v = serde_json::to_value(&cmd).unwrap();
/// assert_eq!(v["kind"], "peer_message");
/// assert!(v.get("intent").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommsCommand {
    /// `input`, `peer_message`, `peer_request` or `peer_response`.
    pub kind: String,
    /// The text (input, peer_message, peer_request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The peer's name (peer_*).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The request's intent (peer_request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The request's params (peer_request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
    /// The interaction answered (peer_response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// `accepted`, `completed` or `failed` (peer_response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The response's result (peer_response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Where an input comes from (`rpc`, `webhook`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `none` or `reserve_interaction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Allow an input to the session itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_self_session: Option<bool>,
    /// `queue` or `steer` (input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling_mode: Option<HandlingMode>,
}

impl CommsCommand {
    /// An input pushed into the session it is sent on. Sets
    /// `allow_self_session: true`: that is what "push into this session"
    /// means, and 0.5.2 refuses self-session input without it.
    pub fn input(body: impl Into<String>) -> Self {
        Self {
            kind: "input".into(),
            body: Some(body.into()),
            allow_self_session: Some(true),
            ..Self::default()
        }
    }

    /// A message to a peer, queued (`handling_mode: "queue"`, which 0.5.2
    /// requires on peer messages; change it with
    /// [`handling_mode`](Self::handling_mode)).
    pub fn peer_message(to: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            kind: "peer_message".into(),
            to: Some(to.into()),
            body: Some(body.into()),
            handling_mode: Some(HandlingMode::Queue),
            ..Self::default()
        }
    }

    /// A request to a peer.
    pub fn peer_request(to: impl Into<String>, intent: impl Into<String>, params: Value) -> Self {
        Self {
            kind: "peer_request".into(),
            to: Some(to.into()),
            intent: Some(intent.into()),
            params: Some(params),
            handling_mode: Some(HandlingMode::Queue),
            ..Self::default()
        }
    }

    /// A response to a peer's request.
    pub fn peer_response(
        to: impl Into<String>,
        in_reply_to: impl Into<String>,
        result: Value,
    ) -> Self {
        Self {
            kind: "peer_response".into(),
            to: Some(to.into()),
            in_reply_to: Some(in_reply_to.into()),
            result: Some(result),
            ..Self::default()
        }
    }

    /// Sets the input source.
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets how the receiver handles it (`queue` or `steer`).
    #[must_use]
    pub fn handling_mode(mut self, mode: HandlingMode) -> Self {
        self.handling_mode = Some(mode);
        self
    }

    /// Allows an `input` addressed to the sending session itself (0.5.2
    /// refuses it otherwise).
    #[must_use]
    pub fn allow_self_session(mut self, allow: bool) -> Self {
        self.allow_self_session = Some(allow);
        self
    }
}

/// A peer visible to a session (`comms/peers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Peer {
    /// Its name.
    pub name: String,
    /// Its peer id (0.9.x: the routing key `comms/send` takes as `to`).
    pub peer_id: String,
    /// Its address: `inproc://...` (0.5.x) or `{transport, endpoint}` (0.9.x).
    pub address: PeerAddress,
    /// 0.5.x: `Trusted`, `Inproc`, `TrustedAndInproc` or `Unknown`; 0.9.x
    /// the same in snake_case.
    pub source: String,
    /// `unknown`, `reachable` or `unreachable` (0.5.x only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reachability: String,
    /// Why it was last unreachable (0.5.x only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_unreachable_reason: Option<String>,
    /// `{"description", "labels"}`.
    pub meta: Value,
    /// Kinds it accepts (`peer_message`, `peer_request`, `peer_response`).
    pub sendable_kinds: Vec<String>,
    /// Its capabilities (`{"version", "extensions"}`).
    pub capabilities: Value,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A peer's address: the URI string of 0.5.x or the typed pair of 0.9.x.
///
/// ```
/// use meerkat_proto::PeerAddress;
/// let a: PeerAddress = serde_json::from_str(r#"{"transport":"inproc","endpoint":"w1"}"#).unwrap();
/// assert_eq!((a.transport(), a.endpoint(), a.to_string().as_str()), ("inproc", "w1", "inproc://w1"));
/// let a: PeerAddress = serde_json::from_str(r#""tcp://127.0.0.1:9""#).unwrap();
/// assert_eq!((a.transport(), a.endpoint()), ("tcp", "127.0.0.1:9"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PeerAddress {
    /// `"<transport>://<endpoint>"` (0.5.x).
    Uri(String),
    /// `{transport, endpoint}` (0.9.x).
    Typed {
        /// `inproc`, `uds` or `tcp`.
        transport: String,
        /// Transport-specific: agent name, socket path, `host:port`.
        endpoint: String,
    },
    /// Anything else, kept whole.
    Other(Value),
}

impl Default for PeerAddress {
    fn default() -> Self {
        Self::Uri(String::new())
    }
}

impl PeerAddress {
    /// The transport (`inproc`, `uds`, `tcp`; "" when unknown).
    pub fn transport(&self) -> &str {
        match self {
            Self::Uri(u) => u.split_once("://").map_or("", |(t, _)| t),
            Self::Typed { transport, .. } => transport,
            Self::Other(_) => "",
        }
    }

    /// The endpoint (the whole string of a URI without a scheme).
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Uri(u) => u.split_once("://").map_or(u.as_str(), |(_, e)| e),
            Self::Typed { endpoint, .. } => endpoint,
            Self::Other(_) => "",
        }
    }
}

impl std::fmt::Display for PeerAddress {
    /// The URI form, `<transport>://<endpoint>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uri(u) => f.write_str(u),
            Self::Typed {
                transport,
                endpoint,
            } => write!(f, "{transport}://{endpoint}"),
            Self::Other(v) => write!(f, "{v}"),
        }
    }
}

/// The config envelope of `config/get|set|patch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConfigEnvelope {
    /// The realm's stored config.
    pub config: Value,
    /// Increments on every committed write.
    pub generation: u64,
    /// The realm.
    pub realm_id: Option<String>,
    /// The instance.
    pub instance_id: Option<String>,
    /// The storage backend.
    pub backend: Option<String>,
    /// Local paths (do not show to untrusted parties).
    pub resolved_paths: Option<Value>,
    /// Fields this SDK does not know (0.9.x `set`/`patch`: `live_propagation`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A skill (`skills/list`).
///
/// ```
/// use meerkat_proto::{SkillInfo, SkillSource};
/// let s: SkillInfo = serde_json::from_str(r#"{"key":{"source_uuid":"u","skill_name":"task-workflow"},
///     "name":"task-workflow","description":"d","scope":"builtin","is_active":true,
///     "source":{"source_uuid":"u","display_name":"embedded","transport_kind":"embedded",
///               "fingerprint":"embedded:inventory","status":"active"}}"#).unwrap();
/// assert_eq!(s.id, "u/task-workflow");
/// assert!(matches!(s.source, Some(SkillSource::Provenance(ref p)) if p.display_name == "embedded"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SkillInfoDe")]
#[non_exhaustive]
pub struct SkillInfo {
    /// Its id: `extraction/email` on 0.5.x, `<source_uuid>/<skill_name>`
    /// (the key) on 0.9.x.
    pub id: String,
    /// 0.9.x: its key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<SkillKey>,
    /// Its display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `builtin`, `project` or `user`.
    pub scope: String,
    /// Where it comes from.
    pub source: Option<SkillSource>,
    /// Whether it is active.
    pub is_active: bool,
    /// The source shadowing it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadowed_by: Option<SkillSource>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SkillInfoDe {
    id: String,
    key: Option<SkillKey>,
    name: String,
    description: String,
    scope: String,
    source: Option<SkillSource>,
    is_active: bool,
    shadowed_by: Option<SkillSource>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<SkillInfoDe> for SkillInfo {
    fn from(d: SkillInfoDe) -> Self {
        let id = match (&d.key, d.id.is_empty()) {
            (Some(key), true) => key.to_string(),
            _ => d.id,
        };
        Self {
            id,
            key: d.key,
            name: d.name,
            description: d.description,
            scope: d.scope,
            source: d.source,
            is_active: d.is_active,
            shadowed_by: d.shadowed_by,
            extra: d.extra,
        }
    }
}

/// Where a skill comes from: a name (0.5.x) or a provenance record (0.9.x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SkillSource {
    /// 0.5.x: the source's name.
    Name(String),
    /// 0.9.x: the source's record.
    Provenance(SkillProvenance),
}

/// A skill source as 0.9.x describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SkillProvenance {
    /// The source's UUID (the `source_uuid` of its skills' keys).
    pub source_uuid: String,
    /// Its display name (`embedded`, ...).
    pub display_name: String,
    /// `embedded`, `filesystem`, `git`, `http`, ...
    pub transport_kind: String,
    /// Its content fingerprint.
    pub fingerprint: String,
    /// `active`, ...
    pub status: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subscription was opened (`session/stream_open`, `mob/stream_open`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamOpened {
    /// The stream id.
    pub stream_id: String,
    /// Whether it opened.
    pub opened: bool,
    /// Fields this SDK does not know (0.9.x `session/stream_open`: `session_id`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A subscription was closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamClosed {
    /// The stream id.
    pub stream_id: String,
    /// Whether it is closed.
    pub closed: bool,
    /// Whether it had already ended.
    pub already_closed: bool,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

wire_enum! {
    /// How a message is handled by a busy agent.
    pub enum HandlingMode {
        /// After the current run (default).
        Queue = "queue",
        /// Injected into the current run.
        Steer = "steer",
    }
}

wire_enum! {
    /// A mob lifecycle action.
    pub enum MobAction {
        /// Stop the mob.
        Stop = "stop",
        /// Resume a stopped mob.
        Resume = "resume",
        /// Mark it completed.
        Complete = "complete",
        /// Reset it.
        Reset = "reset",
        /// Destroy it.
        Destroy = "destroy",
    }
}

/// What a mob is created from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MobSpec {
    /// A prefab (0.5.0 servers only).
    Prefab(String),
    /// A mob definition (`{"id", "profiles": {...}, ...}`).
    Definition(Value),
}

impl MobSpec {
    /// A prefab by name (`coding_swarm`, `code_review`, ...).
    pub fn prefab(name: impl Into<String>) -> Self {
        Self::Prefab(name.into())
    }

    /// A definition.
    pub fn definition(def: Value) -> Self {
        Self::Definition(def)
    }
}

/// A mob and its status (`mob/list`, `mob/status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MobSummary {
    /// The mob id.
    pub mob_id: String,
    /// Its lifecycle state.
    pub status: super::MobState,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member to spawn into a mob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpawnSpec {
    /// The profile to use.
    pub profile: String,
    /// The member id.
    pub meerkat_id: String,
    /// A first message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_message: Option<Prompt>,
    /// `autonomous_host` or `turn_driven`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_mode: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Value>,
    /// Context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Extra system-prompt sections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_instructions: Option<Vec<String>>,
}

impl SpawnSpec {
    /// A member `meerkat_id` with `profile`.
    pub fn new(profile: impl Into<String>, meerkat_id: impl Into<String>) -> Self {
        Self {
            profile: profile.into(),
            meerkat_id: meerkat_id.into(),
            ..Self::default()
        }
    }

    /// Sets a first message.
    #[must_use]
    pub fn initial_message(mut self, message: impl Into<Prompt>) -> Self {
        self.initial_message = Some(message.into());
        self
    }
}

/// The result of `mob/spawn`.
///
/// ```
/// use meerkat_proto::SpawnResult;
/// let r: SpawnResult = serde_json::from_str(
///     r#"{"mob_id":"m","agent_identity":"w1","member_ref":"eyJhIjoidzEiLCJtIjoibSJ9"}"#).unwrap();
/// assert_eq!((r.meerkat_id.as_str(), r.agent_identity.as_deref()), ("w1", Some("w1")));
/// assert_eq!(r.session_id, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SpawnResultDe")]
#[non_exhaustive]
pub struct SpawnResult {
    /// The mob.
    pub mob_id: String,
    /// The member: 0.5.x `meerkat_id`, 0.9.x `agent_identity`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub meerkat_id: String,
    /// 0.9.x: the member's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_identity: Option<String>,
    /// The member's session (0.5.x only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// 0.5.x: `{"kind": "session", "session_id"}` or a backend peer;
    /// 0.9.x: an opaque string.
    pub member_ref: Value,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct SpawnResultDe {
    mob_id: String,
    meerkat_id: String,
    agent_identity: Option<String>,
    session_id: Option<String>,
    member_ref: Value,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<SpawnResultDe> for SpawnResult {
    fn from(d: SpawnResultDe) -> Self {
        Self {
            meerkat_id: or_identity(d.meerkat_id, d.agent_identity.as_ref()),
            mob_id: d.mob_id,
            agent_identity: d.agent_identity,
            session_id: d.session_id,
            member_ref: d.member_ref,
            extra: d.extra,
        }
    }
}

/// The 0.5.x member id, else the 0.9.x identity.
fn or_identity(id: String, identity: Option<&String>) -> String {
    match identity {
        Some(identity) if id.is_empty() => identity.clone(),
        _ => id,
    }
}

/// A mob member (`mob/members`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "MemberInfoDe")]
#[non_exhaustive]
pub struct MemberInfo {
    /// The member: 0.5.x `meerkat_id`, 0.9.x `agent_identity`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub meerkat_id: String,
    /// 0.9.x: the member's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_identity: Option<String>,
    /// Its profile: 0.5.x `profile`, 0.9.x `role`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// 0.9.x: its role (profile name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Its reference (0.5.x: an object; 0.9.x: an opaque string).
    pub member_ref: Value,
    /// `autonomous_host` or `turn_driven`.
    pub runtime_mode: String,
    /// `Active` or `Retiring` (0.5.x only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// The members it is wired to.
    pub wired_to: Vec<String>,
    /// 0.9.x: its labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `active`, `retiring`, `broken`, `completed` or `unknown`.
    pub status: String,
    /// An error, if broken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether it reached a final state.
    pub is_final: bool,
    /// Its current session (0.5.x only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_session_id: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct MemberInfoDe {
    meerkat_id: String,
    agent_identity: Option<String>,
    profile: String,
    role: Option<String>,
    member_ref: Value,
    runtime_mode: String,
    state: String,
    wired_to: Vec<String>,
    labels: BTreeMap<String, String>,
    status: String,
    error: Option<String>,
    is_final: bool,
    current_session_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<MemberInfoDe> for MemberInfo {
    fn from(d: MemberInfoDe) -> Self {
        Self {
            meerkat_id: or_identity(d.meerkat_id, d.agent_identity.as_ref()),
            agent_identity: d.agent_identity,
            profile: or_identity(d.profile, d.role.as_ref()),
            role: d.role,
            member_ref: d.member_ref,
            runtime_mode: d.runtime_mode,
            state: d.state,
            wired_to: d.wired_to,
            labels: d.labels,
            status: d.status,
            error: d.error,
            is_final: d.is_final,
            current_session_id: d.current_session_id,
            extra: d.extra,
        }
    }
}

/// The result of sending to a member (`mob/send` or `mob/member_send`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "MemberSendResultDe")]
#[non_exhaustive]
pub struct MemberSendResult {
    /// The mob (0.5.2 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mob_id: Option<String>,
    /// The member: 0.5.x `member_id`, 0.9.x `agent_identity`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub member_id: String,
    /// 0.9.x: the member's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_identity: Option<String>,
    /// 0.9.x: the member's opaque reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_ref: Option<Value>,
    /// The member's session (0.5.x only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// How it was handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handling_mode: Option<HandlingMode>,
    /// 0.9.x keyed sends: `{delivery_id, committed_at_ms, status}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct MemberSendResultDe {
    mob_id: Option<String>,
    member_id: String,
    agent_identity: Option<String>,
    member_ref: Option<Value>,
    session_id: Option<String>,
    handling_mode: Option<HandlingMode>,
    continuation: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<MemberSendResultDe> for MemberSendResult {
    fn from(d: MemberSendResultDe) -> Self {
        Self {
            member_id: or_identity(d.member_id, d.agent_identity.as_ref()),
            mob_id: d.mob_id,
            agent_identity: d.agent_identity,
            member_ref: d.member_ref,
            session_id: d.session_id,
            handling_mode: d.handling_mode,
            continuation: d.continuation,
            extra: d.extra,
        }
    }
}

/// The result of `mob/create` ([`MobCreateDetailed`](super::methods::MobCreateDetailed)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MobCreated {
    /// The new mob's id.
    pub mob_id: String,
    /// 0.9.x: a secret bearer token for `mob/claim_callback_route`. Keep it
    /// out of logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_token: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn peers_of_both_lines() {
        let nine = json!({"peer_id":"9c28","name":"probe-mob/worker/w1",
            "address":{"transport":"inproc","endpoint":"probe-mob/worker/w1"},
            "source":"inproc","sendable_kinds":["peer_message","peer_request"],
            "capabilities":{"version":1,"extensions":{}},
            "meta":{"description":null,"labels":{}}});
        let p: Peer = serde_json::from_value(nine.clone()).unwrap();
        assert_eq!(p.address.to_string(), "inproc://probe-mob/worker/w1");
        assert_eq!(p.sendable_kinds.len(), 2);
        assert_eq!(serde_json::to_value(&p).unwrap(), nine);
        let five = json!({"name":"bob","peer_id":"p","address":"inproc://bob","source":"Trusted",
            "sendable_kinds":[],"capabilities":{},"reachability":"reachable",
            "last_unreachable_reason":null,"meta":{}});
        let p: Peer = serde_json::from_value(five).unwrap();
        assert_eq!(
            (p.address.transport(), p.address.endpoint()),
            ("inproc", "bob")
        );
        assert_eq!(p.reachability, "reachable");
    }

    #[test]
    fn skills_of_both_lines() {
        let five: SkillInfo = serde_json::from_value(json!({"id":"extraction/email",
            "name":"Email","description":"d","scope":"builtin","source":"embedded",
            "is_active":false,"shadowed_by":"project"}))
        .unwrap();
        assert_eq!(five.id, "extraction/email");
        assert_eq!(five.source, Some(SkillSource::Name("embedded".into())));
        assert_eq!(five.shadowed_by, Some(SkillSource::Name("project".into())));
        let nine = json!({"key":{"source_uuid":"u","skill_name":"n"},"name":"n",
            "description":"d","scope":"project","is_active":false,
            "source":{"source_uuid":"u","display_name":"repo","transport_kind":"filesystem",
                      "fingerprint":"f","status":"active"},
            "shadowed_by":{"source_uuid":"v","display_name":"user","transport_kind":"filesystem",
                           "fingerprint":"g","status":"active","later":1}});
        let s: SkillInfo = serde_json::from_value(nine.clone()).unwrap();
        assert_eq!(
            (s.id.as_str(), s.key.as_ref().map(|k| k.skill_name.as_str())),
            ("u/n", Some("n"))
        );
        assert!(
            matches!(s.shadowed_by, Some(SkillSource::Provenance(ref p)) if p.extra["later"] == 1)
        );
        let mut back = serde_json::to_value(&s).unwrap();
        assert_eq!(
            back.as_object_mut().unwrap().remove("id"),
            Some(json!("u/n"))
        );
        assert_eq!(back, nine);
    }

    #[test]
    fn members_of_both_lines() {
        let m: MemberInfo = serde_json::from_value(json!({"agent_identity":"w1",
            "member_ref":"eyJhIjoidzEifQ","role":"worker","runtime_mode":"autonomous_host",
            "wired_to":["w2"],"labels":{"team":"a"},"status":"active","is_final":false}))
        .unwrap();
        assert_eq!(
            (m.meerkat_id.as_str(), m.profile.as_str()),
            ("w1", "worker")
        );
        assert_eq!(m.labels["team"], "a");
        let m: MemberInfo = serde_json::from_value(json!({"meerkat_id":"w1","profile":"worker",
            "member_ref":{"kind":"session","session_id":"s"},"runtime_mode":"turn_driven",
            "state":"Active","wired_to":[],"status":"active","is_final":false,
            "current_session_id":"s"}))
        .unwrap();
        assert_eq!((m.agent_identity, m.role), (None, None));
        assert_eq!(m.current_session_id.as_deref(), Some("s"));
        let r: MemberSendResult = serde_json::from_value(json!({"mob_id":"m",
            "agent_identity":"w1","member_ref":"x","handling_mode":"queue",
            "continuation":{"delivery_id":"d","committed_at_ms":1,"status":{"state":"pending"}}}))
        .unwrap();
        assert_eq!(r.member_id, "w1");
        assert!(r.continuation.is_some());
        let c: MobCreated =
            serde_json::from_value(json!({"mob_id":"m","claim_token":"mct_x"})).unwrap();
        assert_eq!(c.claim_token.as_deref(), Some("mct_x"));
    }
}
