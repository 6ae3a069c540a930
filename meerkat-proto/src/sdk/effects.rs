//! [`Effects`]: what a transport does after each touch of the engine.

use std::task::Waker;

use crate::model::ToolCall;

/// What a transport must do after touching the engine, with its lock
/// released: wake these consumers, signal its writer, re-arm its timer, run
/// these tool handlers.
#[derive(Debug)]
#[must_use]
pub struct Effects<H> {
    /// Consumers to wake.
    pub wake: Vec<Waker>,
    /// Bytes to write now, without blocking, from the thread or task that
    /// touched the engine (with [`Engine::set_direct_writes`](super::Engine::set_direct_writes)
    /// on, while the writer sleeps); then tell the engine how much the
    /// pipe took ([`Engine::caller_wrote`](super::Engine::caller_wrote)).
    pub write_now: Option<Vec<u8>>,
    /// Bytes wait for the writer ([`Engine::take_output`](super::Engine::take_output))
    /// and it must be woken: it found nothing when it last took. Said once
    /// per time the writer goes idle (a writer that took a batch comes back
    /// for the next by itself), so these effects must be applied.
    pub write: bool,
    /// The earliest deadline moved before what the timer sleeps until.
    pub rearm_timer: bool,
    /// Tool calls to run, each with its handler; answer with
    /// [`Engine::respond_tool`](super::Engine::respond_tool).
    pub tool_calls: Vec<(ToolCall, H)>,
    /// The connection is closed: the writer ends (closing stdin) once the
    /// output is written.
    pub closed: bool,
}

/// How a transport writes [`Effects::write_now`]: the pipe's non-blocking
/// write, giving the bytes it took (0 when it took none or failed).
pub type DirectWrite = Box<dyn Fn(&[u8]) -> usize + Send + Sync>;

impl<H> Effects<H> {
    /// Wakes every consumer (call with no lock held).
    pub fn wake_all(&mut self) {
        for waker in self.wake.drain(..) {
            waker.wake();
        }
    }

    /// Does it all, with no lock held: writes what is to be written now
    /// (`write_now`), wakes the consumers, signals the writer (bytes to
    /// write, or closed: write the rest and close), the timer (an earlier
    /// deadline, or closed: stop), and runs each tool call.
    pub fn apply(
        mut self,
        write_now: impl FnOnce(Vec<u8>),
        signal_writer: impl FnOnce(),
        signal_timer: impl FnOnce(),
        mut run_tool: impl FnMut(ToolCall, H),
    ) {
        if let Some(bytes) = self.write_now.take() {
            write_now(bytes);
        }
        self.wake_all();
        if self.write || self.closed {
            signal_writer();
        }
        if self.rearm_timer || self.closed {
            signal_timer();
        }
        for (call, handler) in self.tool_calls {
            run_tool(call, handler);
        }
    }
}
