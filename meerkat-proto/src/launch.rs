//! How to start `rkat-rpc`: [`ConnectOptions`] as pure data, the argument
//! list, the child environment and binary resolution over injected lookups
//! (so this stays free of I/O; transports pass `std::env::var_os` and a
//! file check).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default name of the server binary.
pub const RKAT_RPC: &str = "rkat-rpc";

/// How to install the server, for error messages.
pub const INSTALL_HINT: &str = "install it with `cargo install meerkat-rpc --version =0.5.2 --locked` \
     (or scripts/install-rkat-rpc.sh), then put it on PATH, set MEERKAT_BIN_PATH, \
     or pass ConnectOptions::rkat_path";

/// How to reach the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransportKind {
    /// Spawn `rkat-rpc` and speak over its stdin/stdout (default).
    #[default]
    Stdio,
    /// Connect to `rkat-rpc --tcp ADDR` (0.5.2+) already running at this address.
    Tcp(String),
}

/// Options of `MeerkatClient::connect`: which binary, which realm, which
/// directories, extra environment and the default request timeout.
///
/// ```
/// use meerkat_proto::ConnectOptions;
/// let opts = ConnectOptions::new().realm_id("team").state_root("/var/lib/meerkat");
/// assert_eq!(opts.args().unwrap(), ["--realm", "team", "--state-root", "/var/lib/meerkat"]);
/// assert!(ConnectOptions::new().realm_id("a").isolated(true).args().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// A path or a command name (default `rkat-rpc`).
    pub rkat_path: Option<OsString>,
    /// Join or create this realm (`--realm`).
    pub realm_id: Option<String>,
    /// Instance id inside the realm (`--instance`).
    pub instance_id: Option<String>,
    /// Storage backend for a new realm (`--realm-backend`: `jsonl`, `sqlite`).
    pub realm_backend: Option<String>,
    /// A fresh generated realm (`--isolated`); exclusive with `realm_id`.
    pub isolated: bool,
    /// Where realms live (`--state-root`).
    pub state_root: Option<PathBuf>,
    /// Project root for conventions: skills, hooks (`--context-root`).
    pub context_root: Option<PathBuf>,
    /// User-global conventions root (`--user-config-root`).
    pub user_config_root: Option<PathBuf>,
    /// Extra environment variables for the child.
    pub env: BTreeMap<OsString, OsString>,
    /// Timeout of each request unless overridden (default 10 minutes:
    /// turns can be long; the handshake uses its own 30 s).
    pub request_timeout: Duration,
    /// How to reach the server.
    pub transport: TransportKind,
    /// How many events a stream holds for a consumer that falls behind
    /// before it drops them and reports `Event::Lagged` (default
    /// [`DEFAULT_STREAM_BUDGET`](crate::DEFAULT_STREAM_BUDGET)).
    pub stream_budget: usize,
    /// Whether `connect` installs `rkat-rpc` when none is found (default
    /// [`AutoInstall::Off`](crate::AutoInstall::Off)).
    pub auto_install: crate::AutoInstall,
    /// Record every line of the connection to this cassette file
    /// ([`ConnectOptions::record`]).
    pub record: Option<PathBuf>,
    /// Play a cassette back instead of reaching a server
    /// ([`ConnectOptions::replay`]).
    pub replay: Option<crate::cassette::Replay>,
    /// How many bytes may wait for the server's stdin (default
    /// [`DEFAULT_MAX_OUTPUT_BYTES`](crate::sdk::DEFAULT_MAX_OUTPUT_BYTES),
    /// 16 MiB). At the bound a new request fails at once with
    /// `Error::WriteQueueFull`; answers to the server's own requests are
    /// never dropped but count (see [`max_output_bytes`](Self::max_output_bytes)).
    pub max_output_bytes: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            rkat_path: None,
            realm_id: None,
            instance_id: None,
            realm_backend: None,
            isolated: false,
            state_root: None,
            context_root: None,
            user_config_root: None,
            env: BTreeMap::new(),
            request_timeout: Duration::from_secs(600),
            transport: TransportKind::Stdio,
            stream_budget: crate::DEFAULT_STREAM_BUDGET,
            auto_install: crate::AutoInstall::Off,
            record: None,
            replay: None,
            max_output_bytes: crate::sdk::DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// `realm_id` and `isolated` were both set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("realm_id and isolated cannot both be set")]
#[non_exhaustive]
pub struct ConflictingRealmOptions;

/// No binary was found; every place tried is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rkat-rpc not found (tried: {}); {INSTALL_HINT}", tried.join(", "))]
#[non_exhaustive]
pub struct BinaryNotFound {
    /// Every place tried, in order.
    pub tried: Vec<String>,
}

impl ConnectOptions {
    /// Defaults: `rkat-rpc` from `MEERKAT_BIN_PATH` or `PATH`, the server's
    /// default realm handling, a 10-minute request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the binary: a path, or a command name searched on `PATH`.
    #[must_use]
    pub fn rkat_path(mut self, path: impl Into<OsString>) -> Self {
        self.rkat_path = Some(path.into());
        self
    }

    /// Sets the realm.
    #[must_use]
    pub fn realm_id(mut self, id: impl Into<String>) -> Self {
        self.realm_id = Some(id.into());
        self
    }

    /// Sets the instance id.
    #[must_use]
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// Sets the realm backend.
    #[must_use]
    pub fn realm_backend(mut self, backend: impl Into<String>) -> Self {
        self.realm_backend = Some(backend.into());
        self
    }

    /// Asks for a fresh isolated realm.
    #[must_use]
    pub fn isolated(mut self, isolated: bool) -> Self {
        self.isolated = isolated;
        self
    }

    /// Sets the state root.
    #[must_use]
    pub fn state_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_root = Some(dir.into());
        self
    }

    /// Sets the context root.
    #[must_use]
    pub fn context_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.context_root = Some(dir.into());
        self
    }

    /// Sets the user config root.
    #[must_use]
    pub fn user_config_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.user_config_root = Some(dir.into());
        self
    }

    /// Adds an environment variable for the child.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the default request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the per-stream event budget (at least 1).
    #[must_use]
    pub fn stream_budget(mut self, events: usize) -> Self {
        self.stream_budget = events.max(1);
        self
    }

    /// Sets the bound of the bytes waiting for the server's stdin (at
    /// least 1; default 16 MiB).
    ///
    /// A server that stops reading its stdin while the caller keeps sending
    /// would otherwise grow the client's memory without end. The bound
    /// counts every frame not yet written: a request, once the bound is
    /// reached, fails at once with `Error::WriteQueueFull` (code
    /// `WRITE_QUEUE_FULL`) and nothing is sent; a request that times out or
    /// is cancelled before its frame was written is not written at all.
    /// Answers to the server's requests (tool results) are never dropped
    /// once a handler runs, and count; a `tool/execute` that comes while the
    /// bound is exceeded is neither run nor answered (the server is not
    /// reading answers), and is counted in the client's diagnostics.
    ///
    /// ```no_run
    /// use meerkat_proto::ConnectOptions;
    ///
    /// let opts = ConnectOptions::new().max_output_bytes(4 << 20);
    /// assert_eq!(opts.max_output_bytes, 4 << 20);
    /// ```
    #[must_use]
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes.max(1);
        self
    }

    /// Connects over TCP to `rkat-rpc --tcp ADDR` instead of spawning.
    ///
    /// The server is the caller's: nothing is spawned, the realm and root
    /// options are the server's own command line's business, and `close`
    /// only closes the connection. A 0.5.2 TCP server sends session events
    /// to its *first* connection only, so connect the SDK first (no probe
    /// connections) and one client per server.
    #[must_use]
    pub fn tcp(mut self, addr: impl Into<String>) -> Self {
        self.transport = TransportKind::Tcp(addr.into());
        self
    }

    /// The server's command-line arguments.
    ///
    /// # Errors
    /// [`ConflictingRealmOptions`] when `realm_id` and `isolated` are both set
    /// (checked before anything is spawned).
    pub fn args(&self) -> Result<Vec<OsString>, ConflictingRealmOptions> {
        if self.realm_id.is_some() && self.isolated {
            return Err(ConflictingRealmOptions);
        }
        let mut args: Vec<OsString> = Vec::new();
        let mut flag = |name: &str, value: Option<OsString>| {
            if let Some(v) = value {
                args.push(name.into());
                args.push(v);
            }
        };
        flag("--realm", self.realm_id.clone().map(Into::into));
        flag("--instance", self.instance_id.clone().map(Into::into));
        flag(
            "--realm-backend",
            self.realm_backend.clone().map(Into::into),
        );
        flag("--state-root", self.state_root.clone().map(Into::into));
        flag("--context-root", self.context_root.clone().map(Into::into));
        flag(
            "--user-config-root",
            self.user_config_root.clone().map(Into::into),
        );
        if self.isolated {
            args.push("--isolated".into());
        }
        Ok(args)
    }

    /// Variables to set on the child on top of the inherited environment:
    /// the extras, and `RUST_LOG=off` unless the user set `RUST_LOG`
    /// (0.5.x logs to stdout).
    pub fn child_env(&self, env: impl Fn(&str) -> Option<OsString>) -> Vec<(OsString, OsString)> {
        let mut out: Vec<(OsString, OsString)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let user_set =
            env("RUST_LOG").is_some() || self.env.contains_key(&OsString::from("RUST_LOG"));
        if !user_set {
            out.push(("RUST_LOG".into(), "off".into()));
        }
        out
    }

    /// Finds the binary: `MEERKAT_BIN_PATH`, then the explicit `rkat_path`
    /// (a path, or a name searched on `PATH`), then `rkat-rpc` on `PATH`.
    ///
    /// ```
    /// use meerkat_proto::ConnectOptions;
    /// use std::ffi::OsString;
    /// let env = |k: &str| (k == "PATH").then(|| OsString::from("/usr/bin:/opt/bin"));
    /// let found = ConnectOptions::new()
    ///     .resolve_binary(env, |p| p == std::path::Path::new("/opt/bin/rkat-rpc"))
    ///     .unwrap();
    /// assert_eq!(found, std::path::PathBuf::from("/opt/bin/rkat-rpc"));
    /// let err = ConnectOptions::new().resolve_binary(env, |_| false).unwrap_err();
    /// assert_eq!(err.tried.len(), 2);
    /// ```
    ///
    /// # Errors
    /// [`BinaryNotFound`] naming every place tried.
    pub fn resolve_binary(
        &self,
        env: impl Fn(&str) -> Option<OsString>,
        is_file: impl Fn(&Path) -> bool,
    ) -> Result<PathBuf, BinaryNotFound> {
        let mut tried = Vec::new();
        if let Some(p) = env("MEERKAT_BIN_PATH").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            if is_file(&p) {
                return Ok(p);
            }
            tried.push(format!("MEERKAT_BIN_PATH={}", p.display()));
            return Err(BinaryNotFound { tried });
        }
        let name = self.rkat_path.clone().unwrap_or_else(|| RKAT_RPC.into());
        let as_path = PathBuf::from(&name);
        if as_path.components().count() > 1 || as_path.is_absolute() {
            if is_file(&as_path) {
                return Ok(as_path);
            }
            tried.push(as_path.display().to_string());
            return Err(BinaryNotFound { tried });
        }
        let path_var = env("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join(&as_path);
            if is_file(&candidate) {
                return Ok(candidate);
            }
            tried.push(candidate.display().to_string());
        }
        if tried.is_empty() {
            tried.push(format!("{} on PATH (PATH is empty)", as_path.display()));
        }
        Err(BinaryNotFound { tried })
    }
}
