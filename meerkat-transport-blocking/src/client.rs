//! [`MeerkatClient`]: the cloneable handle, connect and close.

use std::borrow::Borrow;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use meerkat_proto::dispatch::{ReadyReply, Reply};
use meerkat_proto::{
    Capability, ConnectOptions, Connection, ConnectionConfig, Dialect, Method, RequestId,
    RequestOptions, ServerInfo, TransportKind,
};
use serde_json::value::RawValue;

use crate::driver::{Core, Driver, Input};
use crate::pipes::{ByteBudget, spawn_reader, spawn_writer};
use crate::process::Process;
use crate::stream::StreamShared;
use crate::tools::Tools;
use meerkat_proto::Error;

/// How long `close` waits after SIGTERM before SIGKILL.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long the handshake may take when no request timeout is set.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A stream's request id, its shared buffer, and (for subscriptions) the
/// raw open result.
pub(crate) type OpenedStream = (RequestId, Arc<StreamShared>, Option<Box<RawValue>>);

/// A connection to one `rkat-rpc` child process.
///
/// Cheap to clone (`Arc` inside), `Send + Sync`: many threads may run turns
/// on different sessions at once over one child. The child lives until
/// [`close`](Self::close) is called or the last clone (including those held
/// by sessions, streams and mobs) is dropped; dropping kills and reaps it,
/// so nothing is left behind.
///
/// ```no_run
/// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
///
/// let client = MeerkatClient::connect(ConnectOptions::default())?;
/// let session = client.create_session("What is the capital of France?")?;
/// println!("{}", session.text());
/// client.close()?;
/// # Ok::<(), meerkat_transport_blocking::Error>(())
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

/// The state every clone shares.
pub(crate) struct Inner {
    tx: Sender<Input>,
    /// The child; `None` over TCP.
    process: Option<Arc<Process>>,
    /// The socket over TCP (shut down on close).
    tcp: Option<TcpStream>,
    server: ServerInfo,
    dialect: Dialect,
    request_timeout: Option<Duration>,
    stream_budget: usize,
    closed: AtomicBool,
    driver: Mutex<Option<JoinHandle<()>>>,
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
        let span = tracing::debug_span!("meerkat_connect");
        let _span = span.enter();
        let (tx, rx) = mpsc::channel();
        let (frames_tx, frames_rx) = mpsc::channel();
        let budget = Arc::new(ByteBudget::default());
        let (process, tcp) = match &options.transport {
            TransportKind::Tcp(addr) => {
                // A server already listening (`rkat-rpc --tcp ADDR`): no child.
                let stream = TcpStream::connect(addr.as_str())?;
                let _ = stream.set_nodelay(true);
                let (read, write) = (stream.try_clone()?, stream.try_clone()?);
                spawn_writer(write, frames_rx, |s: TcpStream| {
                    let _ = s.shutdown(Shutdown::Write);
                })?;
                spawn_reader(read, tx.clone(), Arc::clone(&budget), None)?;
                (None, Some(stream))
            }
            _ => {
                let (plan, command) = crate::launch::command(&options)?;
                let spawned = Process::spawn(command).map_err(|e| plan.spawn_error(e))?;
                let process = spawned.process;
                let started = spawn_writer(spawned.stdin, frames_rx, drop).and_then(|()| {
                    spawn_reader(
                        spawned.stdout,
                        tx.clone(),
                        Arc::clone(&budget),
                        Some(Arc::clone(&process)),
                    )
                });
                if let Err(e) = started {
                    process.kill_and_reap();
                    return Err(Error::Io(e));
                }
                (Some(process), None)
            }
        };
        let pid = process.as_ref().map_or(0, |p| p.pid());
        let kill = |process: &Option<Arc<Process>>| {
            if let Some(process) = process {
                process.kill_and_reap();
            }
        };

        let request_timeout = Some(options.request_timeout);
        let mut conn = Connection::new(ConnectionConfig::default());
        let connect_timeout = DEFAULT_CONNECT_TIMEOUT.min(options.request_timeout);
        conn.start_handshake(Some(Instant::now() + connect_timeout));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let tools = Tools::new(tx.clone());
        let ready: ReadyReply = Box::new(move |result| {
            let _ = ready_tx.try_send(result);
        });
        let driver = Driver::new(conn, rx, frames_tx, budget, tools, ready, pid);
        let driver = thread::Builder::new()
            .name("meerkat-driver".into())
            .spawn(move || driver.run());
        let driver = match driver {
            Ok(handle) => handle,
            Err(e) => {
                kill(&process);
                return Err(Error::Io(e));
            }
        };
        let ready = ready_rx.recv().unwrap_or(Err(Error::NotConnected));
        let (server, dialect) = match ready {
            Ok(ready) => ready,
            Err(e) => {
                let _ = tx.send(Input::Shutdown);
                let _ = driver.join();
                kill(&process);
                return Err(e);
            }
        };
        tracing::debug!(pid, version = %server.version, "connected");
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                process,
                tcp,
                server,
                dialect,
                request_timeout,
                stream_budget: options.stream_budget,
                closed: AtomicBool::new(false),
                driver: Mutex::new(Some(driver)),
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
        self.inner.shutdown(CLOSE_GRACE);
        Ok(())
    }

    /// What the server said about itself in the handshake.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let info = client.server_info();
    /// println!("{} {} (contract {})", info.name, info.version, info.contract_version);
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.server
    }

    /// The server's capabilities, as fetched during `connect`.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// for cap in client.capabilities() {
    ///     println!("{} {:?}", cap.id, cap.status);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn capabilities(&self) -> &[Capability] {
        &self.inner.server.capabilities
    }

    /// Whether the server offers capability `id` (`"mob"` follows the
    /// server's method list).
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// if client.has_capability("skills") {
    ///     println!("{} skills", client.list_skills()?.len());
    /// }
    /// # Ok::<(), Error>(())
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// match client.require_capability("comms") {
    ///     Ok(()) => println!("comms available"),
    ///     Err(e) => assert_eq!(e.code(), "CAPABILITY_UNAVAILABLE"),
    /// }
    /// # Ok::<(), Error>(())
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
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// println!("rkat-rpc runs as pid {}", client.pid());
    /// # Ok::<(), Error>(())
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
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, methods};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let sessions = client.request::<methods::SessionList, _>(methods::ListParams::default())?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn request<M, P>(&self, params: P) -> Result<M::Output, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        self.call::<M, P>(params, self.inner.request_timeout)
    }

    /// [`request`](Self::request) with an explicit timeout (`None`: wait for
    /// as long as the connection lives).
    pub(crate) fn call<M, P>(
        &self,
        params: P,
        timeout: Option<Duration>,
    ) -> Result<M::Output, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let raw = self.call_raw::<M, P>(params, timeout)?;
        self.decode::<M>(&raw)
    }

    /// Decodes a raw result of `M`.
    pub(crate) fn decode<M: Method>(&self, raw: &RawValue) -> Result<M::Output, Error> {
        M::decode_result(raw, &self.inner.dialect).map_err(|e| Error::InvalidResponse {
            method: e.method.to_string(),
            message: e.message,
        })
    }

    /// Sends one request and waits for its raw answer.
    pub(crate) fn call_raw<M, P>(
        &self,
        params: P,
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, Error>
    where
        M: Method + 'static,
        P: Borrow<M::Params> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let now = Instant::now();
        let deadline = timeout.map(|t| now + t);
        self.command(move |core| {
            let mut opts = RequestOptions::new(now);
            if let Some(at) = deadline {
                opts = opts.deadline(at);
            }
            let reply = Box::new(move |result| {
                // NB: one-slot channel, one send: never blocks.
                let _ = reply.try_send(result);
            });
            core.dispatch
                .call::<M>(&mut core.conn, params.borrow(), opts, reply);
        })?;
        answer.recv().unwrap_or_else(|_| Err(self.gone()))
    }

    /// Sends a request whose notifications form a stream.
    ///
    /// For turn routes the stream ends with the response; for subscriptions
    /// the open response comes back here (the returned raw value) and the
    /// stream carries the notifications.
    pub(crate) fn open_stream<M, P>(
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
        let (ack, acked) = mpsc::sync_channel(1);
        let (reply, answer) = mpsc::sync_channel(1);
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
                    let _ = reply.try_send(result);
                }) as Reply
            });
            let opened = core.dispatch.open_stream::<M>(
                &mut core.conn,
                params.borrow(),
                opts,
                stream,
                reply,
            );
            let _ = ack.try_send(opened);
        })?;
        let id = acked.recv().unwrap_or_else(|_| Err(self.gone()))?;
        let opened = if subscription {
            match answer.recv().unwrap_or_else(|_| Err(self.gone())) {
                Ok(raw) => Some(raw),
                Err(e) => {
                    self.forget_stream(id);
                    return Err(e);
                }
            }
        } else {
            None
        };
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
                    .map(crate::process::describe_status),
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

impl Inner {
    /// Stops the driver, then ends the child politely (`grace` after
    /// SIGTERM) or at once (`grace` zero).
    fn shutdown(&self, grace: Duration) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let pid = self.process.as_ref().map_or(0, |p| p.pid());
        let _span = tracing::debug_span!("meerkat_close", pid).entered();
        // The driver resolves every waiter with Error::Closed and drops the
        // writer's queue: stdin closes once queued frames are written.
        let _ = self.tx.send(Input::Shutdown);
        let driver = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(driver) = driver
            && driver.thread().id() != thread::current().id()
        {
            let _ = driver.join();
        }
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
