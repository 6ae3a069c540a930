//! [`MeerkatClient`]: the cloneable handle, connect and close.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use meerkat_proto::dispatch::{ReadyReply, Reply};
use meerkat_proto::{
    Capability, ConnectOptions, Connection, ConnectionConfig, Dialect, Error, Method, RequestId,
    RequestOptions, ServerInfo, TransportKind,
};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::driver::{Core, Driver, Input};
use crate::io::{CHUNKS_IN_FLIGHT, spawn_reader, spawn_writer};
use crate::process::Process;
use crate::stream::StreamShared;
use crate::tools::Tools;

/// How long `close` waits after SIGTERM before SIGKILL.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The longest the handshake may take.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A stream's request id, its shared buffer, and (for subscriptions) the
/// raw open result.
pub(crate) type OpenedStream = (RequestId, Arc<StreamShared>, Option<Box<RawValue>>);

/// A connection to one `rkat-rpc`: a child process over stdio (the default),
/// or a server already listening on TCP ([`ConnectOptions::tcp`]).
///
/// Cheap to clone (`Arc` inside), `Send + Sync`: many tasks may run turns on
/// different sessions at once over one child. The child lives until
/// [`close`](Self::close) is called or the last clone (including those held
/// by sessions, streams and mobs) is dropped; dropping kills and reaps it,
/// so nothing is left behind.
///
/// ```no_run
/// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
///
/// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
/// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
/// let session = client.create_session("What is the capital of France?").await?;
/// println!("{}", session.text());
/// client.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MeerkatClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MeerkatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeerkatClient")
            .field("pid", &self.pid())
            .field("server", &self.inner.server.version)
            .finish_non_exhaustive()
    }
}

/// What every clone shares.
pub(crate) struct Inner {
    tx: mpsc::UnboundedSender<Input>,
    /// The child; `None` over TCP.
    process: Option<Arc<Process>>,
    server: ServerInfo,
    dialect: Dialect,
    request_timeout: Option<Duration>,
    stream_budget: usize,
    closed: AtomicBool,
    /// Held for the whole of a `close`: a second `close` waits for the
    /// first, and one whose future was dropped midway is finished by the
    /// next.
    closing: tokio::sync::Mutex<()>,
    driver: Mutex<Option<JoinHandle<()>>>,
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
        let (tx, rx) = mpsc::unbounded_channel();
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        let (reader_tx, reader_rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let process = match &options.transport {
            TransportKind::Tcp(addr) => {
                // A server already listening (`rkat-rpc --tcp ADDR`): no child.
                // NB: bounded like the handshake: an address that drops
                // packets would otherwise hang for the OS's minutes.
                let limit = DEFAULT_CONNECT_TIMEOUT.min(options.request_timeout);
                let stream =
                    tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr.as_str()))
                        .await
                        .map_err(|_| Error::TimedOut {
                            method: format!("connect to {addr}"),
                        })??;
                let _ = stream.set_nodelay(true);
                let (read, write) = stream.into_split();
                spawn_writer(write, frames_rx);
                spawn_reader(read, reader_tx, None);
                None
            }
            _ => {
                let (plan, command) = crate::launch::command(&options)?;
                let spawned = Process::spawn(command).map_err(|e| plan.spawn_error(e))?;
                let process = spawned.process;
                spawn_writer(spawned.stdin, frames_rx);
                spawn_reader(spawned.stdout, reader_tx, Some(Arc::clone(&process)));
                Some(process)
            }
        };

        let request_timeout = Some(options.request_timeout);
        let mut conn = Connection::new(ConnectionConfig::default());
        conn.start_handshake(Some(
            Instant::now() + DEFAULT_CONNECT_TIMEOUT.min(options.request_timeout),
        ));
        let (ready_tx, ready_rx) = oneshot::channel();
        let ready: ReadyReply = Box::new(move |result| {
            let _ = ready_tx.send(result);
        });
        let tools = Tools::new(tx.clone());
        let pid = process.as_ref().map_or(0, |p| p.pid());
        let driver = Driver::new(conn, rx, reader_rx, frames_tx, tools, ready, pid);
        let driver = tokio::spawn(
            driver
                .run()
                .instrument(tracing::debug_span!("meerkat_driver", pid)),
        );
        // NB: a connect future dropped during the handshake (a timeout, a
        // `select!`) must not leave the child or the driver behind.
        let guard = ConnectGuard {
            tx: &tx,
            process: process.as_deref(),
        };
        let ready = ready_rx.await.unwrap_or(Err(Error::NotConnected));
        std::mem::forget(guard);
        let (server, dialect) = match ready {
            Ok(ready) => ready,
            Err(e) => {
                let _ = tx.send(Input::Shutdown);
                let _ = driver.await;
                if let Some(process) = &process {
                    process.kill_and_reap();
                }
                return Err(e);
            }
        };
        tracing::debug!(pid, version = %server.version, "connected");
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                process,
                server,
                dialect,
                request_timeout,
                stream_budget: options.stream_budget,
                closed: AtomicBool::new(false),
                closing: tokio::sync::Mutex::new(()),
                driver: Mutex::new(Some(driver)),
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
        let pid = self.pid();
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            // The driver resolves every waiter with Error::Closed and drops
            // the writer's queue: stdin closes once queued frames are written.
            let _ = self.inner.tx.send(Input::Shutdown);
        }
        async {
            let driver = self
                .inner
                .driver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(driver) = driver {
                let _ = driver.await;
            }
            if let Some(process) = &self.inner.process {
                let status = process.shutdown(CLOSE_GRACE).await;
                tracing::debug!(?status, "rkat-rpc ended");
            }
        }
        .instrument(tracing::debug_span!("meerkat_close", pid))
        .await;
        Ok(())
    }

    /// What the server said about itself in the handshake.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let info = client.server_info();
    /// println!("{} {} (contract {})", info.name, info.version, info.contract_version);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.server
    }

    /// The server's capabilities, as fetched during `connect`.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// for cap in client.capabilities() {
    ///     println!("{} {:?}", cap.id, cap.status);
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn capabilities(&self) -> &[Capability] {
        &self.inner.server.capabilities
    }

    /// Whether the server offers capability `id` (`"mob"` follows the
    /// server's method list).
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// if client.has_capability("skills") {
    ///     println!("{} skills", client.list_skills().await?.len());
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn has_capability(&self, id: &str) -> bool {
        self.inner.server.has_capability(id)
    }

    /// Fails unless the server offers capability `id`.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] naming `id`.
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// match client.require_capability("comms") {
    ///     Ok(()) => println!("comms available"),
    ///     Err(e) => assert_eq!(e.code(), "CAPABILITY_UNAVAILABLE"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn require_capability(&self, id: &str) -> Result<(), Error> {
        if self.has_capability(id) {
            Ok(())
        } else {
            Err(Error::CapabilityUnavailable {
                capability: id.to_owned(),
            })
        }
    }

    /// The child's process id (0 over TCP, where there is no child).
    ///
    /// ```no_run
    /// # use meerkat_transport_tokio::*;
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// println!("rkat-rpc runs as pid {}", client.pid());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.inner.process.as_ref().map_or(0, |p| p.pid())
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
        P: Borrow<M::Params> + Send + 'static,
    {
        self.call::<M, P>(params, self.inner.request_timeout).await
    }

    /// [`request`](Self::request) with an explicit timeout (`None`: wait for
    /// as long as the connection lives).
    pub(crate) async fn call<M, P>(
        &self,
        params: P,
        timeout: Option<Duration>,
    ) -> Result<M::Output, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let raw = self.call_raw::<M, P>(params, timeout).await?;
        self.decode::<M>(&raw)
    }

    /// Decodes a raw result of `M`.
    pub(crate) fn decode<M: Method>(&self, raw: &RawValue) -> Result<M::Output, Error> {
        M::decode_result(raw, &self.inner.dialect).map_err(|e| Error::InvalidResponse {
            method: e.method.clone(),
            message: e.message,
        })
    }

    /// Sends one request and waits for its raw answer.
    pub(crate) async fn call_raw<M, P>(
        &self,
        params: P,
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let answer = self.start_call::<M, P>(params, timeout)?;
        answer.await.unwrap_or_else(|_| Err(self.gone()))
    }

    /// Sends one request; its raw answer comes through the receiver.
    pub(crate) fn start_call<M, P>(
        &self,
        params: P,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<Result<Box<RawValue>, Error>>, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let now = Instant::now();
        let deadline = timeout.map(|t| now + t);
        self.command(move |core| {
            let mut opts = RequestOptions::new(now);
            if let Some(at) = deadline {
                opts = opts.deadline(at);
            }
            let reply = Box::new(move |result| {
                let _ = reply.send(result);
            });
            core.dispatch
                .call::<M>(&mut core.conn, params.borrow(), opts, reply);
        })?;
        Ok(answer)
    }

    /// Sends a request whose notifications form a stream.
    ///
    /// For turn routes the stream ends with the response; for subscriptions
    /// the open response comes back here (the returned raw value) and the
    /// stream carries the notifications.
    pub(crate) async fn open_stream<M, P>(
        &self,
        params: P,
        subscription: bool,
    ) -> Result<OpenedStream, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let shared = Arc::new(crate::stream::new_stream(
            self.inner.stream_budget,
            M::name(&self.inner.dialect).unwrap_or("?"),
        ));
        let (ack, acked) = oneshot::channel();
        let (reply, answer) = oneshot::channel();
        let now = Instant::now();
        let deadline = self.inner.request_timeout.map(|t| now + t);
        let stream = Arc::clone(&shared);
        self.command(move |core| {
            let mut opts = RequestOptions::new(now).stream(!subscription);
            if let Some(at) = deadline {
                opts = opts.deadline(at);
            }
            let reply: Option<Reply> = subscription.then(|| {
                Box::new(move |result| {
                    let _ = reply.send(result);
                }) as Reply
            });
            let opened = core.dispatch.open_stream::<M>(
                &mut core.conn,
                params.borrow(),
                opts,
                stream,
                reply,
            );
            let _ = ack.send(opened);
        })?;
        // NB: dropped before the stream is handed out (a cancelled future),
        // the guard forgets it, so nothing keeps filling a buffer nobody reads.
        let mut guard = OpenGuard {
            client: self,
            state: OpenState::Acking(acked),
        };
        let id = match &mut guard.state {
            OpenState::Acking(acked) => acked.await.unwrap_or_else(|_| Err(self.gone())),
            _ => Err(Error::NotConnected),
        };
        guard.state = match &id {
            Ok(id) => OpenState::Opened(*id),
            Err(_) => OpenState::Done,
        };
        let id = id?;
        let opened = if subscription {
            match answer.await.unwrap_or_else(|_| Err(self.gone())) {
                Ok(raw) => Some(raw),
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        guard.state = OpenState::Done;
        Ok((id, shared, opened))
    }

    /// A handle that does not keep the connection alive.
    pub(crate) fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The client of `weak`, if any handle still keeps it alive.
    pub(crate) fn upgrade(weak: &Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    /// Forgets a stream whose consumer went away (best effort, never waits).
    pub(crate) fn forget_stream(&self, id: RequestId) {
        let _ = self.command(move |core: &mut Core| core.dispatch.drop_stream(&mut core.conn, id));
    }

    /// Sends a command to the driver.
    pub(crate) fn command(&self, f: impl FnOnce(&mut Core) + Send + 'static) -> Result<(), Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.inner
            .tx
            .send(Input::Command(Box::new(f)))
            .map_err(|_| self.gone())
    }

    /// The error for a driver that is gone.
    pub(crate) fn gone(&self) -> Error {
        if self.inner.closed.load(Ordering::Acquire) {
            Error::Closed
        } else {
            Error::ConnectionClosed {
                reason: "the connection driver stopped".into(),
                exit_status: self
                    .inner
                    .process
                    .as_ref()
                    .and_then(|p| p.try_status())
                    .map(|s| s.to_string()),
                stderr_tail: self
                    .inner
                    .process
                    .as_ref()
                    .map(|p| p.stderr().text())
                    .unwrap_or_default(),
            }
        }
    }

    /// The default request timeout.
    pub(crate) fn request_timeout(&self) -> Option<Duration> {
        self.inner.request_timeout
    }

    /// The dialect chosen at the handshake.
    pub(crate) fn dialect(&self) -> &Dialect {
        &self.inner.dialect
    }
}

/// Where an [`MeerkatClient::open_stream`] is.
enum OpenState {
    /// The driver has yet to say the request id.
    Acking(oneshot::Receiver<Result<RequestId, Error>>),
    /// Sent as `RequestId`; not handed out yet.
    Opened(RequestId),
    /// Handed out, or never opened.
    Done,
}

/// Forgets a stream that was opened but never handed out.
struct OpenGuard<'a> {
    client: &'a MeerkatClient,
    state: OpenState,
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, OpenState::Done) {
            OpenState::Done => {}
            OpenState::Opened(id) => self.client.forget_stream(id),
            OpenState::Acking(mut acked) => {
                // Commands run in order: by the time this one runs, the
                // open has run and acked.
                let _ = self.client.command(move |core: &mut Core| {
                    if let Ok(Ok(id)) = acked.try_recv() {
                        core.dispatch.drop_stream(&mut core.conn, id);
                    }
                });
            }
        }
    }
}

/// Stops the driver and kills the child of a connect that was dropped
/// before its handshake finished.
struct ConnectGuard<'a> {
    tx: &'a mpsc::UnboundedSender<Input>,
    /// The child; `None` over TCP.
    process: Option<&'a Process>,
}

impl Drop for ConnectGuard<'_> {
    fn drop(&mut self) {
        tracing::debug!("connect cancelled");
        let _ = self.tx.send(Input::Shutdown);
        if let Some(process) = self.process {
            process.kill_and_reap();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Nobody can use the connection any more: stop the driver and kill
        // the child now (no executor is needed; SIGKILL reaps in ms).
        // NB: also after a `close` (a no-op once it reaped the child): one
        // whose future was dropped midway may have left it running.
        let _ = self.tx.send(Input::Shutdown);
        self.closed.store(true, Ordering::Release);
        if let Some(process) = &self.process {
            process.kill_and_reap();
        }
    }
}
