//! The pipe tasks: a reader that only moves stdout bytes to the driver,
//! and a writer that only writes the driver's frames to stdin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use meerkat_proto::Transmit;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::process::Process;
use meerkat_proto::dispatch::ExitInfo;

/// Bytes read per chunk.
const READ_CHUNK: usize = 64 * 1024;

/// Chunks in flight between the reader and the driver: with
/// [`READ_CHUNK`], at most 4 MiB of unparsed output is held. A slow driver
/// holds the reader back, which holds the server back (pipe back-pressure).
pub(crate) const CHUNKS_IN_FLIGHT: usize = 64;

/// How long a child whose stdout ended gets to exit, so its status and last
/// words can go into the error every waiter gets.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How often the exit watch asks whether the child has exited.
const EXIT_POLL: Duration = Duration::from_millis(100);

/// How long the output of an exited child may stay quiet and open before
/// the exit watch ends it: something else (a process the child started)
/// holds the pipe, and no EOF will come.
const OUTPUT_IDLE: Duration = Duration::from_millis(500);

/// [`Progress`] once the reader has reached EOF.
const READER_DONE: u64 = u64::MAX;

/// Chunks read so far, or [`READER_DONE`]: what the exit watch looks at.
type Progress = Arc<AtomicU64>;

/// What the reader tells the driver.
pub(crate) enum FromReader {
    /// A chunk of stdout.
    Bytes(Vec<u8>),
    /// stdout ended.
    Eof(ExitInfo),
}

/// Reads the server's output (a child's stdout or a TCP stream) until EOF
/// on a task; for a child, its exit status and stderr tail go with the EOF.
pub(crate) fn spawn_reader(
    mut stdout: impl AsyncRead + Unpin + Send + 'static,
    tx: mpsc::Sender<FromReader>,
    process: Option<Arc<Process>>,
) {
    let pid = process.as_ref().map_or(0, |p| p.pid());
    let progress = Progress::default();
    if let Some(process) = &process {
        spawn_exit_watch(Arc::downgrade(process), tx.clone(), Arc::clone(&progress));
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    progress.fetch_add(1, Ordering::Relaxed);
                    if tx.send(FromReader::Bytes(buf[..n].to_vec())).await.is_err() {
                        return; // the driver is gone
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(pid, error = %e, "reading stdout failed");
                    break;
                }
            }
        }
        tracing::debug!(pid, "server output closed");
        progress.store(READER_DONE, Ordering::Relaxed);
        let info = match process {
            Some(process) => {
                let deadline = Instant::now() + EXIT_GRACE;
                let status = process.wait_until(deadline).await;
                process.stderr().wait_finished(deadline).await;
                ExitInfo::new(status.map(|s| s.to_string()), process.stderr().text())
            }
            None => ExitInfo::default(),
        };
        let _ = tx.send(FromReader::Eof(info)).await;
    });
}

/// Watches the child for an exit that no EOF follows: a process the child
/// started (a background job of a shell tool) may hold its stdout open long
/// after it died, and the waiters must not wait for that. Once the child
/// has exited and its output has been quiet for [`OUTPUT_IDLE`], the watch
/// ends the output in the reader's place (with the exit status and stderr
/// tail); the driver ignores whatever the reader says after that.
fn spawn_exit_watch(process: Weak<Process>, tx: mpsc::Sender<FromReader>, progress: Progress) {
    tokio::spawn(async move {
        let status = loop {
            tokio::time::sleep(EXIT_POLL).await;
            if tx.is_closed() || progress.load(Ordering::Relaxed) == READER_DONE {
                return;
            }
            let Some(process) = process.upgrade() else {
                return;
            };
            if let Some(status) = process.try_status() {
                break status;
            }
        };
        let mut seen = progress.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(OUTPUT_IDLE).await;
            let now = progress.load(Ordering::Relaxed);
            if now == READER_DONE {
                return;
            }
            if now == seen {
                break;
            }
            seen = now;
        }
        let Some(process) = process.upgrade() else {
            return;
        };
        tracing::debug!(
            pid = process.pid(),
            %status,
            "rkat-rpc exited but its output stays open; ending it"
        );
        let info = ExitInfo::new(Some(status.to_string()), process.stderr().text());
        let _ = tx.send(FromReader::Eof(info)).await;
    });
}

/// Writes frames to the server's input (a child's stdin or a TCP stream) on
/// a task; shuts it down when the frame queue closes (the server's graceful
/// shutdown).
pub(crate) fn spawn_writer(
    mut stdin: impl AsyncWrite + Unpin + Send + 'static,
    mut frames: mpsc::UnboundedReceiver<Transmit>,
) {
    tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            if let Err(e) = stdin.write_all(frame.as_bytes()).await {
                // The child is gone or closed stdin: the reader sees EOF and
                // the driver resolves every waiter from there.
                tracing::debug!(error = %e, "writing to stdin failed");
                return;
            }
        }
        tracing::debug!("closing stdin");
        let _ = stdin.shutdown().await;
    });
}
