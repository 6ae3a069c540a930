//! The shared half of a stream: `meerkat_proto`'s [`SharedStream`] with a
//! condition variable to wake the consumer thread.
//!
//! The driver pushes (never waits: the buffer drops what is over budget and
//! counts it), the consumer thread pops (waits on the condvar while the
//! buffer is empty). A slow consumer therefore costs memory up to the
//! budget, then a visible [`Event::Lagged`](meerkat_proto::Event::Lagged),
//! never a stalled driver.

use std::sync::{Condvar, PoisonError};

use meerkat_proto::dispatch::{Next, SharedStream, Wake};

/// Wakes the consumer thread.
#[derive(Default)]
pub(crate) struct Wakeup(Condvar);

impl Wake for Wakeup {
    fn wake(&self) {
        self.0.notify_all();
    }
}

/// A stream shared by the driver and its consumer.
pub(crate) type StreamShared = SharedStream<Wakeup>;

/// A new stream of at most `budget` entries.
pub(crate) fn new_stream(budget: usize, method: &'static str) -> StreamShared {
    SharedStream::new(budget, method, Wakeup::default())
}

/// Waits for the next entry; `None` once the end was taken.
pub(crate) fn next(shared: &StreamShared) -> Option<Next> {
    let mut state = shared.lock();
    loop {
        if state.is_done() {
            return None;
        }
        if let Some(next) = state.pop() {
            return Some(next);
        }
        state = shared
            .wake
            .0
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
}
