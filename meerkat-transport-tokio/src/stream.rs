//! The shared half of a stream: `meerkat_proto`'s [`SharedStream`] with the
//! consumer's [`Waker`].
//!
//! The driver pushes (never waits: the buffer drops what is over budget and
//! counts it), the consumer polls. A slow consumer therefore costs memory
//! up to the budget, then a visible
//! [`Event::Lagged`](meerkat_proto::Event::Lagged), never a stalled driver or
//! another session.

use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use meerkat_proto::dispatch::{Next, SharedStream, Wake};

/// The consumer's waker, set while it waits.
#[derive(Default)]
pub(crate) struct WakerSlot(Mutex<Option<Waker>>);

impl Wake for WakerSlot {
    fn wake(&self) {
        let waker = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A stream shared by the driver and its consumer.
pub(crate) type StreamShared = SharedStream<WakerSlot>;

/// A new stream of at most `budget` entries.
pub(crate) fn new_stream(budget: usize, method: &'static str) -> StreamShared {
    SharedStream::new(budget, method, WakerSlot::default())
}

/// The next entry, or `Pending` with the waker kept; `None` once the end
/// was taken.
pub(crate) fn poll_next(shared: &StreamShared, cx: &Context<'_>) -> Poll<Option<Next>> {
    let mut state = shared.lock();
    if state.is_done() {
        return Poll::Ready(None);
    }
    if let Some(next) = state.pop() {
        return Poll::Ready(Some(next));
    }
    // NB: stored while the state is locked: the driver's push (under the
    // same lock) then always finds this waker.
    *shared.wake.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
    drop(state);
    Poll::Pending
}
