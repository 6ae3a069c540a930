//! The params of the methods in [`methods`](super::methods): one type per
//! request shape, each written for the contract line spoken (see
//! [`Dialect`](super::Dialect)).

use super::content::Prompt;
use super::dialect::{ContractLine, Dialect};
use super::error::UsageError;
use super::misc::{CommsCommand, HandlingMode, MobAction, SpawnSpec};
use super::options::TurnOptions;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Params as written on the wire.
pub(crate) type Raw = Result<Option<Box<RawValue>>, UsageError>;

/// Serialises `v` as the params.
pub(crate) fn to_raw<T: Serialize + ?Sized>(v: &T) -> Raw {
    Ok(Some(serde_json::value::to_raw_value(v)?))
}

/// Writes `p` as it serialises on 0.5; on 0.9 its member field `field`
/// (`meerkat_id`, `member_id`) is named `agent_identity`, which is how every
/// mob request of 0.9 names a member (PROTOCOL.md §7.5: most mob params
/// reject unknown keys, so the 0.5 name is an error there, not ignored).
fn member_renamed<T: Serialize>(p: &T, field: &str, dialect: &Dialect) -> Raw {
    match dialect.line() {
        ContractLine::V0_5 => to_raw(p),
        ContractLine::V0_9 => {
            let mut v = serde_json::to_value(p)?;
            if let Some(m) = v.as_object_mut()
                && let Some(id) = m.remove(field)
            {
                m.insert("agent_identity".into(), id);
            }
            to_raw(&v)
        }
    }
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
    /// At most this many (0.9: 100 when `None`, and at most 1000).
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
    /// At most this many: all when `None` on 0.5, 100 on 0.9 (which
    /// refuses more than 1000).
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

    /// The params for `dialect`.
    ///
    /// 0.5 takes the flat command as it is. 0.9 types it by `kind` and
    /// rejects any key the kind does not have, and it answers params it
    /// cannot parse with an error whose id is `null`, which no caller
    /// receives (PROTOCOL.md §1.6, `badparams.jsonl`): so here a field of
    /// another kind, a missing field, a value outside a closed set, or a
    /// `to`/`in_reply_to` that is not a UUID (0.9 addresses peers by id, not
    /// name) is refused before sending. A `peer_response` without `status`
    /// is `completed`, as 0.5 reads it.
    pub(crate) fn encode(&self, dialect: &Dialect) -> Raw {
        if dialect.line() == ContractLine::V0_5 {
            return to_raw(self);
        }
        let kind = self.command.kind.as_str();
        let (fields, required): (&[&str], &[&str]) = match kind {
            "input" => (
                &[
                    "body",
                    "source",
                    "stream",
                    "handling_mode",
                    "allow_self_session",
                ],
                &["body"],
            ),
            "peer_message" => (&["to", "body", "handling_mode"], &["to", "body"]),
            "peer_request" => (
                &["to", "intent", "params", "handling_mode", "stream"],
                &["to", "intent", "params"],
            ),
            "peer_response" => (
                &["to", "in_reply_to", "status", "result", "handling_mode"],
                &["to", "in_reply_to"],
            ),
            _ => {
                return Err(dialect.refuse(
                    format!("comms/send kind {kind:?}"),
                    "kinds: input, peer_message, peer_request, peer_response",
                ));
            }
        };
        let mut v = serde_json::to_value(self)?;
        let m = v
            .as_object_mut()
            .expect("CommsSendParams serialises to an object");
        for key in m.keys().filter(|k| *k != "session_id" && *k != "kind") {
            if !fields.contains(&key.as_str()) {
                return Err(dialect.refuse(
                    key.clone(),
                    &format!("comms/send {kind} takes {}", fields.join(", ")),
                ));
            }
        }
        if let Some(missing) = required.iter().find(|f| !m.contains_key(**f)) {
            return Err(UsageError::InvalidArgs(format!(
                "comms/send {kind} needs `{missing}`"
            )));
        }
        if kind == "peer_response" && !m.contains_key("status") {
            m.insert("status".into(), json!("completed"));
        }
        for (field, values) in COMMS_CLOSED_09 {
            if let Some(value) = m.get(field).and_then(Value::as_str)
                && !values.contains(&value)
            {
                return Err(dialect.refuse(
                    format!("{field} {value:?}"),
                    &format!("comms/send {field} is one of {}", values.join(", ")),
                ));
            }
        }
        for field in ["to", "in_reply_to"] {
            if let Some(id) = m.get(field).and_then(Value::as_str)
                && !is_uuid(id)
            {
                return Err(dialect.refuse(
                    format!("comms/send {field} {id:?}"),
                    "peers and interactions are addressed by UUID (comms/peers lists each \
                     peer's peer_id), not by name",
                ));
            }
        }
        to_raw(&v)
    }
}

/// The closed string sets of 0.9's `comms/send`.
const COMMS_CLOSED_09: [(&str, &[&str]); 5] = [
    ("status", &["accepted", "completed", "failed"]),
    ("source", &["tcp", "uds", "stdin", "webhook", "rpc"]),
    ("stream", &["none", "reserve_interaction"]),
    ("handling_mode", &["queue", "steer"]),
    ("intent", &["supervisor.bridge", "checksum_token"]),
];

/// Whether `s` is a UUID as the server parses one: hyphenated
/// (`8-4-4-4-12` hex digits, optionally braced or `urn:uuid:`) or 32 hex
/// digits.
fn is_uuid(s: &str) -> bool {
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [one] => hex(one, 32),
        [a, b, c, d, e] => hex(a, 8) && hex(b, 4) && hex(c, 4) && hex(d, 4) && hex(e, 12),
        _ => false,
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

    /// The params for `dialect` (`agent_identity` on 0.9).
    pub(crate) fn encode(&self, dialect: &Dialect) -> Raw {
        member_renamed(self, "meerkat_id", dialect)
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
    /// The params for `dialect` (the spec's `meerkat_id` is `agent_identity`
    /// on 0.9).
    pub(crate) fn encode(&self, dialect: &Dialect) -> Raw {
        member_renamed(self, "meerkat_id", dialect)
    }

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
    /// The caller's idempotency key (contract 0.9 only): see
    /// [`idempotency_key`](Self::idempotency_key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
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
            idempotency_key: None,
        }
    }

    /// Sets an idempotency key (contract 0.9 only; refused on 0.5). The
    /// server deduplicates keyed sends per member identity (across a
    /// respawn): a keyed send is committed as a member continuation and
    /// answered with a delivery receipt (`continuation`) instead of a turn;
    /// other content under a used key is refused. The key is canonical text:
    /// non-empty, no surrounding whitespace, no control characters, at most
    /// 256 bytes.
    ///
    /// ```
    /// use meerkat_proto::HandlingMode;
    /// use meerkat_proto::methods::MemberSendParams;
    /// let p = MemberSendParams::new("team", "w1", "Review PR 7", HandlingMode::Queue)
    ///     .idempotency_key("pr-7-review");
    /// assert_eq!(p.idempotency_key.as_deref(), Some("pr-7-review"));
    /// ```
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The params for `dialect`: `agent_identity` on 0.9; an idempotency
    /// key is refused on 0.5.
    pub(crate) fn encode(&self, dialect: &Dialect) -> Raw {
        dialect.require_0_9("idempotency_key", self.idempotency_key.is_some())?;
        member_renamed(self, "meerkat_id", dialect)
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
    /// The params for `dialect`. On 0.9 the member selector is
    /// `agent_identity`: 0.9 answers `member_id` with an error whose id is
    /// `null`, which no caller would ever receive (it would wait for its
    /// deadline), so `member_id` is never sent there.
    pub(crate) fn encode(&self, dialect: &Dialect) -> Raw {
        member_renamed(self, "member_id", dialect)
    }

    /// A stream of `mob_id` (one member's when `member_id` is set).
    pub fn new(mob_id: impl Into<String>, member_id: Option<String>) -> Self {
        Self {
            mob_id: mob_id.into(),
            member_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn uuids_in_the_forms_the_server_parses() {
        for id in [
            "0190e0a0-0000-7000-8000-000000000001",
            "0190E0A0000070008000000000000001",
            "{0190e0a0-0000-7000-8000-000000000001}",
            "urn:uuid:0190e0a0-0000-7000-8000-000000000001",
        ] {
            assert!(is_uuid(id), "{id}");
        }
        for not in [
            "reviewer",
            "",
            "0190e0a0-0000-7000-8000-00000000000",
            "0190e0a0-0000-7000-8000-00000000000g",
            "0190e0a000007000-8000-000000000001",
        ] {
            assert!(!is_uuid(not), "{not}");
        }
    }
}
