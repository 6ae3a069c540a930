//! Recovery after a failed or interrupted turn (DESIGN.md "Recovery").
//!
//! A 0.5.x server leaves the input of a failed or interrupted turn queued;
//! the next `turn/start` would replay it. So after a turn fails with a
//! server error, and before the error is returned, the session's runtime is
//! reset (`runtime/reset`), retrying while the server says the runtime is
//! not ready. The rule of when to reset lives in `meerkat_proto`; this is
//! only the loop.
//!
//! Async adds one way to lose a reset: a future dropped midway (a
//! `timeout`, a `select!`). So the reset runs on a task of its own, and a
//! turn whose caller went away is still watched ([`PendingTurn`]): a
//! cancelled future cannot leave a failed input queued.

use std::sync::Weak;
use std::time::Duration;

use meerkat_proto::{
    CallError, Error, ErrorObject, is_runtime_not_ready, methods, needs_runtime_reset,
};
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::{Inner, MeerkatClient};

/// Tries of `runtime/reset` while the runtime is "not ready".
const RESET_TRIES: u32 = 50;

/// Pause between tries.
const RESET_PAUSE: Duration = Duration::from_millis(50);

/// Whether a turn that failed with `err` needs a `runtime/reset`.
pub(crate) fn needs_reset(client: &MeerkatClient, err: &Error) -> bool {
    let call_error = match err {
        Error::Rpc(rpc) => CallError::Rpc(ErrorObject::new(rpc.code, rpc.message.clone())),
        Error::TimedOut { .. } => CallError::TimedOut,
        _ => return false,
    };
    needs_runtime_reset(&call_error) && client.dialect().has_method("runtime/reset")
}

/// Resets the runtime of `session_id` (bounded retries; failures are
/// logged) on a task of its own, so dropping the waiter cannot cut it
/// short.
pub(crate) fn spawn_reset(client: MeerkatClient, session_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        for attempt in 1..=RESET_TRIES {
            let params = methods::SessionIdParams::new(session_id.as_str());
            match client.request::<methods::RuntimeReset, _>(params).await {
                Ok(_) => {
                    tracing::debug!(attempt, %session_id, "runtime reset");
                    return;
                }
                Err(Error::Rpc(e))
                    if is_runtime_not_ready(&ErrorObject::new(e.code, e.message.clone())) =>
                {
                    tokio::time::sleep(RESET_PAUSE).await;
                }
                Err(e) => {
                    tracing::debug!(error = %e, %session_id, "runtime/reset failed");
                    return;
                }
            }
        }
        tracing::debug!(%session_id, "runtime still not ready; giving up the reset");
    })
}

/// Resets after a failed turn when the rule says so.
pub(crate) async fn after_failed_turn(client: &MeerkatClient, session_id: &str, err: &Error) {
    if needs_reset(client, err) {
        let _ = spawn_reset(client.clone(), session_id.to_owned()).await;
    }
}

/// Resets after `turn/interrupt`, once the interrupted turn has stopped:
/// whoever reads that turn may have gone (a dropped stream), and the next
/// turn must not replay its input.
pub(crate) async fn after_interrupt(client: &MeerkatClient, session_id: &str) {
    if client.dialect().has_method("runtime/reset") {
        let _ = spawn_reset(client.clone(), session_id.to_owned()).await;
    }
}

/// The answer of a `turn/start` that is still to come.
type Answer = oneshot::Receiver<Result<Box<RawValue>, Error>>;

/// A plain (not streamed) turn in flight. Dropped before its answer came
/// (the caller's future was cancelled), it hands the answer to a task that
/// resets the runtime if the turn fails. The task holds the client weakly:
/// dropping every handle still ends the child, which ends the turn.
pub(crate) struct PendingTurn {
    client: Weak<Inner>,
    session_id: String,
    answer: Option<Answer>,
}

impl PendingTurn {
    /// Watches `answer`, the answer of a turn on `session_id`.
    pub(crate) fn new(client: &MeerkatClient, session_id: &str, answer: Answer) -> Self {
        Self {
            client: client.downgrade(),
            session_id: session_id.to_owned(),
            answer: Some(answer),
        }
    }

    /// The answer; `None` if the driver went away without one.
    pub(crate) async fn answer(&mut self) -> Option<Result<Box<RawValue>, Error>> {
        let answer = self.answer.as_mut()?;
        let out = answer.await.ok();
        self.answer = None;
        out
    }
}

impl Drop for PendingTurn {
    fn drop(&mut self) {
        let Some(answer) = self.answer.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let session_id = std::mem::take(&mut self.session_id);
        tracing::debug!(%session_id, "turn future dropped; watching the turn");
        runtime.spawn(async move {
            if let Ok(Err(err)) = answer.await
                && let Some(client) = MeerkatClient::upgrade(&client)
            {
                after_failed_turn(&client, &session_id, &err).await;
            }
        });
    }
}
