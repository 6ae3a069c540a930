//! [`Call`]: one SDK request described as data — what to send, how to
//! decode the answer, and which rule of the [`Engine`](super::Engine)
//! applies to it (a turn is reset after a failure, an interrupt after
//! success, a tool registration drops its handler when refused).
//!
//! Every public method of both transports builds a `Call` with
//! [`ops`](super::ops) and hands it to its transport's one `run` function,
//! so the request of a method is written once.

use std::borrow::{Borrow, Cow};
use std::fmt;

use serde_json::value::RawValue;

use crate::conn::{Connection, RequestOptions};
use crate::model::{Dialect, Method, UsageError};
use crate::rpc::RequestId;
use crate::sdk_error::Error;

/// Sends the request on a connection: its id and the method's wire name.
pub(crate) type Send = Box<
    dyn FnOnce(
            &mut Connection,
            RequestOptions,
        ) -> Result<(RequestId, Cow<'static, str>), UsageError>
        + std::marker::Send,
>;

/// Decodes the raw answer.
type Decode<T> = Box<dyn FnOnce(&RawValue, &Dialect) -> Result<T, Error> + std::marker::Send>;

/// The rule the engine keeps for a request, beyond waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Nothing more.
    Plain,
    /// A turn on this session: a failure that may leave its input queued
    /// is followed by `runtime/reset` before the error is handed out.
    Turn(String),
    /// An interrupt of this session: followed by `runtime/reset` on
    /// servers that replay an interrupted input.
    Interrupt(String),
    /// `tools/register` of this tool (and registration): a refusal drops
    /// its handler, unless a later registration replaced it.
    Register(String, u64),
    /// The engine's own `runtime/reset` of this session.
    Reset(String),
    /// The engine's own request of a later page of the paged call `.0`.
    Page(RequestId),
    /// The engine's own retry of an interrupt that was "not settled": its
    /// answer goes to the caller's request `caller`.
    InterruptRetry {
        caller: RequestId,
        session: String,
        tries: u32,
    },
}

/// How a request's notifications are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Streaming {
    /// No stream: the answer is all.
    No,
    /// A turn stream (a turn or a streamed create): events, then the end.
    Turn,
    /// A subscription: the answer opens it, notifications follow.
    Subscription,
}

/// One request of the SDK, ready to be run by a transport.
///
/// Built by the functions of [`ops`](super::ops) (or [`Call::new`] for any
/// [`Method`]); `T` is what the caller gets.
///
/// ```
/// use meerkat_proto::{methods, sdk::Call};
///
/// let call = Call::new::<methods::SessionList, _>(methods::ListParams::default())
///     .map(|sessions| sessions.len());
/// # let _ = call;
/// ```
#[must_use = "a Call does nothing until a transport runs it"]
pub struct Call<T> {
    pub(crate) send: Send,
    decode: Decode<T>,
    pub(crate) kind: Kind,
    pub(crate) streaming: Streaming,
    pub(crate) capability: Option<&'static str>,
    pub(crate) session_id: Option<String>,
    /// For a subscription: the request that closes it, given its stream id.
    pub(crate) closer: Option<fn(String) -> Call<()>>,
    /// For a call that wants every page: how to ask for the next one.
    pub(crate) pager: Option<super::pages::Pager>,
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("kind", &self.kind)
            .field("streaming", &self.streaming)
            .finish_non_exhaustive()
    }
}

impl<O: 'static> Call<O> {
    /// A request of method `M` with `params`, answered with `M::Output`.
    pub fn new<M, P>(params: P) -> Self
    where
        M: Method<Output = O> + 'static,
        P: Borrow<M::Params> + std::marker::Send + 'static,
    {
        let session_id = M::session_id(params.borrow()).map(str::to_owned);
        Self {
            send: Box::new(move |conn: &mut Connection, opts| {
                let name = M::name(conn.dialect())?;
                conn.request::<M>(params.borrow(), opts)
                    .map(|id| (id, Cow::Borrowed(name)))
            }),
            decode: Box::new(|raw, dialect| {
                M::decode_result(raw, dialect).map_err(|e| Error::InvalidResponse {
                    method: e.method,
                    message: e.message,
                })
            }),
            kind: Kind::Plain,
            streaming: Streaming::No,
            capability: None,
            session_id,
            closer: None,
            pager: None,
        }
    }
}

impl Call<serde_json::Value> {
    /// A request of any `method` with `params` sent as they are, answered
    /// with the raw result: for the methods the typed model does not cover.
    /// It gets every guarantee of a typed call (timeout, exactly-once, typed
    /// errors) but no routing: a raw `turn/start` gets its answer, not its
    /// events.
    ///
    /// ```
    /// use meerkat_proto::sdk::Call;
    ///
    /// let call = Call::raw("runtime/health", serde_json::json!({}));
    /// # let _ = call;
    /// ```
    pub fn raw(method: impl Into<String>, params: serde_json::Value) -> Self {
        let method = method.into();
        Self {
            send: Box::new(move |conn: &mut Connection, opts| {
                let params = serde_json::value::to_raw_value(&params)?;
                let id = conn.request_raw(&method, Some(params), opts)?;
                Ok((id, Cow::Owned(method)))
            }),
            decode: Box::new(|raw, _| {
                serde_json::from_str(raw.get()).map_err(|e| Error::InvalidResponse {
                    method: "raw call".into(),
                    message: e.to_string(),
                })
            }),
            kind: Kind::Plain,
            streaming: Streaming::No,
            capability: None,
            session_id: None,
            closer: None,
            pager: None,
        }
    }
}

impl<T: 'static> Call<T> {
    /// Maps the answer.
    pub fn map<U>(self, f: impl FnOnce(T) -> U + std::marker::Send + 'static) -> Call<U> {
        let decode = self.decode;
        Call {
            send: self.send,
            decode: Box::new(move |raw, dialect| decode(raw, dialect).map(f)),
            kind: self.kind,
            streaming: self.streaming,
            capability: self.capability,
            session_id: self.session_id,
            closer: self.closer,
            pager: self.pager,
        }
    }

    /// Fails with [`Error::CapabilityUnavailable`] before sending unless
    /// the server offers capability `id`.
    pub fn requires(mut self, id: &'static str) -> Self {
        self.capability = Some(id);
        self
    }

    pub(crate) fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn pager(mut self, pager: super::pages::Pager) -> Self {
        self.pager = Some(pager);
        self
    }

    pub(crate) fn closer(mut self, closer: fn(String) -> Call<()>) -> Self {
        self.closer = Some(closer);
        self
    }

    pub(crate) fn streaming(mut self, streaming: Streaming) -> Self {
        self.streaming = streaming;
        self
    }

    /// Splits off the decoder, kept by the caller while the engine waits.
    pub(crate) fn split(self) -> (Call<()>, Decoder<T>) {
        let call = Call {
            send: self.send,
            decode: Box::new(|_, _| Ok(())),
            kind: self.kind,
            streaming: self.streaming,
            capability: self.capability,
            session_id: self.session_id,
            closer: self.closer,
            pager: self.pager,
        };
        (call, Decoder(self.decode))
    }
}

/// Turns a call's raw answer into its typed result; kept by the waiting
/// caller, so decoding runs on the caller's side, outside any lock.
#[must_use]
pub struct Decoder<T>(Decode<T>);

impl<T> fmt::Debug for Decoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Decoder")
    }
}

impl<T> Decoder<T> {
    /// Decodes `raw` for the dialect spoken.
    ///
    /// # Errors
    ///
    /// The error of the answer, or [`Error::InvalidResponse`] for a result
    /// of the wrong shape.
    pub fn decode(self, raw: Result<Box<RawValue>, Error>, dialect: &Dialect) -> Result<T, Error> {
        (self.0)(&raw?, dialect)
    }
}
