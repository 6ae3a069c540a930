//! The pipe tasks: a reader that only moves stdout bytes to the driver,
//! and a writer that only writes the driver's frames to stdin.

use std::sync::Arc;
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
    tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
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
