//! The Meerkat Rust SDK for synchronous code: `rkat-rpc` driven over
//! `std::process` and a few threads, with no async runtime anywhere in the
//! dependency tree.
//!
//! It is the twin of `meerkat-transport-tokio`: the same nouns
//! ([`MeerkatClient`], [`Session`], [`DeferredSession`], [`EventStream`],
//! [`EventSubscription`], [`Mob`], [`Member`], [`Error`]) and the same verbs,
//! called without `.await`. Streams are
//! `Iterator<Item = Result<Event, Error>>`. Every pure data type (options,
//! results, events, capabilities, error payloads) comes from `meerkat_proto`
//! and is re-exported here, so `use meerkat_transport_blocking::*` is all a
//! program needs.
//!
//! ```no_run
//! use meerkat_transport_blocking::{ConnectOptions, Event, MeerkatClient};
//!
//! let client = MeerkatClient::connect(ConnectOptions::default())?;
//! let mut session = client.create_session("What is the capital of France?")?;
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
//! It holds no protocol logic: framing, ids, the handshake, the dialect of
//! the server's contract, the routing of events to turns and subscriptions
//! and the stream budget all live in `meerkat_proto`'s sans-IO
//! [`Connection`]. This crate moves bytes, keeps time, owns the child process
//! and hands results to the threads that wait for them.
//!
//! # Threads
//!
//! ```text
//!  user threads ──Command──┐                      ┌──> one-slot reply channels
//!  tool threads ──Command──┼──> mpsc ──> driver ──┼──> stream buffers (Mutex + Condvar)
//!  reader ──Bytes / Eof────┘             │        └──> tool threads (one per call)
//!   ^ child stdout                       └──> frames ──> writer ──> child stdin
//!  stderr thread: child stderr ──> 64 KiB tail (for error messages)
//! ```
//!
//! - One **driver** thread owns the [`Connection`]. Commands are boxed
//!   closures over it; bytes and EOF come from the reader on the same
//!   channel; it waits with `recv_timeout` until the Connection's next
//!   deadline. It never blocks on anything else: replies go to one-slot
//!   channels, events into bounded per-stream buffers, frames to the writer.
//! - The **reader** only moves stdout bytes into the channel, within a 4 MiB
//!   in-flight budget (beyond it, the pipe pushes back on the child).
//! - The **writer** writes each frame with one `write_all` (a 0.5.x server
//!   can tear lines that arrive in pieces). It is a thread of its own so a
//!   child that stops reading stdin blocks nobody else.
//! - **Tool handlers** run on threads of their own and may call the client.
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
//! error, this crate resets the session's runtime (`runtime/reset`, retried
//! while the server says it is not ready) before returning the error, and
//! [`Session::interrupt`] does the same before it returns: the interrupted
//! turn may have no reader left (a dropped [`EventStream`]) to see it fail.
//!
//! # Closing
//!
//! [`MeerkatClient::close`] ends every pending call with [`Error::Closed`],
//! closes the child's stdin, sends SIGTERM, waits up to 5 s, then SIGKILL,
//! and reaps the child. Dropping the last handle (clients, sessions, streams
//! and mobs all hold one) kills and reaps at once: no zombie, no orphan.
//! A callback tool handler that captures a client holds a handle too, and
//! the connection holds the handler: such a client lives until `close`.
//!
//! # Where this crate differs from the tokio twin, and why
//!
//! - [`EventStream::collect`] shadows [`Iterator::collect`], to keep the
//!   API's name; `Iterator::collect(stream)` still reaches the iterator's.
//! - [`Session::stream`] takes `&self` and the stream owns the turn's result
//!   ([`EventStream::result`], then [`Session::record`]): a stream that
//!   borrowed the session mutably could not be sent to another thread while
//!   the session is used for [`Session::interrupt`].

mod calls;
mod client;
mod driver;

mod events;
mod launch;
mod mob;
mod pipes;
mod process;
mod recovery;
mod session;
mod stream;
mod tools;

pub use client::MeerkatClient;

pub use events::{EventStream, EventSubscription};
pub use mob::{Member, Mob};
pub use session::{DeferredSession, Session};

#[doc(no_inline)]
pub use meerkat_proto::*;
