//! A server that installs itself (`ConnectOptions::auto_install`): with no
//! `rkat-rpc` to be found, `connect` runs `cargo install meerkat-rpc` into
//! the cache once, shared by concurrent connects through the lock file,
//! checks the binary with `--version` and starts it.
//!
//! `cargo` here is the fake binary reached through a link named `cargo`
//! (the fake's "fake cargo" role): it logs its arguments to `cargo.log`
//! beside the link and links `<root>/bin/rkat-rpc` to itself, a fake
//! `rkat-rpc`. The real install is what `scripts/install-rkat-rpc.sh` runs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use meerkat_transport_blocking as blocking;
use meerkat_transport_tokio as tokio_sdk;

use meerkat_proto::{AutoInstall, CargoInstall, ConnectOptions, InstallProgress};

const LIMIT: Duration = Duration::from_secs(120);

/// A command name that is on no `PATH`: the connect has to install.
const MISSING: &str = "rkat-rpc-not-installed-here";

/// A temporary directory with a `cargo` link (named `cargo_name`) to the
/// fake, and an empty cache.
struct Sandbox {
    dir: tempfile::TempDir,
    cargo: PathBuf,
}

impl Sandbox {
    fn new(cargo_name: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cargo = dir.path().join(cargo_name);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_fake-rkat-rpc"), &cargo)
            .expect("link the fake cargo");
        Self { dir, cargo }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn install(&self) -> CargoInstall {
        CargoInstall::new("0.5.2")
            .cargo(&self.cargo)
            .cache_dir(self.cache())
    }

    fn options(&self, install: CargoInstall) -> ConnectOptions {
        ConnectOptions::new()
            .rkat_path(MISSING)
            .request_timeout(LIMIT)
            .auto_install(AutoInstall::Cargo(install))
    }

    /// Every `cargo` run, one line of arguments each.
    fn cargo_runs(&self) -> Vec<String> {
        let log = self.dir.path().join("cargo.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn expected_args(cache: &Path) -> String {
    format!(
        "install meerkat-rpc --version =0.5.2 --locked --debug --root {}",
        cache.join("rkat-rpc-0.5.2").display()
    )
}

/// Steps seen by the progress callback of `installs_once_then_reuses` (a
/// plain `fn`, so a static; no other test uses it).
static STEPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_step(step: &InstallProgress) {
    let kind = match step {
        InstallProgress::WaitingForLock { .. } => "waiting".to_owned(),
        InstallProgress::Found { .. } => "found".to_owned(),
        InstallProgress::Installing { version, .. } => format!("installing {version}"),
        InstallProgress::Output(line) => format!("output {}", line.trim()),
        InstallProgress::Installed { .. } => "installed".to_owned(),
        other => format!("{other:?}"),
    };
    STEPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(kind);
}

#[test]
fn blocking_installs_once_then_reuses_the_cached_binary() {
    let sandbox = Sandbox::new("cargo");
    let options = sandbox.options(sandbox.install().on_progress(record_step));
    let client =
        blocking::MeerkatClient::connect(options.clone()).expect("installed and connected");
    assert_eq!(client.server_info().version, "0.5.2");
    let session = client
        .create_session("hello")
        .expect("a turn on the installed server");
    assert_eq!(session.text(), "You said: hello");
    client.close().expect("close");

    assert_eq!(sandbox.cargo_runs(), [expected_args(&sandbox.cache())]);
    let binary = sandbox.cache().join("rkat-rpc-0.5.2/bin/rkat-rpc");
    assert!(binary.is_file(), "{}", binary.display());
    let steps = STEPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(steps.first().map(String::as_str), Some("installing 0.5.2"));
    assert!(
        steps.contains(&"output Installing meerkat-rpc (fake)".to_owned()),
        "cargo's output is reported: {steps:?}"
    );
    assert_eq!(steps.last().map(String::as_str), Some("installed"));

    // The next connect finds the cached binary: no second install.
    let again = blocking::MeerkatClient::connect(options).expect("connect again");
    again.close().expect("close");
    assert_eq!(sandbox.cargo_runs().len(), 1);
}

#[test]
fn concurrent_connects_share_one_install() {
    let sandbox = Sandbox::new("cargo");
    let options = sandbox.options(sandbox.install());
    std::thread::scope(|scope| {
        let connects: Vec<_> = (0..4)
            .map(|_| {
                let options = options.clone();
                scope.spawn(move || {
                    let client = blocking::MeerkatClient::connect(options)?;
                    client.close()
                })
            })
            .collect();
        for connect in connects {
            connect
                .join()
                .expect("no panic")
                .expect("every connect succeeds");
        }
    });
    assert_eq!(
        sandbox.cargo_runs(),
        [expected_args(&sandbox.cache())],
        "one install for four connects"
    );
}

#[test]
fn a_failed_install_is_install_failed_with_cargos_last_lines() {
    let sandbox = Sandbox::new("cargo-fails");
    let err = blocking::MeerkatClient::connect(sandbox.options(sandbox.install()))
        .expect_err("the install fails");
    assert_eq!(err.code(), "INSTALL_FAILED");
    let message = err.to_string();
    assert!(message.contains("0.5.2"), "{message}");
    assert!(message.contains("could not compile"), "{message}");
    assert_eq!(sandbox.cargo_runs().len(), 1);
}

#[test]
fn without_auto_install_a_missing_binary_is_binary_not_found() {
    let sandbox = Sandbox::new("cargo");
    let options = ConnectOptions::new().rkat_path(MISSING);
    let err = blocking::MeerkatClient::connect(options).expect_err("nothing to run");
    assert_eq!(err.code(), "BINARY_NOT_FOUND");
    // An explicit path that does not exist is not installed over either.
    let explicit = sandbox
        .options(sandbox.install())
        .rkat_path(sandbox.dir.path().join("missing/rkat-rpc"));
    let err = blocking::MeerkatClient::connect(explicit).expect_err("a wrong explicit path");
    assert_eq!(err.code(), "BINARY_NOT_FOUND");
    assert!(sandbox.cargo_runs().is_empty());
}

#[test]
fn tokio_installs_on_a_blocking_thread_and_connects() {
    let sandbox = Sandbox::new("cargo");
    let options = sandbox.options(sandbox.install());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = tokio_sdk::MeerkatClient::connect(options)
            .await
            .expect("installed and connected");
        assert_eq!(client.server_info().version, "0.5.2");
        client.close().await.expect("close");
    });
    assert_eq!(sandbox.cargo_runs(), [expected_args(&sandbox.cache())]);
}
