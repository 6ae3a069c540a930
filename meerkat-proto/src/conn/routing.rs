//! [`SessionRouter`]: where a `session/event` goes. Seq gaps, the session's
//! current turn, or a create whose session is not known yet.

use super::output::{Output, StreamEvent, StreamItem};
use super::turns::{Responded, Silenced, Turns};
use super::unbound::Unbound;
use crate::rpc::{CallError, CloseReason, Diagnostic, RequestId};
use foldhash::HashMap;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tracing::trace;

/// The routing of `session/event` notifications to the turns and creates
/// that caused them.
///
/// [`Turns`] and [`Unbound`] each keep their own invariants; this is the
/// one place that moves a create from one to the other (binding it to its
/// session and flushing what was buffered for it), so the order of those
/// steps is written once.
#[derive(Debug)]
pub(crate) struct SessionRouter {
    turns: Turns,
    unbound: Unbound,
    /// Sessions with routing state here, in one map so an event of a
    /// known session costs one lookup: whether it is this client's (a
    /// turn named it or a create was bound to it: its events go straight to
    /// its turns and are never buffered; kept until the session is
    /// archived, a session outlives its turns), and its last `seq`, from
    /// every event (routed or not), so a gap is reported even across
    /// turns. Sessions not (yet) known are here only while their events
    /// are buffered for a create.
    seen: HashMap<String, Seen>,
    /// How many of `seen` are known.
    known: usize,
    /// Sessions nobody here asked about whose events came anyway, with
    /// their last `seq`: at most `MAX_STRANGERS`, least recently seen
    /// evicted first. While kept they count as known (their events are not
    /// taken for a new create's).
    strangers: Strangers,
    /// `session/archive` requests in flight, and their session.
    archiving: HashMap<RequestId, String>,
}

/// What the router keeps of a session in [`SessionRouter::seen`].
#[derive(Debug, Default)]
struct Seen {
    known: bool,
    last_seq: Option<u64>,
}

/// The gap `seq` reveals after `last` (then `seq` is the last), as the item
/// to report before the event. A `seq` of 0 carries no order and is not
/// tracked; a session not known yet starts at 1.
fn gap(last: &mut Option<u64>, seq: u64, known: bool) -> Option<StreamItem> {
    if seq == 0 {
        return None;
    }
    let (expected_seq, received_seq) = match last.replace(seq) {
        Some(last) if seq > last + 1 => (last + 1, seq),
        None if seq > 1 && !known => (1, seq),
        _ => return None,
    };
    Some(StreamItem::EventsLost {
        expected_seq,
        received_seq,
    })
}

/// How many sessions nobody asked about the router remembers.
pub(crate) const MAX_STRANGERS: usize = 256;

/// A small LRU of stranger sessions and their last `seq`.
#[derive(Debug, Default)]
struct Strangers {
    /// Session -> (last seq, tick of its last event).
    by_id: HashMap<String, (u64, u64)>,
    /// Tick -> session, oldest first.
    order: std::collections::BTreeMap<u64, String>,
    tick: u64,
    evicted: u64,
}

impl Strangers {
    fn contains(&self, session: &str) -> bool {
        self.by_id.contains_key(session)
    }

    /// Records `seq` of `session`; returns the previous `seq`, if known.
    fn see(&mut self, session: &str, seq: u64) -> Option<u64> {
        self.tick += 1;
        let tick = self.tick;
        if let Some((last, at)) = self.by_id.get_mut(session) {
            self.order.remove(at);
            *at = tick;
            self.order.insert(tick, session.to_owned());
            return Some(std::mem::replace(last, seq));
        }
        if self.by_id.len() >= MAX_STRANGERS
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.by_id.remove(&oldest);
            self.evicted += 1;
        }
        self.by_id.insert(session.to_owned(), (seq, tick));
        self.order.insert(tick, session.to_owned());
        None
    }

    /// Forgets `session`; its last `seq` if it was kept.
    fn remove(&mut self, session: &str) -> Option<u64> {
        let (seq, at) = self.by_id.remove(session)?;
        self.order.remove(&at);
        Some(seq)
    }
}

impl SessionRouter {
    /// No turns; `grace` for turns whose response beats their terminal
    /// event, at most `max_unbound` events buffered for unknown sessions.
    pub(crate) fn new(grace: Duration, max_unbound: usize) -> Self {
        Self {
            turns: Turns::new(grace),
            unbound: Unbound::new(max_unbound),
            seen: HashMap::default(),
            known: 0,
            strangers: Strangers::default(),
            archiving: HashMap::default(),
        }
    }

    /// Makes `session` one of this client's (a stranger no more).
    fn adopt(&mut self, session: &str) {
        // NB: get_mut first: no key allocation for a session seen before.
        let seen = match self.seen.get_mut(session) {
            Some(seen) if seen.known => return,
            Some(seen) => seen,
            None => self.seen.entry(session.to_owned()).or_default(),
        };
        seen.known = true;
        self.known += 1;
        if let Some(seq) = self.strangers.remove(session) {
            seen.last_seq = Some(seq);
        }
    }

    /// Request `id` archives `session`: once it succeeds the session's
    /// state goes.
    pub(crate) fn start_archive(&mut self, id: RequestId, session: String) {
        self.archiving.insert(id, session);
    }

    /// The answer of request `id`; `true` if it was an archive (the caller
    /// still delivers the response).
    pub(crate) fn on_archive_response(&mut self, id: RequestId, ok: bool) {
        let Some(session) = self.archiving.remove(&id) else {
            return;
        };
        if ok && !self.turns.has_session(&session) {
            if self.seen.remove(&session).is_some_and(|seen| seen.known) {
                self.known -= 1;
            }
            self.strangers.remove(&session);
        }
    }

    /// How many sessions have routing state (the client's and strangers).
    pub(crate) fn tracked_sessions(&self) -> usize {
        self.known + self.strangers.by_id.len()
    }

    /// How many stranger sessions were forgotten to stay under the cap.
    pub(crate) fn evicted_sessions(&self) -> u64 {
        self.strangers.evicted
    }

    /// Request `id` is a `turn/start` on `session` (when the method names
    /// one).
    pub(crate) fn start_turn(&mut self, id: RequestId, session: Option<String>, stream: bool) {
        if let Some(s) = &session {
            self.adopt(s);
        }
        self.turns.start(id, session, stream, None);
    }

    /// Request `id` is a `session/create` with text `prompt`, if any.
    pub(crate) fn start_create(&mut self, id: RequestId, stream: bool, prompt: Option<String>) {
        self.turns.start(id, None, stream, prompt);
        self.unbound.add_create(id);
    }

    /// Whether `id` is a turn or create still routed.
    pub(crate) fn contains(&self, id: RequestId) -> bool {
        self.turns.contains(id)
    }

    /// Silences turn or create `id` (see
    /// [`Connection::cancel`](super::Connection::cancel)); `true` if known.
    pub(crate) fn cancel(&mut self, id: RequestId, out: &mut VecDeque<Output>) -> bool {
        self.archiving.remove(&id);
        match self.turns.silence(id, out) {
            Some(Silenced::Unbound) => {
                self.unbound.remove_create(id);
                // One create fewer: buffered sessions may be unambiguous.
                self.resolve_unbound(out);
                true
            }
            Some(Silenced::Bound) => true,
            None => false,
        }
    }

    /// The response of turn or create `id` (see [`contains`](Self::contains)).
    pub(crate) fn on_response(
        &mut self,
        id: RequestId,
        result: Result<Box<RawValue>, CallError>,
        out: &mut VecDeque<Output>,
    ) {
        let Some(Responded { closed, named }) = self.turns.on_response(id, result, out) else {
            return;
        };
        // NB: bind before settling: the buffered events (maybe the terminal
        // one) are delivered first, and decide whether the turn ends now.
        if let Some(session) = named {
            self.bind_create(id, session, out);
            // Other buffered sessions may now be unambiguous.
            self.resolve_unbound(out);
        }
        if self.turns.settle(id, closed, out) {
            // An ended create is no candidate for new sessions any more.
            self.unbound.remove_create(id);
            self.resolve_unbound(out);
        }
    }

    /// A `session/event` of `session`.
    pub(crate) fn on_event(
        &mut self,
        session: &str,
        event: StreamEvent,
        out: &mut VecDeque<Output>,
    ) {
        let seq = event.seq();
        if let Some(seen) = self.seen.get_mut(session)
            && seen.known
        {
            let lost = gap(&mut seen.last_seq, seq, true);
            self.turns.deliver(session, lost, event, out);
            return;
        }
        if self.strangers.contains(session) || !self.unbound.has_creates() {
            // NB: no turn can wait for a session that is not ours (a turn
            // adopts its session): the event goes nowhere. Only its `seq`
            // is kept, in the bounded LRU, for a turn started later.
            let evicted = self.strangers.evicted;
            self.strangers.see(session, seq);
            if self.strangers.evicted > evicted {
                trace!(session, "conn: a stranger session was evicted");
            }
            out.push_back(Output::Diagnostic(Diagnostic::UnknownSessionEvent {
                session_id: session.to_owned(),
            }));
            return;
        }
        let lost = self.seq_gap(session, seq);

        // A session first seen while creates are unbound: bind it to one.
        // NB: only a session's first event may bind it; once buffered, its
        // first event is in the buffer and `resolve_unbound` judges that.
        let buffered = self.unbound.is_buffered(session);
        if !buffered
            && let Some(create) = self
                .unbound
                .create_for_first_event(&event.mark, &self.turns)
        {
            self.bind_create(create, session.to_owned(), out);
            self.turns.deliver(session, lost, event, out);
            return;
        }
        self.unbound.buffer(session.to_owned(), lost, event, seq);
        self.resolve_unbound(out);
    }

    /// The gap `seq` reveals in `session`'s events (see [`gap`]).
    fn seq_gap(&mut self, session: &str, seq: u64) -> Option<StreamItem> {
        if seq == 0 {
            return None;
        }
        // NB: get_mut first: no key allocation per event.
        let seen = match self.seen.get_mut(session) {
            Some(seen) => seen,
            None => self.seen.entry(session.to_owned()).or_default(),
        };
        gap(&mut seen.last_seq, seq, seen.known)
    }

    /// Binds buffered sessions whose create became unambiguous, and drops
    /// the buffers once no create is unbound.
    fn resolve_unbound(&mut self, out: &mut VecDeque<Output>) {
        loop {
            if self.unbound.is_empty() {
                return;
            }
            if !self.unbound.has_creates() {
                // No create can claim them: they are strangers.
                for session in self.unbound.drain_sessions() {
                    // NB: a known session is never buffered; if it were,
                    // it would stay known, losing only its last `seq`.
                    let seq = match self.seen.get_mut(&session) {
                        Some(seen) if seen.known => seen.last_seq.take(),
                        Some(_) => self.seen.remove(&session).and_then(|s| s.last_seq),
                        None => None,
                    };
                    let seq = seq.unwrap_or(0);
                    self.strangers.see(&session, seq);
                }
                return;
            }
            // Try each buffered session's first event against the creates.
            let Some((session, create)) = self.unbound.next_binding(&self.turns) else {
                return;
            };
            self.bind_create(create, session, out);
        }
    }

    /// Binds create `id` to `session` and flushes the session's buffered
    /// events to it.
    fn bind_create(&mut self, id: RequestId, session: String, out: &mut VecDeque<Output>) {
        if !self.turns.bind(id, &session) {
            return;
        }
        self.unbound.remove_create(id);
        self.adopt(&session);
        let Some(buf) = self.unbound.take(&session) else {
            return;
        };
        for item in buf.items {
            match item {
                StreamItem::Event(event) => self.turns.deliver(&session, None, event, out),
                lost => self.turns.push_item(id, lost, out),
            }
        }
        if let Some(from) = buf.lost_from {
            // Events were dropped after the last one kept: report them, up
            // to the last `seq` seen, and a terminal event among them.
            let received = self
                .seen
                .get(&session)
                .and_then(|seen| seen.last_seq)
                .unwrap_or(from);
            let lost = StreamItem::EventsLost {
                expected_seq: from,
                received_seq: received + 1,
            };
            self.turns.push_item(id, lost, out);
            if buf.saw_terminal {
                self.turns.mark_terminal(id);
            }
        }
    }

    /// Arms and expires turn grace periods (see [`Turns::on_timeout`]).
    pub(crate) fn on_timeout(&mut self, now: Instant, out: &mut VecDeque<Output>) {
        self.turns.on_timeout(now, out);
    }

    /// The earliest grace deadline (see [`Turns::next_timeout`]).
    pub(crate) fn next_timeout(&self, now: Option<Instant>) -> Option<Instant> {
        self.turns.next_timeout(now)
    }

    /// The connection closed: every turn ends (with its response when it
    /// had one, else with `reason`) and buffered events are dropped.
    pub(crate) fn close(&mut self, reason: &CloseReason, out: &mut VecDeque<Output>) {
        self.turns.close(reason, out);
        self.unbound.clear();
    }
}
