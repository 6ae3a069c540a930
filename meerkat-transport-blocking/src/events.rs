//! [`EventStream`] (the events of one turn) and [`EventSubscription`] (a
//! standalone session or mob event stream).

use std::fmt;
use std::sync::Arc;

use meerkat_proto::{Event, EventEnvelope, RequestId, RunResult, methods};

use crate::client::MeerkatClient;
use crate::recovery;
use crate::session::Session;
use crate::stream::{self, StreamShared};
use meerkat_proto::Error;
use meerkat_proto::dispatch::{End, Next, subscription_item, turn_result};

/// The typed events of one turn, then its [`RunResult`].
///
/// An `Iterator<Item = Result<Event, Error>>`: events come in server order;
/// [`Event::EventsLost`] marks a gap the server made (it drops events under
/// load), [`Event::Lagged`] one this consumer made by falling more than the
/// per-stream budget behind. The iterator ends after the turn's response and
/// its last event; a failed turn ends with one `Err`.
///
/// Dropping the stream early discards the rest of its events; the turn
/// itself goes on (use [`Session::interrupt`] to stop it). If that turn
/// then fails, the session's runtime is still reset (crate docs,
/// "Recovery"): a short-lived thread waits for the turn's end, holding no
/// handle that would keep the child alive.
///
/// ```no_run
/// use meerkat_transport_blocking::{ConnectOptions, Event, MeerkatClient};
///
/// let client = MeerkatClient::connect(ConnectOptions::default())?;
/// let mut session = client.create_session("Hello")?;
/// let mut events = session.stream("Explain the CI pipeline")?;
/// for event in &mut events {
///     match event? {
///         Event::TextDelta { delta, .. } => print!("{delta}"),
///         _ => {}
///     }
/// }
/// let result = events.result().expect("stream finished");
/// println!("\n{} tokens in", result.usage.input_tokens);
/// # Ok::<(), meerkat_transport_blocking::Error>(())
/// ```
pub struct EventStream {
    client: MeerkatClient,
    id: RequestId,
    shared: Arc<StreamShared>,
    session_id: Option<String>,
    state: StreamState,
}

enum StreamState {
    Running,
    Done(Box<RunResult>),
    Failed,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("session_id", &self.session_id)
            .field("finished", &!matches!(self.state, StreamState::Running))
            .finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(
        client: MeerkatClient,
        id: RequestId,
        shared: Arc<StreamShared>,
        session_id: Option<String>,
    ) -> Self {
        Self {
            client,
            id,
            shared,
            session_id,
            state: StreamState::Running,
        }
    }

    /// The session this turn runs on: known from the start for
    /// [`Session::stream`], from its first event on for
    /// [`MeerkatClient::create_session_streaming`].
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let events = session.stream("Go on")?;
    /// assert_eq!(events.session_id(), Some(session.id()));
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The turn's result, once the stream has ended successfully.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let mut events = session.stream("Go on")?;
    /// for event in &mut events {
    ///     event?;
    /// }
    /// println!("{}", events.result().expect("finished").text);
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn result(&self) -> Option<&RunResult> {
        match &self.state {
            StreamState::Done(result) => Some(result),
            _ => None,
        }
    }

    /// Whether the stream has ended.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let mut events = session.stream("Go on")?;
    /// for event in &mut events {
    ///     event?;
    /// }
    /// assert!(events.is_finished());
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, StreamState::Running)
    }

    /// Consumes every event and returns the turn's result.
    ///
    /// (This inherent method shadows [`Iterator::collect`]; call
    /// `Iterator::collect(stream)` for the iterator's.)
    ///
    /// # Errors
    ///
    /// The error the turn failed with.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let result = session.stream("Go on")?.collect()?;
    /// println!("{} ({} model turns)", result.text, result.turns);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn collect(mut self) -> Result<RunResult, Error> {
        for event in &mut self {
            event?;
        }
        self.take_result()
    }

    /// Consumes every event and returns the text of its deltas with the
    /// turn's result.
    ///
    /// # Errors
    ///
    /// The error the turn failed with.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let (text, result) = session.stream("Go on")?.collect_text()?;
    /// println!("{text}\n{} tokens out", result.usage.output_tokens);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn collect_text(mut self) -> Result<(String, RunResult), Error> {
        let mut text = String::new();
        for event in &mut self {
            if let Event::TextDelta { delta, .. } = event? {
                text.push_str(&delta);
            }
        }
        Ok((text, self.take_result()?))
    }

    /// The session the turn ran on, once the stream has ended successfully
    /// (for [`MeerkatClient::create_session_streaming`]).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let mut events = client.create_session_streaming("Hello")?;
    /// for event in &mut events {
    ///     event?;
    /// }
    /// let session = events.into_session().expect("finished");
    /// println!("{}: {}", session.id(), session.text());
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn into_session(self) -> Option<Session> {
        match &self.state {
            StreamState::Done(result) => {
                Some(Session::new(self.client.clone(), (**result).clone()))
            }
            _ => None,
        }
    }

    fn take_result(&self) -> Result<RunResult, Error> {
        match &self.state {
            StreamState::Done(result) => Ok((**result).clone()),
            _ => Err(Error::InvalidResponse {
                method: self.shared.method().to_owned(),
                message: "the stream ended without a result".into(),
            }),
        }
    }

    fn on_end(&mut self, end: End) -> Option<Result<Event, Error>> {
        match turn_result(end, self.shared.method(), self.client.dialect()) {
            Ok(result) => {
                self.session_id = Some(result.session_id.clone());
                self.state = StreamState::Done(Box::new(result));
                None
            }
            Err(err) => {
                self.state = StreamState::Failed;
                if let Some(session_id) = &self.session_id {
                    recovery::after_failed_turn(&self.client, session_id, &err);
                }
                Some(Err(err))
            }
        }
    }
}

impl Iterator for EventStream {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if !matches!(self.state, StreamState::Running) {
            return None;
        }
        match stream::next(&self.shared)? {
            Next::Event(event) => {
                let envelope = event.into_envelope();
                // A streamed create learns its session from its events, so
                // a failed first turn can still be reset.
                if self.session_id.is_none() {
                    self.session_id = envelope.source_session_id().map(str::to_owned);
                }
                Some(Ok(envelope.event))
            }
            Next::Signal(event) => Some(Ok(event)),
            Next::End(end) => self.on_end(end),
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if !matches!(self.state, StreamState::Running) {
            return;
        }
        let watched = match &self.session_id {
            Some(session_id) if self.client.dialect().has_method("runtime/reset") => {
                watch_dropped_turn(&self.client, &self.shared, session_id)
            }
            _ => false,
        };
        if !watched {
            self.client.forget_stream(self.id);
        }
    }
}

/// Drains a dropped turn stream on a thread of its own and resets the
/// session's runtime if the turn fails (nobody else will see it fail).
/// The thread holds the client weakly: dropping every handle still ends
/// the child, which ends this stream. `false` if no thread could start.
fn watch_dropped_turn(
    client: &MeerkatClient,
    shared: &Arc<StreamShared>,
    session_id: &str,
) -> bool {
    let client = client.downgrade();
    let shared = Arc::clone(shared);
    let session_id = session_id.to_owned();
    std::thread::Builder::new()
        .name("meerkat-dropped-turn".into())
        .spawn(move || {
            let end = loop {
                match stream::next(&shared) {
                    Some(Next::End(end)) => break end,
                    Some(_) => {}
                    None => return,
                }
            };
            if let (Err(err), Some(client)) = (end, MeerkatClient::upgrade(&client)) {
                recovery::after_failed_turn(&client, &session_id, &err);
            }
        })
        .is_ok()
}

/// A standalone event subscription (`session/stream_open`,
/// `mob/stream_open`): events with their envelopes until the server ends
/// the stream or [`close`](Self::close) is called.
///
/// An `Iterator<Item = Result<EventEnvelope, Error>>`; the envelope tells
/// which session or mob member an event came from. Gaps and lag come as
/// envelopes with an empty `source_id` holding [`Event::EventsLost`] or
/// [`Event::Lagged`].
///
/// ```no_run
/// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
///
/// let client = MeerkatClient::connect(ConnectOptions::default())?;
/// let session = client.create_session("Hello")?;
/// let events = session.subscribe_events()?;
/// for envelope in events.take(10) {
///     println!("{:?}", envelope?.event);
/// }
/// # Ok::<(), meerkat_transport_blocking::Error>(())
/// ```
pub struct EventSubscription {
    client: MeerkatClient,
    id: RequestId,
    shared: Arc<StreamShared>,
    stream_id: String,
    kind: SubscriptionKind,
    done: bool,
}

/// What a subscription is attached to (for closing it).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SubscriptionKind {
    Session,
    Mob,
}

impl fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSubscription")
            .field("stream_id", &self.stream_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl EventSubscription {
    pub(crate) fn new(
        client: MeerkatClient,
        id: RequestId,
        shared: Arc<StreamShared>,
        stream_id: String,
        kind: SubscriptionKind,
    ) -> Self {
        Self {
            client,
            id,
            shared,
            stream_id,
            kind,
            done: false,
        }
    }

    /// The server's id of this stream.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let events = session.subscribe_events()?;
    /// println!("stream {}", events.stream_id());
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// How the server ended the stream (`"remote_end"`, `"terminal_error"`,
    /// ...), once it did.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let mut events = session.subscribe_events()?;
    /// for envelope in &mut events {
    ///     envelope?;
    /// }
    /// println!("ended: {:?}", events.outcome());
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn outcome(&self) -> Option<String> {
        self.shared.outcome().map(|(outcome, _)| outcome)
    }

    /// Asks the server to end the stream and stops routing its events.
    ///
    /// # Errors
    ///
    /// The server's answer to `session/stream_close` / `mob/stream_close`
    /// when it fails (a stream the server already ended is not an error).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let mut session = client.create_session("Hello")?;
    /// let events = session.subscribe_events()?;
    /// events.close()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn close(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.forget_stream(self.id);
        let stream_id = self.stream_id.clone();
        let result = match self.kind {
            SubscriptionKind::Session => self
                .client
                .request::<methods::SessionStreamClose, _>(methods::StreamIdParams::new(stream_id))
                .map(drop),
            SubscriptionKind::Mob => self
                .client
                .request::<methods::MobStreamClose, _>(methods::StreamIdParams::new(stream_id))
                .map(drop),
        };
        match result {
            Err(Error::Rpc(_)) if self.shared.outcome().is_some() => Ok(()),
            other => other,
        }
    }
}

impl Iterator for EventSubscription {
    type Item = Result<EventEnvelope, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = stream::next(&self.shared)?;
        self.done = matches!(next, Next::End(_));
        subscription_item(next)
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        if !self.done {
            self.client.forget_stream(self.id);
            // Best effort and without waiting: tell the server too.
            let client = self.client.clone();
            let stream_id = self.stream_id.clone();
            let kind = self.kind;
            let _ = client.command(move |core| {
                let params = methods::StreamIdParams::new(stream_id);
                let opts = meerkat_proto::RequestOptions::new(std::time::Instant::now());
                let _ = match kind {
                    SubscriptionKind::Session => core
                        .conn
                        .request::<methods::SessionStreamClose>(&params, opts),
                    SubscriptionKind::Mob => {
                        core.conn.request::<methods::MobStreamClose>(&params, opts)
                    }
                }
                .map(|id| core.conn.cancel(id));
            });
        }
    }
}
