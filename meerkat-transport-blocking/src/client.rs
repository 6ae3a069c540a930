//! [`MeerkatClient`]: the cloneable handle, connect and close.

use std::borrow::Borrow;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use meerkat_proto::sdk::{Call, Decoder, Engine, EngineConfig, Peer};
use meerkat_proto::{ConnectOptions, Dialect, Error, Method, RequestId, ServerInfo};

use crate::io::{Handler, Shared, spawn_reader, spawn_stdin_writer, spawn_timer, spawn_writer};
use crate::process::Process;

/// The state every clone shares.
pub(crate) struct Inner {
    /// The engine and the threads' signals.
    pub(crate) shared: Arc<Shared>,
    /// The child; `None` over TCP.
    process: Option<Arc<Process>>,
    /// The socket over TCP (shut down on close).
    tcp: Option<TcpStream>,
    server: ServerInfo,
    dialect: Dialect,
    /// Held for the whole of a close: a second `close` waits for the first.
    closing: Mutex<()>,
    /// The cassette player, in a replay.
    pub(crate) replay: Option<crate::replay::SharedPlayer>,
}

impl MeerkatClient {
    /// Spawns `rkat-rpc`, runs the handshake and checks the contract version.
    ///
    /// The binary is found in this order: `MEERKAT_BIN_PATH`, then
    /// [`ConnectOptions::rkat_path`], then `rkat-rpc` on `PATH`. The child
    /// runs with `RUST_LOG=off` unless the options set `RUST_LOG`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgs`] for inconsistent options (`realm_id` with
    /// `isolated`), [`Error::BinaryNotFound`], [`Error::VersionMismatch`],
    /// [`Error::ConnectionClosed`] when the child exits during the handshake
    /// (with its exit status and stderr), [`Error::TimedOut`], [`Error::Io`].
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    ///
    /// let client = MeerkatClient::connect(
    ///     ConnectOptions::new().rkat_path("/opt/meerkat/rkat-rpc").realm_id("team"),
    /// )?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn connect(options: ConnectOptions) -> Result<Self, Error> {
        let _span = tracing::debug_span!("meerkat_connect").entered();
        // Before the engine starts the handshake's clock: an install can
        // take long.
        // (Not for a replay or a TCP server: there is nothing to launch.)
        let peer = match Peer::of(&options) {
            Peer::Child(()) => Peer::Child(crate::launch::plan(&options)?),
            Peer::Replay(cassette) => Peer::Replay(cassette),
            Peer::Tcp(addr) => Peer::Tcp(addr),
        };
        let config = EngineConfig::from_options(&options);
        let records = crate::replay::record_file(&options)?;
        let shared = Shared::new(Engine::new(config.clone(), Instant::now()), records);
        let mut replay = None;
        let (process, tcp) = match peer {
            // A cassette plays the server: no child, no socket.
            Peer::Replay(cassette) => {
                replay = Some(crate::replay::start(&shared, cassette)?);
                (None, None)
            }
            Peer::Tcp(addr) => {
                // A server already listening (`rkat-rpc --tcp ADDR`): no
                // child. NB: bounded like the handshake.
                let stream = connect_tcp(addr, config.connect_timeout)?;
                let (read, write) = (stream.try_clone()?, stream.try_clone()?);
                spawn_writer(&shared, write, |s: TcpStream| {
                    let _ = s.shutdown(Shutdown::Write);
                })?;
                spawn_reader(&shared, read, false)?;
                (None, Some(stream))
            }
            Peer::Child(plan) => {
                let spawned = Process::spawn(crate::launch::command(&plan))
                    .map_err(|e| plan.spawn_error(e))?;
                let process = spawned.process;
                let started = spawn_stdin_writer(&shared, spawned.stdin)
                    .and_then(|()| spawn_reader(&shared, spawned.stdout, false))
                    .and_then(|()| spawn_reader(&shared, spawned.stderr, true));
                if let Err(e) = started {
                    shared.with(|e| e.close(Instant::now()));
                    process.kill_and_reap();
                    return Err(Error::Io(e));
                }
                (Some(process), None)
            }
        };
        if let Err(e) = spawn_timer(&shared, process.as_ref().map(Arc::downgrade)) {
            shared.with(|e| e.close(Instant::now()));
            return Err(Error::Io(e));
        }
        let (server, dialect) = match shared.wait(|e, waker| e.poll_ready(waker)) {
            Ok(ready) => ready,
            Err(e) => {
                shared.with(|e| e.close(Instant::now()));
                if let Some(process) = &process {
                    process.kill_and_reap();
                }
                return Err(e);
            }
        };
        tracing::debug!(pid = ?process.as_ref().map(|p| p.pid()), version = %server.version, "connected");
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                process,
                tcp,
                server,
                dialect,
                closing: Mutex::new(()),
                replay,
            }),
        })
    }

    /// Closes the connection and ends the child.
    ///
    /// Every request still pending (in any clone) resolves with
    /// [`Error::Closed`]. Then stdin is closed, the child gets SIGTERM, up to
    /// 5 s to exit, then SIGKILL, and is reaped. Calling it again is a no-op.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for reporting a failed shutdown.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let session = client.create_session("Hello")?;
    /// client.close()?;
    /// // Every handle of this client now fails with CLIENT_CLOSED.
    /// assert_eq!(session.history(0, None).unwrap_err().code(), "CLIENT_CLOSED");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn close(&self) -> Result<(), Error> {
        self.inner.shutdown(meerkat_proto::sdk::CLOSE_GRACE);
        Ok(())
    }

    /// Sends one request and waits for its typed answer.
    ///
    /// The typed methods of this crate are built on it; it is public for
    /// methods they do not cover yet. The default request timeout of the
    /// [`ConnectOptions`] applies.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for server errors, [`Error::TimedOut`],
    /// [`Error::InvalidResponse`] for an answer of the wrong shape,
    /// [`Error::Closed`] / [`Error::ConnectionClosed`] when the connection is
    /// gone, [`Error::InvalidArgs`] for params that cannot be encoded.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, methods};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let sessions = client.request::<methods::SessionList, _>(methods::ListParams::default())?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn request<M, P>(&self, params: P) -> Result<M::Output, Error>
    where
        M: Method + 'static,
        M::Output: 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        self.run(Call::new::<M, P>(params))
    }

    /// Runs one call: sends it, waits for its answer and decodes it.
    pub(crate) fn run<T: 'static>(&self, call: Call<T>) -> Result<T, Error> {
        self.run_with(|e, now| e.start(call, now))
    }

    /// Runs a call that `start` starts on the engine.
    pub(crate) fn run_with<T>(
        &self,
        start: impl FnOnce(&mut Engine<Handler>, Instant) -> Result<(RequestId, Decoder<T>), Error>,
    ) -> Result<T, Error> {
        let shared = &self.inner.shared;
        let (id, decoder) = shared.with(|e| start(e, Instant::now()))?;
        let raw = shared.wait(|e, waker| e.poll_call(id, waker));
        decoder.decode(raw, &self.inner.dialect)
    }

    /// The engine and its threads.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The dialect chosen at the handshake.
    pub(crate) fn dialect(&self) -> &Dialect {
        &self.inner.dialect
    }
}

fn connect_tcp(addr: &str, limit: Duration) -> Result<TcpStream, Error> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for sock in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&sock, limit) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Error::TimedOut {
                    method: format!("connect to {addr}"),
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || Error::InvalidArgs(format!("{addr} resolves to no address")),
        Error::Io,
    ))
}

impl Inner {
    /// Closes the engine (every waiter gets [`Error::Closed`], the writer
    /// closes stdin once everything queued is written), then ends the
    /// child politely (`grace` after SIGTERM) or at once (`grace` zero). A
    /// second call waits for the first to finish.
    fn shutdown(&self, grace: Duration) {
        let _closing = self.closing.lock().unwrap_or_else(PoisonError::into_inner);
        if self.shared.with(|e| e.is_closed_locally()) {
            return;
        }
        let pid = self.process.as_ref().map(|p| p.pid());
        let _span = tracing::debug_span!("meerkat_close", ?pid).entered();
        self.shared.with(|e| e.close(Instant::now()));
        if let Some(tcp) = &self.tcp {
            // The reader is blocked on the socket: end it.
            let _ = tcp.shutdown(Shutdown::Both);
        }
        if let Some(process) = &self.process {
            let status = if grace.is_zero() {
                process.kill_and_reap()
            } else {
                process.shutdown(grace)
            };
            tracing::debug!(?status, "rkat-rpc ended");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nobody can use the connection any more: do not make the dropping
        // thread wait 5 s for a polite exit.
        self.shutdown(Duration::ZERO);
    }
}

meerkat_proto::__meerkat_client_accessors!(blocking "meerkat_transport_blocking");

// The contract 0.9 calls of the client (issue 11): the model catalog, the
// host's health, and replaying a session's events from a cursor.
impl MeerkatClient {
    /// The server's model catalog: every provider's models and its default
    /// model (`models/catalog`; served by 0.5 and 0.9).
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let catalog = client.models_catalog()?;
    /// for provider in &catalog.providers {
    ///     println!("{}: default {}", provider.provider, provider.default_model_id);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn models_catalog(&self) -> Result<meerkat_proto::ModelCatalog, Error> {
        self.run(meerkat_proto::sdk::ops::models_catalog())
    }

    /// The host's health and each of its checks (`runtime/health`, contract
    /// 0.9).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent); the
    /// connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let health = client.runtime_health()?;
    /// if !health.is_ok() {
    ///     println!("{}: {:?}", health.status, health.checks);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn runtime_health(&self) -> Result<meerkat_proto::RuntimeHealth, Error> {
        self.run(meerkat_proto::sdk::ops::runtime_health())
    }

    /// The newest position of a session's recorded events
    /// (`events/latest_cursor`, contract 0.9): keep it, and replay what came
    /// after it later with [`events_since`](Self::events_since).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for an unknown session; the connection errors of every
    /// call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let seen = client.latest_event_cursor(session.id())?;
    /// session.turn("And then?")?;
    /// let page = client.events_since(&seen, None)?;
    /// println!("{} new events", page.events.len());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn latest_event_cursor(
        &self,
        session_id: &str,
    ) -> Result<meerkat_proto::EventCursor, Error> {
        self.run(meerkat_proto::sdk::ops::latest_event_cursor(session_id))
    }

    /// One page of a session's recorded events after `cursor`, oldest first
    /// (`events/list_since`, contract 0.9): at most `limit` (100 when `None`,
    /// 1000 at most). [`EventCursor::start`](crate::EventCursor::start) replays from the first event;
    /// while [`EventPage::has_more`](crate::EventPage::has_more), ask again from
    /// [`EventPage::next_cursor`](crate::EventPage::next_cursor).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on a contract 0.5 server (nothing is sent);
    /// [`Error::Rpc`] for a cursor ahead of the latest one; the connection
    /// errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// # let session = client.create_session("Hello")?;
    /// let mut cursor = EventCursor::start(session.id());
    /// loop {
    ///     let page = client.events_since(&cursor, Some(100))?;
    ///     for replayed in &page.events {
    ///         println!("{} {}", replayed.cursor.sequence, replayed.event.event_type());
    ///     }
    ///     if !page.has_more {
    ///         break;
    ///     }
    ///     cursor = page.next_cursor();
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn events_since(
        &self,
        cursor: &meerkat_proto::EventCursor,
        limit: Option<u64>,
    ) -> Result<meerkat_proto::EventPage, Error> {
        self.run(meerkat_proto::sdk::ops::events_since(cursor.clone(), limit))
    }
}
