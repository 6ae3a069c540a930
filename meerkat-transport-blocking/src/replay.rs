//! Record and replay around the engine: the cassette file to record to,
//! and the replay peer that sits where the child's pipes would be. The
//! writer's bytes go into a [`Player`], the player's bytes come back to
//! the reader, through two OS pipes and a peer thread; everything that
//! decides is the player's ([`meerkat_proto::cassette`]).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use meerkat_host::RecordFile;
use meerkat_proto::cassette::{Player, Replay};
use meerkat_proto::{ConnectOptions, Error};

use crate::io::{Shared, spawn_reader, spawn_writer};

/// The player, shared by the peer thread and the client (for its progress).
pub(crate) type SharedPlayer = Arc<Mutex<Player>>;

const CHUNK: usize = 64 * 1024;

/// The cassette file to record to, created (or truncated) now.
pub(crate) fn record_file(options: &ConnectOptions) -> Result<Option<RecordFile>, Error> {
    options.record.as_ref().map(RecordFile::create).transpose()
}

/// Loads the cassette and starts the peer, the reader and the writer.
pub(crate) fn start(shared: &Arc<Shared>, replay: &Replay) -> Result<SharedPlayer, Error> {
    let cassette = meerkat_host::load_cassette(&replay.cassette)?;
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

