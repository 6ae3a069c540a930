//! [`Session`] and [`DeferredSession`], and the session calls of
//! [`MeerkatClient`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use meerkat_proto::sdk::ops;
use meerkat_proto::{
    CommsCommand, DeferredCreated, Peer, Prompt, RunResult, SessionHistory, SessionInfo,
    SessionOptions, SkillRef, TurnOptions,
};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::events::{EventStream, EventSubscription};
use meerkat_proto::Error;
use tracing::Instrument as _;

impl MeerkatClient {
    /// Creates a session and runs its first turn.
    ///
    /// Takes a prompt (`&str`, `String`, content blocks) or full
    /// [`SessionOptions`]. The first turn gets the request timeout of the
    /// [`ConnectOptions`](crate::ConnectOptions) (default 10 minutes; raise
    /// it for longer turns).
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
        let span = tracing::debug_span!("meerkat_create_session");
        let result = self
            .run(ops::create_session(options.into()))
            .instrument(span)
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
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let mut events = client.create_session_streaming("Hello").await?;
    /// while let Some(event) = events.next().await {
    ///     if let Event::TextDelta { delta, .. } = event? {
    ///         print!("{delta}");
    ///     }
    /// }
    /// println!("\nsession {}", events.session_id().expect("finished"));
    /// # Ok(()) }
    /// ```
    pub async fn create_session_streaming(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<EventStream, Error> {
        EventStream::open(self, ops::create_session(options.into()), None).await
    }

    /// Creates a session without running a turn; its first turn runs with
    /// [`DeferredSession::start_turn`].
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the options; the connection
    /// errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let deferred = client.create_deferred_session(SessionOptions::new("You are a tutor.").model("claude-sonnet-4-5")).await?;
    /// let session = deferred.start_turn("Teach me Rust", TurnOptions::default()).await?;
    /// println!("{}", session.text());
    /// # Ok(()) }
    /// ```
    pub async fn create_deferred_session(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<DeferredSession, Error> {
        let created = self
            .run(ops::create_deferred_session(options.into()))
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
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// for info in client.list_sessions().await? {
    ///     println!("{}: {} messages", info.session_id, info.message_count);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.run(ops::list_sessions()).await
    }

    /// Reads one session's state.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let info = client.read_session(session.id()).await?;
    /// println!("{:?}", info.last_assistant_text);
    /// # Ok(()) }
    /// ```
    pub async fn read_session(&self, session_id: &str) -> Result<SessionInfo, Error> {
        self.run(ops::read_session(session_id)).await
    }

    /// Reads a session's committed transcript, `limit` messages from
    /// `offset` (`None`: to the end).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let page = client.read_session_history(session.id(), 0, Some(20)).await?;
    /// println!("{} of {} messages", page.messages.len(), page.message_count);
    /// # Ok(()) }
    /// ```
    pub async fn read_session_history(
        &self,
        session_id: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<SessionHistory, Error> {
        self.run(ops::session_history(session_id, offset, limit))
            .await
    }
}

impl Session {
    /// Runs another turn and makes its result the session's last result.
    ///
    /// After a failed turn the session's runtime is reset before the error
    /// is returned, so the failed input is not replayed by the next turn.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the turn fails (`SESSION_NOT_FOUND`,
    /// `SESSION_BUSY`, ...); the connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let result = session.turn("And of Germany?").await?;
    /// assert_eq!(result.text, session.text());
    /// # Ok(()) }
    /// ```
    pub async fn turn(&self, prompt: impl Into<Prompt>) -> Result<RunResult, Error> {
        self.turn_with(prompt, TurnOptions::default()).await
    }

    /// [`turn`](Self::turn) with per-turn options (skills, model override,
    /// extra instructions, keep-alive).
    ///
    /// # Errors
    ///
    /// As [`turn`](Self::turn).
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// session.turn_with(
    ///     "Summarise",
    ///     TurnOptions::new().model("claude-sonnet-4-5").additional_instructions(vec!["Be brief".to_owned()]),
    /// ).await?;
    /// # Ok(()) }
    /// ```
    pub async fn turn_with(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<RunResult, Error> {
        let span = tracing::debug_span!("meerkat_turn", session_id = %self.id);
        let call = ops::turn(&self.id, prompt.into(), options);
        let result = self.client.run(call).instrument(span).await?;
        self.record(result.clone());
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
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.stream("Explain the CI pipeline").await?;
    /// while let Some(event) = events.next().await {
    ///     if let Event::TextDelta { delta, .. } = event? {
    ///         print!("{delta}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream(&self, prompt: impl Into<Prompt>) -> Result<EventStream, Error> {
        self.stream_with(prompt, TurnOptions::default()).await
    }

    /// [`stream`](Self::stream) with per-turn options.
    ///
    /// # Errors
    ///
    /// As [`stream`](Self::stream).
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let (text, _) = session
    ///     .stream_with("Explain", TurnOptions::new().model("claude-sonnet-4-5")).await?
    ///     .collect_text().await?;
    /// println!("{text}");
    /// # Ok(()) }
    /// ```
    pub async fn stream_with(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        let call = ops::turn(&self.id, prompt.into(), options);
        EventStream::open(&self.client, call, Some(Arc::clone(&self.last))).await
    }

    /// Makes `result` (of a streamed turn) the session's last result.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let result = session.stream("Go on").await?.collect().await?;
    /// session.record(result);
    /// println!("{}", session.text());
    /// # Ok(()) }
    /// ```
    pub fn record(&self, result: RunResult) {
        *self.last() = result;
    }

    /// Reads the session's committed transcript.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let page = session.history(0, Some(10)).await?;
    /// for message in &page.messages {
    ///     println!("{message:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self, offset: u64, limit: Option<u64>) -> Result<SessionHistory, Error> {
        self.client
            .run(ops::session_history(&self.id, offset, limit))
            .await
    }

    /// Archives (removes) the session on the server.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` when already gone.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// session.archive().await?;
    /// # Ok(()) }
    /// ```
    pub async fn archive(&self) -> Result<(), Error> {
        self.client.run(ops::archive(&self.id)).await
    }

    /// Interrupts the turn running on this session (a no-op when none is).
    ///
    /// The interrupted turn then fails. Before returning, this resets the
    /// session's runtime once the turn has stopped (see the crate docs,
    /// "Recovery"), so the next turn does not replay the interrupted input,
    /// even when nobody reads the interrupted turn any more (a dropped
    /// stream).
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let events = session.stream("Write a long essay").await?;
    /// let reader = tokio::spawn(events.collect());
    /// session.interrupt().await?;
    /// let outcome = reader.await.expect("reader task");
    /// println!("{:?}", outcome.map(|r| r.text));
    /// # Ok(()) }
    /// ```
    pub async fn interrupt(&self) -> Result<(), Error> {
        self.client.run(ops::interrupt(&self.id)).await
    }

    /// Runs a turn that invokes a skill.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no `skills`
    /// capability; otherwise as [`turn`](Self::turn).
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let key = SkillKey::new("0190e7a2-4b1c-7d3e-8f00-123456789abc", "code-review");
    /// let result = session.invoke_skill(key, "Review the last commit").await?;
    /// println!("{}", result.text);
    /// # Ok(()) }
    /// ```
    pub async fn invoke_skill(
        &self,
        skill: impl Into<SkillRef>,
        prompt: impl Into<Prompt>,
    ) -> Result<RunResult, Error> {
        let result = self
            .client
            .run(ops::invoke_skill(&self.id, skill.into(), prompt.into()))
            .await?;
        self.record(result.clone());
        Ok(result)
    }

    /// Pushes a comms command into this session.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `comms` capability;
    /// [`Error::Rpc`] for commands the server refuses.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// session.send(CommsCommand::peer_message("bob", "The build is green")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, command: CommsCommand) -> Result<Value, Error> {
        self.client.run(ops::comms_send(&self.id, command)).await
    }

    /// Lists the peers this session's comms runtime can see.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `comms` capability.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// for peer in session.peers().await? {
    ///     println!("{} ({})", peer.name, peer.reachability);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn peers(&self) -> Result<Vec<Peer>, Error> {
        self.client.run(ops::comms_peers(&self.id)).await
    }

    /// Opens a standalone subscription to this session's events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses; the connection errors.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.subscribe_events().await?;
    /// while let Some(envelope) = events.next().await {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        EventSubscription::open(&self.client, ops::subscribe_session(&self.id)).await
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

impl DeferredSession {
    /// Runs the first turn (with per-turn overrides) and returns the
    /// session.
    ///
    /// # Errors
    ///
    /// As [`Session::turn`].
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let deferred = client.create_deferred_session("Hello").await?;
    /// let session = deferred.start_turn("Hello", TurnOptions::new().model("claude-sonnet-4-5")).await?;
    /// println!("{}", session.text());
    /// # Ok(()) }
    /// ```
    pub async fn start_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<Session, Error> {
        let result = self
            .client
            .run(ops::turn(self.id(), prompt.into(), options))
            .await?;
        Ok(Session::new(self.client.clone(), result))
    }

    /// Streams the first turn.
    ///
    /// # Errors
    ///
    /// As [`Session::stream`].
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let deferred = client.create_deferred_session("Hello").await?;
    /// let events = deferred.stream_turn("Hello", TurnOptions::default()).await?;
    /// let (text, result) = events.collect_text().await?;
    /// println!("{text} ({} tokens)", result.usage.total_tokens);
    /// # Ok(()) }
    /// ```
    pub async fn stream_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        EventStream::open(
            &self.client,
            ops::turn(self.id(), prompt.into(), options),
            None,
        )
        .await
    }
}

meerkat_proto::__meerkat_session_accessors!(async "meerkat_transport_tokio");

// The contract 0.9 calls of a session (issue 11): stop one run, fork,
// an input's stored state.
impl Session {
    /// Stops the run `run_id` of this session, if it is the current one
    /// (`turn/stop_run`, contract 0.9): its turn then fails with a cancelled
    /// error. The receipt says whether it was stopped
    /// ([`RunStopOutcome::Stopped`](crate::RunStopOutcome::Stopped), with each input's ending) or was not the
    /// current run (`NotCurrent`: nothing was stopped). The run ids are in
    /// the `RunStarted` event's `identity` and in the history.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for a malformed run id; the connection errors of every
    /// call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.stream("Write a long essay").await?;
    /// while let Some(event) = events.next().await {
    ///     if let Event::RunStarted { identity: Some(identity), .. } = event? {
    ///         if let Some(run_id) = identity.run_id.as_deref() {
    ///             let stopped = session.stop_run(run_id, "no longer needed").await?;
    ///             println!("{}", stopped.receipt.outcome);
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stop_run(
        &self,
        run_id: &str,
        reason: &str,
    ) -> Result<meerkat_proto::StopRunResult, Error> {
        self.client
            .run(ops::stop_run(&self.id, run_id, reason))
            .await
    }

    /// Forks this (idle) session: a new session with its first
    /// `message_index` messages, the system prompt included
    /// (`session/fork_at`, contract 0.9). The fork has no turn yet; the
    /// source is unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for an index past the transcript or a running session;
    /// the connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// // The system prompt, the first prompt and its answer.
    /// let fork = session.fork_at(3).await?;
    /// println!("{} has {} messages", fork.session_id, fork.message_count);
    /// # Ok(()) }
    /// ```
    pub async fn fork_at(&self, message_index: u64) -> Result<meerkat_proto::SessionFork, Error> {
        self.client.run(ops::fork_at(&self.id, message_index)).await
    }

    /// The stored state of one input of this session, by input id or by the
    /// idempotency key it was sent with (`session/input_status`, contract
    /// 0.9); `None` when no input matches.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent); the
    /// connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let key = InputSelector::IdempotencyKey("order-42".into());
    /// if let Some(state) = session.input_status(key).await? {
    ///     println!("{} {:?}", state.current_state, state.terminal_outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn input_status(
        &self,
        selector: meerkat_proto::InputSelector,
    ) -> Result<Option<meerkat_proto::InputState>, Error> {
        self.client.run(ops::input_status(&self.id, selector)).await
    }
}
