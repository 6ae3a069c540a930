//! [`MeerkatClient`]: the cloneable handle, connect and close.

use std::borrow::Borrow;
use std::sync::{Arc, PoisonError, Weak};

use std::time::Instant;

use meerkat_proto::sdk::{Call, Decoder, Engine, EngineConfig, Peer};
use meerkat_proto::{ConnectOptions, Dialect, Error, Method, RequestId, ServerInfo};
use tracing::Instrument as _;

use crate::io::{CallGuard, Handler, Shared, spawn_reader, spawn_stdin_writer, spawn_timer, spawn_writer};
use crate::process::Process;

/// What every clone shares.
pub(crate) struct Inner {
    /// The engine and the tasks' signals.
    pub(crate) shared: Arc<Shared>,
    /// The child; `None` over TCP.
    process: Option<Arc<Process>>,
    server: ServerInfo,
    dialect: Dialect,
    /// Held for the whole of a close: a second `close` waits for the first.
    closing: tokio::sync::Mutex<()>,
    /// The cassette player, in a replay.
    pub(crate) replay: Option<crate::replay::SharedPlayer>,
}

impl MeerkatClient {
    /// Spawns `rkat-rpc`, does the handshake (`initialize`, the contract
    /// version check, `capabilities/get`) and returns the client.
    ///
    /// The binary is `MEERKAT_BIN_PATH`, else [`ConnectOptions::rkat_path`]
    /// (a path or a name on `PATH`), else `rkat-rpc` on `PATH`. The child
    /// gets the caller's environment, the options' extra variables, and
    /// `RUST_LOG=off` unless `RUST_LOG` is set (0.5.x logs to stdout).
    ///
    /// # Errors
    ///
    /// [`Error::BinaryNotFound`] naming every place tried,
    /// [`Error::InvalidArgs`] for `realm_id` with `isolated` (nothing is
    /// spawned), [`Error::VersionMismatch`] for a server of another contract,
    /// [`Error::ConnectionClosed`] when the child exits during the handshake
    /// (with its exit status and stderr), [`Error::Io`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with the time and IO drivers enabled: the
    /// connection's tasks are spawned on it. Later calls may come from any
    /// runtime; once the one that connected shuts down, they fail with
    /// [`Error::ConnectionClosed`].
    ///
    /// ```no_run
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
    ///
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// let client = MeerkatClient::connect(
    ///     ConnectOptions::new().rkat_path("/opt/meerkat/rkat-rpc").realm_id("team"),
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(options: ConnectOptions) -> Result<Self, Error> {
        let span = tracing::debug_span!("meerkat_connect");
        Self::connect_inner(options).instrument(span).await
    }

    async fn connect_inner(options: ConnectOptions) -> Result<Self, Error> {
        // Before the engine starts the handshake's clock: an install can
        // take long.
        // (Not for a replay or a TCP server: there is nothing to launch.)
        let peer = match Peer::of(&options) {
            Peer::Child(()) => Peer::Child(crate::launch::plan(&options).await?),
            Peer::Replay(cassette) => Peer::Replay(cassette),
            Peer::Tcp(addr) => Peer::Tcp(addr),
        };
        let config = EngineConfig::from_options(&options);
        let records = crate::replay::record_file(&options)?;
        let shared = Shared::new(Engine::new(config.clone(), crate::io::now()), records);
        let mut replay = None;
        let process = match peer {
            // A cassette plays the server: no child, no socket.
            Peer::Replay(cassette) => {
                replay = Some(crate::replay::start(&shared, cassette)?);
                None
            }
            Peer::Tcp(addr) => {
                // A server already listening (`rkat-rpc --tcp ADDR`): no child.
                // NB: bounded like the handshake: an address that drops
                // packets would otherwise hang for the OS's minutes.
                let connect = tokio::net::TcpStream::connect(addr);
                let stream = tokio::time::timeout(config.connect_timeout, connect)
                    .await
                    .map_err(|_| Error::TimedOut {
                        method: format!("connect to {addr}"),
                    })??;
                let _ = stream.set_nodelay(true);
                let (read, write) = stream.into_split();
                spawn_writer(&shared, write);
                spawn_reader(&shared, read, false);
                None
            }
            Peer::Child(plan) => {
                let spawned = Process::spawn(crate::launch::command(&plan))
                    .map_err(|e| plan.spawn_error(e))?;
                let process = spawned.process;
                if let Err(e) = spawn_stdin_writer(&shared, spawned.stdin) {
                    shared.with(|e| e.close(crate::io::now()));
                    process.kill_and_reap();
                    return Err(Error::Io(e));
                }
                spawn_reader(&shared, spawned.stdout, false);
                spawn_reader(&shared, spawned.stderr, true);
                Some(process)
            }
        };
        spawn_timer(&shared, process.as_ref().map(Arc::downgrade));
        // NB: a connect future dropped during the handshake (a timeout, a
        // `select!`) must not leave the child or the tasks behind.
        let guard = ConnectGuard {
            shared: &shared,
            process: process.as_deref(),
        };
        let (server, dialect) = shared.wait(|e, waker| e.poll_ready(waker)).await?;
        std::mem::forget(guard);
        tracing::debug!(pid = ?process.as_ref().map(|p| p.pid()), version = %server.version, "connected");
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                process,
                server,
                dialect,
                closing: tokio::sync::Mutex::new(()),
                replay,
            }),
        })
    }

    /// Closes the connection and ends the child.
    ///
    /// Every request still pending (in any clone) resolves with
    /// [`Error::Closed`]. Then stdin is closed, the child gets SIGTERM, up to
    /// 5 s to exit, then SIGKILL, and is reaped. Calling it again is a no-op
    /// once a `close` finished; a `close` whose future was dropped midway
    /// (a timeout) is finished by the next call, or by dropping the last
    /// handle (SIGKILL).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for reporting a failed shutdown.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let session = client.create_session("Hello").await?;
    /// client.close().await?;
    /// // Every handle of this client now fails with CLIENT_CLOSED.
    /// assert_eq!(session.history(0, None).await.unwrap_err().code(), "CLIENT_CLOSED");
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<(), Error> {
        let _closing = self.inner.closing.lock().await;
        // Every waiter gets Error::Closed; the writer closes stdin once
        // everything queued is written. (A second close finds it closed.)
        self.inner.shared.with(|e| e.close(crate::io::now()));
        if let Some(process) = &self.inner.process {
            let span = tracing::debug_span!("meerkat_close", pid = process.pid());
            let status = process
                .shutdown(meerkat_proto::sdk::CLOSE_GRACE)
                .instrument(span)
                .await;
            tracing::debug!(?status, "rkat-rpc ended");
        }
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
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, methods};
    ///
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let sessions = client.request::<methods::SessionList, _>(methods::ListParams::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request<M, P>(&self, params: P) -> Result<M::Output, Error>
    where
        M: Method + 'static,
        M::Output: 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        self.run(Call::new::<M, P>(params)).await
    }

    /// Runs one call: sends it, waits for its answer and decodes it. A
    /// future dropped before the answer cancels the request at once.
    pub(crate) async fn run<T: 'static>(&self, call: Call<T>) -> Result<T, Error> {
        self.run_with(|e, now| e.start(call, now)).await
    }

    /// Runs a call that `start` starts on the engine.
    pub(crate) async fn run_with<T>(
        &self,
        start: impl FnOnce(&mut Engine<Handler>, Instant) -> Result<(RequestId, Decoder<T>), Error>,
    ) -> Result<T, Error> {
        let shared = &self.inner.shared;
        let (id, decoder) = shared.with(|e| start(e, crate::io::now()))?;
        let mut guard = CallGuard {
            shared,
            id: Some(id),
        };
        let raw = shared.wait(|e, waker| e.poll_call(id, waker)).await;
        guard.id = None;
        decoder.decode(raw, &self.inner.dialect)
    }

    /// The engine and its tasks.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The dialect chosen at the handshake.
    pub(crate) fn dialect(&self) -> &Dialect {
        &self.inner.dialect
    }
}

/// Undoes a connect whose future was dropped during the handshake.
struct ConnectGuard<'a> {
    shared: &'a Arc<Shared>,
    process: Option<&'a Process>,
}

impl Drop for ConnectGuard<'_> {
    fn drop(&mut self) {
        tracing::debug!("connect cancelled or failed");
        self.shared.with(|e| e.close(crate::io::now()));
        if let Some(process) = self.process {
            process.kill_and_reap();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nobody can use the connection any more: close the engine and kill
        // the child now (no executor is needed; SIGKILL reaps in ms).
        // NB: also after a `close` (a no-op once it reaped the child): one
        // whose future was dropped midway may have left it running.
        self.shared.with(|e| e.close(crate::io::now()));
        if let Some(process) = &self.process {
            process.kill_and_reap();
        }
    }
}

meerkat_proto::__meerkat_client_accessors!(async "meerkat_transport_tokio");

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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let catalog = client.models_catalog().await?;
    /// for provider in &catalog.providers {
    ///     println!("{}: default {}", provider.provider, provider.default_model_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn models_catalog(&self) -> Result<meerkat_proto::ModelCatalog, Error> {
        self.run(meerkat_proto::sdk::ops::models_catalog()).await
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let health = client.runtime_health().await?;
    /// if !health.is_ok() {
    ///     println!("{}: {:?}", health.status, health.checks);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn runtime_health(&self) -> Result<meerkat_proto::RuntimeHealth, Error> {
        self.run(meerkat_proto::sdk::ops::runtime_health()).await
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let seen = client.latest_event_cursor(session.id()).await?;
    /// session.turn("And then?").await?;
    /// let page = client.events_since(&seen, None).await?;
    /// println!("{} new events", page.events.len());
    /// # Ok(()) }
    /// ```
    pub async fn latest_event_cursor(
        &self,
        session_id: &str,
    ) -> Result<meerkat_proto::EventCursor, Error> {
        self.run(meerkat_proto::sdk::ops::latest_event_cursor(session_id))
            .await
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
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// # let session = client.create_session("Hello").await?;
    /// let mut cursor = EventCursor::start(session.id());
    /// loop {
    ///     let page = client.events_since(&cursor, Some(100)).await?;
    ///     for replayed in &page.events {
    ///         println!("{} {}", replayed.cursor.sequence, replayed.event.event_type());
    ///     }
    ///     if !page.has_more {
    ///         break;
    ///     }
    ///     cursor = page.next_cursor();
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn events_since(
        &self,
        cursor: &meerkat_proto::EventCursor,
        limit: Option<u64>,
    ) -> Result<meerkat_proto::EventPage, Error> {
        self.run(meerkat_proto::sdk::ops::events_since(cursor.clone(), limit))
            .await
    }
}
