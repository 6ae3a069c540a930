//! Streams: the engine's per-stream queue ([`StreamSlot`]), and the two
//! consumers' state machines ([`TurnStream`], [`Subscription`]) that both
//! transports drive, one from `poll_next`, the other from a blocking loop.

use std::task::{Poll, Waker};
use std::time::Instant;

use serde_json::Value;
use serde_json::value::RawValue;

use super::call::{Call, Streaming};
use super::engine::Engine;
use crate::conn::{Popped, StreamBuffer, StreamEvent, Taken};
use crate::model::{Dialect, Event, EventEnvelope, Method, RunResult, StreamOutcome, methods};
use crate::rpc::RequestId;
use crate::sdk_error::Error;

/// How a stream ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum End {
    /// A turn stream: the raw turn (or create) result, or its error.
    Turn(Result<Box<RawValue>, Error>),
    /// A subscription, ended by the server.
    Subscription {
        /// The server's outcome (`"closed"`, `"error"`, ...).
        outcome: String,
        /// The error it gave, if any.
        error: Option<Value>,
    },
}

/// What a stream's consumer gets next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Next {
    /// An event, decoded by the consumer ([`StreamEvent::into_envelope`])
    /// once the engine's lock is released.
    Event(StreamEvent),
    /// An SDK signal: [`Event::EventsLost`] or [`Event::Lagged`].
    Signal(Event),
    /// The end; nothing follows.
    End(End),
}

enum Entry {
    Event(StreamEvent),
    Lost(u64),
}

/// At most how many items a stream's consumer takes from the engine under
/// one lock ([`TurnStream::poll_engine`], [`Subscription::poll_engine`]):
/// the rest of a burst then comes without the lock, so a fast stream costs
/// a lock per batch, not per event, and the reader is not stalled by the
/// consumer. Items in a taken batch no longer count against the stream's
/// budget; the batch itself stays this small, so memory stays bounded.
pub const STREAM_BATCH: usize = 256;

/// Items a consumer took from the engine and has not handed out yet.
#[derive(Debug, Default)]
struct Batch(Taken<Entry>);

impl Batch {
    fn pop(&mut self) -> Option<Next> {
        self.0.pop().map(popped)
    }

    /// The next item of stream `id`: this batch's, else from `engine`,
    /// which refills the batch (the consumers' `poll_engine`).
    fn poll<H: Clone>(
        &mut self,
        id: RequestId,
        engine: &mut Engine<H>,
        waker: &Waker,
    ) -> Poll<Option<Next>> {
        match self.pop() {
            Some(next) => Poll::Ready(Some(next)),
            None => engine.poll_stream_into(id, waker, Some(self)),
        }
    }
}

fn popped(p: Popped<Entry, End>) -> Next {
    match p {
        Popped::Item(Entry::Event(event)) => Next::Event(event),
        Popped::Item(Entry::Lost(missing)) => Next::Signal(Event::EventsLost { missing }),
        Popped::Lagged { dropped } => Next::Signal(Event::Lagged { dropped }),
        Popped::End(end) => Next::End(end),
    }
}

/// The engine's side of one stream.
pub(super) struct StreamSlot {
    buffer: StreamBuffer<Entry, End>,
    waker: Option<Waker>,
    method: &'static str,
    streaming: Streaming,
    session: Option<String>,
    /// The consumer is gone: items are dropped, the end is still awaited.
    detached: bool,
    outcome: Option<(String, Option<Value>)>,
}

impl StreamSlot {
    pub(super) fn new(
        budget: usize,
        method: &'static str,
        streaming: Streaming,
        session: Option<String>,
    ) -> Self {
        Self {
            buffer: StreamBuffer::new(budget),
            waker: None,
            method,
            streaming,
            session,
            detached: false,
            outcome: None,
        }
    }

    pub(super) fn method(&self) -> &'static str {
        self.method
    }

    pub(super) fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    pub(super) fn is_subscription(&self) -> bool {
        self.streaming == Streaming::Subscription
    }

    pub(super) fn push_event(&mut self, event: StreamEvent, wake: &mut Vec<Waker>) {
        if self.session.is_none() && self.streaming == Streaming::Turn {
            // A streamed create learns its session from its first event,
            // so a failed first turn can still be reset.
            self.session = event.envelope().source_session_id().map(str::to_owned);
        }
        if !self.detached {
            self.buffer.push(Entry::Event(event));
            wake.extend(self.waker.take());
        }
    }

    pub(super) fn push_lost(&mut self, missing: u64, wake: &mut Vec<Waker>) {
        if !self.detached {
            self.buffer.push(Entry::Lost(missing));
            wake.extend(self.waker.take());
        }
    }
}

impl<H: Clone> Engine<H> {
    /// Opens a turn stream (a streamed turn or create) at `now`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn open_turn(&mut self, call: Call<RunResult>, now: Instant) -> Result<TurnStream, Error> {
        self.room_for_a_request()?;
        let (call, _) = call.streaming(Streaming::Turn).split();
        let session_id = call.session_id.clone();
        let id = self.send(call, now, false)?;
        let method = self
            .streams
            .get(&id)
            .map_or("turn/start", StreamSlot::method);
        Ok(TurnStream {
            id,
            method,
            session_id,
            state: TurnState::Running,
            batch: Batch::default(),
        })
    }

    /// Opens a subscription at `now`; its open answer comes from
    /// [`poll_call`](Self::poll_call) with the returned id, and goes to
    /// [`Subscription::opened`]. A caller that gives up before that calls
    /// [`cancel_call`](Self::cancel_call), which forgets the stream too.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn open_subscription(
        &mut self,
        call: Call<crate::model::StreamOpened>,
        now: Instant,
    ) -> Result<
        (
            RequestId,
            super::Decoder<crate::model::StreamOpened>,
            Subscription,
        ),
        Error,
    > {
        self.room_for_a_request()?;
        let (call, decoder) = call.streaming(Streaming::Subscription).split();
        let Some(close) = call.closer else {
            return Err(Error::InvalidArgs(
                "not a subscription: build it with ops::subscribe_session or ops::subscribe_mob"
                    .into(),
            ));
        };
        let id = self.send(call, now, false)?;
        let sub = Subscription {
            id,
            stream_id: String::new(),
            close,
            done: false,
            outcome: None,
            batch: Batch::default(),
        };
        Ok((id, decoder, sub))
    }

    /// The next item of stream `id`; `waker` is woken when one comes.
    /// `Ready(None)` once the end was taken (or for an unknown stream).
    pub fn poll_stream(&mut self, id: RequestId, waker: &Waker) -> Poll<Option<Next>> {
        self.poll_stream_into(id, waker, None)
    }

    /// [`poll_stream`](Self::poll_stream), which first takes up to
    /// [`STREAM_BATCH`] items into `batch` when it has one (empty) and
    /// hands out the first of them.
    fn poll_stream_into(
        &mut self,
        id: RequestId,
        waker: &Waker,
        batch: Option<&mut Batch>,
    ) -> Poll<Option<Next>> {
        let Some(slot) = self.streams.get_mut(&id) else {
            return Poll::Ready(None);
        };
        if let Some(batch) = batch {
            // NB: a burst's items change hands in one move (the queues
            // trade places) while the consumer keeps up.
            slot.buffer.take(&mut batch.0, STREAM_BATCH);
            if let Some(first) = batch.pop() {
                return Poll::Ready(Some(first));
            }
        }
        if let Some(first) = slot.buffer.pop() {
            return Poll::Ready(Some(popped(first)));
        }
        if slot.buffer.is_done() {
            return Poll::Ready(None);
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            slot.waker = Some(waker.clone());
        }
        Poll::Pending
    }

    /// How the server ended subscription `id`, once it did (also before
    /// its consumer reached the end).
    #[must_use]
    pub fn stream_outcome(&self, id: RequestId) -> Option<(String, Option<Value>)> {
        self.streams.get(&id).and_then(|s| s.outcome.clone())
    }

    /// How the server ended `sub`, once it did.
    #[must_use]
    pub fn subscription_outcome(&self, sub: &Subscription) -> Option<StreamOutcome> {
        let (outcome, _) = sub
            .outcome()
            .cloned()
            .or_else(|| self.stream_outcome(sub.id()))?;
        Some(StreamOutcome::from_wire(&outcome))
    }

    /// The consumer of stream `id` is gone. A finished stream is forgotten;
    /// an unfinished turn stream is drained in the engine until its end,
    /// so a failed turn is still reset; an unfinished subscription is
    /// forgotten and closed on the server with `close` (best effort).
    pub fn drop_stream(&mut self, id: RequestId, close: Option<Call<()>>, now: Instant) {
        let Some(slot) = self.streams.get_mut(&id) else {
            return;
        };
        let resettable = slot.streaming == Streaming::Turn
            && self.conn.dialect().has_method("runtime/reset")
            && !self.conn.is_closed();
        if slot.buffer.is_finished() {
            self.streams.remove(&id);
        } else if resettable {
            slot.detached = true;
            slot.waker = None;
            while slot.buffer.pop().is_some() {}
        } else {
            self.streams.remove(&id);
            self.cancel_call(id);
            self.conn.cancel(id);
            self.drop_unwritten(id);
            if let Some(close) = close {
                self.start_detached(close, now);
            }
        }
        self.pump(now);
    }

    pub(super) fn finish_stream(&mut self, id: RequestId, end: End) {
        let Some(slot) = self.streams.get_mut(&id) else {
            return;
        };
        if slot.detached {
            self.streams.remove(&id);
            return;
        }
        if let End::Subscription { outcome, error } = &end {
            slot.outcome = Some((outcome.clone(), error.clone()));
        }
        slot.buffer.finish(end);
        self.wake.extend(slot.waker.take());
    }
}

enum TurnState {
    Running,
    Done(Box<RunResult>),
    Failed,
}

/// The consumer's state of a turn stream: what each [`Next`] becomes for
/// the user, and the turn's result at the end.
pub struct TurnStream {
    id: RequestId,
    method: &'static str,
    session_id: Option<String>,
    state: TurnState,
    batch: Batch,
}

impl std::fmt::Debug for TurnStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnStream")
            .field("session_id", &self.session_id)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl TurnStream {
    /// The stream's request id (for [`Engine::poll_stream`]).
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// The next item the consumer already took from the engine, if any:
    /// look here first, without the engine's lock, then
    /// [`poll_engine`](Self::poll_engine).
    pub fn buffered(&mut self) -> Option<Next> {
        self.batch.pop()
    }

    /// The next item from `engine` (under its lock), taking up to
    /// [`STREAM_BATCH`] at once: the rest come from
    /// [`buffered`](Self::buffered). `waker` is woken when one comes.
    pub fn poll_engine<H: Clone>(
        &mut self,
        engine: &mut Engine<H>,
        waker: &Waker,
    ) -> Poll<Option<Next>> {
        self.batch.poll(self.id, engine, waker)
    }

    /// The session, once known (a streamed create learns it from its
    /// first event).
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The turn's result, once the stream completed.
    #[must_use]
    pub fn result(&self) -> Option<&RunResult> {
        match &self.state {
            TurnState::Done(result) => Some(result),
            _ => None,
        }
    }

    /// Whether the stream ended (completed or failed).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, TurnState::Running)
    }

    /// What `next` (from [`Engine::poll_stream`]) gives the user: an event
    /// with its envelope, an error, or `None` at the end.
    pub fn on_next(
        &mut self,
        next: Option<Next>,
        dialect: &Dialect,
    ) -> Option<Result<EventEnvelope, Error>> {
        if self.is_finished() {
            return None;
        }
        let end = match next {
            Some(Next::Event(event)) => {
                let envelope = event.into_envelope();
                if self.session_id.is_none() {
                    self.session_id = envelope.source_session_id().map(str::to_owned);
                }
                return Some(Ok(envelope));
            }
            Some(Next::Signal(event)) => {
                return Some(Ok(EventEnvelope {
                    event,
                    ..EventEnvelope::default()
                }));
            }
            Some(Next::End(End::Turn(end))) => end,
            Some(Next::End(End::Subscription { .. })) | None => Err(self.no_result()),
        };
        let result = end.and_then(|raw| {
            methods::TurnStart::decode_result(&raw, dialect).map_err(|e| Error::InvalidResponse {
                method: e.method,
                message: e.message,
            })
        });
        match result {
            Ok(result) => {
                self.session_id = Some(result.session_id.clone());
                self.state = TurnState::Done(Box::new(result));
                None
            }
            Err(err) => {
                self.state = TurnState::Failed;
                Some(Err(err))
            }
        }
    }

    /// The result, or the error for a stream that ended without one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidResponse`] when the stream did not complete.
    pub fn take_result(&self) -> Result<RunResult, Error> {
        self.result().cloned().ok_or_else(|| self.no_result())
    }

    fn no_result(&self) -> Error {
        Error::InvalidResponse {
            method: self.method.to_owned(),
            message: "the stream ended without a result".into(),
        }
    }
}

/// The consumer's state of a subscription.
pub struct Subscription {
    id: RequestId,
    stream_id: String,
    close: fn(String) -> Call<()>,
    done: bool,
    outcome: Option<(String, Option<Value>)>,
    batch: Batch,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream_id", &self.stream_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The subscription's request id (for [`Engine::poll_stream`]).
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// The next item the consumer already took from the engine, if any:
    /// look here first, without the engine's lock, then
    /// [`poll_engine`](Self::poll_engine).
    pub fn buffered(&mut self) -> Option<Next> {
        self.batch.pop()
    }

    /// The next item from `engine` (under its lock), taking up to
    /// [`STREAM_BATCH`] at once: the rest come from
    /// [`buffered`](Self::buffered). `waker` is woken when one comes.
    pub fn poll_engine<H: Clone>(
        &mut self,
        engine: &mut Engine<H>,
        waker: &Waker,
    ) -> Poll<Option<Next>> {
        self.batch.poll(self.id, engine, waker)
    }

    /// Takes the open answer's stream id.
    pub fn opened(&mut self, stream_id: String) {
        self.stream_id = stream_id;
    }

    /// The server's stream id.
    #[must_use]
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// Whether the end was handed out (or the subscription closed).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The server's outcome, once the end was handed out.
    #[must_use]
    pub fn outcome(&self) -> Option<&(String, Option<Value>)> {
        self.outcome.as_ref()
    }

    /// What `next` gives the user: an event with its envelope (SDK signals
    /// get an empty one), an error, or `None` at the end.
    pub fn on_next(&mut self, next: Option<Next>) -> Option<Result<EventEnvelope, Error>> {
        if self.done {
            return None;
        }
        match next {
            Some(Next::Event(event)) => Some(Ok(event.into_envelope())),
            Some(Next::Signal(event)) => Some(Ok(EventEnvelope {
                event,
                ..EventEnvelope::default()
            })),
            Some(Next::End(End::Subscription { outcome, error })) => {
                self.done = true;
                self.outcome = Some((outcome, error));
                None
            }
            Some(Next::End(End::Turn(Err(err)))) => {
                self.done = true;
                Some(Err(err))
            }
            Some(Next::End(End::Turn(Ok(_)))) | None => {
                self.done = true;
                None
            }
        }
    }

    /// Marks the subscription closed by the user; returns the request that
    /// closes it on the server.
    pub fn close(&mut self) -> Call<()> {
        self.done = true;
        (self.close)(self.stream_id.clone())
    }

    /// What a consumer dropped before the end sends: the close request.
    #[must_use]
    pub fn close_on_drop(&self) -> Option<Call<()>> {
        (!self.done).then(|| (self.close)(self.stream_id.clone()))
    }
}
