//! Recovery after a failed or interrupted turn.
//!
//! A 0.5.x server keeps the input of a failed or interrupted turn queued;
//! the next `turn/start` would replay it. So the engine resets the
//! session's runtime (`runtime/reset`) first, retrying every
//! [`RESET_PAUSE`] while the server says the runtime is still running, and
//! holds the turn's outcome (the error, or the interrupt's answer) until
//! the reset is done. The retries run on the engine's clock
//! ([`Engine::poll_timeout`]), not on a caller's future or thread, so a
//! caller that goes away cannot leave a failed input queued.
//! Servers without `runtime/reset` (0.9.x does not replay) skip all of it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use super::call::{Call, Kind};
use super::engine::Engine;
use super::streams::End;
use crate::model::{is_runtime_not_ready, methods};
use crate::rpc::{CallError, RequestId};
use crate::sdk_error::Error;

/// How many times a reset is tried while the runtime is not ready.
pub const RESET_TRIES: u32 = 50;

/// The pause between two tries.
pub const RESET_PAUSE: Duration = Duration::from_millis(50);

/// An outcome held until its session is reset.
pub(super) enum Held {
    Call(RequestId, Result<Box<RawValue>, Error>),
    End(RequestId, End),
}

struct Reset {
    tries: u32,
    /// Another turn failed while a reset was on the wire: the server may
    /// have handled that reset before this failure, so one more follows.
    again: bool,
    /// The next try, while waiting between tries.
    retry_at: Option<Instant>,
    held: Vec<Held>,
}

/// The resets in progress, by session.
#[derive(Default)]
pub(super) struct Resets {
    by_session: HashMap<String, Reset>,
}

impl Resets {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.by_session.values().filter_map(|r| r.retry_at).min()
    }

    /// Everything held (the connection closed).
    pub(super) fn drain(&mut self) -> Vec<Held> {
        self.by_session
            .drain()
            .flat_map(|(_, reset)| reset.held)
            .collect()
    }
}

impl<H: Clone> Engine<H> {
    /// Resets `session` before `held` is handed out; joins a reset already
    /// under way.
    pub(super) fn begin_reset(&mut self, session: String, held: Held, now: Instant) {
        if let Some(reset) = self.resets.by_session.get_mut(&session) {
            reset.held.push(held);
            reset.again |= reset.retry_at.is_none();
            return;
        }
        tracing::debug!(%session, "resetting the runtime after a failed or interrupted turn");
        self.resets.by_session.insert(
            session.clone(),
            Reset {
                tries: 0,
                again: false,
                retry_at: None,
                held: vec![held],
            },
        );
        self.send_reset(session, now);
    }

    fn send_reset(&mut self, session: String, now: Instant) {
        if let Some(reset) = self.resets.by_session.get_mut(&session) {
            reset.tries += 1;
            reset.retry_at = None;
        }
        let call =
            Call::new::<methods::RuntimeReset, _>(methods::SessionIdParams::new(session.as_str()))
                .map(drop)
                .kind(Kind::Reset(session.clone()));
        if let Err(e) = self.send(call, now, true) {
            tracing::debug!(%session, error = %e, "runtime/reset not sent");
            self.end_reset(&session);
        }
    }

    pub(super) fn on_reset_answer(
        &mut self,
        session: &str,
        result: Result<Box<RawValue>, CallError>,
        now: Instant,
    ) {
        let Some(reset) = self.resets.by_session.get_mut(session) else {
            return;
        };
        match result {
            Ok(_) if reset.again => {
                reset.again = false;
                reset.tries = 0;
                self.send_reset(session.to_owned(), now);
                return;
            }
            Ok(_) => tracing::debug!(tries = reset.tries, %session, "runtime reset"),
            Err(CallError::Rpc(e)) if is_runtime_not_ready(&e) && reset.tries < RESET_TRIES => {
                reset.retry_at = Some(now + RESET_PAUSE);
                return;
            }
            Err(e) => tracing::debug!(%session, error = %e, "runtime/reset failed"),
        }
        self.end_reset(session);
    }

    pub(super) fn retry_resets(&mut self, now: Instant) {
        let due: Vec<String> = self
            .resets
            .by_session
            .iter()
            .filter(|(_, r)| r.retry_at.is_some_and(|at| at <= now))
            .map(|(s, _)| s.clone())
            .collect();
        for session in due {
            self.send_reset(session, now);
        }
    }

    fn end_reset(&mut self, session: &str) {
        if let Some(reset) = self.resets.by_session.remove(session) {
            for held in reset.held {
                self.release(held);
            }
        }
    }
}
