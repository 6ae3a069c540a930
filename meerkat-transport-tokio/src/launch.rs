//! From [`ConnectOptions`] to a ready [`Command`]: flags, binary, child env.

use crate::Error;
use meerkat_proto::{ConnectOptions, TransportKind};
use std::io;
use tokio::process::Command;

/// The command that starts `rkat-rpc` for `options`.
///
/// Checks the options before anything is spawned: `realm_id` with
/// `isolated` is [`Error::InvalidArgs`]; a binary found nowhere is
/// [`Error::BinaryNotFound`] naming every place tried.
pub(crate) fn command(options: &ConnectOptions) -> Result<Command, Error> {
    if let TransportKind::Tcp(addr) = &options.transport {
        return Err(Error::InvalidArgs(format!(
            "the TCP transport ({addr}) is not supported by this transport yet; use stdio"
        )));
    }
    let args = options
        .args()
        .map_err(|e| Error::InvalidArgs(e.to_string()))?;
    let program = options
        .resolve_binary(|k| std::env::var_os(k), |p| p.is_file())
        .map_err(|e| Error::BinaryNotFound { tried: e.tried })?;
    let mut command = Command::new(program);
    command.kill_on_drop(true);
    command.args(args);
    command.envs(options.child_env(|k| std::env::var_os(k)));
    Ok(command)
}

/// The error of a failed spawn: a vanished binary is
/// [`Error::BinaryNotFound`], anything else [`Error::Io`].
pub(crate) fn spawn_error(e: io::Error, program: &str) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::BinaryNotFound {
            tried: vec![program.to_owned()],
        }
    } else {
        Error::Io(e)
    }
}
