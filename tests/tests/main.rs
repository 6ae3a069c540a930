//! Every integration test of meerkat-rs, in one binary: one link instead of
//! one per file, helpers compiled once, and tests named by module.
//!
//! | module | what it checks |
//! | --- | --- |
//! | `sdk_tokio`, `sdk_blocking` | the shared scenario list (`tests/scenarios/`: the fake server's misbehaviours, the exact requests, the real server end to end) through each transport |
//! | `tokio_process`, `blocking_process` | the child process as each transport handles it: close, SIGKILL escalation, crashes, failed connects |
//! | `tokio_tasks`, `blocking_threads` | handles across tasks or threads, dropped streams, tool handlers, subscriptions |
//! | `tokio_real`, `blocking_real` | the same against the real `rkat-rpc` 0.5.2 |
//! | `tokio_replay`, `blocking_replay` | every real-server capture replayed as a cassette; record a live session and replay it |
//! | `infra_fake`, `infra_llm`, `infra_real` | the harness itself: the fake server, the scripted LLM, the real server in raw JSON lines |
//!
//! `common`, `tokio_common` and `blocking_common` are the helpers.

mod common;

mod blocking_common;
mod tokio_common;

mod blocking_process;
mod blocking_real;
mod blocking_replay;
mod blocking_threads;
mod infra_fake;
mod infra_llm;
mod infra_real;
mod install;
mod sdk_blocking;
mod sdk_tokio;
mod tokio_process;
mod tokio_real;
mod tokio_replay;
mod tokio_tasks;
