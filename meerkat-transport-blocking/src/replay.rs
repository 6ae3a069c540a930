//! Record and replay around the engine: the cassette file to record to,
//! and the replay peer that sits where the child's pipes would be. The
//! writer's bytes go into a [`Player`], the player's bytes come back to
//! the reader, through two OS pipes and a peer thread; everything that
//! decides is the player's ([`meerkat_proto::cassette`]).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use meerkat_host::RecordFile;
use meerkat_proto::cassette::{Player, Replay};
use meerkat_proto::{ConnectOptions, Error};

use crate::io::{Shared, Signal, spawn_reader, spawn_writer};

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
    let player = Arc::new(Mutex::new(Player::new(cassette, replay, Instant::now())));
    let (mut from_client, client_out) = std::io::pipe()?;
    let (client_in, mut to_client) = std::io::pipe()?;
    spawn_writer(shared, client_out, drop)?;
    spawn_reader(shared, client_in, false)?;
    // Two threads: one feeds the client's bytes to the player, one plays
    // its lines back (at once, or when due in a paced replay), woken by
    // the first through `wake` (and told by `gone` that the client ended).
    let wake = Arc::new((Signal::default(), AtomicBool::new(false)));
    let (feed_player, feed_wake) = (Arc::clone(&player), Arc::clone(&wake));
    std::thread::Builder::new()
        .name("meerkat-replay-in".into())
        .spawn(move || {
            let mut buf = vec![0u8; CHUNK];
            let (signal, gone) = &*feed_wake;
            loop {
                let read = from_client.read(&mut buf);
                match read {
                    Ok(n @ 1..) => feed_player
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .handle_client_bytes(&buf[..n], Instant::now()),
                    _ => gone.store(true, Ordering::Release),
                }
                signal.notify();
                if gone.load(Ordering::Acquire) {
                    return;
                }
            }
        })?;
    let (shared, peer_player) = (Arc::clone(shared), Arc::clone(&player));
    std::thread::Builder::new()
        .name("meerkat-replay".into())
        .spawn(move || {
            let (signal, gone) = &*wake;
            // Once the client is gone: one more look, for what its last
            // bytes asked for, then the end.
            let mut last_look = false;
            loop {
                let (bytes, end, due) = {
                    let mut p = peer_player.lock().unwrap_or_else(PoisonError::into_inner);
                    let bytes = p.take_output(Instant::now());
                    (bytes, p.end().cloned(), p.poll_timeout())
                };
                if !bytes.is_empty() && to_client.write_all(&bytes).is_err() {
                    break;
                }
                if let Some(end) = end {
                    shared.with(|e| e.end_replay(end));
                    break;
                }
                if last_look {
                    break;
                }
                signal.wait(due.map(|at| at.saturating_duration_since(Instant::now())));
                last_look = gone.load(Ordering::Acquire);
            }
            // Dropping our ends: the reader reads what was played, then the
            // end of the output, which ends the connection (with the replay's
            // error, if it ended it).
        })?;
    Ok(player)
}

