//! The child's stdin, shared by the writer thread and the threads that
//! touch the engine, so that a call writes its own request while the writer
//! sleeps (one thread handoff less per call; the engine decides who writes:
//! `Engine::set_direct_writes`, `Effects::write_now`).
//!
//! The pipe is set non-blocking: a caller writes what the pipe takes now
//! and never waits on it (a child that stops reading must stall nobody but
//! the writer); the writer waits for room with `poll`, as a blocking write
//! would. Unix only; elsewhere the writer owns stdin alone.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::process::ChildStdin;
use std::sync::Arc;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;

/// The child's stdin, non-blocking; the writer holds it strongly (it is
/// closed when the writer ends), callers through a `Weak`.
pub(crate) struct Stdin {
    fd: OwnedFd,
}

impl Stdin {
    /// Takes over the child's stdin and sets it non-blocking.
    pub(crate) fn new(stdin: ChildStdin) -> io::Result<Arc<Self>> {
        let fd = OwnedFd::from(stdin);
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(Arc::new(Self { fd }))
    }

    /// Writes what the pipe takes now; 0 when it is full or writing fails
    /// (the writer then meets the error itself).
    pub(crate) fn try_write(&self, bytes: &[u8]) -> usize {
        loop {
            match rustix::io::write(&self.fd, bytes) {
                Ok(n) => return n,
                Err(Errno::INTR) => {}
                Err(_) => return 0,
            }
        }
    }
}

/// The writer's handle on [`Stdin`]: writes block until done, as on a
/// blocking pipe.
pub(crate) struct Writer(pub(crate) Arc<Stdin>);

impl Write for Writer {
    /// One write, waiting for room while the pipe is full (what a write
    /// to a blocking pipe does; `write_all` loops over it).
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            match rustix::io::write(&self.0.fd, bytes) {
                Ok(n) => return Ok(n),
                Err(Errno::AGAIN) => {
                    let mut fds = [PollFd::new(&self.0.fd, PollFlags::OUT)];
                    match poll(&mut fds, None) {
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::{Command, Stdio};

    /// A full pipe: the caller's write takes what fits and returns, the
    /// writer's waits for the reader and writes it all.
    #[test]
    fn a_caller_never_waits_on_a_full_pipe_and_the_writer_does() {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat");
        let stdin = Stdin::new(child.stdin.take().expect("stdin")).expect("non-blocking");
        let big = vec![b'x'; 4 << 20];
        // Nobody reads cat's stdout: once its pipes and buffer are full,
        // each try returns 0 at once (a blocking write would hang here).
        let mut taken = 0;
        loop {
            match stdin.try_write(&big[taken..]) {
                0 => break,
                n => taken += n,
            }
        }
        assert!(taken > 0 && taken < big.len(), "took {taken}");
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            stdout.read_to_end(&mut all).map(|_| all.len())
        });
        let mut writer = Writer(stdin);
        writer
            .write_all(&big[taken..])
            .expect("all of it, waiting for room");
        drop(writer); // closes stdin: cat ends
        assert_eq!(reader.join().expect("reader").expect("read"), big.len());
        let _ = child.wait();
    }
}
