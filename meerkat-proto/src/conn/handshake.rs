//! [`Handshake`]: `initialize` -> `initialized` -> `capabilities/get`, the
//! contract lines accepted (0.5.x and 0.9.x) and the server's [`Dialect`].

use super::output::Output;
use crate::model::{ContractLine, Dialect, ServerInfo};
use crate::rpc::{self, CallError, CloseReason, Diagnostic, RequestId};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::Instant;
use tracing::{debug, warn};

/// The handshake's progress and what it learned about the server.
///
/// It owns no engine: the [`Connection`](super::Connection) lends it the
/// [`rpc::Client`] to send on and to close with, and the output queue for
/// [`Output::Ready`] and diagnostics.
#[derive(Debug)]
pub(crate) struct Handshake {
    state: State,
    /// The 0.5.0 baseline until `initialize` answers with a contract of a
    /// line this SDK speaks; then the server's, for the rest of the
    /// connection.
    ///
    /// NB: set before `capabilities/get` is sent, not at `Ready`: requests
    /// sent meanwhile already use the server's dialect.
    dialect: Dialect,
    /// `Some` exactly when [`Output::Ready`] has been queued (the same value).
    server: Option<ServerInfo>,
}

/// Where the handshake is. It only moves forward, and `Done`/`Failed` are
/// final.
#[derive(Debug)]
enum State {
    NotStarted,
    /// `initialize` is pending; its deadline is reused for `capabilities/get`.
    Initialize(RequestId, Option<Instant>),
    /// `capabilities/get` is pending; the server as `initialize` described it.
    Capabilities(RequestId, Box<ServerInfo>),
    Done,
    /// The engine was closed (by us with the reason, or by the peer): no
    /// `Ready` will come, and the engine reports `Closed`.
    Failed,
}

impl Handshake {
    /// A handshake not yet started, with the 0.5.0 baseline dialect.
    pub(crate) fn new() -> Self {
        Self {
            state: State::NotStarted,
            dialect: Dialect::default(),
            server: None,
        }
    }

    /// The dialect in use (see [`Connection::dialect`](super::Connection::dialect)).
    pub(crate) fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// The server, once [`Output::Ready`] was queued.
    pub(crate) fn server(&self) -> Option<&ServerInfo> {
        self.server.as_ref()
    }

    /// Sends `initialize`, unless the handshake already started or `rpc` is
    /// closed.
    ///
    /// Returns `true` when sending failed and `rpc` was closed with
    /// [`CloseReason::Handshake`]: the caller then drains `rpc`'s events.
    #[must_use]
    pub(crate) fn start(&mut self, rpc: &mut rpc::Client, deadline: Option<Instant>) -> bool {
        if !matches!(self.state, State::NotStarted) || rpc.is_closed() {
            return false;
        }
        let params = serde_json::json!({
            "client_info": {"name": "meerkat-rs", "version": env!("CARGO_PKG_VERSION")}
        });
        let params = serde_json::value::to_raw_value(&params).ok();
        match rpc.send_request("initialize", params, deadline) {
            Ok(id) => {
                self.state = State::Initialize(id, deadline);
                false
            }
            Err(e) => {
                self.state = State::Failed;
                rpc.close_with(CloseReason::Handshake(format!("initialize: {e}")));
                true
            }
        }
    }

    /// Handles the handshake's own responses; `true` if `id` was one (the
    /// response is then consumed, never reported as [`Output::Response`]).
    pub(crate) fn on_response(
        &mut self,
        id: RequestId,
        result: &Result<Box<RawValue>, CallError>,
        rpc: &mut rpc::Client,
        out: &mut VecDeque<Output>,
    ) -> bool {
        match &self.state {
            State::Initialize(hid, deadline) if *hid == id => {
                let deadline = *deadline;
                self.on_initialize(result, deadline, rpc);
                true
            }
            State::Capabilities(hid, _) if *hid == id => {
                let State::Capabilities(_, mut info) =
                    std::mem::replace(&mut self.state, State::Done)
                else {
                    return true;
                };
                match result {
                    Ok(raw) => match serde_json::from_str::<Value>(raw.get()) {
                        Ok(v) => info.set_capabilities(&v),
                        Err(e) => out.push_back(Output::Diagnostic(Diagnostic::InvalidEnvelope {
                            reason: format!("capabilities/get result: {e}"),
                        })),
                    },
                    Err(CallError::Closed(_)) => {
                        // The engine reports `Closed`; no `Ready` before it.
                        self.state = State::Failed;
                        return true;
                    }
                    Err(e) => {
                        // Capabilities are informative: a server that fails
                        // them is still usable, with none listed.
                        warn!(error = %e, "conn: capabilities/get failed");
                    }
                }
                debug!(version = %info.version, "conn: ready");
                self.server = Some((*info).clone());
                out.push_back(Output::Ready(*info));
                true
            }
            _ => false,
        }
    }

    /// `initialize` answered: checks the contract line, adopts the dialect, then
    /// sends `initialized` and `capabilities/get`. Any failure closes `rpc`
    /// with the reason the user will see.
    fn on_initialize(
        &mut self,
        result: &Result<Box<RawValue>, CallError>,
        deadline: Option<Instant>,
        rpc: &mut rpc::Client,
    ) {
        let fail = |this: &mut Self, rpc: &mut rpc::Client, reason: CloseReason| {
            this.state = State::Failed;
            rpc.close_with(reason);
        };
        let raw = match result {
            Ok(raw) => raw,
            Err(CallError::Closed(_)) => {
                // Already closed, with its own reason: keep it.
                self.state = State::Failed;
                return;
            }
            Err(CallError::TimedOut) => {
                return fail(
                    self,
                    rpc,
                    CloseReason::HandshakeTimedOut {
                        method: "initialize".into(),
                    },
                );
            }
            Err(e) => {
                return fail(
                    self,
                    rpc,
                    CloseReason::Handshake(format!("initialize: {e}")),
                );
            }
        };
        let info = serde_json::from_str::<Value>(raw.get())
            .map_err(|e| e.to_string())
            .and_then(|v| ServerInfo::from_initialize(&v));
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                return fail(
                    self,
                    rpc,
                    CloseReason::Handshake(format!("initialize: {e}")),
                );
            }
        };
        // Two lines, each named (not "any minor"): a line this SDK was not
        // written for would get params it may not parse.
        let Some(line) = ContractLine::of(info.contract_version) else {
            warn!(server = %info.contract_version, sdk = ContractLine::SUPPORTED, "conn: incompatible contract");
            return fail(
                self,
                rpc,
                CloseReason::VersionMismatch {
                    server: info.contract_version.to_string(),
                    sdk: ContractLine::SUPPORTED.to_owned(),
                },
            );
        };
        self.dialect = info.dialect();
        debug!(%line, contract = %info.contract_version, "conn: contract line");
        let sent = rpc
            .notify("initialized", None)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                let params = serde_json::value::to_raw_value(&serde_json::json!({}))
                    .map_err(|e| e.to_string())?;
                rpc.send_request("capabilities/get", Some(params), deadline)
                    .map_err(|e| e.to_string())
            });
        match sent {
            Ok(cid) => self.state = State::Capabilities(cid, Box::new(info)),
            Err(e) => fail(
                self,
                rpc,
                CloseReason::Handshake(format!("capabilities/get: {e}")),
            ),
        }
    }
}
