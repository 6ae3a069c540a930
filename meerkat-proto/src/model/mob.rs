//! Typed results of the mob calls whose wire is known (PROTOCOL 4.8, 7.5):
//! a mob's state, a respawn's outcome, a flow run, and how a subscription
//! ended. Lenient on input: missing fields default, unknown strings are
//! kept as `Other`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire_enum::wire_enum;

wire_enum! {
    /// A mob's lifecycle state (PascalCase on the wire).
    pub enum MobState {
        /// Being created.
        Creating = "Creating",
        /// Running.
        Running = "Running",
        /// Stopped (can resume).
        Stopped = "Stopped",
        /// Finished its work.
        Completed = "Completed",
        /// Destroyed.
        Destroyed = "Destroyed",
    }
}

wire_enum! {
    /// How a respawn went (`mob/respawn`'s `status`).
    pub enum RespawnStatus {
        /// The member was respawned and rewired.
        Completed = "completed",
        /// Respawned, but some wiring could not be restored
        /// ([`RespawnResult::failed_peer_ids`]).
        TopologyRestoreFailed = "topology_restore_failed",
    }
}

wire_enum! {
    /// A flow run's state.
    pub enum FlowRunStatus {
        /// Not started yet.
        Pending = "pending",
        /// Running.
        Running = "running",
        /// Finished.
        Completed = "completed",
        /// Failed ([`FlowRun::failure_ledger`]).
        Failed = "failed",
        /// Cancelled.
        Canceled = "canceled",
    }
}

wire_enum! {
    /// How the server ended a subscription (`*/stream_end`'s `outcome`).
    pub enum StreamOutcome {
        /// The stream's source ended (a session archived, a runtime shut down).
        RemoteEnd = "remote_end",
        /// The client closed it.
        ExplicitClose = "explicit_close",
        /// The server's queue for it overflowed.
        TerminalError = "terminal_error",
    }
}

/// What `mob/respawn` answers.
///
/// ```
/// use meerkat_proto::{RespawnResult, RespawnStatus};
///
/// let r: RespawnResult = serde_json::from_str(
///     r#"{"status":"completed","receipt":{"member_id":"w1","new_session_id":"s2","old_session_id":"s1"}}"#,
/// ).unwrap();
/// assert_eq!(r.status, RespawnStatus::Completed);
/// assert_eq!(r.receipt.member_id, "w1");
/// // 0.9.x: the member's identity and opaque reference.
/// let r: RespawnResult = serde_json::from_str(
///     r#"{"status":"completed","receipt":{"identity":"w1","member_ref":"eyJhIjoidzEifQ"}}"#,
/// ).unwrap();
/// assert_eq!((r.receipt.member_id.as_str(), r.receipt.new_session_id), ("w1", None));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RespawnResult {
    /// How it went.
    pub status: RespawnStatus,
    /// The receipt: member id and old/new session ids on 0.5.x, identity
    /// and member reference on 0.9.x.
    pub receipt: RespawnReceipt,
    /// Peers whose wiring could not be restored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_peer_ids: Vec<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a respawn replaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RespawnReceiptDe")]
#[non_exhaustive]
pub struct RespawnReceipt {
    /// The member: 0.5.x `member_id`, 0.9.x `identity`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub member_id: String,
    /// 0.9.x: the member's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// 0.9.x: the member's opaque reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_ref: Option<Value>,
    /// 0.5.x: the session before the respawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_session_id: Option<String>,
    /// 0.5.x: the session after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_session_id: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct RespawnReceiptDe {
    member_id: String,
    identity: Option<String>,
    member_ref: Option<Value>,
    old_session_id: Option<String>,
    new_session_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<RespawnReceiptDe> for RespawnReceipt {
    fn from(d: RespawnReceiptDe) -> Self {
        Self {
            member_id: match &d.identity {
                Some(identity) if d.member_id.is_empty() => identity.clone(),
                _ => d.member_id,
            },
            identity: d.identity,
            member_ref: d.member_ref,
            old_session_id: d.old_session_id,
            new_session_id: d.new_session_id,
            extra: d.extra,
        }
    }
}

/// A flow run (`mob/flow_status`'s `run`).
///
/// ```
/// use meerkat_proto::{FlowRun, FlowRunStatus};
///
/// let run: FlowRun = serde_json::from_str(
///     r#"{"run_id":"r1","mob_id":"m","flow_id":"f","status":"failed",
///         "failure_ledger":[{"step_id":"a","reason":"boom","timestamp":"t"}]}"#,
/// ).unwrap();
/// assert_eq!(run.status, FlowRunStatus::Failed);
/// assert_eq!(run.failure_ledger[0].reason, "boom");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FlowRun {
    /// The run.
    pub run_id: String,
    /// Its mob.
    pub mob_id: String,
    /// Its flow.
    pub flow_id: String,
    /// Its state.
    pub status: FlowRunStatus,
    /// The flow kernel's state (`{"phase", "fields"}`), opaque.
    pub flow_state: Value,
    /// The params the run was started with.
    pub activation_params: Value,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
    /// When it completed (RFC 3339).
    pub completed_at: Option<String>,
    /// Its steps so far.
    pub step_ledger: Vec<FlowStep>,
    /// Its failures.
    pub failure_ledger: Vec<FlowFailure>,
    /// Fields this SDK does not know (0.9.x flattens kernel fields here).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One step of a flow run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FlowStep {
    /// The step.
    pub step_id: String,
    /// The member that ran it.
    pub meerkat_id: String,
    /// `dispatched`, `completed`, `failed`, `skipped` or `canceled`.
    pub status: String,
    /// Its output.
    pub output: Value,
    /// When (RFC 3339).
    pub timestamp: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One failure of a flow run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FlowFailure {
    /// The step that failed.
    pub step_id: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub timestamp: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_strings_are_kept_and_missing_fields_default() {
        let r: RespawnResult = serde_json::from_str(r#"{"status":"later"}"#).unwrap();
        assert_eq!(r.status, RespawnStatus::Other("later".into()));
        assert!(r.failed_peer_ids.is_empty());
        let run: FlowRun = serde_json::from_str("{}").unwrap();
        assert_eq!(run.status, FlowRunStatus::Other(String::new()));
        assert_eq!(
            serde_json::from_str::<StreamOutcome>(r#""explicit_close""#).unwrap(),
            StreamOutcome::ExplicitClose
        );
    }
}
