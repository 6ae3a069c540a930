//! Recovery after a failed or interrupted turn (DESIGN.md "Recovery").
//!
//! A 0.5.x server leaves the input of a failed or interrupted turn queued;
//! the next `turn/start` would replay it. So after a turn fails with a
//! server error, and before the error is returned, the session's runtime is
//! reset (`runtime/reset`), retrying while the server says the runtime is
//! not ready. The rule of when to reset lives in `meerkat_proto`; this is
//! only the loop.

use std::time::Duration;

use meerkat_proto::{
    CallError, Error, ErrorObject, is_runtime_not_ready, methods, needs_runtime_reset,
};

use crate::client::MeerkatClient;

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

/// Resets the runtime of `session_id` (bounded retries; failures are logged).
pub(crate) async fn reset(client: MeerkatClient, session_id: String) {
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
}

/// Resets after a failed turn when the rule says so.
pub(crate) async fn after_failed_turn(client: &MeerkatClient, session_id: &str, err: &Error) {
    if needs_reset(client, err) {
        reset(client.clone(), session_id.to_owned()).await;
    }
}

/// Resets after `turn/interrupt`, once the interrupted turn has stopped:
/// whoever reads that turn may have gone (a dropped stream), and the next
/// turn must not replay its input.
pub(crate) async fn after_interrupt(client: &MeerkatClient, session_id: &str) {
    if client.dialect().has_method("runtime/reset") {
        reset(client.clone(), session_id.to_owned()).await;
    }
}
