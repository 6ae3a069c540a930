//! Settings of a [`Connection`](super::Connection) and of one request.

use crate::rpc;
use std::time::{Duration, Instant};

/// Default for [`ConnectionConfig::turn_grace`]: 250 ms.
pub const DEFAULT_TURN_GRACE: Duration = Duration::from_millis(250);

/// Default for [`ConnectionConfig::max_unbound_events`].
pub const DEFAULT_MAX_UNBOUND_EVENTS: usize = 4096;

/// Settings of a [`Connection`](super::Connection), built from
/// [`ConnectionConfig::default`] and by-value setters.
///
/// ```
/// use meerkat_proto::ConnectionConfig;
/// use std::time::Duration;
///
/// let config = ConnectionConfig::default().turn_grace(Duration::from_millis(100));
/// assert_eq!(config.turn_grace, Duration::from_millis(100));
/// assert_eq!(config.max_unbound_events, 4096);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// The JSON-RPC engine's limits. Default: [`rpc::Config::default`].
    pub rpc: rpc::Config,
    /// How long a streamed turn stays open after its response when its
    /// terminal event (`run_completed`/`run_failed`) has not come yet.
    /// Default [`DEFAULT_TURN_GRACE`] (250 ms).
    ///
    /// 0.5.x may write a turn's response before the turn's last events
    /// (PROTOCOL.md §1.7), and drops events under load, so the terminal
    /// event may come late or never.
    pub turn_grace: Duration,
    /// The most events held for sessions or subscriptions not yet known
    /// (events of a `session/create` whose session id is still ambiguous,
    /// notifications of a stream whose open result has not come). Default
    /// [`DEFAULT_MAX_UNBOUND_EVENTS`] (4096). Beyond it events are dropped,
    /// which a turn stream reports as [`StreamItem::EventsLost`](super::StreamItem::EventsLost).
    pub max_unbound_events: usize,
    /// Whether a request of the server for a method the client does not
    /// serve is reported as [`Output::UnsupportedRequest`](super::Output::UnsupportedRequest),
    /// for the owner to refuse ([`Connection::refuse`](super::Connection::refuse))
    /// or drop, instead of refused at once with -32601. Default `false`;
    /// the SDK engine sets it, to drop refusals a server that does not
    /// read its stdin would never see.
    pub report_unsupported_requests: bool,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            rpc: rpc::Config::default(),
            turn_grace: DEFAULT_TURN_GRACE,
            max_unbound_events: DEFAULT_MAX_UNBOUND_EVENTS,
            report_unsupported_requests: false,
        }
    }
}

impl ConnectionConfig {
    /// Sets [`ConnectionConfig::rpc`].
    #[must_use]
    pub fn rpc(mut self, rpc: rpc::Config) -> Self {
        self.rpc = rpc;
        self
    }

    /// Sets [`ConnectionConfig::turn_grace`].
    #[must_use]
    pub fn turn_grace(mut self, grace: Duration) -> Self {
        self.turn_grace = grace;
        self
    }

    /// Sets [`ConnectionConfig::max_unbound_events`].
    #[must_use]
    pub fn max_unbound_events(mut self, events: usize) -> Self {
        self.max_unbound_events = events;
        self
    }

    /// Sets [`ConnectionConfig::report_unsupported_requests`].
    #[must_use]
    pub fn report_unsupported_requests(mut self, report: bool) -> Self {
        self.report_unsupported_requests = report;
        self
    }
}

/// How to send one request with [`Connection::request`](super::Connection::request).
///
/// ```
/// use meerkat_proto::RequestOptions;
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// let opts = RequestOptions::new(now).deadline(now + Duration::from_secs(30)).stream(true);
/// assert!(opts.stream);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestOptions {
    /// The absolute deadline of the request; `None` waits for the answer or
    /// the close.
    pub deadline: Option<Instant>,
    /// For `turn/start` and run-immediately `session/create`: report the
    /// turn's events as a stream ([`Output::StreamItem`](super::Output::StreamItem)s
    /// then one [`Output::StreamEnd`](super::Output::StreamEnd)) instead of a
    /// plain [`Output::Response`](super::Output::Response). Ignored by other
    /// methods (subscriptions always stream).
    pub stream: bool,
    /// The present, as the caller's clock says: the proto never reads a
    /// clock, and needs a recent time to schedule grace periods.
    pub now: Instant,
}

impl RequestOptions {
    /// Options with no deadline and no streaming, sent at `now`.
    #[must_use]
    pub fn new(now: Instant) -> Self {
        Self {
            deadline: None,
            stream: false,
            now,
        }
    }

    /// Sets [`RequestOptions::deadline`].
    #[must_use]
    pub fn deadline(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }

    /// Sets [`RequestOptions::stream`].
    #[must_use]
    pub fn stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }
}
