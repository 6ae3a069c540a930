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
