//! Plain data the transports share around the [`Engine`](super::Engine):
//! what a child left behind when it ended, how to launch it, and a bounded
//! tail of its stderr.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::install::{AutoInstall, InstallPlan, Launch};
use crate::launch::{ConnectOptions, TransportKind};
use crate::sdk_error::Error;

/// Which server a client's options reach, decided once for both
/// transports: a cassette plays it when one is set (whatever the
/// transport), else a server already listening on TCP, else a child the
/// transport launches; `C` is what the transport needs to launch it
/// (its [`LaunchPlan`], once resolved).
///
/// ```
/// use meerkat_proto::ConnectOptions;
/// use meerkat_proto::TransportKind;
/// use meerkat_proto::sdk::Peer;
///
/// assert!(matches!(Peer::of(&ConnectOptions::new()), Peer::Child(())));
/// let mut tcp = ConnectOptions::new();
/// tcp.transport = TransportKind::Tcp("127.0.0.1:7777".into());
/// assert!(matches!(Peer::of(&tcp), Peer::Tcp("127.0.0.1:7777")));
/// ```
///
/// Exhaustive on purpose: a new kind of peer must fail to compile in
/// every transport until it handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer<'a, C = ()> {
    /// A cassette replays a recorded server: no child, no socket.
    Replay(&'a crate::cassette::Replay),
    /// `rkat-rpc --tcp ADDR`, already running at this address.
    Tcp(&'a str),
    /// A child to spawn, speaking over its stdin and stdout.
    Child(C),
}

impl<'a> Peer<'a> {
    /// The peer `options` reach.
    pub fn of(options: &'a ConnectOptions) -> Self {
        match (&options.replay, &options.transport) {
            (Some(cassette), _) => Peer::Replay(cassette),
            (None, TransportKind::Tcp(addr)) => Peer::Tcp(addr),
            (None, _) => Peer::Child(()),
        }
    }
}

/// What we know about a child whose output ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitInfo {
    /// Its exit status, if it had exited (`"exit status: 3"`).
    pub exit_status: Option<String>,
    /// The tail of its stderr.
    pub stderr_tail: String,
}

impl ExitInfo {
    /// Exit information from a status description and a stderr tail.
    pub fn new(exit_status: Option<String>, stderr_tail: String) -> Self {
        Self {
            exit_status,
            stderr_tail,
        }
    }
}

/// How to start `rkat-rpc`: program, arguments and the environment
/// variables to add, decided from [`ConnectOptions`] before anything is
/// spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchPlan {
    /// The binary.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(OsString, OsString)>,
}

impl LaunchPlan {
    /// Decides the launch for `options`, reading the environment through
    /// `env` and the file system through `is_file` (the transports pass
    /// `std::env::var_os` and `Path::is_file`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgs`] for `realm_id` with `isolated`, or for a TCP
    /// transport (a transport connects instead of launching),
    /// [`Error::BinaryNotFound`] naming every place tried.
    pub fn new(
        options: &ConnectOptions,
        env: impl Fn(&str) -> Option<OsString>,
        is_file: impl Fn(&Path) -> bool,
    ) -> Result<Self, Error> {
        if let TransportKind::Tcp(addr) = &options.transport {
            return Err(Error::InvalidArgs(format!(
                "{addr} is a TCP server to connect to: there is nothing to launch"
            )));
        }
        let args = options
            .args()
            .map_err(|e| Error::InvalidArgs(e.to_string()))?;
        let program = options
            .resolve_binary(&env, is_file)
            .map_err(|e| Error::BinaryNotFound { tried: e.tried })?;
        Ok(Self {
            program,
            args,
            env: options.child_env(env),
        })
    }

    /// Decides the launch for `options`: [`Launch::Run`] a binary found as
    /// [`new`](Self::new) finds it, or, when none is on `PATH` and
    /// `options.auto_install` asks, [`Launch::Install`] (or run the one an
    /// earlier install left in the cache).
    ///
    /// ```
    /// use meerkat_proto::sdk::LaunchPlan;
    /// use meerkat_proto::{AutoInstall, CargoInstall, ConnectOptions, Launch};
    /// use std::path::Path;
    /// let env = |k: &str| (k == "HOME").then(|| "/home/me".into());
    /// let install = CargoInstall::new("0.5.2").cargo("/bin/cargo");
    /// let options = ConnectOptions::new().auto_install(AutoInstall::Cargo(install));
    /// let Launch::Install(plan) = LaunchPlan::resolve(&options, env, |_| false).unwrap() else {
    ///     panic!("nothing on PATH: install");
    /// };
    /// let cached = plan.binary.clone();
    /// let Launch::Run(run) = LaunchPlan::resolve(&options, env, |p| p == cached).unwrap() else {
    ///     panic!("installed before: run it");
    /// };
    /// assert_eq!(run.program, plan.binary);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new) and [`InstallPlan::new`].
    pub fn resolve(
        options: &ConnectOptions,
        env: impl Fn(&str) -> Option<OsString>,
        is_file: impl Fn(&Path) -> bool,
    ) -> Result<Launch, Error> {
        match Self::new(options, &env, &is_file) {
            Err(Error::BinaryNotFound { tried }) => {
                let AutoInstall::Cargo(install) = &options.auto_install else {
                    return Err(Error::BinaryNotFound { tried });
                };
                let explicit = env("MEERKAT_BIN_PATH").is_some_and(|p| !p.is_empty())
                    || options.rkat_path.as_ref().is_some_and(|p| {
                        let p = Path::new(p);
                        p.is_absolute() || p.components().count() > 1
                    });
                if explicit {
                    return Err(Error::BinaryNotFound { tried });
                }
                let plan = InstallPlan::new(install, &env, &is_file)?;
                if is_file(&plan.binary) {
                    return Self::installed(options, &plan.binary, env).map(Launch::Run);
                }
                Ok(Launch::Install(plan))
            }
            other => other.map(Launch::Run),
        }
    }

    /// The launch of `binary` (just installed) with `options`' flags and
    /// environment.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn installed(
        options: &ConnectOptions,
        binary: &Path,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, Error> {
        let mut options = options.clone();
        options.rkat_path = Some(binary.as_os_str().to_owned());
        Self::new(
            &options,
            |k| {
                if k == "MEERKAT_BIN_PATH" {
                    None
                } else {
                    env(k)
                }
            },
            |p| p == binary,
        )
    }

    /// The error of a failed spawn: a binary that vanished is
    /// [`Error::BinaryNotFound`], anything else [`Error::Io`].
    pub fn spawn_error(&self, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::BinaryNotFound {
                tried: vec![self.program.display().to_string()],
            }
        } else {
            Error::Io(e)
        }
    }
}

/// The last `limit` bytes of a stream (the child's stderr), for error
/// messages: bounded however much is written.
#[derive(Debug, Clone, Default)]
pub struct TailBuffer {
    bytes: VecDeque<u8>,
    limit: usize,
}

impl TailBuffer {
    /// Keeps at most `limit` bytes.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            limit,
        }
    }

    /// Appends a chunk, dropping the oldest bytes beyond the limit.
    pub fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.limit)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The kept bytes, lossily decoded and trimmed; from the next line
    /// start when the tail was cut (a cut tail starts mid-line).
    ///
    /// ```
    /// let mut tail = meerkat_proto::sdk::TailBuffer::new(12);
    /// tail.push(b"first line\nsecond\n");
    /// assert_eq!(tail.text(), "second");
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.bytes.iter().copied().collect();
        let start = if bytes.len() >= self.limit {
            bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1)
        } else {
            0
        };
        String::from_utf8_lossy(&bytes[start..])
            .trim_end()
            .to_owned()
    }
}

/// The message of a caught panic (a tool handler's), for the error result
/// the model gets.
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
/// assert_eq!(meerkat_proto::sdk::panic_message(&*payload), "tool handler panicked: boom");
/// ```
#[must_use]
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    tracing::warn!(%message, "tool handler panicked");
    format!("tool handler panicked: {message}")
}
