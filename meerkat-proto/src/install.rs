//! A server that installs itself: when `connect` finds no `rkat-rpc` on
//! `PATH` and [`ConnectOptions::auto_install`] asks for it, the matching
//! `meerkat-rpc` is installed with cargo into the SDK's cache directory
//! (the one `scripts/install-rkat-rpc.sh` uses), once, shared by
//! concurrent connects through a lock file.
//!
//! This module decides (where, which command, which version, whether the
//! installed binary is the one asked for); the `meerkat-host` crate
//! runs it. The plan is a [`InstallPlan`] whose source is an
//! [`InstallSource`], so a release download with a pinned checksum can be
//! added beside cargo without changing the callers.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::ConnectOptions;
use crate::sdk_error::Error;

/// The `rkat-rpc` version [`AutoInstall::default_cargo`] installs: the
/// current release of the 0.9 line.
pub const DEFAULT_RKAT_RPC_VERSION: &str = "0.9.8";

/// Whether `connect` installs `rkat-rpc` when none is found (off by
/// default: installing 0.9.8 builds for about an hour on two cores).
///
/// ```
/// use meerkat_proto::{AutoInstall, ConnectOptions};
/// let options = ConnectOptions::new().auto_install(AutoInstall::cargo("0.5.2"));
/// assert!(matches!(options.auto_install, AutoInstall::Cargo(_)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AutoInstall {
    /// Never install: a missing binary is `BINARY_NOT_FOUND`.
    #[default]
    Off,
    /// `cargo install meerkat-rpc --version =V --locked --debug` into the
    /// cache.
    Cargo(CargoInstall),
}

impl AutoInstall {
    /// Install `version` with cargo, with the default cache and `cargo`
    /// from `PATH`.
    ///
    /// ```
    /// use meerkat_proto::AutoInstall;
    /// let AutoInstall::Cargo(install) = AutoInstall::cargo("0.9.8") else { unreachable!() };
    /// assert_eq!(install.version, "0.9.8");
    /// ```
    #[must_use]
    pub fn cargo(version: impl Into<String>) -> Self {
        Self::Cargo(CargoInstall::new(version))
    }

    /// Install [`DEFAULT_RKAT_RPC_VERSION`] with cargo.
    ///
    /// ```
    /// use meerkat_proto::{AutoInstall, DEFAULT_RKAT_RPC_VERSION};
    /// assert_eq!(AutoInstall::default_cargo(), AutoInstall::cargo(DEFAULT_RKAT_RPC_VERSION));
    /// ```
    #[must_use]
    pub fn default_cargo() -> Self {
        Self::cargo(DEFAULT_RKAT_RPC_VERSION)
    }
}

/// A progress callback: a plain function, so options stay `Clone + Eq`.
/// (The `meerkat-host` crate's `install` takes any closure.)
#[derive(Clone, Copy)]
pub struct ProgressFn(pub fn(&InstallProgress));

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

impl PartialEq for ProgressFn {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for ProgressFn {}

/// How [`AutoInstall::Cargo`] installs.
///
/// ```
/// use meerkat_proto::{AutoInstall, CargoInstall, InstallProgress};
/// fn report(p: &InstallProgress) {
///     eprintln!("{p}");
/// }
/// let install = CargoInstall::new("0.9.8").cache_dir("/tmp/meerkat-cache").on_progress(report);
/// let auto = AutoInstall::Cargo(install);
/// # let _ = auto;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CargoInstall {
    /// The `meerkat-rpc` version (`=V`, `--locked`).
    pub version: String,
    /// The `cargo` to run (default: `cargo` on `PATH`).
    pub cargo: Option<PathBuf>,
    /// The cache root (default: `MEERKAT_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/meerkat-rs`, else `$HOME/.cache/meerkat-rs`).
    pub cache_dir: Option<PathBuf>,
    /// Called with each step and each line of cargo's output (`tracing`
    /// gets them too).
    pub progress: Option<ProgressFn>,
}

impl CargoInstall {
    /// Installs `version` with the defaults.
    ///
    /// ```
    /// use meerkat_proto::CargoInstall;
    /// assert_eq!(CargoInstall::new("0.5.2").version, "0.5.2");
    /// ```
    #[must_use]
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            cargo: None,
            cache_dir: None,
            progress: None,
        }
    }

    /// Runs this `cargo`.
    ///
    /// ```
    /// use meerkat_proto::CargoInstall;
    /// let install = CargoInstall::new("0.5.2").cargo("/opt/rust/bin/cargo");
    /// assert!(install.cargo.is_some());
    /// ```
    #[must_use]
    pub fn cargo(mut self, program: impl Into<PathBuf>) -> Self {
        self.cargo = Some(program.into());
        self
    }

    /// Installs under this cache root.
    ///
    /// ```
    /// use meerkat_proto::CargoInstall;
    /// let install = CargoInstall::new("0.5.2").cache_dir("/tmp/cache");
    /// assert_eq!(install.cache_dir.as_deref(), Some(std::path::Path::new("/tmp/cache")));
    /// ```
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Reports progress to `f`.
    ///
    /// ```
    /// use meerkat_proto::{CargoInstall, InstallProgress};
    /// let install = CargoInstall::new("0.5.2").on_progress(|p: &InstallProgress| eprintln!("{p}"));
    /// assert!(install.progress.is_some());
    /// ```
    #[must_use]
    pub fn on_progress(mut self, f: fn(&InstallProgress)) -> Self {
        self.progress = Some(ProgressFn(f));
        self
    }
}

/// Where an install comes from. Only cargo today; a release download with
/// a pinned checksum (what the Python SDK does) would be another variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallSource {
    /// Run `program` with `args` and `env` (cargo).
    Command {
        /// The program (cargo).
        program: PathBuf,
        /// Its arguments.
        args: Vec<OsString>,
        /// Extra environment.
        env: Vec<(OsString, OsString)>,
    },
}

/// What an install does and where, decided before anything runs.
///
/// ```
/// use meerkat_proto::{CargoInstall, InstallPlan, InstallSource};
/// use std::ffi::OsString;
/// use std::path::Path;
/// let env = |k: &str| match k {
///     "HOME" => Some(OsString::from("/home/me")),
///     "PATH" => Some(OsString::from("/usr/bin")),
///     _ => None,
/// };
/// let plan = InstallPlan::new(&CargoInstall::new("0.5.2"), env, |p| p == Path::new("/usr/bin/cargo")).unwrap();
/// assert_eq!(plan.binary, Path::new("/home/me/.cache/meerkat-rs/rkat-rpc-0.5.2/bin/rkat-rpc"));
/// assert_eq!(plan.lock, Path::new("/home/me/.cache/meerkat-rs/rkat-rpc-0.5.2.lock"));
/// let InstallSource::Command { program, args, .. } = &plan.source else { unreachable!() };
/// assert_eq!(program, Path::new("/usr/bin/cargo"));
/// assert_eq!(args[..4], ["install", "meerkat-rpc", "--version", "=0.5.2"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallPlan {
    /// The version installed.
    pub version: String,
    /// The install root (`<cache>/rkat-rpc-<version>`).
    pub root: PathBuf,
    /// The binary once installed (`<root>/bin/rkat-rpc`).
    pub binary: PathBuf,
    /// The lock file concurrent installs share (`<cache>/rkat-rpc-<version>.lock`).
    pub lock: PathBuf,
    /// How to install.
    pub source: InstallSource,
    /// Where progress goes besides `tracing`.
    pub progress: Option<ProgressFn>,
}

impl InstallPlan {
    /// Decides the install of `install`, reading the environment through
    /// `env` and the file system through `is_file`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgs`] for a version that is not `X.Y.Z` or when no
    /// cache directory can be named; [`Error::InstallFailed`] when no
    /// `cargo` is found.
    pub fn new(
        install: &CargoInstall,
        env: impl Fn(&str) -> Option<OsString>,
        is_file: impl Fn(&Path) -> bool,
    ) -> Result<Self, Error> {
        let version = install.version.trim().to_owned();
        let well_formed = version.split('.').count() == 3
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !well_formed {
            return Err(Error::InvalidArgs(format!(
                "auto-install wants a meerkat-rpc version X.Y.Z, not {version:?}"
            )));
        }
        let cache = match &install.cache_dir {
            Some(dir) => dir.clone(),
            None => default_cache_dir(&env).ok_or_else(|| {
                Error::InvalidArgs(
                    "auto-install needs a cache directory: set MEERKAT_CACHE_DIR or HOME".into(),
                )
            })?,
        };
        let program = match &install.cargo {
            Some(p) => p.clone(),
            None => find_cargo(&env, &is_file).ok_or_else(|| Error::InstallFailed {
                version: version.clone(),
                message: "cargo not found on PATH or in $CARGO_HOME/bin (install Rust from https://rustup.rs)".into(),
            })?,
        };
        let root = cache.join(format!("rkat-rpc-{version}"));
        let mut args: Vec<OsString> = ["install", "meerkat-rpc", "--version"]
            .into_iter()
            .map(OsString::from)
            .collect();
        args.push(format!("={version}").into());
        args.extend(["--locked", "--debug"].map(OsString::from));
        let mut extra_env = Vec::new();
        if version.starts_with("0.9.") {
            // The surface the SDK speaks (mobs, comms, skills) at two thirds
            // of the default build's time, and its target dir in the cache
            // so a cut-off build resumes.
            args.extend(["--no-default-features", "--features", "comms,mob"].map(OsString::from));
            extra_env.push(("CARGO_PROFILE_DEV_DEBUG".into(), "0".into()));
            extra_env.push((
                "CARGO_TARGET_DIR".into(),
                cache.join(format!("target-{version}")).into_os_string(),
            ));
        }
        args.push("--root".into());
        args.push(root.clone().into_os_string());
        Ok(Self {
            binary: root.join("bin").join(crate::RKAT_RPC),
            lock: cache.join(format!("rkat-rpc-{version}.lock")),
            root,
            source: InstallSource::Command {
                program,
                args,
                env: extra_env,
            },
            progress: install.progress,
            version,
        })
    }

    /// Checks what `<binary> --version` printed: it must name the version
    /// asked for.
    ///
    /// ```
    /// use meerkat_proto::{CargoInstall, InstallPlan};
    /// let env = |k: &str| (k == "HOME").then(|| "/home/me".into());
    /// let plan = InstallPlan::new(&CargoInstall::new("0.5.2").cargo("cargo"), env, |_| false).unwrap();
    /// assert!(plan.check_version("rkat-rpc 0.5.2\n").is_ok());
    /// assert_eq!(plan.check_version("rkat-rpc 0.5.20").unwrap_err().code(), "INSTALL_FAILED");
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InstallFailed`] naming what it printed.
    pub fn check_version(&self, output: &str) -> Result<(), Error> {
        let named = output
            .split(|c: char| c.is_whitespace() || c == 'v')
            .any(|word| word == self.version);
        if named {
            Ok(())
        } else {
            Err(self.failed(format!(
                "{} --version printed {:?}, not version {}",
                self.binary.display(),
                output.trim(),
                self.version
            )))
        }
    }

    /// The error of a failed install, with `message`.
    #[must_use]
    pub fn failed(&self, message: impl Into<String>) -> Error {
        Error::InstallFailed {
            version: self.version.clone(),
            message: message.into(),
        }
    }

    /// Reports `progress` to the plan's callback, if any.
    pub fn report(&self, progress: &InstallProgress) {
        if let Some(f) = self.progress {
            (f.0)(progress);
        }
    }
}

/// A step of an install, for the progress callback and `tracing`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallProgress {
    /// Another connect is installing: waiting for its lock.
    WaitingForLock {
        /// The lock file.
        lock: PathBuf,
    },
    /// The binary is there already (an earlier or concurrent install).
    Found {
        /// The binary.
        binary: PathBuf,
    },
    /// The install starts.
    Installing {
        /// The version.
        version: String,
        /// The install root.
        root: PathBuf,
    },
    /// A line of the installer's output.
    Output(String),
    /// The install finished and the binary answered `--version`.
    Installed {
        /// The binary.
        binary: PathBuf,
    },
}

impl fmt::Display for InstallProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WaitingForLock { lock } => {
                write!(f, "waiting for another install ({})", lock.display())
            }
            Self::Found { binary } => write!(f, "rkat-rpc found at {}", binary.display()),
            Self::Installing { version, root } => write!(
                f,
                "installing meerkat-rpc {version} into {} with cargo",
                root.display()
            ),
            Self::Output(line) => f.write_str(line),
            Self::Installed { binary } => write!(f, "installed {}", binary.display()),
        }
    }
}

/// What `connect` does for a launch: run a binary, or install first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Start this plan.
    Run(crate::sdk::LaunchPlan),
    /// Install (then launch the installed binary with
    /// [`LaunchPlan::installed`](crate::sdk::LaunchPlan::installed)).
    Install(InstallPlan),
}

/// `MEERKAT_CACHE_DIR`, else `$XDG_CACHE_HOME/meerkat-rs`, else
/// `$HOME/.cache/meerkat-rs` (the scripts' cache).
fn default_cache_dir(env: &impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("MEERKAT_CACHE_DIR")
        .or_else(|| set("XDG_CACHE_HOME").map(|d| d.join("meerkat-rs")))
        .or_else(|| set("HOME").map(|d| d.join(".cache").join("meerkat-rs")))
}

/// `cargo` on `PATH`, else `$CARGO_HOME/bin/cargo`, else `~/.cargo/bin/cargo`.
fn find_cargo(
    env: &impl Fn(&str) -> Option<OsString>,
    is_file: &impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let path = env("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).map(|d| d.join("cargo"));
    let home = env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin").join("cargo"));
    on_path.chain(home).find(|p| is_file(p))
}

impl ConnectOptions {
    /// Installs `rkat-rpc` when `connect` finds none on `PATH` (see
    /// [`AutoInstall`]). An explicit `MEERKAT_BIN_PATH` or a path in
    /// `rkat_path` that does not exist is still `BINARY_NOT_FOUND`.
    ///
    /// ```
    /// use meerkat_proto::{AutoInstall, ConnectOptions};
    /// let options = ConnectOptions::new().auto_install(AutoInstall::default_cargo());
    /// assert_ne!(options.auto_install, AutoInstall::Off);
    /// ```
    #[must_use]
    pub fn auto_install(mut self, install: AutoInstall) -> Self {
        self.auto_install = install;
        self
    }
}
