//! [`Unbound`]: `session/create`s whose session id is not known yet, and the
//! events of new sessions waiting to be bound to one of them.

use super::output::{StreamEvent, StreamItem};
use super::turns::Turns;
use crate::model::RunMark;
use crate::rpc::RequestId;
use foldhash::HashMap;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::VecDeque;

/// Creates waiting for their session, and the buffered events of sessions
/// first seen meanwhile.
///
/// A create's events can come before its response names the session. An
/// event of a session nobody knows is bound to a create only when that is
/// unambiguous (one unbound create, or one whose prompt matches the run);
/// otherwise it waits here until a response names its session. Events are
/// never given to another request's stream on a guess.
#[derive(Debug)]
pub(crate) struct Unbound {
    /// Creates whose session is not known yet, oldest first. A create
    /// leaves when it is bound, cancelled or ended.
    creates: Vec<RequestId>,
    /// Events of sessions first seen while creates were unbound. Once no
    /// create is left they can belong to none: they are dropped and their
    /// sessions count as known (see `drain_sessions`).
    sessions: HashMap<String, UnboundSession>,
    /// Items in `sessions` (events and loss markers), at most `max`.
    len: usize,
    max: usize,
}

/// The buffered events of one not-yet-bound session.
#[derive(Debug, Default)]
pub(crate) struct UnboundSession {
    /// Events, and [`StreamItem::EventsLost`] markers before those after a gap.
    pub(crate) items: VecDeque<StreamItem>,
    /// Its run's terminal event came (possibly among dropped events).
    pub(crate) saw_terminal: bool,
    /// The first `seq` dropped because the buffer was full.
    pub(crate) lost_from: Option<u64>,
}

#[derive(Deserialize)]
struct PromptOnly {
    #[serde(default)]
    prompt: Option<Value>,
}

impl Unbound {
    /// Nothing unbound; at most `max` items buffered over all sessions.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            creates: Vec::new(),
            sessions: HashMap::default(),
            len: 0,
            max,
        }
    }

    /// Create `id` was sent; its session is not known yet.
    pub(crate) fn add_create(&mut self, id: RequestId) {
        self.creates.push(id);
    }

    /// Create `id` is no longer a candidate (bound, cancelled or ended).
    pub(crate) fn remove_create(&mut self, id: RequestId) {
        self.creates.retain(|c| *c != id);
    }

    /// Whether any create waits for its session.
    pub(crate) fn has_creates(&self) -> bool {
        !self.creates.is_empty()
    }

    /// Whether events of `session` are buffered here.
    pub(crate) fn is_buffered(&self, session: &str) -> bool {
        self.sessions.contains_key(session)
    }

    /// Which unbound create a new session's first event belongs to, when
    /// that is unambiguous. `turns` holds the creates' prompts.
    pub(crate) fn create_for_first_event(
        &self,
        mark: &RunMark,
        turns: &Turns,
    ) -> Option<RequestId> {
        let started = match mark {
            RunMark::Start(prompt) => Some(prompt.as_deref().unwrap_or_default()),
            _ => None,
        };
        if let Some(prompt) = started {
            let matching: Vec<RequestId> = self
                .creates
                .iter()
                .copied()
                .filter(|c| turns.prompt(*c).is_some_and(|p| p == prompt))
                .collect();
            if matching.len() == 1 {
                return matching.first().copied();
            }
        }
        if let [only] = self.creates.as_slice() {
            // One candidate: take it unless its prompt contradicts the run.
            let contradicts = match (started, turns.prompt(*only)) {
                (Some(run), Some(asked)) => run != asked,
                _ => false,
            };
            if !contradicts {
                return Some(*only);
            }
        }
        None
    }

    /// Buffers an event of `session` (after `lost`, the gap its `seq`
    /// revealed). Over budget the event is dropped and the loss is
    /// reported, from its `seq`, before the next event kept.
    pub(crate) fn buffer(
        &mut self,
        session: String,
        lost: Option<StreamItem>,
        event: StreamEvent,
        seq: u64,
    ) {
        let buf = self.sessions.entry(session).or_default();
        let terminal = event.mark == RunMark::End;
        // NB: room for two: a loss marker may precede the event.
        if self.len + 2 > self.max {
            if buf.lost_from.is_none() {
                buf.lost_from = Some(seq);
            }
            buf.saw_terminal |= terminal;
            return;
        }
        if let Some(from) = buf.lost_from.take() {
            buf.items.push_back(StreamItem::EventsLost {
                expected_seq: from,
                received_seq: seq,
            });
            self.len += 1;
        } else if let Some(lost) = lost {
            buf.items.push_back(lost);
            self.len += 1;
        }
        buf.saw_terminal |= terminal;
        buf.items.push_back(StreamItem::Event(event));
        self.len += 1;
    }

    /// Whether no session's events are buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// A buffered session and the create it now unambiguously belongs to:
    /// by its first event, or the only session with the only create.
    pub(crate) fn next_binding(&self, turns: &Turns) -> Option<(String, RequestId)> {
        for (session, buf) in &self.sessions {
            let first = buf.items.iter().find_map(|i| match i {
                StreamItem::Event(e) => Some(&e.mark),
                _ => None,
            });
            let candidate = match first {
                Some(mark) => self.create_for_first_event(mark, turns),
                None => None,
            };
            // With one create and one buffered session, bind them.
            let candidate = candidate.or_else(|| {
                (self.creates.len() == 1 && self.sessions.len() == 1).then(|| self.creates[0])
            });
            if let Some(create) = candidate {
                return Some((session.clone(), create));
            }
        }
        None
    }

    /// Takes the buffered events of `session`, to flush to its create.
    pub(crate) fn take(&mut self, session: &str) -> Option<UnboundSession> {
        let buf = self.sessions.remove(session)?;
        self.len -= buf.items.len();
        Some(buf)
    }

    /// Drops every buffered session (no create is left to claim them) and
    /// returns their ids.
    pub(crate) fn drain_sessions(&mut self) -> impl Iterator<Item = String> + '_ {
        self.len = 0;
        self.sessions.drain().map(|(session, _)| session)
    }

    /// Forgets everything (the connection closed).
    pub(crate) fn clear(&mut self) {
        self.creates.clear();
        self.sessions.clear();
        self.len = 0;
    }
}

/// The text prompt of encoded `session/create` params, if it is text.
pub(crate) fn text_prompt(raw: &RawValue) -> Option<String> {
    match serde_json::from_str::<PromptOnly>(raw.get()).ok()?.prompt? {
        Value::String(s) => Some(s),
        _ => None,
    }
}
