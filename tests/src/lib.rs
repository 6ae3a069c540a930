//! Shared harness of the integration tests.
//!
//! - [`llm`]: a scripted Anthropic-compatible LLM server on loopback.
//! - [`real`]: starting the real `rkat-rpc` 0.5.2 against it, isolated.
//! - [`raw`]: a raw JSON-lines driver for any `rkat-rpc`-like child process.
//!
//! The `fake-rkat-rpc` binary of this package (`src/bin/fake_rkat_rpc.rs`)
//! is a scriptable stand-in for `rkat-rpc`; tests of this package reach it
//! with `env!("CARGO_BIN_EXE_fake-rkat-rpc")`.

pub mod llm;
pub mod raw;
pub mod real;
pub mod replay;

/// Runs `body` on a thread of its own and fails the calling test when it
/// takes longer than `limit` (a hang), re-raising its panic otherwise.
///
/// # Panics
///
/// When `body` panics or does not finish within `limit`.
pub fn watchdog(name: &str, limit: std::time::Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .expect("invariant: a test thread can be spawned");
    match finished.recv_timeout(limit) {
        Ok(()) => {
            let _ = worker.join();
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("scenario {name} hung for {limit:?}");
        }
    }
}

// The repository README's Rust blocks (tokio and blocking), compiled by
// `cargo test --doc -p meerkat-tests` so they follow the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
