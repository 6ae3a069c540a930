//! [`Ingest`]: the reader's share of the work, done outside the engine's
//! lock.
//!
//! A transport's reader frames each chunk of the server's output into
//! lines, and scans every `session/event` line of the usual shape for its
//! routing facts (decoding text and reasoning deltas on the way), before it
//! takes the engine's lock: under the lock, [`Engine::handle_ingested`]
//! only routes what was scanned. So the lock is held for a short while per
//! chunk, and a consumer or caller waiting for it is not starved by a
//! fast stream. Every decision stays the engine's: a line the scan is not
//! sure of goes to the engine whole, which classifies it as it would have.
//!
//! The reader reads each chunk into a buffer of [`Ingest`]'s
//! ([`Ingest::buffer`]), and the routed lines of the chunk are handed on as
//! slices of that buffer (no copy, no allocation per line or per read),
//! within a bound on the buffers they may keep alive (`MAX_PINNED`).

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::engine::Engine;
use crate::rpc::{self, FrameDecoder};

/// The reader's framing and scanning state; see the module docs.
///
/// ```
/// use std::time::Instant;
/// use meerkat_proto::ConnectOptions;
/// use meerkat_proto::sdk::{Engine, EngineConfig};
///
/// let config = EngineConfig::from_options(&ConnectOptions::default());
/// let mut engine: Engine<()> = Engine::new(config, Instant::now());
/// let mut ingest = engine.ingest();
/// // The reader: a chunk read from stdout, scanned, then routed under the lock.
/// let batch = ingest.feed(b"not json\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n");
/// engine.handle_ingested(batch, Instant::now());
/// // At the end of stdout: an unfinished last line counts too.
/// engine.handle_ingested(ingest.finish(), Instant::now());
/// engine.handle_eof(Instant::now());
/// ```
#[derive(Debug)]
pub struct Ingest {
    decoder: FrameDecoder,
    record: bool,
    /// The chunks some routed line may still hold a slice of (see
    /// [`MAX_PINNED`]).
    pinned: Vec<Bytes>,
    /// Buffers of chunks no line holds any more, to read the next chunks
    /// into.
    spare: Vec<BytesMut>,
    /// The buffer handed out by [`Ingest::buffer`] for the next read.
    current: Option<BytesMut>,
    /// How many lines the last chunk had.
    lines_hint: usize,
}

/// How many read chunks routed lines may keep alive at once.
///
/// A chunk is read into a buffer of [`Ingest`]'s, and the routed lines in
/// it are handed on as slices of that buffer (as [`Bytes`]): no copy and
/// no allocation per line or per read; once the consumer has dropped the
/// chunk's last line, the buffer takes a later chunk. A line held long (a
/// slow consumer, a subscription nobody reads) keeps its whole buffer
/// alive, so while this many are held, lines are copied out instead: the
/// memory a connection holds stays its streams' budgets plus at most this
/// many buffers and the one being read into (64 KiB each: 576 KiB).
const MAX_PINNED: usize = 8;

/// The size of a chunk buffer: the most the transports read at once.
const CHUNK: usize = 64 * 1024;

/// What [`Ingest`] made of a chunk, for [`Engine::handle_ingested`].
#[derive(Debug)]
pub struct Ingested {
    items: Vec<rpc::Prepared>,
    /// The chunk as it came, when recording a cassette.
    raw: Option<Vec<u8>>,
    /// Whether it came from bytes (not from the end of the output).
    bytes: bool,
}

impl Ingest {
    /// The buffer to read the server's next chunk of output into: read
    /// into it, then hand [`filled`](Self::filled) how many bytes came.
    /// Reading straight into it spares a copy of every chunk (the routed
    /// lines are handed on as slices of this very buffer).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Instant;
    /// use meerkat_proto::ConnectOptions;
    /// use meerkat_proto::sdk::{Engine, EngineConfig};
    ///
    /// let config = EngineConfig::from_options(&ConnectOptions::default());
    /// let mut engine: Engine<()> = Engine::new(config, Instant::now());
    /// let mut ingest = engine.ingest();
    /// let mut stdout: &[u8] = b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n";
    /// let n = stdout.read(ingest.buffer()).unwrap();
    /// engine.handle_ingested(ingest.filled(n), Instant::now());
    /// ```
    pub fn buffer(&mut self) -> &mut [u8] {
        // Chunks whose lines are all dropped are only ours again: their
        // buffers take the next chunks (a chunk held long takes one place,
        // not the ones after it).
        let mut i = 0;
        while let Some(chunk) = self.pinned.get(i) {
            if chunk.is_unique() {
                let chunk = self.pinned.swap_remove(i);
                self.spare.extend(chunk.try_into_mut().ok());
            } else {
                i += 1;
            }
        }
        // NB: a buffer is pinned, spare or current, and a new one is made
        // only when none is spare: never more than MAX_PINNED + 1 of them.
        // Reused, they spare the allocator a 64 KiB allocation per read,
        // freed on the consumer's thread (and the page faults of a heap
        // that shrinks and grows again), and are never zeroed again: a
        // buffer keeps its whole length, only its first bytes are the
        // chunk.
        let buf = match self.current.take() {
            Some(buf) => buf,
            None => self.spare.pop().unwrap_or_else(|| BytesMut::zeroed(CHUNK)),
        };
        self.current.insert(buf)
    }

    /// Frames and scans the first `n` bytes of [`buffer`](Self::buffer)
    /// (where the last read put them). Without a `buffer` call since the
    /// last `filled`, there are no bytes: the batch is empty.
    pub fn filled(&mut self, n: usize) -> Ingested {
        let Some(buf) = self.current.take() else {
            return Ingested {
                items: Vec::new(),
                raw: None,
                bytes: false,
            };
        };
        let n = n.min(buf.len());
        // NB: sized as the last chunk's lines (a stream's chunks are much
        // alike), so items of a few hundred bytes are seldom copied as the
        // vector grows, without counting the lines first.
        let mut items = Vec::with_capacity(self.lines_hint + 1);
        let raw = self.record.then(|| buf[..n].to_vec());
        if self.pinned.len() < MAX_PINNED {
            let chunk = buf.freeze();
            self.decoder.decode(&chunk[..n], |frame| {
                rpc::prepare(frame, Some(&chunk), &mut items)
            });
            match chunk.try_into_mut() {
                Ok(buf) => self.current = Some(buf),
                Err(chunk) => self.pinned.push(chunk),
            }
        } else {
            // Every chunk is held by some line: these lines are copied out,
            // and the buffer takes the next read.
            self.decoder
                .decode(&buf[..n], |frame| rpc::prepare(frame, None, &mut items));
            self.current = Some(buf);
        }
        self.lines_hint = items.len().min(1024);
        Ingested {
            items,
            raw,
            bytes: n > 0,
        }
    }

    /// Frames and scans `bytes` (copied into [`buffer`](Self::buffer), a
    /// chunk of its size at a time): for output that was not read into
    /// the buffer.
    pub fn feed(&mut self, bytes: &[u8]) -> Ingested {
        let mut all = Ingested {
            items: Vec::new(),
            raw: self.record.then(Vec::new),
            bytes: false,
        };
        for piece in bytes.chunks(CHUNK) {
            self.buffer()[..piece.len()].copy_from_slice(piece);
            let batch = self.filled(piece.len());
            if all.items.is_empty() {
                all.items = batch.items;
            } else {
                all.items.extend(batch.items);
            }
            if let (Some(all), Some(raw)) = (&mut all.raw, batch.raw) {
                all.extend(raw);
            }
            all.bytes |= batch.bytes;
        }
        all
    }

    /// The server's output ended: its unfinished last line, if any, as a
    /// line.
    pub fn finish(&mut self) -> Ingested {
        let mut items = Vec::new();
        self.decoder
            .finish(|frame| rpc::prepare(frame, None, &mut items));
        Ingested {
            items,
            raw: None,
            bytes: false,
        }
    }
}

impl<H: Clone> Engine<H> {
    /// The reader's [`Ingest`], with this engine's frame limit. Feed every
    /// chunk of the server's output through it (and none through
    /// [`handle_bytes`](Self::handle_bytes): each frames on its own).
    #[must_use]
    pub fn ingest(&self) -> Ingest {
        Ingest {
            decoder: FrameDecoder::new(self.config.connection.rpc.max_frame_len),
            record: self.config.record,
            pinned: Vec::with_capacity(MAX_PINNED),
            spare: Vec::new(),
            current: None,
            lines_hint: 0,
        }
    }

    /// Routes what [`Ingest`] made of a chunk, as
    /// [`handle_bytes`](Self::handle_bytes) handles the chunk itself.
    pub fn handle_ingested(&mut self, batch: Ingested, now: Instant) {
        self.output_seen |= batch.bytes;
        if let (Some(recorder), Some(raw)) = (&mut self.recorder, &batch.raw) {
            recorder.received(raw, now);
        }
        self.conn.handle_prepared(batch.items);
        self.pump(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConnectOptions;
    use crate::sdk::EngineConfig;

    const EVENT: &str = r#"{"jsonrpc":"2.0","method":"session/event","params":{"event":{"payload":{"delta":"x","type":"text_delta"},"seq":1},"session_id":"s"}}"#;

    fn ingest() -> Ingest {
        let engine: Engine<()> = Engine::new(
            EngineConfig::from_options(&ConnectOptions::default()),
            Instant::now(),
        );
        engine.ingest()
    }

    /// The routed lines' bytes, each with whether it shares its buffer.
    fn shared(batch: &Ingested) -> Vec<bool> {
        batch
            .items
            .iter()
            .map(|item| match item {
                rpc::Prepared::Routed(routed) => !routed.line.is_unique(),
                other => panic!("not routed: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn routed_lines_share_their_chunk_until_the_bound_then_are_copied() {
        let mut ingest = ingest();
        let chunk = format!("{EVENT}\n{EVENT}\n");
        let mut held = Vec::new();
        for _ in 0..MAX_PINNED {
            let batch = ingest.feed(chunk.as_bytes());
            // Two slices of one chunk (and the chunk itself, held by Ingest).
            assert_eq!(shared(&batch), [true, true]);
            held.push(batch);
        }
        assert_eq!(ingest.pinned.len(), MAX_PINNED);
        // Every chunk is held by a line: the next lines are copies.
        let copied = ingest.feed(chunk.as_bytes());
        assert_eq!(shared(&copied), [false, false]);
        assert_eq!(ingest.pinned.len(), MAX_PINNED);
        // A middle chunk's lines are dropped: it goes, a new one is shared.
        held.remove(MAX_PINNED / 2);
        let batch = ingest.feed(chunk.as_bytes());
        assert_eq!(shared(&batch), [true, true]);
        assert_eq!(ingest.pinned.len(), MAX_PINNED);
        // All dropped: only the newest chunk is held again, in a buffer
        // used before; never more buffers than the bound and the one read
        // into while all are held.
        drop((held, batch, copied));
        let batch = ingest.feed(chunk.as_bytes());
        assert_eq!(ingest.pinned.len(), 1);
        assert!(ingest.current.is_none());
        assert_eq!(ingest.pinned.len() + ingest.spare.len(), MAX_PINNED + 1);
        drop(batch);
    }

    #[test]
    fn a_chunk_buffer_no_line_holds_takes_the_next_chunk() {
        let mut ingest = ingest();
        let first = |batch: &Ingested| match &batch.items[0] {
            rpc::Prepared::Routed(routed) => routed.line.as_ptr(),
            other => panic!("not routed: {other:?}"),
        };
        let line = format!("{EVENT}\n");
        let batch = ingest.feed(line.as_bytes());
        let at = first(&batch);
        drop(batch);
        let batch = ingest.feed(line.as_bytes());
        assert_eq!(first(&batch), at, "the same buffer, written again");
        // While a line holds it, the next chunk goes to another buffer.
        let other = ingest.feed(line.as_bytes());
        assert_ne!(first(&other), at);
        assert_eq!((ingest.pinned.len(), ingest.spare.len()), (2, 0));
    }

    #[test]
    fn lines_read_into_the_buffer_are_slices_of_it() {
        let mut ingest = ingest();
        let chunk = format!("{EVENT}\n{EVENT}\n");
        let buf = ingest.buffer();
        assert_eq!(buf.len(), CHUNK);
        buf[..chunk.len()].copy_from_slice(chunk.as_bytes());
        let at = buf.as_ptr();
        let batch = ingest.filled(chunk.len());
        assert_eq!(shared(&batch), [true, true]);
        match &batch.items[0] {
            rpc::Prepared::Routed(routed) => assert_eq!(routed.line.as_ptr(), at),
            other => panic!("not routed: {other:?}"),
        }
        // Without a buffer handed out, nothing was read: nothing comes.
        let none = ingest.filled(10);
        assert!(none.items.is_empty() && !none.bytes);
        // The tail of a buffer is not a chunk's: only the n bytes read are.
        let buf = ingest.buffer();
        buf[..EVENT.len()].copy_from_slice(EVENT.as_bytes());
        buf[EVENT.len()] = b'\n';
        assert!(
            ingest.filled(EVENT.len()).items.is_empty(),
            "no newline read yet"
        );
        let buf = ingest.buffer();
        buf[0] = b'\n';
        assert_eq!(shared(&ingest.filled(1)), [false], "assembled across reads");
    }

    #[test]
    fn a_line_split_across_reads_is_a_copy_and_pins_nothing() {
        let mut ingest = ingest();
        let (head, tail) = EVENT.split_at(40);
        assert!(ingest.feed(head.as_bytes()).items.is_empty());
        let batch = ingest.feed(format!("{tail}\n").as_bytes());
        assert_eq!(shared(&batch), [false]);
        assert!(ingest.pinned.is_empty());
        // An unrouted line is handed on as its own copy, pinning nothing.
        let other = ingest.feed(b"a log line\n");
        assert!(matches!(other.items[..], [rpc::Prepared::Line(_)]));
        assert!(ingest.pinned.is_empty());
    }
}
