//! The shared half of a stream: a [`StreamBuffer`] behind a mutex, and the
//! consumer's waker.
//!
//! The driver pushes (never waits: the buffer drops what is over budget and
//! counts it), the consumer polls. A slow consumer therefore costs memory
//! up to the budget, then a visible [`Event::Lagged`], never a stalled
//! driver or another session.

use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use meerkat_proto::{Error, Event, EventEnvelope, Popped, StreamBuffer};
use serde_json::Value;
use serde_json::value::RawValue;

/// How a stream ends: the raw response of a turn, `None` for a
/// subscription, or the error.
pub(crate) type End = Result<Option<Box<RawValue>>, Error>;

/// What the consumer gets next.
pub(crate) enum Next {
    /// An event with its envelope.
    Event(Box<EventEnvelope>),
    /// An SDK signal (lost events, lag).
    Signal(Event),
    /// The end.
    End(End),
}

/// One stream's shared state.
pub(crate) struct StreamShared {
    state: Mutex<State>,
    method: &'static str,
}

struct State {
    buffer: StreamBuffer<Item, End>,
    outcome: Option<(String, Option<Value>)>,
    waker: Option<Waker>,
}

/// A queued item.
pub(crate) enum Item {
    Event(Box<EventEnvelope>),
    Lost(u64),
}

impl StreamShared {
    /// A stream holding at most `budget` items, for errors naming `method`.
    pub(crate) fn new(budget: usize, method: &'static str) -> Self {
        Self {
            state: Mutex::new(State {
                buffer: StreamBuffer::new(budget),
                outcome: None,
                waker: None,
            }),
            method,
        }
    }

    /// The method that opened the stream.
    pub(crate) fn method(&self) -> &'static str {
        self.method
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut state);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn push_event(&self, envelope: EventEnvelope) {
        self.with(|s| {
            s.buffer.push(Item::Event(Box::new(envelope)));
        });
    }

    pub(crate) fn push_lost(&self, missing: u64) {
        self.with(|s| {
            s.buffer.push(Item::Lost(missing));
        });
    }

    pub(crate) fn set_outcome(&self, outcome: String, error: Option<Value>) {
        self.with(|s| s.outcome = Some((outcome, error)));
    }

    pub(crate) fn outcome(&self) -> Option<(String, Option<Value>)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.outcome.clone()
    }

    pub(crate) fn finish(&self, end: End) {
        self.with(|s| s.buffer.finish(end));
    }

    /// The next entry, or `Pending` (the waker is kept) when none is queued.
    pub(crate) fn poll_next(&self, cx: &Context<'_>) -> Poll<Option<Next>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.buffer.is_done() {
            return Poll::Ready(None);
        }
        match state.buffer.pop() {
            Some(popped) => Poll::Ready(Some(match popped {
                Popped::Item(Item::Event(envelope)) => Next::Event(envelope),
                Popped::Item(Item::Lost(missing)) => Next::Signal(Event::EventsLost { missing }),
                Popped::Lagged { dropped } => Next::Signal(Event::Lagged { dropped }),
                Popped::End(end) => Next::End(end),
            })),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
