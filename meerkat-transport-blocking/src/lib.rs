//! The Meerkat Rust SDK for synchronous code: `rkat-rpc` driven over
//! `std::process` (or reached over TCP) and a few threads, with no async
//! runtime anywhere in the dependency tree.
//!
//! It is the twin of `meerkat-transport-tokio`: the same nouns
//! ([`MeerkatClient`], [`Session`], [`DeferredSession`], [`EventStream`],
//! [`EventSubscription`], [`Mob`], [`Member`], [`Error`]) and the same verbs,
//! called without `.await`. Streams are
//! `Iterator<Item = Result<Event, Error>>`. The user's data types (options,
//! results, events, capabilities, errors) come from `meerkat_proto` and are
//! re-exported here by name, so `use meerkat_transport_blocking::*` is all
//! a program needs; the core itself is at [`proto`]. The client, sessions
//! and mobs are cheap to clone; the clones of a [`Session`] share its last
//! result, which its turns and its completed [`Session::stream`]s update.
//!
//! ```no_run
//! use meerkat_transport_blocking::{ConnectOptions, Event, MeerkatClient};
//!
//! let client = MeerkatClient::connect(ConnectOptions::default())?;
//! let session = client.create_session("What is the capital of France?")?;
//! println!("{}", session.text());
//! session.turn("And of Germany?")?;
//!
//! for event in session.stream("Explain the CI pipeline")? {
//!     if let Event::TextDelta { delta, .. } = event? {
//!         print!("{delta}");
//!     }
//! }
//! client.close()?;
//! # Ok::<(), meerkat_transport_blocking::Error>(())
//! ```
//!
//! # What this crate does not do
//!
//! It makes no decision of its own: the request each method sends, who
//! waits for which answer, the stream budgets, the reset after a failed
//! turn, what a dropped stream leaves behind and the exit rule all live
//! once, in the sans-IO engine of `meerkat_proto` ([`proto::sdk`]), which
//! the tokio and the blocking crates share. This crate moves bytes, keeps
//! time, owns the child process and wakes the threads that wait.
//!
//! # Threads
//!
//! ```text
//!  user threads ──lock── Engine ──lock── reader thread <── child stdout (or the socket)
//!     ^ Waker            │  bytes ───────> writer thread ──> child stdin
//!     └──────────────────┤  deadlines ───> timer thread
//!                        └─ tool calls ──> one thread per call
//!  stderr thread:     child stderr ──> Engine (64 KiB tail, for error messages)
//!  exit watch thread: the child's exit status ──> Engine, every 50 ms
//! ```
//!
//! - There is no driver: a caller starts its request under the engine's
//!   lock (a `std` mutex) and parks the calling thread until the
//!   **reader** (which hands every chunk of stdout to the engine) wakes it
//!   with the answer. The lock is held for short, non-blocking stretches
//!   only; threads are unparked and spawned after it is released.
//! - The **writer** writes the engine's output with one `write_all` per
//!   batch (a 0.5.x server can tear lines that arrive in pieces); it is a
//!   thread of its own so a child that stops reading stdin blocks nobody
//!   else.
//! - The **timer** calls the engine at its next deadline (request
//!   timeouts, turn grace, reset retries, the wait for a dead child's exit
//!   status and stderr); the **exit watch** reports the child's exit, so
//!   the engine can end the output of a child that exited while another
//!   process holds its stdout.
//! - **Tool handlers** run on threads of their own and may call the client.
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
//! terminated run, a timeout), the engine resets the session's runtime
//! (`runtime/reset`, retried on its own clock while the server says it is
//! not ready) before the error is returned, also when nobody waits for it
//! any more, and [`Session::interrupt`] does the same before it returns:
//! the interrupted turn may have no reader left (a dropped
//! [`EventStream`]) to see it fail. Servers that do not list
//! `runtime/reset` skip it.
//!
//! # Dropping a stream
//!
//! A dropped [`EventStream`] of an unfinished turn is drained inside the
//! engine (its events are discarded, not queued) until the turn ends, and
//! reset if it failed; on a server without `runtime/reset` it is simply
//! forgotten, and its late events still never reach the session's next
//! turn. A dropped [`EventSubscription`] is forgotten and closed on the
//! server (best effort, without waiting), so no buffer keeps filling for
//! nobody.
//!
//! # Closing
//!
//! [`MeerkatClient::close`] ends every pending call with [`Error::Closed`],
//! closes the child's stdin, sends SIGTERM, waits up to 5 s, then SIGKILL,
//! and reaps the child. Dropping the last handle (clients, sessions, streams
//! and mobs all hold one) kills and reaps at once: no zombie, no orphan.
//! The threads hold the engine, not the client, so they keep nothing
//! alive; a callback tool handler that captures a client holds a handle,
//! though, and the engine holds the handler: such a client lives until
//! `close`.
//!
//! # Testing offline: record and replay
//!
//! [`ConnectOptions::record`] writes every line of a connection, both
//! ways, with its time, to a JSON-lines cassette (the shape of the
//! real-server captures in `tests/fixtures/`); recording changes nothing
//! the client does. [`ConnectOptions::replay`] plays a cassette back
//! instead of starting a server (a peer thread stands where the child's
//! pipes would be): the client's requests must be the recorded ones, in
//! order (ids may differ; fields named with [`Replay::ignore`] are not
//! compared), and get the recorded answers, events and server requests. A
//! request that differs fails with [`Error::ReplayMismatch`] (code
//! `REPLAY_MISMATCH`, with a diff of the params); one the cassette has no
//! answer for, with [`Error::ConnectionClosed`] saying the cassette ended.
//! Nothing hangs. A cassette recorded through one transport replays in the
//! other.
//!
//! ```no_run
//! use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, Replay};
//!
//! let cassette = "tests/cassettes/hello.jsonl";
//! let options = if std::env::var_os("RECORD").is_some() {
//!     ConnectOptions::new().record(cassette) // a real server, recorded
//! } else {
//!     ConnectOptions::new().replay(Replay::new(cassette).ignore("params.idempotency_key"))
//! };
//! let client = MeerkatClient::connect(options)?;
//! let session = client.create_session("Hello")?;
//! assert!(!session.text().is_empty());
//! client.close()?;
//! # Ok::<(), meerkat_transport_blocking::Error>(())
//! ```
//!
//! # Where this crate differs from the tokio twin, and why
//!
//! - [`EventStream::collect`] shadows [`Iterator::collect`], to keep the
//!   API's name; `Iterator::collect(stream)` still reaches the iterator's.
//! - Tool handlers are plain closures, `|args| -> Result<ToolOutput, E>`,
//!   each call on a thread of its own.

meerkat_proto::__meerkat_surface!();

// The child's stdin, written by callers too (see `io::spawn_stdin_writer`).
#[cfg(unix)]
mod pipe;

// The crate's README (what crates.io shows), compiled by
// `cargo test --doc` so it follows the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
