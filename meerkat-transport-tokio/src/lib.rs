//! The Meerkat Rust SDK for tokio: `rkat-rpc` driven as a child process
//! (or reached over TCP), with typed sessions, streams, mobs and callback
//! tools.
//!
//! It is the twin of `meerkat-transport-blocking`: the same nouns
//! ([`MeerkatClient`], [`Session`], [`DeferredSession`], [`EventStream`],
//! [`EventSubscription`], [`Mob`], [`Member`], [`Error`]) and the same verbs,
//! `async`. Streams implement [`futures_core::Stream`] and have an inherent
//! `next().await`. The user's data types (options, results, events,
//! capabilities, errors) come from `meerkat_proto` and are re-exported here
//! by name, so `use meerkat_transport_tokio::*` is all a program needs; the
//! core itself is at [`proto`]. The client, sessions and mobs are cheap to
//! clone; the clones of a [`Session`] share its last result, which its
//! turns and its completed [`Session::stream`]s update.
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
//!  user tasks ──lock── Engine ──lock── reader task <── child stdout (or the socket)
//!     ^ Waker            │  bytes ───────> writer task ──> child stdin
//!     └──────────────────┤  deadlines ───> timer task
//!                        └─ tool calls ──> one task per call
//!  stderr task:     child stderr ──> Engine (64 KiB tail, for error messages)
//!  exit watch task: the child's exit status ──> Engine, every 50 ms
//! ```
//!
//! - There is no driver: a caller starts its request under the engine's
//!   lock (a `std` mutex) and returns `Pending` until the **reader** (which
//!   hands every chunk of stdout to the engine) wakes it with the answer.
//!   The lock is held for short, non-blocking stretches only, never across
//!   an `.await`; wakers are woken and tasks spawned after it is released.
//! - The **writer** writes the engine's output with one `write_all` per
//!   batch (a 0.5.x server can tear lines that arrive in pieces); it is a
//!   task of its own so a child that stops reading stdin blocks nobody
//!   else.
//! - The **timer** calls the engine at its next deadline (request
//!   timeouts, turn grace, reset retries, the wait for a dead child's exit
//!   status and stderr); the **exit watch** reports the child's exit, so
//!   the engine can end the output of a child that exited while another
//!   process holds its stdout.
//! - **Tool handlers** run on tasks of their own and may call the client.
//!
//! All of them run on the runtime that called [`MeerkatClient::connect`],
//! which may be a current-thread or a multi-thread one (with I/O and time
//! enabled): this crate switches on no runtime flavour of tokio.
//!
//! # Time
//!
//! Every request, turns and streamed turns included, gets a deadline from
//! [`ConnectOptions::request_timeout`] (default 10 minutes; raise it for
//! longer turns): a server that loses a response cannot hang a caller.
//! When the child's output ends, the engine waits for its exit status and
//! the end of its stderr (at most 2 s, [`proto::sdk::EXIT_GRACE`]), then
//! ends everything with [`Error::ConnectionClosed`]; over TCP the end of
//! the socket ends everything at once.
//!
//! # Errors, panics, and a dying child
//!
//! Nothing the server sends can panic this crate or hang a caller. When the
//! child exits or crashes, every waiting call and stream ends with
//! [`Error::ConnectionClosed`] naming the exit status and the last lines of
//! the child's stderr. A child that exited while a process it started
//! still holds its stdout open is ended the same way once its output
//! stayed quiet for 500 ms ([`proto::sdk::ExitWatch`]). A panicking tool
//! handler answers the model with an error result.
//!
//! # Recovery after a failed or interrupted turn
//!
//! A 0.5.x server keeps the input of a failed or interrupted turn queued and
//! replays it on the next `turn/start`. After a turn fails in a way that
//! can leave its input queued (an internal error, an abandoned or
//! terminated run, a timeout), and after [`Session::interrupt`] succeeds,
//! the engine resets the session's runtime (`runtime/reset`, retried on its
//! own clock while the server says it is not ready) before the error or
//! the interrupt's answer is returned, also when nobody waits for it any
//! more. Servers that do not list `runtime/reset` skip it.
//!
//! # Closing
//!
//! [`MeerkatClient::close`] ends every pending call with [`Error::Closed`],
//! closes the child's stdin, sends SIGTERM, waits up to 5 s, then SIGKILL,
//! and reaps the child. Dropping the last handle (clients, sessions, streams
//! and mobs all hold one) kills and reaps at once: no zombie, no orphan.
//! The tasks hold the engine, not the client, so they keep nothing alive;
//! a callback tool handler that captures a client holds a handle, though,
//! and the engine holds the handler: such a client lives until `close`.
//!
//! # Cancellation
//!
//! Any future of this crate may be dropped midway (a `tokio::time::timeout`,
//! a `select!` branch that lost) without leaving anything behind:
//!
//! - [`MeerkatClient::connect`]: the half-started child is killed and
//!   reaped, and the engine closed.
//! - [`MeerkatClient::close`]: the next `close` finishes the job, and so
//!   does dropping the last handle (SIGKILL).
//! - [`EventStream::next`] and [`EventSubscription::next`] are cancel-safe:
//!   an event is taken from the stream only when it is returned, so none is
//!   lost.
//! - A plain request (a list, a read, a config call) is forgotten at once:
//!   it holds no slot, and a late answer is ignored.
//! - [`Session::turn`] and friends: the turn keeps running on the server
//!   (interrupt it with [`Session::interrupt`]); the engine keeps the
//!   turn's rule, so if it then fails, the session's runtime is still reset
//!   and the next turn does not replay it. A dropped interrupt is still
//!   followed by its reset, and a dropped `register_tool` still drops the
//!   handler if the server refuses the tool.
//! - A dropped [`EventStream`] of an unfinished turn is drained inside the
//!   engine (its events are discarded, not queued) until the turn ends, and
//!   reset if it failed. (On a server without `runtime/reset` it is simply
//!   forgotten; its late events still never reach the session's next
//!   turn.)
//! - A subscription whose opening future was dropped is forgotten; a
//!   dropped [`EventSubscription`] is forgotten and closed on the server
//!   (best effort), so no buffer keeps filling for nobody.
//!
//! Resets and their retries run inside the engine, on its clock (the timer
//! task), not on a caller's future: no cancellation can cut them short.
//!
//! # Testing offline: record and replay
//!
//! [`ConnectOptions::record`] writes every line of a connection, both
//! ways, with its time, to a JSON-lines cassette (the shape of the
//! real-server captures in `tests/fixtures/`); recording changes nothing
//! the client does. [`ConnectOptions::replay`] plays a cassette back
//! instead of starting a server: the client's requests must be the
//! recorded ones, in order (ids may differ; fields named with
//! [`Replay::ignore`] are not compared), and get the recorded answers,
//! events and server requests. A request that differs fails with
//! [`Error::ReplayMismatch`] (code `REPLAY_MISMATCH`, with a diff of the
//! params); one the cassette has no answer for, with
//! [`Error::ConnectionClosed`] saying the cassette ended. Nothing hangs.
//! See `examples/replay_test` for a test that records once and replays
//! from a committed cassette after that.
//!
//! ```no_run
//! use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, Replay};
//!
//! # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
//! let cassette = "tests/cassettes/hello.jsonl";
//! let options = if std::env::var_os("RECORD").is_some() {
//!     ConnectOptions::new().record(cassette) // a real server, recorded
//! } else {
//!     ConnectOptions::new().replay(Replay::new(cassette).ignore("params.idempotency_key"))
//! };
//! let client = MeerkatClient::connect(options).await?;
//! let session = client.create_session("Hello").await?;
//! assert!(!session.text().is_empty());
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Where this crate differs from the blocking twin, and why
//!
//! - [`EventStream::next`] is inherent (and the `Stream` impl is there for
//!   combinators), so no `StreamExt` import is needed.
//! - Tool handlers return futures: `|args| async move { ... }`.

meerkat_proto::__meerkat_surface!();

// The crate's README (what crates.io shows), compiled by
// `cargo test --doc` so it follows the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
