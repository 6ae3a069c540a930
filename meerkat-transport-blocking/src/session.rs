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

impl MeerkatClient {
    /// Creates a session and runs its first turn.
    ///
    /// Takes a prompt (`&str`, `String`, content blocks) or full
    /// [`SessionOptions`]. The first turn gets the client's request timeout
    /// ([`ConnectOptions::request_timeout`](crate::ConnectOptions::request_timeout),
    /// 10 minutes by default; raise it for longer turns).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the options or the first turn
    /// fails; the connection errors of every call.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, SessionOptions};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let session = client.create_session(
    ///     SessionOptions::new("Create hello.txt").enable_builtins(true).enable_shell(true),
    /// )?;
    /// println!("{}", session.text());
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn create_session(&self, options: impl Into<SessionOptions>) -> Result<Session, Error> {
        let _span = tracing::debug_span!("meerkat_create_session").entered();
        let result = self.run(ops::create_session(options.into()))?;
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let mut events = client.create_session_streaming("Hello")?;
    /// for event in &mut events {
    ///     if let Event::TextDelta { delta, .. } = event? {
    ///         print!("{delta}");
    ///     }
    /// }
    /// println!("\nsession {}", events.session_id().expect("finished"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn create_session_streaming(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<EventStream, Error> {
        EventStream::open(self, ops::create_session(options.into()), None)
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let deferred = client.create_deferred_session(SessionOptions::new("You are a tutor.").model("claude-sonnet-4-5"))?;
    /// let session = deferred.start_turn("Teach me Rust", TurnOptions::default())?;
    /// println!("{}", session.text());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn create_deferred_session(
        &self,
        options: impl Into<SessionOptions>,
    ) -> Result<DeferredSession, Error> {
        let created = self.run(ops::create_deferred_session(options.into()))?;
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// for info in client.list_sessions()? {
    ///     println!("{}: {} messages", info.session_id, info.message_count);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.run(ops::list_sessions())
    }

    /// Reads one session's state.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let info = client.read_session(session.id())?;
    /// println!("{:?}", info.last_assistant_text);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_session(&self, session_id: &str) -> Result<SessionInfo, Error> {
        self.run(ops::read_session(session_id))
    }

    /// Reads a session's committed transcript, `limit` messages from
    /// `offset` (`None`: to the end).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` for an unknown id.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let page = client.read_session_history(session.id(), 0, Some(20))?;
    /// println!("{} of {} messages", page.messages.len(), page.message_count);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_session_history(
        &self,
        session_id: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<SessionHistory, Error> {
        self.run(ops::session_history(session_id, offset, limit))
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let result = session.turn("And of Germany?")?;
    /// assert_eq!(result.text, session.text());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn turn(&self, prompt: impl Into<Prompt>) -> Result<RunResult, Error> {
        self.turn_with(prompt, TurnOptions::default())
    }

    /// [`turn`](Self::turn) with per-turn options (skills, model override,
    /// extra instructions, keep-alive).
    ///
    /// # Errors
    ///
    /// As [`turn`](Self::turn).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// session.turn_with(
    ///     "Summarise",
    ///     TurnOptions::new().model("claude-sonnet-4-5").additional_instructions(vec!["Be brief".to_owned()]),
    /// )?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn turn_with(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<RunResult, Error> {
        let _span = tracing::debug_span!("meerkat_turn", session_id = %self.id).entered();
        let result = self
            .client
            .run(ops::turn(&self.id, prompt.into(), options))?;
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// for event in session.stream("Explain the CI pipeline")? {
    ///     if let Event::TextDelta { delta, .. } = event? {
    ///         print!("{delta}");
    ///     }
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn stream(&self, prompt: impl Into<Prompt>) -> Result<EventStream, Error> {
        self.stream_with(prompt, TurnOptions::default())
    }

    /// [`stream`](Self::stream) with per-turn options.
    ///
    /// # Errors
    ///
    /// As [`stream`](Self::stream).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let (text, _) = session
    ///     .stream_with("Explain", TurnOptions::new().model("claude-sonnet-4-5"))?
    ///     .collect_text()?;
    /// println!("{text}");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn stream_with(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        let call = ops::turn(&self.id, prompt.into(), options);
        EventStream::open(&self.client, call, Some(Arc::clone(&self.last)))
    }

    /// Makes `result` (of a streamed turn) the session's last result.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let result = session.stream("Go on")?.collect()?;
    /// session.record(result);
    /// println!("{}", session.text());
    /// # Ok::<(), Error>(())
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let page = session.history(0, Some(10))?;
    /// for message in &page.messages {
    ///     println!("{message:?}");
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn history(&self, offset: u64, limit: Option<u64>) -> Result<SessionHistory, Error> {
        self.client
            .run(ops::session_history(&self.id, offset, limit))
    }

    /// Archives (removes) the session on the server.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] with code `SESSION_NOT_FOUND` when already gone.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// session.archive()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn archive(&self) -> Result<(), Error> {
        self.client.run(ops::archive(&self.id))
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let events = session.stream("Write a long essay")?;
    /// let reader = std::thread::spawn(move || events.collect());
    /// session.interrupt()?;
    /// let outcome = reader.join().expect("reader thread");
    /// println!("{:?}", outcome.map(|r| r.text));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn interrupt(&self) -> Result<(), Error> {
        self.client.run(ops::interrupt(&self.id))
    }

    /// Runs a turn that invokes a skill.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] when the server has no `skills`
    /// capability; otherwise as [`turn`](Self::turn).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let key = SkillKey::new("0190e7a2-4b1c-7d3e-8f00-123456789abc", "code-review");
    /// let result = session.invoke_skill(key, "Review the last commit")?;
    /// println!("{}", result.text);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn invoke_skill(
        &self,
        skill: impl Into<SkillRef>,
        prompt: impl Into<Prompt>,
    ) -> Result<RunResult, Error> {
        let result = self
            .client
            .run(ops::invoke_skill(&self.id, skill.into(), prompt.into()))?;
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// session.send(CommsCommand::peer_message("bob", "The build is green"))?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn send(&self, command: CommsCommand) -> Result<Value, Error> {
        self.client.run(ops::comms_send(&self.id, command))
    }

    /// Lists the peers this session's comms runtime can see.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `comms` capability.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// for peer in session.peers()? {
    ///     println!("{} ({})", peer.name, peer.reachability);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn peers(&self) -> Result<Vec<Peer>, Error> {
        self.client.run(ops::comms_peers(&self.id))
    }

    /// Opens a standalone subscription to this session's events.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses; the connection errors.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// for envelope in session.subscribe_events()?.take(10) {
    ///     println!("{:?}", envelope?.event);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn subscribe_events(&self) -> Result<EventSubscription, Error> {
        EventSubscription::open(&self.client, ops::subscribe_session(&self.id))
    }
}

/// A session created without running a turn.
///
/// ```no_run
/// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, TurnOptions};
///
/// let client = MeerkatClient::connect(ConnectOptions::default())?;
/// let deferred = client.create_deferred_session("Hello")?;
/// let session = deferred.start_turn("Hello", TurnOptions::default())?;
/// # Ok::<(), meerkat_transport_blocking::Error>(())
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let deferred = client.create_deferred_session("Hello")?;
    /// let session = deferred.start_turn("Hello", TurnOptions::new().model("claude-sonnet-4-5"))?;
    /// println!("{}", session.text());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn start_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<Session, Error> {
        let result = self
            .client
            .run(ops::turn(self.id(), prompt.into(), options))?;
        Ok(Session::new(self.client.clone(), result))
    }

    /// Streams the first turn.
    ///
    /// # Errors
    ///
    /// As [`Session::stream`].
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let deferred = client.create_deferred_session("Hello")?;
    /// let (text, result) = deferred.stream_turn("Hello", TurnOptions::default())?.collect_text()?;
    /// println!("{text} ({} tokens)", result.usage.total_tokens);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn stream_turn(
        &self,
        prompt: impl Into<Prompt>,
        options: TurnOptions,
    ) -> Result<EventStream, Error> {
        EventStream::open(
            &self.client,
            ops::turn(self.id(), prompt.into(), options),
            None,
        )
    }
}

meerkat_proto::__meerkat_session_accessors!(blocking "meerkat_transport_blocking");

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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let mut events = session.stream("Write a long essay")?;
    /// while let Some(event) = events.next() {
    ///     if let Event::RunStarted { identity: Some(identity), .. } = event? {
    ///         if let Some(run_id) = identity.run_id.as_deref() {
    ///             let stopped = session.stop_run(run_id, "no longer needed")?;
    ///             println!("{}", stopped.receipt.outcome);
    ///         }
    ///     }
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn stop_run(
        &self,
        run_id: &str,
        reason: &str,
    ) -> Result<meerkat_proto::StopRunResult, Error> {
        self.client.run(ops::stop_run(&self.id, run_id, reason))
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// // The system prompt, the first prompt and its answer.
    /// let fork = session.fork_at(3)?;
    /// println!("{} has {} messages", fork.session_id, fork.message_count);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fork_at(&self, message_index: u64) -> Result<meerkat_proto::SessionFork, Error> {
        self.client.run(ops::fork_at(&self.id, message_index))
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let key = InputSelector::IdempotencyKey("order-42".into());
    /// if let Some(state) = session.input_status(key)? {
    ///     println!("{} {:?}", state.current_state, state.terminal_outcome);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn input_status(
        &self,
        selector: meerkat_proto::InputSelector,
    ) -> Result<Option<meerkat_proto::InputState>, Error> {
        self.client.run(ops::input_status(&self.id, selector))
    }
}
