//! [`OutQueue`]: the frames waiting for the server's stdin, bounded in
//! bytes, each known by the request that owns it.
//!
//! The writer takes whole frames in batches; a batch counts until the
//! writer comes back for the next one (it was written by then). A frame
//! still queued when its request timed out or was cancelled is dropped: the
//! server never sees a request nobody waits for.

use foldhash::HashMap;
use std::collections::VecDeque;

use crate::rpc::{RequestId, Transmit};

/// Default of [`ConnectOptions::max_output_bytes`](crate::ConnectOptions::max_output_bytes):
/// 16 MiB waiting for the server's stdin.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 << 20;

/// How many bytes of whole frames the writer takes at once (one frame
/// more when a single frame is larger). Small enough that frames of
/// requests that time out while the pipe is full are mostly still queued,
/// and can be dropped.
pub const WRITE_BATCH: usize = 64 * 1024;

/// One queued frame; `bytes` is empty once dropped (a tombstone, popped
/// when it reaches the front).
struct Queued {
    owner: Option<RequestId>,
    bytes: Vec<u8>,
}

/// The frames waiting for the writer.
pub(super) struct OutQueue {
    frames: VecDeque<Queued>,
    /// The absolute position of `frames[0]`.
    base: u64,
    /// Where each owned frame is (absolute positions).
    owned: HashMap<RequestId, u64>,
    /// Bytes in `frames`.
    queued: usize,
    /// Bytes of the batch the writer took last (written when it comes back).
    in_flight: usize,
    /// The writer found nothing when it last took and has not been woken
    /// since: it sleeps until told ([`OutQueue::wake_writer`]).
    writer_idle: bool,
    /// A caller took the batch in flight ([`OutQueue::take_for_caller`])
    /// and has not said what it wrote: the pipe is its until then.
    caller_writing: bool,
    /// The pipe did not take all of a caller's batch: callers leave it to
    /// the writer until the writer has taken a batch.
    caller_refused: bool,
    limit: usize,
}

impl OutQueue {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            base: 0,
            owned: HashMap::default(),
            queued: 0,
            in_flight: 0,
            writer_idle: true,
            caller_writing: false,
            caller_refused: false,
            limit,
        }
    }

    /// Queues `frame`, of request `owner` if it is a request of ours.
    pub(super) fn push(&mut self, frame: Transmit, owner: Option<RequestId>) {
        let bytes = frame.into_bytes();
        if let Some(id) = owner {
            self.owned.insert(id, self.base + self.frames.len() as u64);
        }
        self.queued += bytes.len();
        self.frames.push_back(Queued { owner, bytes });
    }

    /// Drops the frame of request `id` if the writer has not taken it;
    /// returns the bytes freed.
    pub(super) fn drop_frame(&mut self, id: RequestId) -> usize {
        let Some(at) = self.owned.remove(&id) else {
            return 0;
        };
        let Some(frame) = usize::try_from(at - self.base)
            .ok()
            .and_then(|i| self.frames.get_mut(i))
        else {
            return 0;
        };
        frame.owner = None;
        let freed = std::mem::take(&mut frame.bytes).len();
        self.queued -= freed;
        freed
    }

    /// Takes the next batch of whole frames (at most [`WRITE_BATCH`] bytes,
    /// or one larger frame); the previous batch is taken as written.
    pub(super) fn take_batch(&mut self) -> Vec<u8> {
        if self.caller_writing {
            // The caller's batch is on its way: the writer sleeps, and is
            // woken when the caller is done if anything waits then.
            self.writer_idle = true;
            return Vec::new();
        }
        let batch = self.take_frames();
        self.writer_idle = batch.is_empty();
        self.caller_refused = false;
        batch
    }

    /// What [`take_batch`](Self::take_batch) hands the writer, for a caller
    /// to write itself: only while the writer sleeps with nothing in flight,
    /// so the two never write at once. The caller then owns the pipe until
    /// it says what it wrote ([`caller_wrote`](Self::caller_wrote)).
    pub(super) fn take_for_caller(&mut self) -> Option<Vec<u8>> {
        if !self.writer_idle
            || self.caller_writing
            || self.caller_refused
            || self.in_flight > 0
            || !self.has_frames()
        {
            return None;
        }
        let batch = self.take_frames();
        self.caller_writing = !batch.is_empty();
        self.caller_writing.then_some(batch)
    }

    /// The caller wrote the first `written` bytes of `batch` (the one
    /// [`take_for_caller`](Self::take_for_caller) gave it); the rest goes
    /// first to the writer, which [`wake_writer`](Self::wake_writer) then
    /// wakes (as it does for frames queued meanwhile), and callers leave
    /// the pipe to the writer until it took a batch (no caller spins on a
    /// full pipe).
    pub(super) fn caller_wrote(&mut self, batch: Vec<u8>, written: usize) {
        if !self.caller_writing {
            return;
        }
        self.caller_writing = false;
        self.in_flight = 0;
        if let Some(rest) = batch.get(written..).filter(|rest| !rest.is_empty()) {
            self.caller_refused = true;
            // NB: taking the batch popped at least one frame: base >= 1.
            self.base = self.base.saturating_sub(1);
            self.queued += rest.len();
            self.frames.push_front(Queued {
                owner: None,
                bytes: rest.to_vec(),
            });
        }
    }

    /// Pops whole frames (at most [`WRITE_BATCH`] bytes, or one larger
    /// frame) as the batch in flight; the previous batch is taken as
    /// written.
    fn take_frames(&mut self) -> Vec<u8> {
        self.in_flight = 0;
        let mut batch = Vec::new();
        while let Some(front) = self.frames.front() {
            let len = front.bytes.len();
            if !batch.is_empty() && batch.len() + len > WRITE_BATCH {
                break;
            }
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.base += 1;
            if let Some(id) = frame.owner {
                self.owned.remove(&id);
            }
            self.queued -= len;
            if batch.is_empty() {
                batch = frame.bytes;
            } else {
                batch.extend_from_slice(&frame.bytes);
            }
        }
        self.in_flight = batch.len();
        batch
    }

    /// Whether the writer must be woken now: frames wait and it found none
    /// when it last took a batch. Once per time it goes idle: a writer that
    /// took a batch comes back for the next by itself, and one already
    /// woken will look.
    pub(super) fn wake_writer(&mut self) -> bool {
        // NB: not while a caller holds the pipe: it says when it is done.
        let wake = self.writer_idle && !self.caller_writing && self.has_frames();
        if wake {
            self.writer_idle = false;
        }
        wake
    }

    /// Whether whole frames wait for the writer.
    pub(super) fn has_frames(&self) -> bool {
        // NB: a live frame holds at least its `\n`; tombstones hold nothing.
        self.queued > 0
    }

    /// Bytes waiting for stdin: queued, and the batch being written.
    pub(super) fn bytes(&self) -> usize {
        self.queued + self.in_flight
    }

    /// Whether the bound is reached: new requests of the caller are refused.
    pub(super) fn is_full(&self) -> bool {
        self.bytes() >= self.limit
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Transmit {
        Transmit::encode(&text.to_owned(), 0).unwrap()
    }

    #[test]
    fn batches_are_whole_frames_and_dropped_frames_never_come_out() {
        let mut q = OutQueue::new(100);
        q.push(frame("a"), Some(RequestId(1)));
        q.push(frame("bb"), Some(RequestId(2)));
        q.push(frame("ccc"), None);
        assert_eq!(q.bytes(), 15);
        assert_eq!(q.drop_frame(RequestId(2)), 5);
        assert_eq!(q.drop_frame(RequestId(2)), 0);
        assert_eq!(q.bytes(), 10);
        assert!(q.has_frames());
        assert_eq!(q.take_batch(), b"\"a\"\n\"ccc\"\n");
        assert_eq!(q.bytes(), 10, "in flight until the writer comes back");
        assert!(!q.has_frames());
        assert!(q.take_batch().is_empty());
        assert_eq!(q.bytes(), 0);
        assert_eq!(q.drop_frame(RequestId(1)), 0, "already written");
    }

    #[test]
    fn a_batch_stops_before_the_batch_size_but_holds_one_large_frame() {
        let mut q = OutQueue::new(usize::MAX);
        let big = "x".repeat(WRITE_BATCH);
        q.push(frame("a"), None);
        q.push(frame(&big), None);
        q.push(frame(&big), None);
        assert_eq!(q.take_batch(), b"\"a\"\n");
        assert_eq!(q.take_batch().len(), WRITE_BATCH + 3);
        assert_eq!(q.take_batch().len(), WRITE_BATCH + 3);
        assert!(q.take_batch().is_empty());
    }

    #[test]
    fn the_writer_is_woken_once_per_time_it_goes_idle() {
        let mut q = OutQueue::new(usize::MAX);
        assert!(!q.wake_writer(), "nothing to write");
        q.push(frame("a"), None);
        assert!(q.wake_writer());
        q.push(frame("b"), None);
        assert!(!q.wake_writer(), "already woken: it will look");
        assert_eq!(q.take_batch(), b"\"a\"\n\"b\"\n");
        q.push(frame("c"), None);
        assert!(!q.wake_writer(), "it took a batch: it comes back by itself");
        assert_eq!(q.take_batch(), b"\"c\"\n");
        assert!(q.take_batch().is_empty());
        assert!(!q.wake_writer(), "idle, but nothing to write");
        q.push(frame("d"), None);
        assert!(q.wake_writer(), "idle again");
    }

    #[test]
    fn a_caller_writes_only_while_the_writer_sleeps_with_nothing_in_flight() {
        let mut q = OutQueue::new(usize::MAX);
        assert_eq!(q.take_for_caller(), None, "nothing queued");
        q.push(frame("a"), None);
        let batch = q.take_for_caller().expect("the writer sleeps");
        assert_eq!(batch, b"\"a\"\n");
        q.push(frame("b"), None);
        assert_eq!(q.take_for_caller(), None, "a caller holds the pipe");
        assert!(q.take_batch().is_empty(), "the writer too waits for it");
        assert!(!q.wake_writer(), "the caller has not said what it wrote");
        assert_eq!(q.bytes(), 8, "the caller's batch counts until then");
        q.caller_wrote(batch, 4);
        assert!(q.wake_writer(), "b waits");
        assert_eq!(q.take_for_caller(), None, "the writer was woken");
        assert_eq!(q.take_batch(), b"\"b\"\n");
        q.push(frame("c"), None);
        assert_eq!(q.take_for_caller(), None, "the writer's batch is in flight");
        assert_eq!(q.take_batch(), b"\"c\"\n");
        assert!(q.take_batch().is_empty());
        q.push(frame("d"), None);
        assert!(
            q.take_for_caller().is_some(),
            "asleep again, nothing in flight"
        );
    }

    #[test]
    fn what_the_pipe_did_not_take_from_a_caller_goes_first_to_the_writer() {
        let mut q = OutQueue::new(usize::MAX);
        q.push(frame("a"), Some(RequestId(1)));
        q.push(frame("b"), Some(RequestId(2)));
        let batch = q.take_for_caller().expect("the writer sleeps");
        q.push(frame("c"), Some(RequestId(3)));
        q.caller_wrote(batch, 5);
        assert_eq!(q.bytes(), 3 + 4, "the rest of b, and c");
        // The rest of a frame half written is nobody's: it cannot be
        // dropped; a frame still queued can.
        assert_eq!(q.drop_frame(RequestId(2)), 0);
        assert_eq!(q.drop_frame(RequestId(3)), 4);
        assert!(q.wake_writer());
        q.push(frame("e"), None);
        assert_eq!(q.take_for_caller(), None, "left to the writer");
        assert_eq!(q.take_batch(), b"b\"\n\"e\"\n");
        assert!(q.take_batch().is_empty());
        assert_eq!(q.bytes(), 0);
        q.push(frame("f"), None);
        assert!(
            q.take_for_caller().is_some(),
            "the writer took a batch since"
        );
    }

    #[test]
    fn the_bound_counts_queued_and_in_flight_bytes() {
        let mut q = OutQueue::new(4);
        q.push(frame("abc"), None);
        assert!(q.is_full());
        let _ = q.take_batch();
        assert!(q.is_full(), "still being written");
        let _ = q.take_batch();
        assert!(!q.is_full());
    }
}
