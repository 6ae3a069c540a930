//! [`Session`] and [`DeferredSession`], and the session calls of
//! [`MeerkatClient`].

use std::fmt;

use meerkat_proto::{
    CommsCommand, DeferredCreated, Peer, Prompt, RunResult, SessionHistory, SessionInfo,
    SessionOptions, SkillRef, TurnOptions, Usage, methods,
};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::events::{EventStream, EventSubscription, SubscriptionKind};
use crate::recovery;
use meerkat_proto::Error;
use tracing::Instrument as _;

impl MeerkatClient {
    /// Creates a session and runs its first turn.
    ///
    /// Takes a prompt (`&str`, `String`, content blocks) or full
    /// [`SessionOptions`]. Turns have no default timeout: a model may think
    /// for minutes.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the options or the first turn
    /// fails; the connection errors of every call.
    ///
    /// ```no_run
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, SessionOptions};
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let session = client.create_session(
    ///     SessionOptions::new("Create hello.txt").enable_builtins(true).enable_shell(true),
    /// ).await?;
    /// println!("{}", session.text());
    /// # Ok(()) }
    /// ```
    pub async fn create_session(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<Session, Error> {
        let options = options.into();
        let result = self
            .call::<methods::SessionCreate, _>(options, self.request_timeout())
            .instrument(tracing::debug_span!("meerkat_create_session"))
            .await?;
        Ok(Session::new(self.clone(), result))
    }

    /// Creates a session and streams the events of its first turn.
    ///
    /// The session id is not known until the server answers; events of the
    /// new session are still routed to this stream from the first one on.
    /// Once the stream has ended, [`EventStream::result`] and
    /// [`EventStream::into_session`] give the result and the session.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgs`] for options that cannot be encoded and the
    /// connection errors; the turn's own failure comes through the stream.
    pub async fn create_session_streaming(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<EventStream, Error> {
        let options = options.into();
        let (id, shared, _) = self
            .open_stream::<methods::SessionCreate, _>(options, false)
            .await?;
        Ok(EventStream::new(self.clone(), id, shared, None))
    }

    /// Creates a session without running a turn; its first turn runs with
    /// [`DeferredSession::start_turn`].
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the options; the connection
    /// errors of every call.
    pub async fn create_deferred_session(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<DeferredSession, Error> {
        let options = options.into();
        let created = self
            .request::<methods::SessionCreateDeferred, _>(options)
            .await?;
        Ok(DeferredSession {
            client: self.clone(),
            created,
        })
    }

    /// Lists the sessions of the realm.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.request::<methods::SessionList, _>(methods::ListParams::default())
            .await
    }

    /// Reads one session's state.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    pub async fn read_session(&self, session_id: &str) -> Result<SessionInfo, Error> {
        self.request::<methods::SessionRead, _>(methods::SessionIdParams::new(session_id))
            .await
    }

    /// Reads a session's committed transcript, `limit` messages from
    /// `offset` (`None`: to the end).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    pub async fn read_session_history(
        &self,
        session_id: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<SessionHistory, Error> {
        self.request::<methods::SessionHistoryGet, _>(methods::HistoryParams::new(
            session_id, offset, limit,
        ))
        .await
    }

    /// Runs a turn and resets the session's runtime when it fails (see the
    /// crate docs, "Recovery").
    async fn run_turn(&self, params: methods::TurnParams) -> Result<RunResult, Error> {
        let session_id = params.session_id.clone();
        let span = tracing::debug_span!("meerkat_turn", %session_id);
        async {
            let result = self
                .call::<methods::TurnStart, _>(params, self.request_timeout())
                .await;
            if let Err(err) = &result {
                recovery::after_failed_turn(self, &session_id, err).await;
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Starts a streamed turn.
    async fn stream_turn(&self, params: methods::TurnParams) -> Result<EventStream, Error> {
        let session_id = params.session_id.clone();
        let (id, shared, _) = self
            .open_stream::<methods::TurnStart, _>(params, false)
            .await?;
        Ok(EventStream::new(self.clone(), id, shared, Some(session_id)))
    }
}

/// A session on the server, with the result of its last turn.
///
/// ```no_run
/// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
///
/// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let mut session = client.create_session("What is the capital of France?").await?;
/// let result = session.turn("And of Germany?").await?;
/// assert_eq!(result.text, session.text());
/// session.archive().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    client: MeerkatClient,
    last: RunResult,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.last.session_id)
            .field("reference", &self.last.session_ref)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(client: MeerkatClient, last: RunResult) -> Self {
        Self { client, last }
    }

    /// The session's id (a UUID).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.last.session_id
    }

    /// The session's reference (`"<realm>:<id>"`), when the server gave one.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.last.session_ref.as_deref()
    }

    /// The assistant's text of the last turn.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.last.text
    }

    /// The token usage of the last turn.
    #[must_use]
    pub fn usage(&self) -> &Usage {
        &self.last.usage
    }

    /// The number of model turns of the last run.
    #[must_use]
    pub fn turns(&self) -> u32 {
        self.last.turns
    }

    /// The number of tool calls of the last run.
    #[must_use]
    pub fn tool_calls(&self) -> u32 {
        self.last.tool_calls
    }

    /// The structured output of the last turn, if an output schema was set.
    #[must_use]
    pub fn structured_output(&self) -> Option<&Value> {
        self.last.structured_output.as_ref()
    }

    /// The full result of the last turn.
    #[must_use]
    pub fn last_result(&self) -> &RunResult {
        &self.last
    }

    /// The client this session belongs to.
    #[must_use]
    pub fn client(&self) -> &MeerkatClient {
        &self.client
    }

    /// Runs another turn and makes its result the session's last result.
    ///
    /// After a failed turn the session's runtime is reset before the error
    /// is returned, so the failed input is not replayed by the next turn.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the turn fails (`SESSION_NOT_FOUND`,
    /// `SESSION_BUSY`, ...); the connection errors of every call.
    pub async fn turn(&mut self, prompt: impl Into<Prompt>) -> Result<RunResult, Error> {
        self.turn_with(prompt, TurnOptions::default()).await
    }

    /// [`turn`](Self::turn) with per-turn options (skills, model override,
    /// extra instructions, keep-alive).
    ///
    /// # Errors
    ///
    /// As [`turn`](Self::turn).
    pub async fn turn_with(
        &mut self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<RunResult, Error> {
        let params = methods::TurnParams::new(self.id(), prompt.into(), options);
        let result = self.client.run_turn(params).await?;
        self.last = result.clone();
        Ok(result)
    }

    /// Runs another turn and streams its events.
    ///
    /// The stream owns the turn's result ([`EventStream::result`]);
    /// [`record`](Self::record) makes it the session's last result.
    ///
    /// # Errors
    ///
    /// The connection errors; the turn's own failure comes through the
    /// stream (after the runtime reset of "Recovery").
    pub async fn stream(&self, prompt: impl Into<Prompt>) -> Result<EventStream, Error> {
        self.stream_with(prompt, TurnOptions::default()).await
    }

    /// [`stream`](Self::stream) with per-turn options.
    ///
    /// # Errors
    ///
    /// As [`stream`](Self::stream).
    pub async fn stream_with(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        let params = methods::TurnParams::new(self.id(), prompt.into(), options);
        self.client.stream_turn(params).await
    }

    /// Makes `result` (of a streamed turn) the session's last result.
    pub fn record(&mut self, result: RunResult) {
        self.last = result;
    }

    /// Reads the session's committed transcript.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    pub async fn history(&self, offset: u64, limit: Option<u64>) -> Result<SessionHistory, Error> {
        self.client
            .read_session_history(self.id(), offset, limit)
            .await
    }

    /// Archives (removes) the session on the server.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` when already gone.
    pub async fn archive(&self) -> Result<(), Error> {
        self.client
            .request::<methods::SessionArchive, _>(methods::SessionIdParams::new(self.id()))
            .await
            .map(drop)
    }

    /// Interrupts the turn running on this session (a no-op when none is).
    ///
    /// The interrupted turn then fails. Before returning, this resets the
    /// session's runtime once the turn has stopped (DESIGN.md "Recovery"),
    /// so the next turn does not replay the interrupted input, even when
    /// nobody reads the interrupted turn any more (a dropped stream).
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    pub async fn interrupt(&self) -> Result<(), Error> {
        self.client
            .request::<methods::TurnInterrupt, _>(methods::SessionIdParams::new(self.id()))
            .await?;
        recovery::after_interrupt(&self.client, self.id()).await;
        Ok(())
    }

    /// Runs a turn that invokes a skill.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no `skills`
    /// capability; otherwise as [`turn`](Self::turn).
    pub async fn invoke_skill(
        &mut self,
        skill: impl Into<SkillRef>,
        prompt: impl Into<Prompt>,
    ) -> Result<RunResult, Error> {
        self.client.require_capability("skills")?;
        let options = TurnOptions::new().skill_refs(vec![skill.into()]);
        self.turn_with(prompt, options).await
    }

    /// Pushes a comms command into this session.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `comms` capability;
    /// [`Error::Rpc`] for commands the server refuses.
    pub async fn send(&self, command: CommsCommand) -> Result<Value, Error> {
        self.client.require_capability("comms")?;
        self.client
            .request::<methods::CommsSend, _>(methods::CommsSendParams::new(self.id(), command))
            .await
    }

    /// Lists the peers this session's comms runtime can see.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `comms` capability.
    pub async fn peers(&self) -> Result<Vec<Peer>, Error> {
        self.client.require_capability("comms")?;
        self.client
            .request::<methods::CommsPeers, _>(methods::SessionIdParams::new(self.id()))
            .await
    }

    /// Opens a standalone subscription to this session's events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses; the connection errors.
    pub async fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        let params = methods::SessionIdParams::new(self.id());
        let (id, shared, opened) = self
            .client
            .open_stream::<methods::SessionStreamOpen, _>(params, true)
            .await?;
        let opened = opened.ok_or(Error::NotConnected)?;
        let opened = self.client.decode::<methods::SessionStreamOpen>(&opened)?;
        Ok(EventSubscription::new(
            self.client.clone(),
            id,
            shared,
            opened.stream_id,
            SubscriptionKind::Session,
        ))
    }
}

/// A session created without running a turn.
///
/// ```no_run
/// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, TurnOptions};
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
///
/// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let deferred = client.create_deferred_session("Hello").await?;
/// let session = deferred.start_turn("Hello", TurnOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeferredSession {
    client: MeerkatClient,
    created: DeferredCreated,
}

impl fmt::Debug for DeferredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredSession")
            .field("id", &self.created.session_id)
            .finish_non_exhaustive()
    }
}

impl DeferredSession {
    /// The session's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.created.session_id
    }

    /// The session's reference, when the server gave one.
    #[must_use]
    pub fn reference(&self) -> Option<&str> {
        self.created.session_ref.as_deref()
    }

    /// Runs the first turn (with per-turn overrides) and returns the
    /// session.
    ///
    /// # Errors
    ///
    /// As [`Session::turn`].
    pub async fn start_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<Session, Error> {
        let params = methods::TurnParams::new(self.id(), prompt.into(), options);
        let result = self.client.run_turn(params).await?;
        Ok(Session::new(self.client.clone(), result))
    }

    /// Streams the first turn.
    ///
    /// # Errors
    ///
    /// As [`Session::stream`].
    pub async fn stream_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        let params = methods::TurnParams::new(self.id(), prompt.into(), options);
        self.client.stream_turn(params).await
    }
}
