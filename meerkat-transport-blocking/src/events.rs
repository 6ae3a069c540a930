//! [`EventStream`] (the events of one turn) and [`EventSubscription`] (a
//! standalone session or mob event stream).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use meerkat_proto::sdk::{Call, Subscription};
use meerkat_proto::{Event, EventEnvelope, RunResult, StreamOpened};

use crate::client::MeerkatClient;
use crate::session::Session;
use meerkat_proto::Error;

impl EventStream {
    pub(crate) fn open(
        client: &MeerkatClient,
        call: Call<RunResult>,
        last: Option<Arc<Mutex<RunResult>>>,
    ) -> Result<Self, Error> {
        let turn = client
            .shared()
            .with(|e| e.open_turn(call, Instant::now()))?;
        Ok(Self {
            client: client.clone(),
            turn,
            last,
        })
    }

    /// The next event with its envelope (`seq`, event id, timestamps,
    /// source); SDK signals come with an empty envelope.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hi")?;
    /// let mut events = session.stream("Count to three")?;
    /// while let Some(envelope) = events.next_envelope() {
    ///     let envelope = envelope?;
    ///     println!("#{} {}", envelope.seq, envelope.event.event_type());
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn next_envelope(&mut self) -> Option<Result<EventEnvelope, Error>> {
        if self.turn.is_finished() {
            return None;
        }
        let next = match self.turn.buffered() {
            Some(next) => Some(next),
            None => {
                let turn = &mut self.turn;
                self.client.shared().wait(|e, waker| turn.poll_engine(e, waker))
            }
        };
        let item = self.turn.on_next(next, self.client.dialect());
        if let (Some(result), Some(last)) = (self.turn.result(), &self.last) {
            *last.lock().unwrap_or_else(PoisonError::into_inner) = result.clone();
        }
        item
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
    /// # let session = client.create_session("Hello")?;
    /// let result = session.stream("Go on")?.collect()?;
    /// println!("{} ({} model turns)", result.text, result.turns);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn collect(mut self) -> Result<RunResult, Error> {
        while let Some(event) = self.next_envelope() {
            event?;
        }
        self.turn.take_result()
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
    /// # let session = client.create_session("Hello")?;
    /// let (text, result) = session.stream("Go on")?.collect_text()?;
    /// println!("{text}\n{} tokens out", result.usage.output_tokens);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn collect_text(mut self) -> Result<(String, RunResult), Error> {
        let mut text = String::new();
        while let Some(event) = self.next_envelope() {
            if let Event::TextDelta { delta, .. } = event?.event {
                text.push_str(&delta);
            }
        }
        Ok((text, self.turn.take_result()?))
    }
}

impl Iterator for EventStream {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_envelope()
            .map(|item| item.map(|envelope| envelope.event))
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        // NB: an unfinished turn is drained by the engine and still reset
        // if it fails.
        let id = self.turn.id();
        self.client
            .shared()
            .with(|e| e.drop_stream(id, None, Instant::now()));
    }
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
    sub: Subscription,
}

impl EventSubscription {
    pub(crate) fn open(client: &MeerkatClient, call: Call<StreamOpened>) -> Result<Self, Error> {
        let shared = client.shared();
        let (id, decoder, mut sub) = shared.with(|e| e.open_subscription(call, Instant::now()))?;
        let raw = shared.wait(|e, waker| e.poll_call(id, waker));
        match decoder.decode(raw, client.dialect()) {
            Ok(opened) => sub.opened(opened.stream_id),
            Err(err) => {
                shared.with(|e| e.cancel_call(id));
                return Err(err);
            }
        }
        Ok(Self {
            client: client.clone(),
            sub,
        })
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
    /// # let session = client.create_session("Hello")?;
    /// let events = session.subscribe_events()?;
    /// events.close()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn close(mut self) -> Result<(), Error> {
        let ended = self.outcome().is_some();
        let id = self.sub.id();
        let close = self.sub.close();
        self.client
            .shared()
            .with(|e| e.drop_stream(id, None, Instant::now()));
        match self.client.run(close) {
            // The server ended it first: closed all the same.
            Err(Error::Rpc(_)) if ended => Ok(()),
            other => other,
        }
    }
}

impl Iterator for EventSubscription {
    type Item = Result<EventEnvelope, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.sub.is_done() {
            return None;
        }
        let next = match self.sub.buffered() {
            Some(next) => Some(next),
            None => {
                let sub = &mut self.sub;
                self.client.shared().wait(|e, waker| sub.poll_engine(e, waker))
            }
        };
        self.sub.on_next(next)
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        // Best effort and without waiting: the server is told too.
        let (id, close) = (self.sub.id(), self.sub.close_on_drop());
        self.client
            .shared()
            .with(|e| e.drop_stream(id, close, Instant::now()));
    }
}

meerkat_proto::__meerkat_event_stream_accessors!(blocking "meerkat_transport_blocking");
