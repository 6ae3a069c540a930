//! [`StreamBuffer`]: the per-stream memory budget of the SDK engine's
//! streams.

use std::collections::VecDeque;
use std::fmt;

/// Default budget of a [`StreamBuffer`]: 16 384 items (about 8 MiB of text
/// deltas; see BENCHMARKS.md, workload 4).
pub const DEFAULT_STREAM_BUDGET: usize = 16_384;

/// What [`StreamBuffer::pop`] hands out, in stream order.
///
/// Deliberately exhaustive: a stream is items, drop markers and one end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popped<T, E> {
    /// The next item.
    Item(T),
    /// The consumer fell behind: this many items were dropped here, between
    /// the items before and the items after this marker.
    Lagged {
        /// How many items were dropped since the previous marker.
        dropped: u64,
    },
    /// The end of the stream; nothing follows it.
    End(E),
}

/// One queued entry: an item, or the place where items were dropped.
#[derive(Clone)]
enum Slot<T> {
    Item(T),
    Lagged(u64),
}

/// A bounded queue for one stream: items up to a budget, drop counting, and
/// an end that is always kept.
///
/// Pure data: [`sdk::Engine`](crate::sdk::Engine) keeps one per stream,
/// with the consumer's `Waker`, behind the transport's lock; the engine
/// pushes as the server's notifications are routed, the user's stream pops
/// (through [`Engine::poll_stream`](crate::sdk::Engine::poll_stream)). When
/// the consumer is slow and `max_items` items are queued,
/// further items are dropped and counted; the consumer then gets one
/// [`Popped::Lagged`] marker where they were dropped, before the items that
/// came after. The end ([`finish`](Self::finish)) is outside the budget:
/// it is never dropped.
///
/// Memory: at most `max_items` items, plus one marker per run of drops
/// (never two markers in a row), plus the end.
///
/// ```
/// use meerkat_proto::{Popped, StreamBuffer};
///
/// let mut buf: StreamBuffer<u32, &str> = StreamBuffer::new(2);
/// assert!(buf.push(1));
/// assert!(buf.push(2));
/// assert!(!buf.push(3)); // over budget: dropped and counted
/// assert!(!buf.push(4));
/// buf.finish("done");   // always kept
///
/// assert_eq!(buf.pop(), Some(Popped::Item(1)));
/// assert!(!buf.push(5)); // after the end: refused
/// assert_eq!(buf.pop(), Some(Popped::Item(2)));
/// assert_eq!(buf.pop(), Some(Popped::Lagged { dropped: 2 }));
/// assert_eq!(buf.pop(), Some(Popped::End("done")));
/// assert_eq!(buf.pop(), None);
/// ```
pub struct StreamBuffer<T, E> {
    queue: VecDeque<Slot<T>>,
    /// Items (not markers) in `queue`; what the budget counts.
    items: usize,
    max_items: usize,
    dropped_total: u64,
    /// `Some` once finished; `None` again after the end was popped.
    end: Option<E>,
    finished: bool,
}

impl<T, E> fmt::Debug for StreamBuffer<T, E> {
    /// Shows sizes and counters, not items.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBuffer")
            .field("items", &self.items)
            .field("max_items", &self.max_items)
            .field("dropped_total", &self.dropped_total)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<T, E> Default for StreamBuffer<T, E> {
    /// A buffer with the [`DEFAULT_STREAM_BUDGET`].
    fn default() -> Self {
        Self::new(DEFAULT_STREAM_BUDGET)
    }
}

impl<T, E> StreamBuffer<T, E> {
    /// Creates an empty buffer holding at most `max_items` items (at least
    /// one: a budget of 0 is taken as 1).
    #[must_use]
    pub fn new(max_items: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            items: 0,
            max_items: max_items.max(1),
            dropped_total: 0,
            end: None,
            finished: false,
        }
    }

    /// Queues an item. Returns `false` if it was dropped: the budget is
    /// full (the drop is counted and reported by a [`Popped::Lagged`]
    /// marker), or the stream is already finished (not counted: nothing
    /// follows an end).
    pub fn push(&mut self, item: T) -> bool {
        if self.finished {
            return false;
        }
        if self.items >= self.max_items {
            self.dropped_total += 1;
            // NB: one marker per run of drops, placed after the items that
            // were queued before the drops and before any that come after.
            match self.queue.back_mut() {
                Some(Slot::Lagged(n)) => *n += 1,
                _ => self.queue.push_back(Slot::Lagged(1)),
            }
            return false;
        }
        self.items += 1;
        self.queue.push_back(Slot::Item(item));
        true
    }

    /// Ends the stream. The end is kept whatever the budget and popped after
    /// every queued item. Only the first call counts; later ones are ignored.
    pub fn finish(&mut self, end: E) {
        if !self.finished {
            self.finished = true;
            self.end = Some(end);
        }
    }

    /// Takes the next entry: items and [`Popped::Lagged`] markers in stream
    /// order, then [`Popped::End`] once. `None` means "nothing yet" before
    /// the end and "nothing ever again" after it (see
    /// [`is_done`](Self::is_done)).
    pub fn pop(&mut self) -> Option<Popped<T, E>> {
        match self.queue.pop_front() {
            Some(Slot::Item(item)) => {
                self.items -= 1;
                Some(Popped::Item(item))
            }
            Some(Slot::Lagged(dropped)) => Some(Popped::Lagged { dropped }),
            None => self.end.take().map(Popped::End),
        }
    }

    /// Returns the number of queued items (markers and the end not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.items
    }

    /// Returns `true` when nothing is ready to pop.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.end.is_none()
    }

    /// Returns `true` once [`finish`](Self::finish) was called.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Returns `true` once the end was popped: the stream is over.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished && self.end.is_none() && self.queue.is_empty()
    }

    /// Returns the budget in items.
    #[must_use]
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// Returns how many items were dropped over the buffer's life.
    #[must_use]
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buf: &mut StreamBuffer<u32, &'static str>) -> Vec<Popped<u32, &'static str>> {
        std::iter::from_fn(|| buf.pop()).collect()
    }

    #[test]
    fn items_come_out_in_order_then_the_end() {
        let mut buf = StreamBuffer::new(8);
        for i in 0..3 {
            assert!(buf.push(i));
        }
        buf.finish("end");
        assert_eq!(
            drain(&mut buf),
            vec![
                Popped::Item(0),
                Popped::Item(1),
                Popped::Item(2),
                Popped::End("end")
            ]
        );
        assert!(buf.is_done());
    }

    #[test]
    fn drops_beyond_the_budget_become_one_marker_before_later_items() {
        let mut buf = StreamBuffer::new(2);
        assert!(buf.push(1));
        assert!(buf.push(2));
        assert!(!buf.push(3));
        assert!(!buf.push(4));
        assert!(!buf.push(5));
        assert_eq!(buf.pop(), Some(Popped::Item(1)));
        assert!(buf.push(6));
        assert_eq!(
            drain(&mut buf),
            vec![
                Popped::Item(2),
                Popped::Lagged { dropped: 3 },
                Popped::Item(6)
            ]
        );
        assert_eq!(buf.dropped_total(), 3);
    }

    #[test]
    fn separate_runs_of_drops_get_separate_markers() {
        let mut buf = StreamBuffer::new(1);
        assert!(buf.push(1));
        assert!(!buf.push(2));
        assert_eq!(buf.pop(), Some(Popped::Item(1)));
        assert_eq!(buf.pop(), Some(Popped::Lagged { dropped: 1 }));
        assert!(buf.push(3));
        assert!(!buf.push(4));
        assert!(!buf.push(5));
        buf.finish("end");
        assert_eq!(
            drain(&mut buf),
            vec![
                Popped::Item(3),
                Popped::Lagged { dropped: 2 },
                Popped::End("end")
            ]
        );
    }

    #[test]
    fn the_end_is_kept_when_the_budget_is_full_and_only_once() {
        let mut buf = StreamBuffer::new(1);
        assert!(buf.push(1));
        buf.finish("first");
        buf.finish("second");
        assert!(!buf.push(2), "nothing after the end");
        assert_eq!(buf.dropped_total(), 0, "post-end pushes are not lag");
        assert_eq!(drain(&mut buf), vec![Popped::Item(1), Popped::End("first")]);
        assert_eq!(buf.pop(), None);
    }

    #[test]
    fn a_zero_budget_holds_one_item() {
        let mut buf: StreamBuffer<u32, ()> = StreamBuffer::new(0);
        assert_eq!(buf.max_items(), 1);
        assert!(buf.push(1));
        assert!(!buf.push(2));
        assert_eq!(buf.len(), 1);
    }

    #[test]
    fn empty_and_done_track_the_queue() {
        let mut buf: StreamBuffer<u32, ()> = StreamBuffer::default();
        assert_eq!(buf.max_items(), DEFAULT_STREAM_BUDGET);
        assert!(buf.is_empty());
        assert!(!buf.is_done());
        buf.finish(());
        assert!(!buf.is_empty());
        assert_eq!(buf.pop(), Some(Popped::End(())));
        assert!(buf.is_empty() && buf.is_done());
    }
}
