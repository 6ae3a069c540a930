//! Recovery after a failed or interrupted turn (DESIGN.md "Recovery").
//!
//! A 0.5.x server leaves the input of a failed or interrupted turn queued;
//! the next `turn/start` would replay it. So after a turn fails with a
//! server error, and before the error is returned, the session's runtime is
//! reset (`runtime/reset`), retrying while the server says the runtime is
//! not ready. The rule of when to reset lives in `meerkat_proto`; this is
//! only the loop.

use std::thread;
use std::time::Duration;

use meerkat_proto::{CallError, ErrorObject, is_runtime_not_ready, methods, needs_runtime_reset};

use crate::client::MeerkatClient;
use meerkat_proto::Error;

/// How often `runtime/reset` is tried while the runtime is not ready.
const RESET_TRIES: u32 = 50;

/// The pause between two tries.
const RESET_PAUSE: Duration = Duration::from_millis(50);

/// Resets `session_id`'s runtime if `err` (a turn's failure) calls for it
/// and the server has `runtime/reset`. Never fails: a reset that does not
/// work is logged, and the turn's own error is what the caller sees.
pub(crate) fn after_failed_turn(client: &MeerkatClient, session_id: &str, err: &Error) {
    let call_error = match err {
        Error::Rpc(rpc) => CallError::Rpc(ErrorObject::new(rpc.code, rpc.message.clone())),
        Error::TimedOut { .. } => CallError::TimedOut,
        _ => return,
    };
    if needs_runtime_reset(&call_error) {
        reset(client, session_id);
    }
}

/// Resets `session_id`'s runtime after `turn/interrupt`, once the
/// interrupted turn has stopped: whoever reads that turn may have gone
/// (a dropped stream), and the next turn must not replay its input.
pub(crate) fn after_interrupt(client: &MeerkatClient, session_id: &str) {
    reset(client, session_id);
}

/// `runtime/reset`, retried while the server says the runtime is not ready
/// (bounded); a no-op on servers without the method.
fn reset(client: &MeerkatClient, session_id: &str) {
    if !client.dialect().has_method("runtime/reset") {
        return;
    }
    let _span = tracing::debug_span!("meerkat_runtime_reset", session_id).entered();
    for attempt in 1..=RESET_TRIES {
        let params = methods::SessionIdParams::new(session_id);
        match client.request::<methods::RuntimeReset, _>(params) {
            Ok(_) => {
                tracing::debug!(attempt, "runtime reset");
                return;
            }
            Err(Error::Rpc(e))
                if is_runtime_not_ready(&ErrorObject::new(e.code, e.message.clone())) =>
            {
                thread::sleep(RESET_PAUSE);
            }
            Err(e) => {
                tracing::debug!(error = %e, "runtime/reset failed");
                return;
            }
        }
    }
    tracing::debug!("runtime still not ready; giving up the reset");
}
