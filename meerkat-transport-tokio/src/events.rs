//! [`EventStream`] (the events of one turn) and [`EventSubscription`] (a
//! standalone session or mob event stream).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use meerkat_proto::{Error, Event, EventEnvelope, RequestId, RunResult, methods};
use tokio::task::JoinHandle;

use crate::client::MeerkatClient;
use crate::recovery;
use crate::session::Session;
use crate::stream::{self, StreamShared};
use meerkat_proto::dispatch::{End, Next, subscription_item, turn_result};

/// The typed events of one turn, then its [`RunResult`].
///
/// A [`futures_core::Stream`] of `Result<Event, Error>`, with an inherent
/// [`next`](Self::next) so no extension trait is needed. Events come in
/// order; the stream ends after the turn's `run_completed`/`run_failed` and
/// its response, even when 0.5.x wrote the response first. Then
/// [`result`](Self::result) holds the turn's result. Events the server
/// dropped show up as [`Event::EventsLost`]; if this consumer falls more
/// than the stream budget behind, [`Event::Lagged`] says how many were
/// dropped here. `result().text` is authoritative either way.
///
/// A failed turn ends the stream with one `Err`; before it is handed out,
/// the session's runtime is reset (0.5.x would otherwise replay the failed
/// input on the next turn). Dropping the stream early leaves the turn
/// running on the server; its remaining events are discarded.
///
/// ```no_run
/// use meerkat_transport_tokio::{ConnectOptions, Event, MeerkatClient};
///
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
/// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let session = client.create_session("Hello").await?;
/// let mut events = session.stream("Tell me a story").await?;
/// while let Some(event) = events.next().await {
///     if let Event::TextDelta { delta } = event? {
///         print!("{delta}");
///     }
/// }
/// println!("\n{} output tokens", events.result().map_or(0, |r| r.usage.output_tokens));
/// # Ok(()) }
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
    /// Resetting the runtime after a failure (on a task of its own, so
    /// dropping the stream cannot cut it short); then the error is handed
    /// out.
    Recovering(JoinHandle<()>, Option<Error>),
    Done(Box<RunResult>),
    Failed,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("session_id", &self.session_id)
            .field("finished", &self.is_finished())
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

    /// The next event; `None` once the stream ended.
    ///
    /// Cancel-safe: dropping the returned future (say, in a
    /// `tokio::select!`) loses no event.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.stream("Go on").await?;
    /// while let Some(event) = events.next().await {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<Event, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The session the turn runs on; for
    /// [`create_session_streaming`](MeerkatClient::create_session_streaming)
    /// known from its first event on (and always once the stream ended).
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let events = session.stream("Go on").await?;
    /// assert_eq!(events.session_id(), Some(session.id()));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The turn's result, once the stream ended successfully.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.stream("Go on").await?;
    /// while let Some(event) = events.next().await {
    ///     event?;
    /// }
    /// println!("{}", events.result().expect("finished").text);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn result(&self) -> Option<&RunResult> {
        match &self.state {
            StreamState::Done(result) => Some(result),
            _ => None,
        }
    }

    /// Whether the stream ended.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.stream("Go on").await?;
    /// while let Some(event) = events.next().await {
    ///     event?;
    /// }
    /// assert!(events.is_finished());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.state, StreamState::Done(_) | StreamState::Failed)
    }

    /// Consumes every event and returns the result.
    ///
    /// # Errors
    ///
    /// The turn's error, or [`Error::InvalidResponse`] when it ended without
    /// a result.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let result = session.stream("Go on").await?.collect().await?;
    /// println!("{} ({} model turns)", result.text, result.turns);
    /// # Ok(()) }
    /// ```
    pub async fn collect(mut self) -> Result<RunResult, Error> {
        while let Some(event) = self.next().await {
            event?;
        }
        self.take_result()
    }

    /// Consumes every event; returns the text of the deltas delivered and
    /// the result. When events were lost the text is shorter than
    /// `result.text`, which stays authoritative.
    ///
    /// # Errors
    ///
    /// As [`collect`](Self::collect).
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let (text, result) = session.stream("Go on").await?.collect_text().await?;
    /// println!("{text}\n{} tokens out", result.usage.output_tokens);
    /// # Ok(()) }
    /// ```
    pub async fn collect_text(mut self) -> Result<(String, RunResult), Error> {
        let mut text = String::new();
        while let Some(event) = self.next().await {
            if let Event::TextDelta { delta, .. } = event? {
                text.push_str(&delta);
            }
        }
        Ok((text, self.take_result()?))
    }

    /// The session, with this turn as its last result, once the stream
    /// ended successfully.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let mut events = client.create_session_streaming("Hello").await?;
    /// while let Some(event) = events.next().await {
    ///     event?;
    /// }
    /// let session = events.into_session().expect("finished");
    /// println!("{}: {}", session.id(), session.text());
    /// # Ok(()) }
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
                if let Some(session_id) = &self.session_id
                    && recovery::needs_reset(&self.client, &err)
                {
                    let reset = recovery::spawn_reset(self.client.clone(), session_id.clone());
                    self.state = StreamState::Recovering(reset, Some(err));
                    return None;
                }
                self.state = StreamState::Failed;
                Some(Err(err))
            }
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                StreamState::Done(_) | StreamState::Failed => return Poll::Ready(None),
                StreamState::Recovering(reset, err) => {
                    if Pin::new(reset).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    let err = err.take();
                    this.state = StreamState::Failed;
                    return Poll::Ready(err.map(Err));
                }
                StreamState::Running => {}
            }
            let next = match stream::poll_next(&this.shared, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.state = StreamState::Failed;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(next)) => next,
            };
            match next {
                Next::Event(event) => {
                    let envelope = event.into_envelope();
                    // A streamed create learns its session from its events,
                    // so a failed first turn can still be reset.
                    if this.session_id.is_none() {
                        this.session_id = envelope.source_session_id().map(str::to_owned);
                    }
                    return Poll::Ready(Some(Ok(envelope.event)));
                }
                Next::Signal(event) => return Poll::Ready(Some(Ok(event))),
                Next::End(end) => {
                    if let Some(item) = this.on_end(end) {
                        return Poll::Ready(Some(item));
                    }
                    // Done (loop returns None) or recovering (loop polls it).
                }
            }
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

/// Drains a dropped turn stream on a task of its own and resets the
/// session's runtime if the turn fails (nobody else will see it fail).
/// The task holds the client weakly: dropping every handle still ends the
/// child, which ends this stream. `false` outside a runtime.
fn watch_dropped_turn(
    client: &MeerkatClient,
    shared: &Arc<StreamShared>,
    session_id: &str,
) -> bool {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return false;
    };
    let client = client.downgrade();
    let shared = Arc::clone(shared);
    let session_id = session_id.to_owned();
    runtime.spawn(async move {
        let end = loop {
            match std::future::poll_fn(|cx| stream::poll_next(&shared, cx)).await {
                Some(Next::End(end)) => break end,
                Some(_) => {}
                None => return,
            }
        };
        let Some(client) = MeerkatClient::upgrade(&client) else {
            return;
        };
        if let Err(err) = turn_result(end, shared.method(), client.dialect()) {
            tracing::debug!(%session_id, error = %err, "a dropped stream's turn failed");
            recovery::after_failed_turn(&client, &session_id, &err).await;
        }
    });
    true
}

/// A standalone event stream: every event of a session
/// ([`Session::subscribe_events`]), of a mob or of one member
/// ([`Mob::subscribe_events`](crate::Mob::subscribe_events),
/// [`Mob::subscribe_member_events`](crate::Mob::subscribe_member_events)).
///
/// Yields [`EventEnvelope`]s (mob-wide streams name the member in
/// [`EventEnvelope::member`]); ends when the server ends the stream or on
/// [`close`](Self::close). Dropping it closes the stream on the server too.
///
/// ```no_run
/// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
///
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
/// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let session = client.create_session("Hello").await?;
/// let mut events = session.subscribe_events().await?;
/// while let Some(envelope) = events.next().await {
///     println!("{} {}", envelope?.seq, "event");
/// }
/// # Ok(()) }
/// ```
pub struct EventSubscription {
    client: MeerkatClient,
    id: RequestId,
    shared: Arc<StreamShared>,
    stream_id: String,
    kind: SubscriptionKind,
    done: bool,
}

/// Which close method a subscription uses.
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

    /// The next event; `None` once the stream ended.
    ///
    /// Cancel-safe: dropping the returned future loses no event.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.subscribe_events().await?;
    /// while let Some(envelope) = events.next().await {
    ///     let envelope = envelope?;
    ///     println!("#{} {}", envelope.seq, envelope.event.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<EventEnvelope, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The server's stream id.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let events = session.subscribe_events().await?;
    /// println!("stream {}", events.stream_id());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// How the server ended the stream (`remote_end`, `explicit_close`,
    /// `terminal_error`), once it did.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut events = session.subscribe_events().await?;
    /// while let Some(envelope) = events.next().await {
    ///     envelope?;
    /// }
    /// println!("ended: {:?}", events.outcome());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn outcome(&self) -> Option<String> {
        self.shared.outcome().map(|(outcome, _)| outcome)
    }

    /// Closes the stream on the server.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let events = session.subscribe_events().await?;
    /// events.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn close(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.forget_stream(self.id);
        let params = methods::StreamIdParams::new(self.stream_id.clone());
        let result = match self.kind {
            SubscriptionKind::Session => self
                .client
                .request::<methods::SessionStreamClose, _>(params)
                .await
                .map(drop),
            SubscriptionKind::Mob => self
                .client
                .request::<methods::MobStreamClose, _>(params)
                .await
                .map(drop),
        };
        match result {
            Err(Error::Rpc(_)) if self.shared.outcome().is_some() => Ok(()),
            other => other,
        }
    }
}

impl Stream for EventSubscription {
    type Item = Result<EventEnvelope, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = match stream::poll_next(&self.shared, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(next)) => next,
        };
        self.done = matches!(next, Next::End(_));
        Poll::Ready(subscription_item(next))
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        if !self.done {
            self.client.forget_stream(self.id);
            // Best effort and without waiting: tell the server too.
            let stream_id = self.stream_id.clone();
            let kind = self.kind;
            let _ = self.client.command(move |core| {
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
