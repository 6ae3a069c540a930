//! [`EventStream`] (the events of one turn) and [`EventSubscription`] (a
//! standalone session or mob event stream).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use meerkat_proto::sdk::{Call, Subscription};
use meerkat_proto::{Event, EventEnvelope, RunResult, StreamOpened};

use crate::client::MeerkatClient;
use crate::io::CallGuard;
use crate::session::Session;
use meerkat_proto::Error;

impl EventStream {
    pub(crate) async fn open(
        client: &MeerkatClient,
        call: Call<RunResult>,
        last: Option<Arc<Mutex<RunResult>>>,
    ) -> Result<Self, Error> {
        let now = crate::io::now();
        let turn = client.shared().with(|e| e.open_turn(call, now))?;
        Ok(Self {
            client: client.clone(),
            turn,
            last,
        })
    }

    /// The next event with its envelope (`seq`, event id, timestamps,
    /// source); SDK signals come with an empty envelope. Cancel-safe, as
    /// [`next`](Self::next).
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hi").await?;
    /// let mut events = session.stream("Count to three").await?;
    /// while let Some(envelope) = events.next_envelope().await {
    ///     let envelope = envelope?;
    ///     println!("#{} {}", envelope.seq, envelope.event.event_type());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn next_envelope(&mut self) -> Option<Result<EventEnvelope, Error>> {
        std::future::poll_fn(|cx| self.poll_envelope(cx)).await
    }

    fn poll_envelope(&mut self, cx: &Context<'_>) -> Poll<Option<Result<EventEnvelope, Error>>> {
        if self.turn.is_finished() {
            return Poll::Ready(None);
        }
        let next = match self.turn.buffered() {
            Some(next) => Some(next),
            None => match self
                .client
                .shared()
                .with(|e| self.turn.poll_engine(e, cx.waker()))
            {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            },
        };
        let item = self.turn.on_next(next, self.client.dialect());
        if let (Some(result), Some(last)) = (self.turn.result(), &self.last) {
            *last.lock().unwrap_or_else(PoisonError::into_inner) = result.clone();
        }
        Poll::Ready(item)
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
        while let Some(event) = self.next_envelope().await {
            event?;
        }
        self.turn.take_result()
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
        while let Some(event) = self.next_envelope().await {
            if let Event::TextDelta { delta, .. } = event?.event {
                text.push_str(&delta);
            }
        }
        Ok((text, self.turn.take_result()?))
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_envelope(cx)
            .map(|item| item.map(|item| item.map(|envelope| envelope.event)))
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        // NB: an unfinished turn is drained by the engine and still reset
        // if it fails.
        let id = self.turn.id();
        let now = crate::io::now();
        self.client.shared().with(|e| e.drop_stream(id, None, now));
    }
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
    sub: Subscription,
}

impl EventSubscription {
    pub(crate) async fn open(
        client: &MeerkatClient,
        call: Call<StreamOpened>,
    ) -> Result<Self, Error> {
        let shared = client.shared();
        let now = crate::io::now();
        let (id, decoder, mut sub) = shared.with(|e| e.open_subscription(call, now))?;
        // NB: a future dropped (or an open failed) before the open answer
        // forgets the stream.
        let mut guard = CallGuard {
            shared,
            id: Some(id),
        };
        let raw = shared.wait(|e, waker| e.poll_call(id, waker)).await;
        sub.opened(decoder.decode(raw, client.dialect())?.stream_id);
        guard.id = None;
        Ok(Self {
            client: client.clone(),
            sub,
        })
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
        let ended = self.outcome().is_some();
        let id = self.sub.id();
        let close = self.sub.close();
        let now = crate::io::now();
        self.client.shared().with(|e| e.drop_stream(id, None, now));
        match self.client.run(close).await {
            // The server ended it first: closed all the same.
            Err(Error::Rpc(_)) if ended => Ok(()),
            other => other,
        }
    }
}

impl Stream for EventSubscription {
    type Item = Result<EventEnvelope, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sub.is_done() {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        if let Some(next) = this.sub.buffered() {
            return Poll::Ready(this.sub.on_next(Some(next)));
        }
        match this
            .client
            .shared()
            .with(|e| this.sub.poll_engine(e, cx.waker()))
        {
            Poll::Ready(next) => Poll::Ready(this.sub.on_next(next)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        // Best effort and without waiting: the server is told too.
        let (id, close) = (self.sub.id(), self.sub.close_on_drop());
        let now = crate::io::now();
        self.client.shared().with(|e| e.drop_stream(id, close, now));
    }
}

meerkat_proto::__meerkat_event_stream_accessors!(async "meerkat_transport_tokio");
