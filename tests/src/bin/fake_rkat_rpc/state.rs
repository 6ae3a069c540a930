//! The fake's state: sessions, streams, config, tools, mobs, and the event
//! emitter (envelopes, per-session `seq`, fan-out to subscriptions).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::io::{Out, now_ms, uuid};
use super::life::Log;
use super::scenario::Scenario;

#[derive(Debug, Default)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) history: Vec<Value>,
    pub(crate) comms_name: Option<String>,
    pub(crate) keep_alive: bool,
    pub(crate) deferred: Option<String>,
    pub(crate) labels: Option<Value>,
    pub(crate) external_tools: Vec<String>,
    pub(crate) output_schema: Option<Value>,
    pub(crate) model: String,
    pub(crate) seq: u64,
    pub(crate) total_tokens: u64,
    pub(crate) failed_inputs: u64,
    pub(crate) running: bool,
    pub(crate) last_text: Option<String>,
    pub(crate) interrupt: Arc<AtomicBool>,
    pub(crate) turn_lock: Arc<Mutex<()>>,
    /// `(mob_id, meerkat_id, profile)` of a mob member's session.
    pub(crate) member_of: Option<(String, String, String)>,
}

impl Session {
    pub(crate) fn new(id: String, model: String) -> Self {
        let now = now_ms() / 1000;
        Self {
            id,
            created_at: now,
            updated_at: now,
            model,
            ..Self::default()
        }
    }

    pub(crate) fn info(&self, realm: &str) -> Value {
        let mut info = json!({
            "session_id": self.id,
            "session_ref": format!("{realm}:{}", self.id),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "message_count": self.history.len(),
            "total_tokens": self.total_tokens,
            "is_active": self.running,
        });
        if let Some(labels) = &self.labels {
            info["labels"] = labels.clone();
        }
        info
    }
}

#[derive(Debug)]
pub(crate) enum StreamTarget {
    Session(String),
    Mob {
        mob_id: String,
        member: Option<String>,
    },
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) target: StreamTarget,
    pub(crate) sequence: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) profile: String,
    pub(crate) session_id: String,
    pub(crate) wired_to: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Mob {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) profiles: Vec<String>,
    pub(crate) flows: Vec<String>,
    pub(crate) members: Vec<Member>,
    pub(crate) runs: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Session ids in creation order, and the sessions.
    pub(crate) order: Vec<String>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) streams: HashMap<String, Stream>,
    pub(crate) closed_streams: HashSet<String>,
    pub(crate) config: Value,
    pub(crate) generation: u64,
    pub(crate) tools: Vec<String>,
    pub(crate) mobs: Vec<Mob>,
    /// Pending `tool/execute` calls: server request id to its waiter.
    pub(crate) callbacks: HashMap<String, Sender<Value>>,
    pub(crate) next_srv: u64,
    /// Running turn requests (request id as JSON text) to session id.
    pub(crate) running: HashMap<String, String>,
    pub(crate) cancelled: HashSet<String>,
}

/// Everything the threads of the fake share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) out: Out,
    pub(crate) scenario: Arc<Scenario>,
    /// The lifecycle log (`FAKE_RKAT_LOG`).
    pub(crate) log: Log,
}

pub(crate) const REALM: &str = "fake";

impl Shared {
    pub(crate) fn new(scenario: Arc<Scenario>, log: Log) -> Self {
        Self {
            state: Mutex::new(State {
                order: Vec::new(),
                sessions: HashMap::new(),
                streams: HashMap::new(),
                closed_streams: HashSet::new(),
                config: json!({
                    "agent": {"model": "claude-opus-4-6", "max_tokens_per_turn": 16384},
                    "providers": {"api_keys": null, "base_urls": null},
                    "tools": {"builtins_enabled": false, "shell_enabled": false},
                    "max_tokens": 16384,
                }),
                generation: 0,
                tools: Vec::new(),
                mobs: Vec::new(),
                callbacks: HashMap::new(),
                next_srv: 0,
                running: HashMap::new(),
                cancelled: HashSet::new(),
            }),
            out: Out::new(Arc::clone(&scenario)),
            scenario,
            log,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Emits one agent event of session `sid`: bumps `seq`, writes the
    /// `session/event` (unless `dropped`, which leaves a gap in `seq`) and
    /// fans it out to the open session and mob subscriptions.
    pub(crate) fn emit(&self, sid: &str, payload: Value, dropped: bool) {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(sid) else {
            return;
        };
        session.seq += 1;
        if dropped {
            return;
        }
        let member_of = session.member_of.clone();
        let envelope = envelope(
            sid,
            session.seq,
            payload,
            member_of.as_ref().map(|m| m.0.as_str()),
        );
        self.out.notify(
            "session/event",
            json!({"event": envelope, "session_id": sid}),
        );
        for (stream_id, stream) in &mut state.streams {
            match &stream.target {
                StreamTarget::Session(target) if target == sid => {
                    stream.sequence += 1;
                    self.out.notify(
                        "session/stream_event",
                        json!({"event": envelope, "sequence": stream.sequence, "session_id": sid, "stream_id": stream_id}),
                    );
                }
                StreamTarget::Mob { mob_id, member } => {
                    let Some((mob, meerkat, profile)) = &member_of else {
                        continue;
                    };
                    if mob != mob_id || member.as_ref().is_some_and(|m| m != meerkat) {
                        continue;
                    }
                    stream.sequence += 1;
                    let event = if member.is_some() {
                        envelope.clone()
                    } else {
                        json!({"envelope": envelope, "profile": profile, "source": meerkat})
                    };
                    self.out.notify(
                        "mob/stream_event",
                        json!({"event": event, "sequence": stream.sequence, "stream_id": stream_id}),
                    );
                }
                StreamTarget::Session(_) => {}
            }
        }
    }

    /// Pre-renders `n` identical `text_delta` `session/event` lines (bumping
    /// `seq`) for a burst,
    /// written with `format!` (10x faster than building `Value`s), the same
    /// bytes serde_json would write: a burst's rendering must not be what a
    /// benchmark measures.
    pub(crate) fn render_burst(&self, sid: &str, n: usize, piece: &str) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(sid) else {
            return Vec::new();
        };
        let piece = serde_json::to_string(piece).unwrap_or_default();
        let mut buf = String::with_capacity(n * 320);
        for _ in 0..n {
            session.seq += 1;
            let _ = writeln!(
                buf,
                r#"{{"jsonrpc":"2.0","method":"session/event","params":{{"event":{{"event_id":"{}","payload":{{"delta":{piece},"type":"text_delta"}},"seq":{},"source_id":"session:{sid}","timestamp_ms":{}}},"session_id":"{sid}"}}}}"#,
                uuid(),
                session.seq,
                now_ms(),
            );
        }
        buf.into_bytes()
    }

    /// Ends every subscription of session `sid` with `outcome`.
    pub(crate) fn end_session_streams(&self, sid: &str, outcome: &str) {
        let mut state = self.lock();
        let ids: Vec<String> = state
            .streams
            .iter()
            .filter(|(_, s)| matches!(&s.target, StreamTarget::Session(t) if t == sid))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            state.streams.remove(&id);
            state.closed_streams.insert(id.clone());
            self.out.notify(
                "session/stream_end",
                json!({"ended": true, "outcome": outcome, "session_id": sid, "stream_id": id}),
            );
        }
    }
}

/// An EventEnvelope (keys sorted like the real server's).
fn envelope(sid: &str, seq: u64, payload: Value, mob_id: Option<&str>) -> Value {
    let mut envelope = json!({
        "event_id": uuid(),
        "payload": payload,
        "seq": seq,
        "source_id": format!("session:{sid}"),
        "timestamp_ms": now_ms(),
    });
    if let Some(mob_id) = mob_id {
        envelope["mob_id"] = json!(mob_id);
    }
    envelope
}
