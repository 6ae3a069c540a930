//! Shell wrappers around `fake-rkat-rpc` for the process tests of both
//! transports (`blocking_process`, `tokio_process`).

use std::os::unix::fs::PermissionsExt;

/// Writes an executable `sh` script named `name` into `dir`.
pub(crate) fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the wrapper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_str().expect("utf-8 path").to_owned()
}

/// A wrapper around the fake that ignores SIGTERM and outlives its stdin:
/// the fake answers normally; once stdin closes it exits, and the wrapper
/// becomes a `sleep` that still ignores SIGTERM (an ignored signal stays
/// ignored across `exec`).
pub(crate) fn stubborn_server(dir: &tempfile::TempDir) -> String {
    let fake = env!("CARGO_BIN_EXE_fake-rkat-rpc");
    script(
        dir,
        "stubborn-rkat-rpc",
        &format!("trap '' TERM\n'{fake}' \"$@\"\nexec sleep 60"),
    )
}

/// A wrapper that writes its pid to `pid` and becomes the fake.
pub(crate) fn recorded_server(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let fake = env!("CARGO_BIN_EXE_fake-rkat-rpc");
    let pid = dir.path().join("pid");
    let path = script(
        dir,
        "recorded-rkat-rpc",
        &format!("echo $$ > '{}'\nexec '{fake}' \"$@\"", pid.display()),
    );
    (path, pid)
}
