//! [`Turns`]: the turns and creates whose `session/event`s are routed, and
//! when each one's stream ends (terminal event, response, grace).

use super::output::{Output, StreamEnd, StreamEvent, StreamItem};
use crate::model::RunMark;
use crate::rpc::{CallError, CloseReason, RequestId};
use foldhash::HashMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tracing::{debug, trace};

/// The routed requests (`turn/start` and `session/create`), per request and
/// per session.
///
/// A turn ends when both its terminal event (`run_completed`/`run_failed`)
/// and its response have come, in either order. The server may drop the
/// terminal event, so a turn whose response came also ends when the grace
/// period passes, or when the next run of its session starts.
#[derive(Debug)]
pub(crate) struct Turns {
    /// Turns and creates whose events are routed (streamed or not). An
    /// entry leaves only through [`finish`](Self::finish) (or unbound, on
    /// cancel), which reports its end.
    entries: HashMap<RequestId, TurnEntry>,
    /// Per session, its entries in request order: `id` is in
    /// `by_session[s]` exactly when `entries[id].session == Some(s)`.
    /// A session's current turn is the first one without its terminal
    /// event; events go to it and never to another session's turn.
    by_session: HashMap<String, VecDeque<RequestId>>,
    /// The session and turn the last event was delivered to by a look at
    /// the session's queue. Every change of a queue (a turn started, a
    /// create bound, a turn finished) clears it, so while it is set, its
    /// turn stays the session's current one until that turn sees its
    /// terminal event: a stream's next events go to it without the look.
    current: Option<(String, RequestId)>,
    /// How long a turn whose response came waits for its terminal event.
    grace: Duration,
}

/// One routed request.
///
/// Invariants: `silent` implies `!stream`; once `responded` is set it stays
/// set, and a streamed, non-silent entry then has `response`. So every
/// [`Turns::finish`] (always after `responded`, or at close) ends a stream
/// with its response.
#[derive(Debug)]
struct TurnEntry {
    /// `None` for a create until its session is known (see `Unbound`).
    session: Option<String>,
    /// Report `StreamItem`s and a `StreamEnd` (else only a `Response`).
    stream: bool,
    /// Cancelled: report nothing, only absorb the turn's events.
    silent: bool,
    /// The text prompt of a create, to bind its events.
    prompt: Option<String>,
    saw_terminal: bool,
    responded: bool,
    /// A streamed turn's response, kept for its `StreamEnd`.
    response: Option<Result<Box<RawValue>, CallError>>,
    grace: Grace,
    /// At least one event was delivered to it: a run start then belongs to
    /// the next turn, not to this one.
    saw_events: bool,
}

/// A turn's grace period: from the first `handle_timeout` after its
/// response (the proto reads no clock, so the response cannot arm it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grace {
    None,
    /// The response came; the deadline is set at the next `handle_timeout`.
    Unarmed,
    At(Instant),
}

/// What [`Turns::on_response`] learned.
#[derive(Debug)]
pub(crate) struct Responded {
    /// The response is the connection's close: nothing more will come.
    pub(crate) closed: bool,
    /// The session an unbound create's result names.
    pub(crate) named: Option<String>,
}

/// What [`Turns::silence`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Silenced {
    /// A create whose session was unknown: its entry is gone, so it is no
    /// longer a candidate for the events of new sessions.
    Unbound,
    /// A turn of a known session: it stays to absorb its events until its
    /// terminal event (or the next run).
    Bound,
}

#[derive(Deserialize)]
struct SessionIdOnly {
    #[serde(default)]
    session_id: String,
}

impl Turns {
    /// No turns; a response-before-terminal turn waits `grace`.
    pub(crate) fn new(grace: Duration) -> Self {
        Self {
            entries: HashMap::default(),
            by_session: HashMap::default(),
            current: None,
            grace,
        }
    }

    /// Whether `id` is a routed request still waiting to end.
    pub(crate) fn contains(&self, id: RequestId) -> bool {
        self.entries.contains_key(&id)
    }

    /// Whether a turn of `session` is still routed.
    pub(crate) fn has_session(&self, session: &str) -> bool {
        self.by_session.contains_key(session)
    }

    /// Routes request `id`: a turn of `session`, or with `None` a create
    /// (whose text `prompt` helps bind it).
    pub(crate) fn start(
        &mut self,
        id: RequestId,
        session: Option<String>,
        stream: bool,
        prompt: Option<String>,
    ) {
        if let Some(s) = &session {
            self.by_session.entry(s.clone()).or_default().push_back(id);
            self.current = None;
        }
        self.entries
            .insert(id, TurnEntry::new(session, stream, prompt));
    }

    /// The text prompt of create `id`, if it had one.
    pub(crate) fn prompt(&self, id: RequestId) -> Option<&str> {
        self.entries.get(&id).and_then(|e| e.prompt.as_deref())
    }

    /// Gives create `id` its session; `false` if it is gone or already had
    /// one.
    pub(crate) fn bind(&mut self, id: RequestId, session: &str) -> bool {
        let Some(entry) = self.entries.get_mut(&id) else {
            return false;
        };
        if entry.session.is_some() {
            return false;
        }
        debug!(id = id.get(), %session, "conn: create bound to its session");
        entry.session = Some(session.to_owned());
        // NB: at the front: the create's run is the session's first, ahead
        // of any turn already queued on it.
        self.by_session
            .entry(session.to_owned())
            .or_default()
            .push_front(id);
        self.current = None;
        true
    }

    /// Marks that the terminal event of `id` was among events lost before
    /// they could be routed.
    pub(crate) fn mark_terminal(&mut self, id: RequestId) {
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.saw_terminal = true;
        }
    }

    /// Silences `id` (see [`Connection::cancel`](super::Connection::cancel));
    /// `None` if it is not a routed request.
    pub(crate) fn silence(
        &mut self,
        id: RequestId,
        out: &mut VecDeque<Output>,
    ) -> Option<Silenced> {
        let entry = self.entries.get_mut(&id)?;
        entry.silent = true;
        entry.stream = false;
        // The answer will never be reported: wait for the turn's terminal
        // event (or the next run) only.
        entry.responded = true;
        entry.grace = Grace::None;
        if entry.session.is_none() {
            self.entries.remove(&id);
            return Some(Silenced::Unbound);
        }
        if entry.saw_terminal {
            self.finish(id, out);
        }
        Some(Silenced::Bound)
    }

    /// Records the response of `id`: reported now unless the turn streams,
    /// else kept for its `StreamEnd`. Call [`settle`](Self::settle) after
    /// binding what the response named. `None` if `id` is not routed.
    pub(crate) fn on_response(
        &mut self,
        id: RequestId,
        result: Result<Box<RawValue>, CallError>,
        out: &mut VecDeque<Output>,
    ) -> Option<Responded> {
        let entry = self.entries.get_mut(&id)?;
        let closed = matches!(result, Err(CallError::Closed(_)));
        // A create's response names its session.
        let named = match (&entry.session, &result) {
            (None, Ok(raw)) => serde_json::from_str::<SessionIdOnly>(raw.get())
                .ok()
                .map(|s| s.session_id)
                .filter(|s| !s.is_empty()),
            _ => None,
        };
        entry.responded = true;
        if !entry.stream {
            if !entry.silent {
                out.push_back(Output::Response { id, result });
            }
        } else {
            entry.response = Some(result);
        }
        Some(Responded { closed, named })
    }

    /// After `id`'s response: ends it if its terminal event came, if no
    /// event can reach it (still unbound) or if the connection closed;
    /// else starts its grace. `true` if it ended.
    pub(crate) fn settle(
        &mut self,
        id: RequestId,
        closed: bool,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(&id) else {
            return false;
        };
        if entry.saw_terminal || entry.session.is_none() || closed {
            self.finish(id, out);
            true
        } else {
            entry.grace = Grace::Unarmed;
            false
        }
    }

    /// Reports `item` on `id`'s stream, if it streams and is not silenced.
    pub(crate) fn push_item(&self, id: RequestId, item: StreamItem, out: &mut VecDeque<Output>) {
        if let Some(entry) = self.entries.get(&id)
            && entry.stream
            && !entry.silent
        {
            out.push_back(Output::StreamItem { id, item });
        }
    }

    /// The current turn of `session` (the first of its queue without its
    /// terminal event), remembered for the session's next events; at a run
    /// start, a turn whose response came and that saw events is finished
    /// first (its terminal event was lost).
    fn current_turn(
        &mut self,
        session: &str,
        is_start: bool,
        out: &mut VecDeque<Output>,
    ) -> Option<RequestId> {
        let target = loop {
            let Some(queue) = self.by_session.get(session) else {
                break None;
            };
            let current = queue
                .iter()
                .copied()
                .find(|id| self.entries.get(id).is_some_and(|e| !e.saw_terminal));
            let Some(id) = current else {
                break None;
            };
            // A new run after this turn's response: its terminal event was
            // lost; end it and let the run go to the next turn.
            if is_start
                && self
                    .entries
                    .get(&id)
                    .is_some_and(|e| e.responded && e.saw_events)
            {
                self.finish(id, out);
                continue;
            }
            break Some(id);
        };
        if let Some(id) = target {
            match &mut self.current {
                Some((s, current)) if s == session => *current = id,
                slot => *slot = Some((session.to_owned(), id)),
            }
        }
        target
    }

    /// Delivers an event of a known session to its current turn, if any,
    /// after `lost` (the gap its `seq` revealed).
    pub(crate) fn deliver(
        &mut self,
        session: &str,
        lost: Option<StreamItem>,
        event: StreamEvent,
        out: &mut VecDeque<Output>,
    ) {
        let is_start = matches!(event.mark, RunMark::Start(_));
        // NB: the hot path: the turn the last event of this session went
        // to, still waiting for its terminal event (a run start always
        // takes the look at the queue: it may end that turn).
        let cached = match &self.current {
            Some((s, id)) if !is_start && s == session => Some(*id),
            _ => None,
        };
        let target = match cached.filter(|id| self.entries.get(id).is_some_and(|e| !e.saw_terminal))
        {
            Some(id) => Some(id),
            None => self.current_turn(session, is_start, out),
        };
        let Some(id) = target else {
            trace!(session, "conn: event of a session with no turn waiting");
            return;
        };
        let terminal = event.mark == RunMark::End;
        // NB: one lookup of the entry for all it takes (the hot path).
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        entry.saw_events = true;
        // As `push_item`, without looking the entry up again.
        if entry.stream && !entry.silent {
            if let Some(lost) = lost {
                out.push_back(Output::StreamItem { id, item: lost });
            }
            out.push_back(Output::StreamItem {
                id,
                item: StreamItem::Event(event),
            });
        }
        if terminal {
            entry.saw_terminal = true;
            if entry.responded {
                self.finish(id, out);
            }
        }
    }

    /// Arms the grace of turns whose response came since the last call,
    /// and ends those whose grace passed at `now`.
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut VecDeque<Output>) {
        let mut expired = Vec::new();
        for (id, entry) in &mut self.entries {
            match entry.grace {
                Grace::Unarmed => entry.grace = Grace::At(now + self.grace),
                Grace::At(at) if at <= now => expired.push(*id),
                _ => {}
            }
        }
        // NB: in request order, so outputs do not depend on hash order.
        expired.sort_unstable();
        for id in expired {
            debug!(
                id = id.get(),
                "conn: turn grace expired before its terminal event"
            );
            self.finish(id, out);
        }
    }

    /// The earliest grace deadline. An unarmed grace wants a
    /// `handle_timeout` at once: `now`, the latest time the caller told us
    /// (none yet: it waits for one).
    pub(crate) fn next_timeout(&self, now: Option<Instant>) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for entry in self.entries.values() {
            let at = match entry.grace {
                Grace::None => continue,
                Grace::Unarmed => match now {
                    Some(now) => now,
                    None => continue,
                },
                Grace::At(at) => at,
            };
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// The connection closed: every turn ends, in request order, with its
    /// response when it had one, else with `reason`.
    pub(crate) fn close(&mut self, reason: &CloseReason, out: &mut VecDeque<Output>) {
        let mut ids: Vec<RequestId> = self.entries.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(entry) = self.entries.get_mut(&id)
                && (entry.response.is_none() || !entry.responded)
            {
                entry.response = Some(Err(CallError::Closed(reason.clone())));
            }
            self.finish(id, out);
        }
    }

    /// Ends a turn entry: the stream's end (with the response) is queued.
    pub(crate) fn finish(&mut self, id: RequestId, out: &mut VecDeque<Output>) {
        let Some(entry) = self.entries.remove(&id) else {
            return;
        };
        if let Some(session) = &entry.session
            && let Some(queue) = self.by_session.get_mut(session)
        {
            self.current = None;
            queue.retain(|t| *t != id);
            if queue.is_empty() {
                self.by_session.remove(session);
            }
        }
        if entry.stream && !entry.silent {
            let end = match entry.response {
                Some(Err(CallError::Closed(reason))) => StreamEnd::Closed(reason),
                Some(response) => StreamEnd::Turn(response),
                // Unreachable by the `TurnEntry` invariant (finish comes
                // after the response, or at close with one set); a local
                // close is the honest fallback.
                None => StreamEnd::Closed(CloseReason::Local),
            };
            out.push_back(Output::StreamEnd { id, end });
        }
    }
}

impl TurnEntry {
    fn new(session: Option<String>, stream: bool, prompt: Option<String>) -> Self {
        Self {
            session,
            stream,
            silent: false,
            prompt,
            saw_terminal: false,
            responded: false,
            response: None,
            grace: Grace::None,
            saw_events: false,
        }
    }
}
