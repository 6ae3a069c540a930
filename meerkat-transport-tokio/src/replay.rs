//! Record and replay around the engine: the cassette file to record to,
//! and the replay peer that sits where the child's pipes would be. The
//! writer's bytes go into a [`Player`], the player's bytes come back to
//! the reader, through an in-memory pipe; everything that decides is the
//! player's ([`meerkat_proto::cassette`]).

use std::sync::{Arc, Mutex, PoisonError};

use meerkat_host::RecordFile;
use meerkat_proto::cassette::{Player, Replay};
use meerkat_proto::{ConnectOptions, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::io::{Shared, spawn_reader, spawn_writer};

/// The player, shared by the peer task and the client (for its progress).
pub(crate) type SharedPlayer = Arc<Mutex<Player>>;

const PIPE: usize = 64 * 1024;

/// The cassette file to record to, created (or truncated) now.
pub(crate) fn record_file(options: &ConnectOptions) -> Result<Option<RecordFile>, Error> {
    options.record.as_ref().map(RecordFile::create).transpose()
}

/// Loads the cassette and starts the peer, the reader and the writer.
pub(crate) fn start(shared: &Arc<Shared>, replay: &Replay) -> Result<SharedPlayer, Error> {
    let cassette = meerkat_host::load_cassette(&replay.cassette)?;
    let player = Arc::new(Mutex::new(Player::new(
        cassette,
        replay,
        std::time::Instant::now(),
    )));
    let (client, peer) = tokio::io::duplex(PIPE);
    let (read, write) = tokio::io::split(client);
    spawn_writer(shared, write);
    spawn_reader(shared, read, false);
    let task_shared = Arc::clone(shared);
    let task_player = Arc::clone(&player);
    shared.spawn(async move {
        let (shared, player) = (task_shared, task_player);
        let (mut from_client, mut to_client) = tokio::io::split(peer);
        let mut buf = vec![0u8; PIPE];
        loop {
            let (bytes, end, due) = {
                let mut p = player.lock().unwrap_or_else(PoisonError::into_inner);
                let bytes = p.take_output(std::time::Instant::now());
                (bytes, p.end().cloned(), p.poll_timeout())
            };
            if !bytes.is_empty() && to_client.write_all(&bytes).await.is_err() {
                break;
            }
            if let Some(end) = end {
                shared.with(|e| e.end_replay(end));
                break;
            }
            // A paced replay also wakes when its next line is due.
            let due = due.map(tokio::time::Instant::from_std);
            tokio::select! {
                read = from_client.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => player
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .handle_client_bytes(&buf[..n], std::time::Instant::now()),
                },
                () = async {
                    match due {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
        // Dropping our ends: the reader reads what was played, then the
        // end of the output, which ends the connection (with the replay's
        // error, if it ended it).
    });
    Ok(player)
}

