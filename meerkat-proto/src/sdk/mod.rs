//! The SDK layer both transports share, written once and sans-IO.
//!
//! A transport (`meerkat-transport-tokio`, `meerkat-transport-blocking`)
//! keeps one [`Engine`] behind its lock and does only I/O around it:
//!
//! ```text
//!  user call ──ops::x(..)──> Call ──Engine::start──> bytes ──> writer ──> stdin
//!  user wait <──Waker── Engine::poll_call / poll_stream <── Engine::handle_bytes <── reader <── stdout
//!  timer ──> Engine::handle_timeout(now) at Engine::poll_timeout
//!  exit watch ──> Engine::exit_tick(now, exited)
//! ```
//!
//! Everything that decides lives here: which request a method sends
//! ([`ops`]), who waits for which answer, each stream's bounded queue, the
//! runtime reset after a failed or interrupted turn, what a dropped
//! future or stream leaves behind, callback tools and the exit rule. It
//! reads no clock (every input takes `now`), does no I/O and takes no
//! lock; a waiting consumer is woken through a [`std::task::Waker`], which
//! a tokio task and a parked thread both provide.
//!
//! ```
//! use std::task::{Poll, Waker};
//! use std::time::Instant;
//! use meerkat_proto::sdk::{Engine, EngineConfig, ops};
//! use meerkat_proto::ConnectOptions;
//!
//! let now = Instant::now();
//! let options = ConnectOptions::new().tcp("127.0.0.1:1"); // no child: EOF ends it at once
//! let mut engine: Engine<()> = Engine::new(EngineConfig::from_options(&options), now);
//! // The handshake's first frame waits for the writer.
//! assert!(String::from_utf8(engine.take_output()).unwrap().contains("initialize"));
//! assert!(engine.poll_ready(Waker::noop()).is_pending());
//! // A server that ends before answering fails the handshake.
//! engine.handle_eof(now);
//! assert!(matches!(engine.poll_ready(Waker::noop()), Poll::Ready(Err(_))));
//! assert!(engine.start(ops::list_sessions(), now).is_err());
//! ```

mod call;
mod diagnostics;
mod effects;
mod engine;
mod exit;
mod handles;
mod ingest;
pub mod ops;
mod outq;
mod pages;
mod recovery;
mod route;
mod streams;
mod support;
mod tape;

pub use call::{Call, Decoder};
pub use diagnostics::{DIAGNOSTIC_SAMPLES, DiagnosticKind, DiagnosticSample, Diagnostics};
pub use effects::{DirectWrite, Effects};
pub use engine::{
    CLOSE_GRACE, DEFAULT_CONNECT_TIMEOUT, EXIT_GRACE, Engine, EngineConfig, STDERR_TAIL_BYTES,
    TimerStep,
};
pub use exit::ExitWatch;
pub use ingest::{Ingest, Ingested};
pub use outq::{DEFAULT_MAX_OUTPUT_BYTES, WRITE_BATCH};
pub use pages::{MAX_PAGE, MAX_PAGED_ITEMS};
pub use recovery::{
    INTERRUPT_PAUSE, INTERRUPT_TRIES, RESET_PAUSE, RESET_TRIES, is_interrupt_not_settled,
};
pub use streams::{End, Next, STREAM_BATCH, Subscription, TurnStream};
pub use support::{ExitInfo, LaunchPlan, Peer, TailBuffer, panic_message};
