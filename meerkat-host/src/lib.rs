//! The host-side I/O both Meerkat transports share, written once: std
//! only (no runtime, no tokio; the tokio transport runs it on a blocking
//! thread or for small local files inline). `meerkat-proto` decides; this
//! crate touches the file system and processes:
//!
//! - [`install`]: a server that installs itself (`ConnectOptions::auto_install`):
//!   the plan's lock, cargo, its output as progress, the `--version` check;
//! - [`RecordFile`] and [`load_cassette`]: the cassette files of
//!   `ConnectOptions::record` and `ConnectOptions::replay`.
//!
//! ```no_run
//! use meerkat_proto::{CargoInstall, InstallPlan};
//!
//! let plan = InstallPlan::new(&CargoInstall::new("0.9.8"), |k| std::env::var_os(k), |p| p.is_file())?;
//! let binary = meerkat_host::install(&plan, |step| eprintln!("{step}"))?;
//! println!("rkat-rpc at {}", binary.display());
//! # Ok::<(), meerkat_proto::Error>(())
//! ```

mod cassette;
mod install;

pub use cassette::{RecordFile, load_cassette};
pub use install::install;

// The crate's README (what crates.io shows), compiled by
// `cargo test --doc` so it follows the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
