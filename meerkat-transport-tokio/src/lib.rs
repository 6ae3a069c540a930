//! The Meerkat Rust SDK for tokio: `rkat-rpc` driven as a child process,
//! with typed sessions, streams, mobs and callback tools.
//!
//! It is the twin of `meerkat-transport-blocking`: the same nouns
//! ([`MeerkatClient`], [`Session`], [`DeferredSession`], [`EventStream`],
//! [`EventSubscription`], [`Mob`], [`Member`], [`Error`]) and the same verbs,
//! `async`. Streams implement [`futures_core::Stream`] and have an inherent
//! `next().await`. Every pure data type (options, results, events,
//! capabilities, errors) comes from `meerkat_proto` and is re-exported here,
//! so `use meerkat_transport_tokio::*` is all a program needs.
//!
//! ```no_run
//! use meerkat_transport_tokio::{ConnectOptions, Event, MeerkatClient};
//!
//! # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
//! let client = MeerkatClient::connect(ConnectOptions::default()).await?;
//! let session = client.create_session("What is the capital of France?").await?;
//! println!("{}", session.text());
//! session.turn("And of Germany?").await?;
//!
//! let mut events = session.stream("Explain the CI pipeline").await?;
//! while let Some(event) = events.next().await {
//!     if let Event::TextDelta { delta, .. } = event? {
//!         print!("{delta}");
//!     }
//! }
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # What this crate does not do
//!
//! It makes no decision of its own: the request each method sends, who
//! waits for which answer, the stream budgets, the reset after a failed
//! turn, what a dropped future or stream leaves behind and the exit rule all live
//! once, in the sans-IO engine of `meerkat_proto` ([`proto::sdk`]), which
//! the tokio and the blocking crates share. This crate moves bytes, keeps
//! time, owns the child process and wakes the tasks that wait.
//!
//! # Tasks
//!
//! ```text
//!  user tasks ──lock── Engine ──lock── reader task <── child stdout
//!     ^ Waker            │  bytes ───────> writer task ──> child stdin
//!     └──────────────────┤  deadlines ───> timer task
//!                        └─ tool calls ──> one task per call
//!  stderr task: child stderr ──> 64 KiB tail (for error messages)
//! ```
//!
//! - There is no driver: a caller starts its request under the engine's
//!   lock and returns `Pending` until the **reader** (which hands every chunk of
//!   stdout to the engine) wakes it with the answer. The lock is held for
//!   short, non-blocking stretches only.
//! - The **writer** writes the engine's output with one `write_all` per
//!   batch (a 0.5.x server can tear lines that arrive in pieces); it is a
//!   task of its own so a child that stops reading stdin blocks nobody
//!   else.
//! - The **timer** calls the engine at its next deadline (request
//!   timeouts, turn grace, reset retries); the **exit watch** ends the
//!   output of a child that exited while another process holds its stdout.
//! - **Tool handlers** run on tasks of their own and may call the client.
//!
//! # Time
//!
//! Every request, turns and streamed turns included, gets a deadline from
//! [`ConnectOptions::request_timeout`] (default 10 minutes; raise it for
//! longer turns): a server that loses a response cannot hang a caller, and
//! a dead child ends everything at once with [`Error::ConnectionClosed`].
//!
//! # Errors, panics, and a dying child
//!
//! Nothing the server sends can panic this crate or hang a caller. When the
//! child exits or crashes, every waiting call and stream ends with
//! [`Error::ConnectionClosed`] naming the exit status and the last lines of
//! the child's stderr. A panicking tool handler answers the model with an
//! error result.
//!
//! # Recovery after a failed turn
//!
//! A 0.5.x server keeps the input of a failed or interrupted turn queued and
//! replays it on the next `turn/start`. After a turn fails with a server
//! error, the engine resets the session's runtime (`runtime/reset`, retried
//! on its own clock while the server says it is not ready) before the error
//! is returned, also when nobody waits for it any more.
//!
//! # Closing
//!
//! [`MeerkatClient::close`] ends every pending call with [`Error::Closed`],
//! closes the child's stdin, sends SIGTERM, waits up to 5 s, then SIGKILL,
//! and reaps the child. Dropping the last handle (clients, sessions, streams
//! and mobs all hold one) kills and reaps at once: no zombie, no orphan.
//!
//! # Cancellation
//!
//! Any future of this crate may be dropped midway (a `tokio::time::timeout`,
//! a `select!` branch that lost) without leaving anything behind:
//!
//! - [`MeerkatClient::connect`]: the half-started child is killed and
//!   reaped.
//! - [`MeerkatClient::close`]: the next `close` finishes the job, and so
//!   does dropping the last handle (SIGKILL).
//! - [`EventStream::next`] and [`EventSubscription::next`] are cancel-safe:
//!   no event is lost.
//! - [`Session::turn`] and friends: the turn keeps running on the server
//!   (interrupt it with [`Session::interrupt`]); if it then fails, the
//!   session's runtime is still reset (a task watches the answer), so the
//!   next turn does not replay it. A dropped [`EventStream`] is watched the
//!   same way. Resets run on tasks of their own and are never cut short.
//! - A stream or subscription whose opening future was dropped is
//!   forgotten, so no buffer keeps filling for nobody.
//!
//! Those watchers hold the client weakly: dropping every handle still ends
//! the child at once.
//!
//! # Where this crate differs from the blocking twin, and why
//!
//! - [`Session::stream`] takes `&self` and the stream owns the turn's result
//!   ([`EventStream::result`], then [`Session::record`]): a stream that
//!   borrowed the session mutably could not live in another task while the
//!   session is used for [`Session::interrupt`].
//! - [`EventStream::next`] is inherent (and the `Stream` impl is there for
//!   combinators), so no `StreamExt` import is needed.
//! - Tool handlers return futures: `|args| async move { ... }`.

mod calls;
mod client;
mod events;
mod io;
mod launch;
mod mob;
mod process;
mod session;

pub use client::MeerkatClient;
pub use events::{EventStream, EventSubscription};
pub use mob::{Member, Mob};
pub use session::{DeferredSession, Session};

// The user's types, by name: options, results, events, errors. The engine
// underneath stays at `proto::`, so a change there is not a change of this
// crate's surface.
#[doc(no_inline)]
pub use meerkat_proto::{
    AssistantBlock, BudgetType, Capability, CapabilityStatus, CommsCommand, ConfigEnvelope,
    ConnectOptions, ContentBlock, ContractVersion, DeferredCreated, Error, ErrorCode, ErrorKind,
    Event, EventEnvelope, HandlingMode, HistoryMessage, HookPatch, HookPatchEnvelope, HookPoint,
    HookReasonCode, InvalidSkillRef, MemberInfo, MemberSendResult, Method, MobAction, MobSpec,
    MobSummary, Peer, Prompt, RpcError, RunResult, SchemaWarning, ScopeFrame, ServerInfo,
    SessionHistory, SessionInfo, SessionOptions, SkillDiagnostics, SkillInfo, SkillKey, SkillRef,
    SourceHealth, SpawnResult, SpawnSpec, StopReason, ToolConfigChangedPayload, ToolDef,
    ToolOutput, TransportKind, TurnOptions, Usage, methods,
};

/// The protocol core this crate is built on (`meerkat-proto`): the JSON-RPC
/// engine, the connection state machine and the shared SDK engine, for
/// those who need them.
pub use meerkat_proto as proto;

// The README's Rust blocks (tokio and blocking), compiled by
// `cargo test --doc -p meerkat-transport-tokio` so they follow the API;
// the blocking crate is a dev-dependency for them.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
