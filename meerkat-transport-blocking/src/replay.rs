//! Record and replay around the engine: the cassette file to record to,
//! and the replay peer that sits where the child's pipes would be. The
//! writer's bytes go into a [`Player`], the player's bytes come back to
//! the reader, through two OS pipes and a peer thread; everything that
//! decides is the player's ([`meerkat_proto::cassette`]).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use meerkat_proto::cassette::{Cassette, Player, Replay, ReplayProgress};
use meerkat_proto::{ConnectOptions, Error};

use crate::MeerkatClient;
use crate::io::{Shared, spawn_reader, spawn_writer};

/// The player, shared by the peer thread and the client (for its progress).
pub(crate) type SharedPlayer = Arc<Mutex<Player>>;

const CHUNK: usize = 64 * 1024;

/// The cassette file to record to, created (or truncated) now.
pub(crate) fn record_file(options: &ConnectOptions) -> Result<Option<std::fs::File>, Error> {
    Ok(match &options.record {
        Some(path) => Some(std::fs::File::create(path)?),
        None => None,
    })
}

/// Loads the cassette and starts the peer, the reader and the writer.
pub(crate) fn start(shared: &Arc<Shared>, replay: &Replay) -> Result<SharedPlayer, Error> {
    let text = std::fs::read_to_string(&replay.cassette)?;
    let cassette = Cassette::parse(&text)
        .map_err(|e| Error::InvalidArgs(format!("{}: {e}", replay.cassette.display())))?;
    let player = Arc::new(Mutex::new(Player::new(cassette, replay)));
    let (mut from_client, client_out) = std::io::pipe()?;
    let (client_in, mut to_client) = std::io::pipe()?;
    spawn_writer(shared, client_out, drop)?;
    spawn_reader(shared, client_in, false)?;
    let (shared, peer_player) = (Arc::clone(shared), Arc::clone(&player));
    std::thread::Builder::new()
        .name("meerkat-replay".into())
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let (bytes, end) = {
                    let mut p = peer_player.lock().unwrap_or_else(PoisonError::into_inner);
                    (p.take_output(), p.end().cloned())
                };
                if !bytes.is_empty() && to_client.write_all(&bytes).is_err() {
                    break;
                }
                if let Some(end) = end {
                    shared.with(|e| e.end_replay(end));
                    break;
                }
                match from_client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => peer_player
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .handle_client_bytes(&buf[..n]),
                }
            }
            // Dropping our ends: the reader reads what was played, then the
        // end of the output, which ends the connection (with the replay's
        // error, if it ended it).
        })?;
    Ok(player)
}

impl MeerkatClient {
    /// How far the replay got, for a client connected with
    /// [`ConnectOptions::replay`] (`None` otherwise): a test asserts with it
    /// that every recorded request was made.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::new().replay("tests/demo.jsonl"))?;
    /// client.list_sessions()?;
    /// let progress = client.replay_progress().expect("a replay");
    /// assert_eq!(progress.matched, progress.expected);
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    #[must_use]
    pub fn replay_progress(&self) -> Option<ReplayProgress> {
        let player = self.inner.replay.as_ref()?;
        Some(player.lock().unwrap_or_else(PoisonError::into_inner).progress())
    }
}
