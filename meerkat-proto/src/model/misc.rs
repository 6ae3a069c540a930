//! Smaller result and parameter types: comms, config, skills, streams, mobs.

use super::content::Prompt;
use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Its peer id.
    pub peer_id: String,
    /// Its address (`inproc://...`).
    pub address: String,
    /// `Trusted`, `Inproc`, `TrustedAndInproc` or `Unknown`.
    pub source: String,
    /// `unknown`, `reachable` or `unreachable`.
    pub reachability: String,
    /// Why it was last unreachable.
    pub last_unreachable_reason: Option<String>,
    /// `{"description", "labels"}`.
    pub meta: Value,
    /// Kinds it accepts.
    pub sendable_kinds: Vec<String>,
    /// Its capabilities.
    pub capabilities: Value,
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
}

/// A skill (`skills/list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SkillInfo {
    /// Its id (`extraction/email`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `builtin`, `project` or `user`.
    pub scope: String,
    /// Where it comes from.
    pub source: Option<String>,
    /// Whether it is active.
    pub is_active: bool,
    /// The skill shadowing it, if any.
    pub shadowed_by: Option<String>,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SpawnResult {
    /// The mob.
    pub mob_id: String,
    /// The member.
    pub meerkat_id: String,
    /// The member's session, if it has one.
    pub session_id: Option<String>,
    /// `{"kind": "session", "session_id"}` or a backend peer.
    pub member_ref: Value,
}

/// A mob member (`mob/members`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MemberInfo {
    /// The member id.
    pub meerkat_id: String,
    /// Its profile.
    pub profile: String,
    /// Its reference.
    pub member_ref: Value,
    /// `autonomous_host` or `turn_driven`.
    pub runtime_mode: String,
    /// `Active` or `Retiring`.
    pub state: String,
    /// The members it is wired to.
    pub wired_to: Vec<String>,
    /// `active`, `retiring`, `broken`, `completed` or `unknown`.
    pub status: String,
    /// An error, if broken.
    pub error: Option<String>,
    /// Whether it reached a final state.
    pub is_final: bool,
    /// Its current session.
    pub current_session_id: Option<String>,
}

/// The result of sending to a member (`mob/send` or `mob/member_send`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MemberSendResult {
    /// The mob (0.5.2 only).
    pub mob_id: Option<String>,
    /// The member.
    pub member_id: String,
    /// The member's session.
    pub session_id: Option<String>,
    /// How it was handled.
    pub handling_mode: Option<HandlingMode>,
}
