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

use foldhash::HashMap;
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

/// How many times an interrupt is sent while a 0.9.x server says its
/// outcome "is not settled" (it answers so while other sessions are busy,
/// and the turn then runs on).
pub const INTERRUPT_TRIES: u32 = 40;

/// The pause between two interrupt tries.
pub const INTERRUPT_PAUSE: Duration = Duration::from_millis(100);

/// Whether an interrupt was refused because the run's outcome "is not
/// settled" yet (0.9.x): worth another try.
pub fn is_interrupt_not_settled(err: &crate::ErrorObject) -> bool {
    err.message.contains("is not settled")
}

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

/// An interrupt to send again: its caller's request id, its session, how
/// many tries so far, and when.
struct InterruptRetry {
    caller: RequestId,
    session: String,
    tries: u32,
    at: Instant,
}

/// The resets in progress, by session, and the interrupts to retry.
#[derive(Default)]
pub(super) struct Resets {
    by_session: HashMap<String, Reset>,
    interrupts: Vec<InterruptRetry>,
}

impl Resets {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let resets = self.by_session.values().filter_map(|r| r.retry_at);
        resets.chain(self.interrupts.iter().map(|i| i.at)).min()
    }

    /// The callers of interrupts waiting for a retry (the connection closed).
    pub(super) fn take_interrupt_callers(&mut self) -> Vec<RequestId> {
        self.interrupts.drain(..).map(|i| i.caller).collect()
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

    /// An interrupt (first sent as `caller`, `tries` times so far) came back
    /// "not settled": try again after [`INTERRUPT_PAUSE`], up to
    /// [`INTERRUPT_TRIES`]; `false` when the tries are used up (the caller
    /// then gets the error).
    pub(super) fn retry_interrupt(
        &mut self,
        caller: RequestId,
        session: &str,
        tries: u32,
        now: Instant,
    ) -> bool {
        if tries >= INTERRUPT_TRIES {
            return false;
        }
        tracing::debug!(%session, tries, "interrupt not settled yet: trying again");
        self.resets.interrupts.push(InterruptRetry {
            caller,
            session: session.to_owned(),
            tries,
            at: now + INTERRUPT_PAUSE,
        });
        true
    }

    pub(super) fn retry_resets(&mut self, now: Instant) {
        let (due, later) = std::mem::take(&mut self.resets.interrupts)
            .into_iter()
            .partition(|i| i.at <= now);
        self.resets.interrupts = later;
        for retry in due {
            let InterruptRetry {
                caller,
                session,
                tries,
                ..
            } = retry;
            let call = super::ops::interrupt(&session).kind(Kind::InterruptRetry {
                caller,
                session: session.clone(),
                tries: tries + 1,
            });
            if let Err(e) = self.send(call, now, true) {
                self.release(Held::Call(caller, Err(e)));
            }
        }
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
