//! The sans-IO core of the Meerkat Rust SDK.
//!
//! Meerkat's server, `rkat-rpc`, speaks JSON-RPC 2.0 as JSON lines over
//! stdio. This crate is everything about that conversation that is not
//! I/O: the JSONL framer, the JSON-RPC engine, the handshake and contract
//! dialect, the typed model of every method, result and event, and the
//! routing of the server's notifications to the turns and subscriptions
//! they belong to. The transports (`meerkat-transport-tokio`,
//! `meerkat-transport-blocking`) spawn the process, move bytes and wake
//! users; they contain no protocol logic.
//!
//! # Non-goals
//!
//! No I/O, no threads, no async, no clock, no process handling: bytes and
//! the current time go in, bytes to write and [`Output`]s come out.
//! `cargo tree -p meerkat-proto -e normal` shows serde, serde_json,
//! thiserror and tracing, nothing else.
//!
//! # Layers
//!
//! ```text
//!   transport (tokio task or std thread): process, pipes, user handles
//!        | request::<M>(), respond_tool(), cancel(), close()      ^ poll_output()
//!        v                                                       |
//!   Connection    handshake, Dialect, turn/create routing, seq gaps,
//!                 subscriptions, tool calls               (this crate)
//!        |                                                       ^
//!   rpc::Client   JSONL framing, ids, pending table, deadlines
//!        | poll_transmit() -> stdin            stdout -> handle_bytes()
//! ```
//!
//! # Driving a [`Connection`]
//!
//! A transport's loop, here against an in-memory server that answers the
//! handshake and streams one turn. Everything a real driver does is here:
//! write what [`Connection::poll_transmit`] returns, feed what the server
//! writes to [`Connection::handle_bytes`], call
//! [`Connection::handle_timeout`] when [`Connection::poll_timeout`] passes,
//! and hand [`Connection::poll_output`] to users.
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
//! already passed, so a driver calls it at once).
//!
//! [`Instant`]: std::time::Instant
//!
//! # Errors
//!
//! Two kinds, kept apart:
//!
//! - **Caller misuse** is a `Result` from the command: [`UsageError`]
//!   (closed connection, unencodable params, a method this server does not
//!   serve, too many pending requests) and [`EncodeError`] from the engine.
//!   Nothing is sent when a command fails.
//! - **Peer misbehaviour** never fails a call and never panics: log lines,
//!   oversized or broken lines, unmatched ids and undecodable notifications
//!   become [`Output::Diagnostic`]s; a missing or malformed field decodes to
//!   its default; an event that does not fit its type becomes
//!   [`Event::Unknown`]; dropped events become [`StreamItem::EventsLost`].
//!   Server errors are [`CallError::Rpc`] with the [`ErrorObject`];
//!   [`RpcError`] adds the nested-code conventions of Meerkat's errors.
//!
//! Every request resolves exactly once (result, error, timeout or close),
//! and memory stays bounded whatever the server sends: lines beyond
//! [`rpc::Config::max_frame_len`] are discarded as they stream in, events
//! of not-yet-known sessions and streams are capped by
//! [`ConnectionConfig::max_unbound_events`], and [`StreamBuffer`] gives
//! transports a per-stream budget with a visible lag signal.
//!
//! # Contract dialects
//!
//! The SDK speaks contract 0.5 ([`SDK_CONTRACT_VERSION`]); a server is
//! compatible when it has the same minor version (0.x rule). Within 0.5 the
//! method set moved (0.5.0 `mob/send`, 0.5.2 `mob/member_send`), so
//! [`Dialect`] is built from the server's advertised `methods` and every
//! [`Method`] asks it for its wire name and params. A later contract line
//! (0.9) is a new [`ContractLine`] handled inside [`Dialect`] and the
//! method types: transports do not change.

mod conn;
mod launch;
mod model;
pub mod rpc;
pub mod sdk;

/// The types a user of the SDK names: options, results, events, errors and
/// the raw-request trait. Both transports re-export exactly this list, so
/// the two SDKs offer the same nouns and the engine underneath stays out of
/// their surface.
pub mod prelude {
    pub use crate::model::methods;
    pub use crate::{
        AssistantBlock, Attribution, BudgetType, Capability, CapabilityStatus, CommsCommand,
        ConfigEnvelope, ConnectOptions, ContentBlock, ContractVersion, DeferredCreated, Error,
        ErrorClass, ErrorCode, ErrorKind, ErrorReport, Event, EventEnvelope, EventSource,
        ExtractionError, FlowFailure, FlowRun, FlowRunStatus, FlowStep, HandlingMode,
        HistoryMessage, HookFailure, HookPatch, HookPatchEnvelope, HookPoint, HookReasonCode,
        InvalidSkillRef, MemberInfo, MemberSendResult, Method, MobAction, MobCreated, MobSpec,
        MobState, MobSummary, Peer, PeerAddress, Prompt, RespawnReceipt, RespawnResult,
        RespawnStatus, RetryFailure, RetryPlan, RetrySchedule, RpcError, RunIdentity, RunInput,
        RunResult, SchemaWarning, ScopeFrame, ServerInfo, SessionHistory, SessionInfo,
        SessionOptions, SkillDiagnostics, SkillInfo, SkillKey, SkillProvenance, SkillRef,
        SkillSource, SourceHealth, SpawnResult, SpawnSpec, StopReason, StreamOutcome,
        TerminalCause, TokenAccounting, ToolConfigChangedPayload, ToolDef, ToolOutput,
        TransportKind, TruncationReason, TurnFailure, TurnOptions, Usage,
    };
}
mod sdk_error;

pub use conn::*;
pub use launch::*;
pub use model::*;
pub use sdk_error::Error;

pub use rpc::{
    CallError, CloseReason, Diagnostic, EncodeError, ErrorCode, ErrorObject, IncomingId,
    ProtocolError, RequestId, Transmit,
};
