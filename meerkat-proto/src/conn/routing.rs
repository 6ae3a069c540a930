//! [`SessionRouter`]: where a `session/event` goes. Seq gaps, the session's
//! current turn, or a create whose session is not known yet.

use super::output::{Output, StreamEvent, StreamItem};
use super::turns::{Responded, Silenced, Turns};
use super::unbound::Unbound;
use crate::rpc::{CallError, CloseReason, RequestId};
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

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
    /// Sessions whose events we have seen or that a request named: their
    /// events go straight to their turns and are never buffered. Sessions
    /// are never forgotten (a session outlives its turns).
    known: HashSet<String>,
    /// Last `seq` per session, from every event (routed or not), so a gap
    /// is reported even across turns.
    last_seq: HashMap<String, u64>,
}

impl SessionRouter {
    /// No turns; `grace` for turns whose response beats their terminal
    /// event, at most `max_unbound` events buffered for unknown sessions.
    pub(crate) fn new(grace: Duration, max_unbound: usize) -> Self {
        Self {
            turns: Turns::new(grace),
            unbound: Unbound::new(max_unbound),
            known: HashSet::new(),
            last_seq: HashMap::new(),
        }
    }

    /// Request `id` is a `turn/start` on `session` (when the method names
    /// one).
    pub(crate) fn start_turn(&mut self, id: RequestId, session: Option<String>, stream: bool) {
        if let Some(s) = &session {
            self.known.insert(s.clone());
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
        let lost = self.seq_gap(session, seq);

        if self.known.contains(session) || !self.unbound.has_creates() {
            if !self.known.contains(session) {
                self.known.insert(session.to_owned());
            }
            self.turns.deliver(session, lost, event, out);
            return;
        }

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

    /// The gap `seq` reveals in `session`'s events, as the item to report
    /// before the event. A `seq` of 0 carries no order and is not tracked.
    fn seq_gap(&mut self, session: &str, seq: u64) -> Option<StreamItem> {
        if seq == 0 {
            return None;
        }
        // NB: get_mut first: no key allocation per event.
        let previous = match self.last_seq.get_mut(session) {
            Some(last) => Some(std::mem::replace(last, seq)),
            None => {
                self.last_seq.insert(session.to_owned(), seq);
                None
            }
        };
        let (expected_seq, received_seq) = match previous {
            Some(last) if seq > last + 1 => (last + 1, seq),
            // A new session's events start at 1.
            None if seq > 1 && !self.known.contains(session) => (1, seq),
            _ => return None,
        };
        Some(StreamItem::EventsLost {
            expected_seq,
            received_seq,
        })
    }

    /// Binds buffered sessions whose create became unambiguous, and drops
    /// the buffers once no create is unbound.
    fn resolve_unbound(&mut self, out: &mut VecDeque<Output>) {
        loop {
            if self.unbound.is_empty() {
                return;
            }
            if !self.unbound.has_creates() {
                for session in self.unbound.drain_sessions() {
                    self.known.insert(session);
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
        self.known.insert(session.clone());
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
            let received = self.last_seq.get(&session).copied().unwrap_or(from);
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
