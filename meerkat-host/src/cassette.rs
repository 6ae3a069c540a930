//! The cassette files of record and replay.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use meerkat_proto::Error;
use meerkat_proto::cassette::Cassette;

/// The file a recording connection appends its records to
/// (`ConnectOptions::record`), shared by its reader and writer.
///
/// ```no_run
/// let file = meerkat_host::RecordFile::create("session.jsonl")?;
/// file.append(|| b"{\"seq\":1}\n".to_vec());
/// # Ok::<(), meerkat_proto::Error>(())
/// ```
#[derive(Debug)]
pub struct RecordFile(Mutex<File>);

impl RecordFile {
    /// Creates (or truncates) the cassette at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self(Mutex::new(File::create(path)?)))
    }

    /// Appends what `take` returns, with the file's lock taken first, so
    /// that appends from several threads keep the order in which `take`
    /// handed the records out. A failed write is a `tracing` warning: a
    /// recording never changes what the client does.
    pub fn append(&self, take: impl FnOnce() -> Vec<u8>) {
        let mut file = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let records = take();
        if !records.is_empty()
            && let Err(e) = file.write_all(&records)
        {
            tracing::warn!(error = %e, "writing the cassette failed");
        }
    }
}

/// Reads and parses the cassette at `path`.
///
/// ```no_run
/// let cassette = meerkat_host::load_cassette("tests/demo.jsonl".as_ref())?;
/// # let _ = cassette;
/// # Ok::<(), meerkat_proto::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] when it cannot be read, [`Error::InvalidArgs`] naming the
/// file when it is not a cassette.
pub fn load_cassette(path: &Path) -> Result<Cassette, Error> {
    let text = std::fs::read_to_string(path)?;
    Cassette::parse(&text).map_err(|e| Error::InvalidArgs(format!("{}: {e}", path.display())))
}
