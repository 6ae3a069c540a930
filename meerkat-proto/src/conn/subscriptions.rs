//! [`Subscriptions`]: `session/stream_open` and `mob/stream_open` streams,
//! their notifications, and those that come before the open result.

use super::output::{Output, StreamEnd, StreamItem};
use crate::rpc::{CallError, CloseReason, RequestId};
use foldhash::HashMap;
use foldhash::HashSet;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use tracing::trace;

/// How many cancelled subscription ids are remembered (so their late
/// notifications are dropped instead of buffered as unknown).
const MAX_CANCELLED_STREAMS: usize = 1024;

/// The subscriptions of a connection, keyed by the server's stream id.
///
/// A subscription's id is the open request's [`RequestId`] until the open
/// result names the server's `stream_id`; the server may send the stream's
/// notifications before that result, so those wait here as orphans.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    /// Opens waiting for their result. A request is either here or (once
    /// opened) in `open`, never both.
    opening: HashSet<RequestId>,
    /// Open subscriptions by stream id. An entry leaves at its end, on
    /// cancel, or at close: its `StreamEnd` is reported at most once.
    open: HashMap<String, RequestId>,
    /// Notifications of stream ids no open result has named yet, replayed
    /// when one does.
    orphans: HashMap<String, OrphanStream>,
    /// Items in `orphans`, bounded by `max_orphans` so that a server
    /// writing to streams nobody opened cannot grow memory.
    orphan_len: usize,
    max_orphans: usize,
    /// Stream ids cancelled by the caller, oldest first, at most
    /// [`MAX_CANCELLED_STREAMS`]: their late notifications are dropped, not
    /// kept as orphans that no open result would ever claim.
    cancelled: VecDeque<String>,
}

/// What came for a stream id before its open result.
#[derive(Debug, Default)]
struct OrphanStream {
    items: VecDeque<StreamItem>,
    end: Option<StreamEnd>,
}

#[derive(Deserialize)]
struct StreamIdOnly {
    #[serde(default)]
    stream_id: Option<String>,
}

impl Subscriptions {
    /// No subscriptions; at most `max_orphans` notifications buffered for
    /// stream ids not yet known.
    pub(crate) fn new(max_orphans: usize) -> Self {
        Self {
            opening: HashSet::default(),
            open: HashMap::default(),
            orphans: HashMap::default(),
            orphan_len: 0,
            max_orphans,
            cancelled: VecDeque::new(),
        }
    }

    /// Request `id` opens a subscription.
    pub(crate) fn opening(&mut self, id: RequestId) {
        self.opening.insert(id);
    }

    /// Whether `id` is an open request waiting for its result.
    pub(crate) fn is_opening(&self, id: RequestId) -> bool {
        self.opening.contains(&id)
    }

    /// Forgets subscription `id` (opening or open); `true` if it was known.
    pub(crate) fn cancel(&mut self, id: RequestId) -> bool {
        let mut known = self.opening.remove(&id);
        if let Some(stream_id) = self
            .open
            .iter()
            .find_map(|(s, r)| (*r == id).then(|| s.clone()))
        {
            known = true;
            self.open.remove(&stream_id);
            self.remember_cancelled(stream_id);
        }
        known
    }

    fn remember_cancelled(&mut self, stream_id: String) {
        if let Some(orphan) = self.orphans.remove(&stream_id) {
            self.orphan_len -= orphan.items.len();
        }
        self.cancelled.push_back(stream_id);
        if self.cancelled.len() > MAX_CANCELLED_STREAMS {
            self.cancelled.pop_front();
        }
    }

    /// The open result of `id` (see [`is_opening`](Self::is_opening)): the
    /// result is reported as an [`Output::Response`], then what already
    /// came for its stream id.
    pub(crate) fn on_open_response(
        &mut self,
        id: RequestId,
        result: Result<Box<RawValue>, CallError>,
        out: &mut VecDeque<Output>,
    ) {
        self.opening.remove(&id);
        let stream_id = match &result {
            Ok(raw) => Some(
                serde_json::from_str::<StreamIdOnly>(raw.get())
                    .ok()
                    .and_then(|s| s.stream_id)
                    .filter(|s| !s.is_empty()),
            ),
            Err(_) => None,
        };
        out.push_back(Output::Response { id, result });
        match stream_id {
            None => {}
            // A success that names no stream: nothing can ever be routed
            // to it, so it ends now (a success promises a StreamEnd).
            Some(None) => out.push_back(Output::StreamEnd {
                id,
                end: StreamEnd::Subscription {
                    outcome: "invalid_open_response".into(),
                    error: None,
                },
            }),
            Some(Some(stream_id)) => {
                if let Some(orphan) = self.orphans.remove(&stream_id) {
                    self.orphan_len -= orphan.items.len();
                    for item in orphan.items {
                        out.push_back(Output::StreamItem { id, item });
                    }
                    if let Some(end) = orphan.end {
                        // Ended before it was known: never registered.
                        out.push_back(Output::StreamEnd { id, end });
                        return;
                    }
                }
                self.open.insert(stream_id, id);
            }
        }
    }

    /// A `session/stream_event` or `mob/stream_event` for `stream_id`.
    pub(crate) fn on_item(
        &mut self,
        stream_id: String,
        item: StreamItem,
        out: &mut VecDeque<Output>,
    ) {
        if let Some(id) = self.open.get(&stream_id) {
            out.push_back(Output::StreamItem { id: *id, item });
            return;
        }
        if self.cancelled.contains(&stream_id) {
            return;
        }
        if self.orphan_len >= self.max_orphans {
            trace!(%stream_id, "conn: notification of an unknown stream dropped (buffer full)");
            return;
        }
        self.orphan_len += 1;
        self.orphans
            .entry(stream_id)
            .or_default()
            .items
            .push_back(item);
    }

    /// A `session/stream_end` or `mob/stream_end` for `stream_id`.
    pub(crate) fn on_end(&mut self, stream_id: String, end: StreamEnd, out: &mut VecDeque<Output>) {
        if let Some(id) = self.open.remove(&stream_id) {
            out.push_back(Output::StreamEnd { id, end });
            return;
        }
        // A cancelled stream ends once: its id need not be remembered longer.
        if let Some(pos) = self.cancelled.iter().position(|s| *s == stream_id) {
            self.cancelled.remove(pos);
            return;
        }
        // NB: bounded by the number of orphan streams, not items: an end
        // is kept even when the item budget is spent, so a stream opened
        // late still ends.
        if self.orphans.len() >= self.max_orphans {
            return;
        }
        self.orphans.entry(stream_id).or_default().end = Some(end);
    }

    /// The connection closed: every open subscription ends with `reason`,
    /// in request order, and orphans are dropped.
    pub(crate) fn close(&mut self, reason: &CloseReason, out: &mut VecDeque<Output>) {
        let mut open: Vec<(String, RequestId)> = self.open.drain().collect();
        open.sort_unstable_by_key(|(_, id)| *id);
        for (_, id) in open {
            out.push_back(Output::StreamEnd {
                id,
                end: StreamEnd::Closed(reason.clone()),
            });
        }
        self.orphans.clear();
        self.orphan_len = 0;
    }
}
