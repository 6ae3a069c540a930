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

use std::time::Instant;

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
}

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
    /// Frames and scans a chunk of the server's output.
    pub fn feed(&mut self, bytes: &[u8]) -> Ingested {
        // NB: sized to the chunk's lines (one more for a line it ends), so
        // items of a few hundred bytes are not copied as the vector grows.
        let mut items = Vec::with_capacity(memchr::memchr_iter(b'\n', bytes).count() + 1);
        self.decoder
            .decode(bytes, |frame| rpc::prepare(frame, &mut items));
        Ingested {
            items,
            raw: self.record.then(|| bytes.to_vec()),
            bytes: !bytes.is_empty(),
        }
    }

    /// The server's output ended: its unfinished last line, if any, as a
    /// line.
    pub fn finish(&mut self) -> Ingested {
        let mut items = Vec::new();
        self.decoder.finish(|frame| rpc::prepare(frame, &mut items));
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
