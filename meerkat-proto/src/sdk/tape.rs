//! The engine's side of record and replay ([`crate::cassette`]): the
//! records to append to the cassette file, and the end of a replay.

use super::engine::Engine;
use crate::cassette::ReplayEnd;

impl<H: Clone> Engine<H> {
    /// The cassette records made since the last call (empty unless
    /// [`EngineConfig::record`](super::EngineConfig::record)): every line
    /// read from the server and written to it, in order, one JSON object a
    /// line. A transport appends them to its cassette file after each read
    /// and each write, so the memory they hold stays small.
    ///
    /// ```
    /// use std::time::Instant;
    /// use meerkat_proto::ConnectOptions;
    /// use meerkat_proto::sdk::{Engine, EngineConfig};
    ///
    /// let now = Instant::now();
    /// let options = ConnectOptions::new().record("unused.jsonl");
    /// let mut engine: Engine<()> = Engine::new(EngineConfig::from_options(&options), now);
    /// let records = String::from_utf8(engine.take_records()).unwrap();
    /// assert!(records.starts_with("{\"seq\":1,\"t_ms\":0.0,\"dir\":\"send\",\"msg\":{"));
    /// assert!(records.contains("\"method\":\"initialize\""));
    /// ```
    pub fn take_records(&mut self) -> Vec<u8> {
        self.recorder
            .as_mut()
            .map(crate::cassette::Recorder::take)
            .unwrap_or_default()
    }

    /// A replay peer says why it is about to end its output
    /// ([`ReplayEnd`]); it then closes it, and once the engine has read
    /// the lines played before (answers included) and the end of the
    /// output, every waiter gets [`ReplayEnd::to_error`].
    pub fn end_replay(&mut self, end: ReplayEnd) {
        if self.replay_end.is_none() && !self.conn.is_closed() {
            tracing::debug!(?end, "the replay ends the connection");
            self.replay_end = Some(end);
        }
    }
}
