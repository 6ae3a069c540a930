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

/// One queued item, with how many items were dropped just before it.
#[derive(Clone)]
struct Slot<T> {
    lagged: u64,
    item: T,
}

/// The next of `queue`'s items, after the marker of the drops before it;
/// with none left, the marker of the `tail_lagged` drops after the last.
fn pop_slot<T, E>(queue: &mut VecDeque<Slot<T>>, tail_lagged: &mut u64) -> Option<Popped<T, E>> {
    let Some(front) = queue.front_mut() else {
        return (*tail_lagged > 0).then(|| Popped::Lagged {
            dropped: std::mem::take(tail_lagged),
        });
    };
    if front.lagged > 0 {
        let dropped = std::mem::take(&mut front.lagged);
        return Some(Popped::Lagged { dropped });
    }
    queue.pop_front().map(|slot| Popped::Item(slot.item))
}

/// Items taken from a [`StreamBuffer`] at once ([`StreamBuffer::take`]),
/// handed out by [`pop`](Self::pop) as the buffer would have: items and
/// [`Popped::Lagged`] markers in stream order (never the end, which stays
/// in the buffer).
///
/// ```
/// use meerkat_proto::{Popped, StreamBuffer, Taken};
///
/// let mut buf: StreamBuffer<u32, &str> = StreamBuffer::new(8);
/// buf.push(1);
/// buf.push(2);
/// buf.finish("end");
/// let mut taken = Taken::default();
/// buf.take(&mut taken, 256);
/// assert_eq!(taken.pop::<&str>(), Some(Popped::Item(1)));
/// assert_eq!(taken.pop::<&str>(), Some(Popped::Item(2)));
/// assert_eq!(taken.pop::<&str>(), None);
/// assert_eq!(buf.pop(), Some(Popped::End("end")));
/// ```
pub struct Taken<T> {
    queue: VecDeque<Slot<T>>,
    /// Drops after the last item taken (when every queued item was).
    tail_lagged: u64,
}

impl<T> Default for Taken<T> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            tail_lagged: 0,
        }
    }
}

impl<T> fmt::Debug for Taken<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Taken")
            .field("items", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<T> Taken<T> {
    /// The next item or drop marker; `None` once all are handed out.
    ///
    /// ```
    /// use meerkat_proto::{Popped, StreamBuffer, Taken};
    ///
    /// let mut buf: StreamBuffer<u32, ()> = StreamBuffer::new(1);
    /// buf.push(1);
    /// buf.push(2); // dropped
    /// let mut taken = Taken::default();
    /// buf.take(&mut taken, 256);
    /// assert_eq!(taken.pop::<()>(), Some(Popped::Item(1)));
    /// assert_eq!(taken.pop::<()>(), Some(Popped::Lagged { dropped: 1 }));
    /// assert_eq!(taken.pop::<()>(), None);
    /// ```
    pub fn pop<E>(&mut self) -> Option<Popped<T, E>> {
        pop_slot(&mut self.queue, &mut self.tail_lagged)
    }

    /// How many items are left (drop markers not counted).
    ///
    /// ```
    /// let taken: meerkat_proto::Taken<u32> = Default::default();
    /// assert_eq!(taken.len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether everything was handed out.
    ///
    /// ```
    /// let taken: meerkat_proto::Taken<u32> = Default::default();
    /// assert!(taken.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.tail_lagged == 0
    }
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
/// Memory: at most `max_items` slots, each an item and the count of the
/// drops before it (a run of drops is a count on the next item, or on the
/// end: never a slot of its own), plus the end. So the queue's storage
/// never outgrows the budget, however the drops and items interleave.
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
    /// The queued items, what the budget counts.
    queue: VecDeque<Slot<T>>,
    /// Drops after the last queued item: the count of the next item
    /// queued, or reported before the end.
    tail_lagged: u64,
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
            .field("items", &self.queue.len())
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
            tail_lagged: 0,
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
        if self.queue.len() >= self.max_items {
            self.dropped_total += 1;
            // NB: one marker per run of drops, after the items queued
            // before the drops and before any that come after.
            self.tail_lagged += 1;
            return false;
        }
        let lagged = std::mem::take(&mut self.tail_lagged);
        self.queue.push_back(Slot { lagged, item });
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

    /// Moves the next items, at most `max`, with the drop markers before
    /// them (and after the last, when all are taken), into `taken` once it
    /// is empty (else nothing moves): they no
    /// longer count against the budget. When all queued items fit and the
    /// queue's storage is small (at most `2 * max` slots), the two queues
    /// trade places, no item is moved; a queue grown large by a backlog
    /// stays here (so the storage of both stays bounded by the budget and
    /// `2 * max`) and its items move one by one. What is left (the end,
    /// items past `max`) is popped here afterwards.
    ///
    /// ```
    /// use meerkat_proto::{Popped, StreamBuffer, Taken};
    ///
    /// let mut buf: StreamBuffer<u32, ()> = StreamBuffer::new(8);
    /// (1..=3).for_each(|i| { buf.push(i); });
    /// let mut taken = Taken::default();
    /// buf.take(&mut taken, 2);
    /// assert_eq!((taken.len(), buf.len()), (2, 1));
    /// ```
    pub fn take(&mut self, taken: &mut Taken<T>, max: usize) {
        if !taken.is_empty() {
            return;
        }
        if self.queue.len() <= max && self.queue.capacity() <= max.saturating_mul(2) {
            std::mem::swap(&mut self.queue, &mut taken.queue);
        } else {
            let n = self.queue.len().min(max);
            taken.queue.extend(self.queue.drain(..n));
        }
        if self.queue.is_empty() {
            taken.tail_lagged = std::mem::take(&mut self.tail_lagged);
        }
    }

    /// Takes the next entry: items and [`Popped::Lagged`] markers in stream
    /// order, then [`Popped::End`] once. `None` means "nothing yet" before
    /// the end and "nothing ever again" after it (see
    /// [`is_done`](Self::is_done)).
    pub fn pop(&mut self) -> Option<Popped<T, E>> {
        pop_slot(&mut self.queue, &mut self.tail_lagged)
            .or_else(|| self.end.take().map(Popped::End))
    }

    /// Returns the number of queued items (markers and the end not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Returns `true` when nothing is ready to pop.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.tail_lagged == 0 && self.end.is_none()
    }

    /// Returns `true` once [`finish`](Self::finish) was called.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Returns `true` once the end was popped: the stream is over.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished && self.end.is_none() && self.queue.is_empty() && self.tail_lagged == 0
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

    /// Pops through `take` batches of at most `max`, as a consumer does.
    fn drain_taken(
        buf: &mut StreamBuffer<u32, &'static str>,
        max: usize,
    ) -> Vec<Popped<u32, &'static str>> {
        let mut out = Vec::new();
        let mut taken = Taken::default();
        loop {
            buf.take(&mut taken, max);
            let before = out.len();
            out.extend(std::iter::from_fn(|| taken.pop()));
            if out.len() == before {
                match buf.pop() {
                    Some(p) => out.push(p),
                    None => return out,
                }
            }
        }
    }

    #[test]
    fn taken_batches_come_out_as_pops_would() {
        for max in [1, 2, 3, 256] {
            let fill = |buf: &mut StreamBuffer<u32, &'static str>| {
                for i in 0..10 {
                    buf.push(i);
                }
                buf.finish("end");
            };
            let (mut a, mut b) = (StreamBuffer::new(4), StreamBuffer::new(4));
            fill(&mut a);
            fill(&mut b);
            assert_eq!(drain_taken(&mut a, max), drain(&mut b), "max {max}");
        }
    }

    #[test]
    fn a_large_queue_is_not_traded_away() {
        let mut buf: StreamBuffer<u32, ()> = StreamBuffer::new(1024);
        for i in 0..1000 {
            buf.push(i);
        }
        let mut taken = Taken::default();
        buf.take(&mut taken, 256);
        assert_eq!((taken.len(), buf.len()), (256, 744));
        assert!(taken.queue.capacity() < 1000, "the batch stays small");
        // A second take waits until the first batch is handed out.
        buf.take(&mut taken, 256);
        assert_eq!(taken.len(), 256);
        // A small queue trades places: nothing moves.
        let mut small: StreamBuffer<u32, ()> = StreamBuffer::new(1024);
        small.push(7);
        let at = small.queue.as_slices().0.as_ptr();
        let mut taken = Taken::default();
        small.take(&mut taken, 256);
        assert_eq!(taken.queue.as_slices().0.as_ptr(), at);
        assert_eq!(small.len(), 0);
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

    /// A consumer that takes one item between every drop: the drops are
    /// counts on the items, never slots of their own, so the queue never
    /// holds more than the budget (with a slot per marker it grew to twice
    /// the budget: 160-byte slots, 2.6 MiB more at the default budget).
    #[test]
    fn drops_interleaved_with_items_never_outgrow_the_budget() {
        let mut buf = StreamBuffer::new(4);
        for i in 0..4 {
            assert!(buf.push(i));
        }
        let mut popped = Vec::new();
        for i in 4..104 {
            assert!(!buf.push(1000 + i), "full: dropped");
            // The consumer takes one item (and the marker before it).
            loop {
                let next = buf.pop().expect("queued");
                let item = matches!(next, Popped::Item(_));
                popped.push(next);
                if item {
                    break;
                }
            }
            assert!(buf.push(i));
            assert!(buf.queue.len() <= 4, "{} slots", buf.queue.len());
        }
        buf.finish("end");
        popped.extend(drain(&mut buf));
        let lagged: u64 = popped
            .iter()
            .map(|p| match p {
                Popped::Lagged { dropped } => *dropped,
                _ => 0,
            })
            .sum();
        assert_eq!(lagged, 100);
        assert_eq!(buf.dropped_total(), 100);
        let items: Vec<u32> = popped
            .iter()
            .filter_map(|p| match p {
                Popped::Item(i) => Some(*i),
                _ => None,
            })
            .collect();
        assert_eq!(
            items,
            (0..104).collect::<Vec<_>>(),
            "in order, none lost but the dropped"
        );
        assert_eq!(popped.last(), Some(&Popped::End("end")));
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

    proptest::proptest! {
        /// Whatever the interleaving of pushes and a consumer's batches:
        /// every item pushed comes out once, in order, or is counted by
        /// the drop marker where it was dropped; the end comes last.
        #[test]
        fn batches_lose_nothing_and_keep_the_order(
            budget in 1usize..6,
            max in 1usize..6,
            steps in proptest::collection::vec(0u8..4, 0..200),
        ) {
            let mut buf: StreamBuffer<u32, ()> = StreamBuffer::new(budget);
            let mut taken = Taken::default();
            let (mut next, mut out) = (0u32, Vec::new());
            let consume = |buf: &mut StreamBuffer<u32, ()>,
                           taken: &mut Taken<u32>,
                           out: &mut Vec<Popped<u32, ()>>| {
                buf.take(taken, max);
                match taken.pop() {
                    Some(p) => out.push(p),
                    None => out.extend(buf.pop()),
                }
            };
            for step in steps {
                if step == 0 {
                    consume(&mut buf, &mut taken, &mut out);
                } else {
                    buf.push(next);
                    next += 1;
                }
            }
            buf.finish(());
            while !buf.is_done() || !taken.is_empty() {
                consume(&mut buf, &mut taken, &mut out);
            }
            let mut expected = 0u32;
            for (i, p) in out.iter().enumerate() {
                match p {
                    Popped::Item(item) => {
                        proptest::prop_assert_eq!(*item, expected);
                        expected += 1;
                    }
                    Popped::Lagged { dropped } => {
                        proptest::prop_assert!(*dropped > 0);
                        expected += u32::try_from(*dropped).unwrap();
                    }
                    Popped::End(()) => proptest::prop_assert_eq!(i, out.len() - 1),
                }
            }
            proptest::prop_assert_eq!(expected, next);
            proptest::prop_assert_eq!(out.last(), Some(&Popped::End(())));
        }
    }
}
