//! The shared half of a stream: a [`StreamBuffer`] behind a mutex and a
//! condition variable.
//!
//! The driver pushes (never waits: the buffer drops what is over budget and
//! counts it), the consumer thread pops (waits on the condvar while the
//! buffer is empty). A slow consumer therefore costs memory up to the
//! budget, then a visible [`Event::Lagged`], never a stalled driver.

use std::sync::{Condvar, Mutex, PoisonError};

use meerkat_proto::{Event, EventEnvelope, Popped, StreamBuffer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;

/// How a stream ended, as the driver saw it.
pub(crate) type End = Result<Option<Box<RawValue>>, Error>;

/// What the consumer gets from [`StreamShared::next`].
pub(crate) enum Next {
    /// An item (an event, or an SDK signal as an [`Event`]).
    Event(Box<EventEnvelope>),
    /// A signal with no envelope ([`Event::Lagged`], [`Event::EventsLost`]).
    Signal(Event),
    /// The end: the raw result of a turn, `None` for subscriptions, or the
    /// error the stream ended with.
    End(End),
}

/// One stream's buffer, shared by the driver and the consumer.
pub(crate) struct StreamShared {
    state: Mutex<State>,
    ready: Condvar,
    method: &'static str,
}

struct State {
    buffer: StreamBuffer<Item, End>,
    outcome: Option<(String, Option<Value>)>,
}

/// What the buffer holds: events and gap markers, in order.
pub(crate) enum Item {
    Event(Box<EventEnvelope>),
    Lost(u64),
}

impl StreamShared {
    /// An empty stream holding at most `budget` items.
    pub(crate) fn new(budget: usize, method: &'static str) -> Self {
        Self {
            state: Mutex::new(State {
                buffer: StreamBuffer::new(budget),
                outcome: None,
            }),
            ready: Condvar::new(),
            method,
        }
    }

    /// The method that opened the stream (for error messages).
    pub(crate) fn method(&self) -> &'static str {
        self.method
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let r = f(&mut state);
        drop(state);
        self.ready.notify_all();
        r
    }

    /// Adds an event (dropped and counted when over budget).
    pub(crate) fn push_event(&self, envelope: EventEnvelope) {
        self.with(|s| s.buffer.push(Item::Event(Box::new(envelope))));
    }

    /// Adds a gap marker: the server dropped `missing` events.
    pub(crate) fn push_lost(&self, missing: u64) {
        self.with(|s| s.buffer.push(Item::Lost(missing)));
    }

    /// Records a subscription's end outcome (`session/stream_end`).
    pub(crate) fn set_outcome(&self, outcome: String, error: Option<Value>) {
        self.with(|s| s.outcome = Some((outcome, error)));
    }

    /// The subscription's end outcome, once ended.
    pub(crate) fn outcome(&self) -> Option<(String, Option<Value>)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.outcome.clone()
    }

    /// Ends the stream; later ends are ignored.
    pub(crate) fn finish(&self, end: End) {
        self.with(|s| s.buffer.finish(end));
    }

    /// Waits for the next item; `None` once the end was taken.
    pub(crate) fn next(&self) -> Option<Next> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.buffer.is_done() {
                return None;
            }
            if let Some(popped) = state.buffer.pop() {
                return Some(match popped {
                    Popped::Item(Item::Event(envelope)) => Next::Event(envelope),
                    Popped::Item(Item::Lost(missing)) => Next::Signal(Event::EventsLost { missing }),
                    Popped::Lagged { dropped } => Next::Signal(Event::Lagged { dropped }),
                    Popped::End(end) => Next::End(end),
                });
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
