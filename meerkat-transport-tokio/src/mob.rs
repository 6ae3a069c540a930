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
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, MobSpec, SpawnSpec};
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let mob = client.create_mob(MobSpec::prefab("coding_swarm")).await?;
    /// mob.spawn(SpawnSpec::new("worker", "w1")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_mob(&self, spec: MobSpec) -> Result<Mob, Error> {
        let id = self.run(ops::create_mob(spec)).await?;
        Ok(self.mob(id))
    }

    /// Lists the mobs of the realm.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no mob methods.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// for mob in client.list_mobs().await? {
    ///     println!("{} {}", mob.mob_id, mob.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_mobs(&self) -> Result<Vec<MobSummary>, Error> {
        self.run(ops::list_mobs()).await
    }
}

/// A mob: a group of agents (members) with wiring and flows.
///
/// ```no_run
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
/// # use meerkat_transport_tokio::*;
/// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let mob = client.create_mob(MobSpec::prefab("coding_swarm")).await?;
/// mob.spawn(SpawnSpec::new("worker", "w1")).await?;
/// mob.spawn(SpawnSpec::new("worker", "w2")).await?;
/// mob.wire("w1", "w2").await?;
/// mob.member("w1").send("start", HandlingMode::Queue).await?;
/// mob.lifecycle(MobAction::Stop).await?;
/// # Ok(()) }
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// println!("{}", mob.status().await?.status);
    /// # Ok(()) }
    /// ```
    pub async fn status(&self) -> Result<MobSummary, Error> {
        self.client.run(ops::mob_status(&self.id)).await
    }

    /// Stops, resumes, completes, resets or destroys the mob.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the action.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// mob.lifecycle(MobAction::Stop).await?;
    /// mob.lifecycle(MobAction::Resume).await?;
    /// # Ok(()) }
    /// ```
    pub async fn lifecycle(&self, action: MobAction) -> Result<(), Error> {
        self.client.run(ops::mob_lifecycle(&self.id, action)).await
    }

    /// Spawns a member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses (unknown profile, duplicate id).
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let spawned = mob.spawn(SpawnSpec::new("worker", "w1")).await?;
    /// println!("{} runs {:?}", spawned.meerkat_id, spawned.session_id);
    /// # Ok(()) }
    /// ```
    pub async fn spawn(&self, spec: SpawnSpec) -> Result<SpawnResult, Error> {
        self.client.run(ops::mob_spawn(&self.id, spec)).await
    }

    /// Retires a member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// mob.retire("w1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn retire(&self, meerkat_id: &str) -> Result<(), Error> {
        self.client.run(ops::mob_retire(&self.id, meerkat_id)).await
    }

    /// Respawns a member with a fresh session.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// mob.respawn("w1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn respawn(&self, meerkat_id: &str) -> Result<RespawnResult, Error> {
        self.client
            .run(ops::mob_respawn(&self.id, meerkat_id))
            .await
    }

    /// Wires two members for comms.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for unknown members.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// mob.wire("w1", "w2").await?;
    /// # Ok(()) }
    /// ```
    pub async fn wire(&self, member: &str, peer: &str) -> Result<(), Error> {
        self.client.run(ops::mob_wire(&self.id, member, peer)).await
    }

    /// Removes the wiring between two members.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for unknown members.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// mob.unwire("w1", "w2").await?;
    /// # Ok(()) }
    /// ```
    pub async fn unwire(&self, member: &str, peer: &str) -> Result<(), Error> {
        self.client
            .run(ops::mob_unwire(&self.id, member, peer))
            .await
    }

    /// Lists the members.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// for m in mob.members().await? {
    ///     println!("{} ({}) wired to {:?}", m.meerkat_id, m.state, m.wired_to);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn members(&self) -> Result<Vec<MemberInfo>, Error> {
        self.client.run(ops::mob_members(&self.id)).await
    }

    /// Lists the mob's flows.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// for flow in mob.flows().await? {
    ///     println!("{flow}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn flows(&self) -> Result<Vec<String>, Error> {
        self.client.run(ops::mob_flows(&self.id)).await
    }

    /// Starts a flow run and returns its run id.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown flow.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({})).await?;
    /// println!("{:?}", mob.flow_status(&run_id).await?);
    /// # Ok(()) }
    /// ```
    pub async fn run_flow(&self, flow_id: &str, params: Value) -> Result<String, Error> {
        self.client
            .run(ops::mob_run_flow(&self.id, flow_id, params))
            .await
    }

    /// The status of a flow run (`None` when the server knows no such run).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for a malformed run id.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({})).await?;
    /// if let Some(run) = mob.flow_status(&run_id).await? {
    ///     println!("{} is {}", run.run_id, run.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn flow_status(&self, run_id: &str) -> Result<Option<FlowRun>, Error> {
        self.client
            .run(ops::mob_flow_status(&self.id, run_id))
            .await
    }

    /// Cancels a flow run.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown run.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run_flow("review", serde_json::json!({})).await?;
    /// mob.cancel_flow(&run_id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn cancel_flow(&self, run_id: &str) -> Result<(), Error> {
        self.client
            .run(ops::mob_cancel_flow(&self.id, run_id))
            .await
    }

    /// Subscribes to one member's agent events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob or member.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let mut events = mob.subscribe_member_events("w1").await?;
    /// while let Some(envelope) = events.next().await {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_member_events(
        &self,
        meerkat_id: &str,
    ) -> Result<EventSubscription, Error> {
        self.subscribe(Some(meerkat_id)).await
    }

    /// Subscribes to the events of every member.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown mob.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let mut events = mob.subscribe_events().await?;
    /// while let Some(envelope) = events.next().await {
    ///     let envelope = envelope?;
    ///     println!("{}: {:?}", envelope.source_id, envelope.event);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        self.subscribe(None).await
    }

    async fn subscribe(&self, member: Option<&str>) -> Result<EventSubscription, Error> {
        let call = ops::subscribe_mob(&self.id, member);
        EventSubscription::open(&self.client, call).await
    }
}

/// One member of a [`Mob`].
///
/// ```no_run
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
/// # use meerkat_transport_tokio::*;
/// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// # let mob = client.mob("m1");
/// let member = mob.member("w1");
/// member.send("Review the PR", HandlingMode::Queue).await?;
/// # Ok(()) }
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let sent = mob.member("w1").send("Stop and summarise", HandlingMode::Steer).await?;
    /// println!("{:?}", sent.session_id);
    /// # Ok(()) }
    /// ```
    pub async fn send(
        &self,
        content: impl Into<Prompt>,
        mode: HandlingMode,
    ) -> Result<MemberSendResult, Error> {
        let call = ops::member_send(&self.mob.id, &self.id, content.into(), mode);
        self.mob.client.run(call).await
    }

    /// Subscribes to this member's agent events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for an unknown member.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let mut events = mob.member("w1").subscribe_events().await?;
    /// while let Some(envelope) = events.next().await {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        self.mob.subscribe(Some(&self.id)).await
    }
}

meerkat_proto::__meerkat_mob_handles!(async "meerkat_transport_tokio");

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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let destroyed = mob.destroy().await?;
    /// assert!(destroyed.destroy_report.errors.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn destroy(&self) -> Result<meerkat_proto::MobDestroyed, Error> {
        self.client.run(ops::mob_destroy(&self.id)).await
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run(None, serde_json::json!({"prompt": "Review PR 7"})).await?;
    /// println!("{:?}", mob.run_result(&run_id).await?);
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, flow_id: Option<&str>, params: Value) -> Result<String, Error> {
        self.client
            .run(ops::mob_run(&self.id, flow_id, params))
            .await
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let mob = client.mob("m1");
    /// let run_id = mob.run(Some("review"), serde_json::Value::Null).await?;
    /// if let Some(run) = mob.run_result(&run_id).await? {
    ///     println!("{}: {:?}", run.status, run.result);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run_result(
        &self,
        run_id: &str,
    ) -> Result<Option<meerkat_proto::MobRunOutcome>, Error> {
        self.client.run(ops::mob_run_result(&self.id, run_id)).await
    }
}
