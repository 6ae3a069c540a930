//! [`Mob`] and [`Member`], and the mob calls of [`MeerkatClient`].

use meerkat_proto::sdk::ops;
use meerkat_proto::{
    FlowRun, HandlingMode, MemberInfo, MemberSendResult, MobAction, MobSpec, MobSummary, Prompt,
    RespawnResult, SpawnResult, SpawnSpec,
};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::events::EventSubscription;
use meerkat_proto::Error;

impl MeerkatClient {
    /// Creates a mob from a prefab or a definition.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no mob methods;
    /// [`Error::Rpc`] when it refuses the spec.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, MobSpec, SpawnSpec};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let mob = client.create_mob(MobSpec::prefab("coding_swarm"))?;
    /// mob.spawn(SpawnSpec::new("worker", "w1"))?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn create_mob(&self, spec: MobSpec) -> Result<Mob, Error> {
        let id = self.run(ops::create_mob(spec))?;
        Ok(self.mob(id))
    }

    /// Lists the mobs of the realm.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no mob methods.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// for mob in client.list_mobs()? {
    ///     println!("{} {}", mob.mob_id, mob.status);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn list_mobs(&self) -> Result<Vec<MobSummary>, Error> {
        self.run(ops::list_mobs())
    }
}

/// A mob: a group of agents (members) with wiring and flows.
///
/// ```no_run
/// # use meerkat_transport_blocking::*;
/// # let client = MeerkatClient::connect(ConnectOptions::default())?;
/// let mob = client.create_mob(MobSpec::prefab("coding_swarm"))?;
/// mob.spawn(SpawnSpec::new("worker", "w1"))?;
/// mob.spawn(SpawnSpec::new("worker", "w2"))?;
/// mob.wire("w1", "w2")?;
/// mob.member("w1").send("start", HandlingMode::Queue)?;
/// mob.lifecycle(MobAction::Stop)?;
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Mob {
    client: MeerkatClient,
    id: String,
}

impl Mob {
    /// The mob's status.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// println!("{}", mob.status()?.status);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn status(&self) -> Result<MobSummary, Error> {
        self.client.run(ops::mob_status(&self.id))
    }

    /// Stops, resumes, completes, resets or destroys the mob.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the action.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// mob.lifecycle(MobAction::Stop)?;
    /// mob.lifecycle(MobAction::Resume)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn lifecycle(&self, action: MobAction) -> Result<(), Error> {
        self.client.run(ops::mob_lifecycle(&self.id, action))
    }

    /// Spawns a member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses (unknown profile, duplicate id).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let spawned = mob.spawn(SpawnSpec::new("worker", "w1"))?;
    /// println!("{} runs {:?}", spawned.meerkat_id, spawned.session_id);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn spawn(&self, spec: SpawnSpec) -> Result<SpawnResult, Error> {
        self.client.run(ops::mob_spawn(&self.id, spec))
    }

    /// Retires a member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// mob.retire("w1")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn retire(&self, meerkat_id: &str) -> Result<(), Error> {
        self.client.run(ops::mob_retire(&self.id, meerkat_id))
    }

    /// Respawns a member with a fresh session.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// mob.respawn("w1")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn respawn(&self, meerkat_id: &str) -> Result<RespawnResult, Error> {
        self.client.run(ops::mob_respawn(&self.id, meerkat_id))
    }

    /// Wires two members for comms.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for unknown members.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// mob.wire("w1", "w2")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn wire(&self, member: &str, peer: &str) -> Result<(), Error> {
        self.client.run(ops::mob_wire(&self.id, member, peer))
    }

    /// Removes the wiring between two members.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for unknown members.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// mob.unwire("w1", "w2")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn unwire(&self, member: &str, peer: &str) -> Result<(), Error> {
        self.client.run(ops::mob_unwire(&self.id, member, peer))
    }

    /// Lists the members.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// for m in mob.members()? {
    ///     println!("{} ({}) wired to {:?}", m.meerkat_id, m.state, m.wired_to);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn members(&self) -> Result<Vec<MemberInfo>, Error> {
        self.client.run(ops::mob_members(&self.id))
    }

    /// Lists the mob's flows.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// for flow in mob.flows()? {
    ///     println!("{flow}");
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn flows(&self) -> Result<Vec<String>, Error> {
        self.client.run(ops::mob_flows(&self.id))
    }

    /// Starts a flow run and returns its run id.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown flow.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({}))?;
    /// println!("{:?}", mob.flow_status(&run_id)?);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn run_flow(&self, flow_id: &str, params: Value) -> Result<String, Error> {
        self.client
            .run(ops::mob_run_flow(&self.id, flow_id, params))
    }

    /// The status of a flow run (`None` when the server knows no such run).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for a malformed run id.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({}))?;
    /// if let Some(run) = mob.flow_status(&run_id)? {
    ///     println!("{} is {}", run.run_id, run.status);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn flow_status(&self, run_id: &str) -> Result<Option<FlowRun>, Error> {
        self.client.run(ops::mob_flow_status(&self.id, run_id))
    }

    /// Cancels a flow run.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown run.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({}))?;
    /// mob.cancel_flow(&run_id)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cancel_flow(&self, run_id: &str) -> Result<(), Error> {
        self.client.run(ops::mob_cancel_flow(&self.id, run_id))
    }

    /// Subscribes to one member's agent events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob or member.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// for envelope in mob.subscribe_member_events("w1")?.take(10) {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn subscribe_member_events(&self, meerkat_id: &str) -> Result<EventSubscription, Error> {
        self.subscribe(Some(meerkat_id))
    }

    /// Subscribes to the events of every member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// for envelope in mob.subscribe_events()?.take(10) {
    ///     let envelope = envelope?;
    ///     println!("{}: {:?}", envelope.source_id, envelope.event);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        self.subscribe(None)
    }

    fn subscribe(&self, member: Option<&str>) -> Result<EventSubscription, Error> {
        let call = ops::subscribe_mob(&self.id, member);
        EventSubscription::open(&self.client, call)
    }
}

/// One member of a [`Mob`].
///
/// ```no_run
/// # use meerkat_transport_blocking::*;
/// # let client = MeerkatClient::connect(ConnectOptions::default())?;
/// # let mob = client.mob("m1");
/// let member = mob.member("w1");
/// member.send("Review the PR", HandlingMode::Queue)?;
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Member {
    mob: Mob,
    id: String,
}

impl Member {
    /// Sends work to the member (`mob/send` or `mob/member_send`, whichever
    /// the server lists).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let sent = mob.member("w1").send("Stop and summarise", HandlingMode::Steer)?;
    /// println!("{:?}", sent.session_id);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn send(
        &self,
        content: impl Into<Prompt>,
        mode: HandlingMode,
    ) -> Result<MemberSendResult, Error> {
        let call = ops::member_send(&self.mob.id, &self.id, content.into(), mode);
        self.mob.client.run(call)
    }

    /// Subscribes to this member's agent events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// for envelope in mob.member("w1").subscribe_events()?.take(10) {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        self.mob.subscribe(Some(&self.id))
    }
}

meerkat_proto::__meerkat_mob_handles!(blocking "meerkat_transport_blocking");

// The contract 0.9 calls of a mob (issue 11): destroy, and a mob as a
// callable run.
impl Mob {
    /// Destroys the mob: its members are retired and its storage cleaned
    /// (`mob/destroy`, contract 0.9); the report says what was cleaned up.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for an unknown mob; the connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let destroyed = mob.destroy()?;
    /// assert!(destroyed.destroy_report.errors.is_empty());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn destroy(&self) -> Result<meerkat_proto::MobDestroyed, Error> {
        self.client.run(ops::mob_destroy(&self.id))
    }

    /// Runs a flow of the mob as a callable and returns the run id
    /// (`mob/run`, contract 0.9): `flow_id` `None` runs the flow `main`;
    /// `params` (an object, or `null`) are its activation params, a `prompt`
    /// among them included. Read the outcome with
    /// [`run_result`](Self::run_result).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for an unknown mob or flow; the connection errors of
    /// every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run(None, serde_json::json!({"prompt": "Review PR 7"}))?;
    /// println!("{:?}", mob.run_result(&run_id)?);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn run(&self, flow_id: Option<&str>, params: Value) -> Result<String, Error> {
        self.client.run(ops::mob_run(&self.id, flow_id, params))
    }

    /// The outcome of a mob run (`mob/run_result`, contract 0.9): its status
    /// (`pending` and `running` until it ends), result and step outputs;
    /// `None` when the server knows no such run.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for an unknown mob; the connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run(Some("review"), serde_json::Value::Null)?;
    /// if let Some(run) = mob.run_result(&run_id)? {
    ///     println!("{}: {:?}", run.status, run.result);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn run_result(&self, run_id: &str) -> Result<Option<meerkat_proto::MobRunOutcome>, Error> {
        self.client.run(ops::mob_run_result(&self.id, run_id))
    }
}
