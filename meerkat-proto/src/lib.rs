//! The sans-IO core of the Meerkat Rust SDK.
//!
//! Meerkat's server, `rkat-rpc`, speaks JSON-RPC 2.0 as JSON lines over
//! stdio (or TCP). This crate is everything about that conversation that
//! is not I/O: the JSONL framer and the JSON-RPC engine ([`rpc`]), the
//! handshake, contract dialect and typed model of every method, result and
//! event, the routing of the server's notifications to the turns and
//! subscriptions they belong to ([`Connection`]), and the SDK layer both
//! transports share ([`sdk::Engine`]): who waits for which answer, each
//! stream's bounded queue, the `runtime/reset` after a failed or
//! interrupted turn, callback tools, when a dead child's output has ended,
//! and the one [`Error`] type. The transports (`meerkat-transport-tokio`,
//! `meerkat-transport-blocking`) put the engine behind a lock, spawn the
//! process, move bytes and time into the engine and wake whom it names;
//! they contain no protocol logic and make no decision of their own.
//!
//! # Non-goals
//!
//! No I/O, no threads, no async runtime, no clock: bytes, the child's
//! stderr and exit status, and the current time go in; bytes to write,
//! [`Output`]s (for a [`Connection`]) or [`sdk::Effects`] (wakers to wake,
//! tool calls to run) come out. Waiting is `std::task::Poll` plus a
//! [`Waker`](std::task::Waker), which a tokio task and a parked thread
//! both provide. The crate spawns, signals and reaps no process: it decides
//! how to launch one ([`sdk::LaunchPlan`], over injected environment and
//! file lookups) and what its end means (exit status and stderr tail in
//! [`Error::ConnectionClosed`], [`sdk::EXIT_GRACE`], [`sdk::ExitWatch`]),
//! and the transports do the rest. Its only dependencies are serde,
//! serde_json, thiserror and tracing (`cargo tree -p meerkat-proto -e
//! normal --depth 1`).
//!
//! # Layers
//!
//! ```text
//!   transport (tokio tasks or std threads): lock, child process, pipes,
//!             timer, exit watch, user handles
//!        | start(ops::x(..)), poll_call, poll_stream, handle_bytes,      ^ Effects
//!        v timer_step, close                                             |
//!   sdk::Engine   calls, streams, recovery, tools, exit rule, Error
//!        | request::<M>(), respond_tool(), cancel(), close()         ^ poll_output()
//!        v                                                           |
//!   Connection    Handshake, SessionRouter (Turns, Unbound),
//!                 Subscriptions, tool calls
//!        |                                                           ^
//!   rpc::Client   JSONL framing, ids, pending table, deadlines
//!        | poll_transmit() -> stdin                stdout -> handle_bytes()
//! ```
//!
//! # Driving a [`Connection`]
//!
//! What [`sdk::Engine`] does with its `Connection`, by hand, here against
//! an in-memory server that answers the handshake and streams one turn:
//! write what [`Connection::poll_transmit`] returns, feed what the server
//! writes to [`Connection::handle_bytes`], call
//! [`Connection::handle_timeout`] when [`Connection::poll_timeout`] passes,
//! and act on every [`Connection::poll_output`]. The transports never
//! touch a `Connection`: they go through the engine.
//!
//! ```
//! use meerkat_proto::methods::{TurnParams, TurnStart};
//! use meerkat_proto::{
//!     Connection, ConnectionConfig, Event, Method, Output, RequestOptions, RunResult,
//!     StreamEnd, StreamItem, TurnOptions,
//! };
//! use std::time::Instant;
//!
//! let mut conn = Connection::new(ConnectionConfig::default());
//! conn.start_handshake(None);
//!
//! // What our pretend server writes back, line by line.
//! let server_lines = [
//!     r#"{"jsonrpc":"2.0","id":1,"result":{"contract_version":"0.5.2","methods":["initialize","turn/start"],"server_info":{"name":"meerkat-rpc","version":"0.5.2"}}}"#,
//!     "2026-11-25T06:00:00Z INFO a log line on stdout, skipped",
//!     r#"{"jsonrpc":"2.0","id":2,"result":{"capabilities":[]}}"#,
//! ];
//! for line in server_lines {
//!     while let Some(frame) = conn.poll_transmit() {
//!         let _ = frame.as_bytes(); // write to the child's stdin
//!     }
//!     conn.handle_bytes(format!("{line}\n").as_bytes());
//! }
//! let mut ready = false;
//! while let Some(out) = conn.poll_output() {
//!     ready |= matches!(out, Output::Ready(_));
//! }
//! assert!(ready);
//!
//! // A streamed turn: its events, then the response.
//! let params = TurnParams::new("s1", "Hello", TurnOptions::default());
//! let turn = conn.request::<TurnStart>(&params, RequestOptions::new(Instant::now()).stream(true))?;
//! conn.handle_bytes(concat!(
//!     r#"{"jsonrpc":"2.0","method":"session/event","params":{"session_id":"s1","event":{"seq":1,"source_id":"session:s1","payload":{"type":"text_delta","delta":"Hi"}}}}"#, "\n",
//!     r#"{"jsonrpc":"2.0","method":"session/event","params":{"session_id":"s1","event":{"seq":2,"source_id":"session:s1","payload":{"type":"run_completed","session_id":"s1"}}}}"#, "\n",
//!     r#"{"jsonrpc":"2.0","id":3,"result":{"session_id":"s1","text":"Hi","turns":1,"tool_calls":0,"usage":{"input_tokens":3,"output_tokens":1}}}"#, "\n",
//! ).as_bytes());
//!
//! let mut text = String::new();
//! while let Some(out) = conn.poll_output() {
//!     match out {
//!         Output::StreamItem { id, item: StreamItem::Event(env) } if id == turn => {
//!             if let Event::TextDelta { delta, .. } = env.into_envelope().event {
//!                 text.push_str(&delta);
//!             }
//!         }
//!         Output::StreamEnd { id, end: StreamEnd::Turn(Ok(raw)) } if id == turn => {
//!             let result: RunResult = TurnStart::decode_result(&raw, conn.dialect())?;
//!             assert_eq!(result.text, text);
//!         }
//!         _ => {}
//!     }
//! }
//! assert_eq!(text, "Hi");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Time
//!
//! The crate never reads a clock. Deadlines are absolute [`Instant`]s the
//! caller passes in ([`RequestOptions::deadline`], the handshake's
//! deadline), and [`Connection::poll_timeout`] says when the caller should
//! next call [`Connection::handle_timeout`] with the current time. A
//! streamed turn whose response came before its last events stays open for
//! [`ConnectionConfig::turn_grace`], counted from the first
//! `handle_timeout` after the response (`poll_timeout` then returns a time
//! already passed, so a caller calls it at once). [`sdk::Engine`] gives
//! every request, turns included, a deadline
//! ([`ConnectOptions::request_timeout`]) and keeps timers of its own on the
//! same clock: the pause between `runtime/reset` tries
//! ([`sdk::RESET_PAUSE`]) and the wait for a dead child's status and
//! stderr ([`sdk::EXIT_GRACE`]). [`sdk::Engine::poll_timeout`] is the
//! earliest of them all, and a transport's timer calls
//! [`sdk::Engine::handle_timeout`] then.
//!
//! [`Instant`]: std::time::Instant
//!
//! # Errors
//!
//! Two kinds, kept apart:
//!
//! - **Caller misuse** is a `Result` from the command: [`UsageError`]
//!   (closed connection, unencodable params, a method this server does not
//!   serve, too many pending requests) and [`EncodeError`] from the
//!   JSON-RPC engine. Nothing is sent when a command fails.
//! - **Peer misbehaviour** never fails a call and never panics: log lines,
//!   oversized or broken lines, unmatched ids and undecodable notifications
//!   become [`Output::Diagnostic`]s; a missing or malformed field decodes to
//!   its default; an event that does not fit its type becomes
//!   [`Event::Unknown`]; dropped events become [`StreamItem::EventsLost`].
//!   Server errors are [`CallError::Rpc`] with the [`ErrorObject`];
//!   [`RpcError`] adds the nested-code conventions of Meerkat's errors.
//!
//! [`sdk::Engine`] maps all of them, and the end of the connection, to the
//! one [`Error`] both transports return, with stable [`Error::code`]s.
//!
//! Every request resolves exactly once (result, error, timeout or close),
//! and memory stays bounded whatever the server sends: lines beyond
//! [`rpc::Config::max_frame_len`] are discarded as they stream in, pending
//! requests are capped by [`rpc::Config::max_pending`], the bytes waiting
//! for the server's stdin by [`ConnectOptions::max_output_bytes`] (a request
//! over it fails with `WRITE_QUEUE_FULL`; a server that stops reading cannot
//! grow the client), routing state of sessions the client never asked about
//! by a small LRU, events of
//! not-yet-known sessions and streams by
//! [`ConnectionConfig::max_unbound_events`], each stream of the engine by
//! its [`StreamBuffer`] ([`ConnectOptions::stream_budget`], with a visible
//! lag signal), and the kept stderr by [`sdk::STDERR_TAIL_BYTES`].
//!
//! # Contract dialects
//!
//! The SDK speaks two contract lines, 0.5.x and 0.9.x ([`ContractLine`]),
//! each named: a server of any other line is refused at the handshake with
//! [`CloseReason::VersionMismatch`] (`Error::VersionMismatch`, "0.5.x or
//! 0.9.x"). The handshake builds the [`Dialect`]: its line comes from
//! `contract_version`, and the advertised `methods` decide the finer
//! choices within a line (0.5.0 `mob/send`, 0.5.2 `mob/member_send`). Every
//! [`Method`] asks it for its wire name and writes its params for the line
//! (PROTOCOL.md §7.8: `agent_identity` for mob members, tagged `skill_refs`,
//! typed `provider_params`, ... on 0.9); an option the line does not have is
//! refused before anything is sent ([`UsageError::Unsupported`] naming the
//! option and the line). Transports only run calls: they never see the
//! difference. Before the handshake the dialect is the 0.5.0 baseline
//! ([`SDK_CONTRACT_VERSION`]).

pub mod cassette;
mod conn;
mod install;
mod launch;
mod model;
pub mod rpc;
pub mod sdk;

/// The types a user of the SDK names: options, results, events, errors and
/// the raw-request trait. Both transports re-export exactly this list, so
/// the two SDKs offer the same nouns and the engine underneath stays out of
/// their surface.
pub mod prelude {
    pub use crate::cassette::{Replay, ReplayMismatch, ReplayProgress};
    pub use crate::model::methods;
    pub use crate::sdk::{DiagnosticKind, DiagnosticSample, Diagnostics};
    pub use crate::{
        AssistantBlock, Attribution, BudgetType, Capability, CapabilityStatus, CommsCommand,
        ConfigEnvelope, ConnectOptions, ContentBlock, ContractLine, ContractVersion,
        DeferredCreated, Error, ErrorClass, ErrorCode, ErrorKind, ErrorReport, Event,
        EventEnvelope, EventSource, ExtractionError, FlowFailure, FlowRun, FlowRunStatus, FlowStep,
        HandlingMode, HistoryMessage, HookFailure, HookPatch, HookPatchEnvelope, HookPoint,
        HookReasonCode, InvalidSkillRef, MemberInfo, MemberSendResult, Method, MobAction,
        MobCreated, MobSpec, MobState, MobSummary, Peer, PeerAddress, Prompt, ProviderParams,
        ReasoningMode, RespawnReceipt, RespawnResult, RespawnStatus, RetryFailure, RetryPlan,
        RetrySchedule, RpcError, RunIdentity, RunInput, RunResult, SchemaWarning, ScopeFrame,
        ServerInfo, SessionHistory, SessionInfo, SessionOptions, SkillDiagnostics, SkillInfo,
        SkillKey, SkillProvenance, SkillRef, SkillSource, SourceHealth, SpawnResult, SpawnSpec,
        StopReason, StreamOutcome, TerminalCause, TokenAccounting, ToolChoice,
        ToolConfigChangedPayload, ToolDef, ToolFilter, ToolOutput, TransportKind, TruncationReason,
        TurnFailure, TurnOptions, TurnToolOverlay, Usage,
    };
    // A server that installs itself (ConnectOptions::auto_install).
    pub use crate::{AutoInstall, CargoInstall, DEFAULT_RKAT_RPC_VERSION, InstallProgress};
    // The contract 0.9 methods of issue 11 (stop a run, fork, event replay,
    // input status, mob runs and destroy, catalog, health).
    pub use crate::{
        CatalogModel, EventCursor, EventPage, HealthStatus, InputLifecycle, InputOutcome,
        InputSelector, InputState, InputTransition, MobDestroyReport, MobDestroyed, MobRunOutcome,
        ModelCatalog, ProviderModels, ReplayScope, ReplayedEvent, RunStopContributor,
        RunStopOutcome, RunStopReceipt, RuntimeHealth, SessionFork, StopCompletion, StopRunResult,
    };
}
mod sdk_error;

pub use conn::*;
pub use install::*;
pub use launch::*;
pub use model::*;
pub use sdk_error::Error;

pub use rpc::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, IncomingId,
    ProtocolError, RequestId, Transmit,
};

// The crate's README (what crates.io shows), compiled by
// `cargo test --doc` so it follows the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
