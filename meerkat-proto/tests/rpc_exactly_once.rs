//! Model-based property: under any sequence of commands and inputs, every
//! request resolves exactly once (or is forgotten by `cancel`), with the
//! outcome the model predicts, and `Event::Closed` comes once, last.

use meerkat_proto::rpc::{
    CallError, Client, CloseReason, Config, Diagnostic, EncodeError, ErrorCode, ErrorObject, Event,
    IncomingId, RequestId,
};
use proptest::prelude::*;
use serde_json::value::RawValue;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Result,
    Error,
    /// The id as a JSON string: must never match.
    StringId,
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        deadline: Option<u8>,
    },
    Cancel(u8),
    SetDeadline(u8, u8),
    /// A response for the raw id `id` (0 and ids never sent included), fed
    /// in two pieces cut at `cut`.
    Reply {
        id: u8,
        reply: Reply,
        cut: u8,
    },
    NullIdError,
    /// Bytes ending in a newline, so they never swallow the next line.
    Garbage(Vec<u8>),
    PeerRequest,
    Respond,
    Timeout(u8),
    Eof,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let reply = prop::sample::select(vec![Reply::Result, Reply::Error, Reply::StringId]);
    prop_oneof![
        4 => proptest::option::of(0u8..20).prop_map(|deadline| Op::Send { deadline }),
        1 => any::<u8>().prop_map(Op::Cancel),
        1 => (any::<u8>(), 0u8..20).prop_map(|(i, at)| Op::SetDeadline(i, at)),
        4 => (0u8..24, reply, any::<u8>()).prop_map(|(id, reply, cut)| Op::Reply { id, reply, cut }),
        1 => Just(Op::NullIdError),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Op::Garbage),
        1 => Just(Op::PeerRequest),
        1 => Just(Op::Respond),
        2 => (0u8..24).prop_map(Op::Timeout),
        1 => Just(Op::Eof),
        1 => Just(Op::Close),
    ]
}

/// What the model knows of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending(Option<Instant>),
    Resolved,
    Cancelled,
}

struct Harness {
    t0: Instant,
    client: Client,
    /// Request `i + 1` is `requests[i]`: ids are consecutive from 1.
    requests: Vec<(RequestId, State)>,
    closed: bool,
    /// Peer requests received and not yet answered.
    incoming: Vec<IncomingId>,
    peer_requests: i64,
}

impl Harness {
    fn new() -> Self {
        Self {
            t0: Instant::now(),
            client: Client::new(Config::default().max_frame_len(256).max_pending(16)),
            requests: Vec::new(),
            closed: false,
            incoming: Vec::new(),
            peer_requests: 0,
        }
    }

    fn at(&self, secs: u8) -> Instant {
        self.t0 + Duration::from_secs(u64::from(secs))
    }

    fn state(&self, id: u64) -> Option<State> {
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        self.requests.get(index).map(|r| r.1)
    }

    fn set(&mut self, id: u64, state: State) {
        let index = usize::try_from(id - 1).expect("small ids");
        self.requests[index].1 = state;
    }

    fn pick(&self, i: u8) -> Option<RequestId> {
        (!self.requests.is_empty()).then(|| self.requests[usize::from(i) % self.requests.len()].0)
    }

    fn pending_model(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| matches!(r.1, State::Pending(_)))
            .count()
    }

    /// Applies one step, checking command results against the model.
    fn apply(&mut self, step: &Op) -> Result<(), TestCaseError> {
        match step {
            Op::Send { deadline } => {
                let at = deadline.map(|s| self.at(s));
                match self.client.send_request("m", None, at) {
                    Ok(id) => {
                        prop_assert!(!self.closed && self.pending_model() < 16);
                        prop_assert_eq!(id.get(), self.requests.len() as u64 + 1, "ids are consecutive");
                        self.requests.push((id, State::Pending(at)));
                    }
                    Err(EncodeError::Closed) => prop_assert!(self.closed),
                    Err(EncodeError::TooManyPending { limit }) => {
                        prop_assert!(!self.closed);
                        prop_assert_eq!(self.pending_model(), limit);
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
            Op::Cancel(i) => {
                if let Some(id) = self.pick(*i) {
                    let was_pending = matches!(self.state(id.get()), Some(State::Pending(_)));
                    prop_assert_eq!(self.client.cancel(id), was_pending);
                    if was_pending {
                        self.set(id.get(), State::Cancelled);
                    }
                }
            }
            Op::SetDeadline(i, secs) => {
                if let Some(id) = self.pick(*i) {
                    let at = self.at(*secs);
                    let was_pending = matches!(self.state(id.get()), Some(State::Pending(_)));
                    prop_assert_eq!(self.client.set_deadline(id, at), was_pending);
                    if was_pending {
                        self.set(id.get(), State::Pending(Some(at)));
                    }
                }
            }
            Op::Reply { id, reply, cut } => {
                let line = match reply {
                    Reply::Result => format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"n\":{id}}}}}\n"),
                    Reply::Error => {
                        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32000,\"message\":\"e\"}}}}\n")
                    }
                    Reply::StringId => format!("{{\"jsonrpc\":\"2.0\",\"id\":\"{id}\",\"result\":1}}\n"),
                };
                let (a, b) = line.as_bytes().split_at(usize::from(*cut) % line.len());
                self.client.handle_bytes(a);
                self.client.handle_bytes(b);
            }
            Op::NullIdError => self
                .client
                .handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n"),
            Op::Garbage(bytes) => {
                self.client.handle_bytes(bytes);
                self.client.handle_bytes(b"\n");
            }
            Op::PeerRequest => {
                let line = format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":\"srv-{}\",\"method\":\"tool/execute\",\"params\":{{}}}}\n",
                    self.peer_requests
                );
                self.peer_requests += 1;
                self.client.handle_bytes(line.as_bytes());
            }
            Op::Respond => {
                let id = self.incoming.pop().unwrap_or_else(|| IncomingId::from(0));
                let error = ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, "no");
                match self.client.respond(id, Err(error)) {
                    Ok(()) => prop_assert!(!self.closed),
                    Err(EncodeError::Closed) => prop_assert!(self.closed),
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
            Op::Timeout(secs) => self.client.handle_timeout(self.at(*secs)),
            Op::Eof => self.client.handle_eof(),
            Op::Close => self.client.close(),
        }
        Ok(())
    }

    /// Resolves `id` in the model; fails unless it was pending.
    fn resolve(&mut self, id: u64, why: &str) -> Result<(), TestCaseError> {
        let state = self.state(id);
        prop_assert!(
            matches!(state, Some(State::Pending(_))),
            "request {id} resolved ({why}) while {state:?}"
        );
        self.set(id, State::Resolved);
        Ok(())
    }

    /// Takes every queued event and checks it against the model and `step`.
    fn check_events(&mut self, step: &Op) -> Result<(), TestCaseError> {
        let was_closed = self.closed;
        let events: Vec<Event> = std::iter::from_fn(|| self.client.poll_event()).collect();
        if was_closed {
            prop_assert!(events.is_empty(), "events after Closed: {events:?}");
        }
        let mut responses = 0;
        let mut unmatched = 0;
        for (i, event) in events.iter().enumerate() {
            match event {
                Event::Response(r) => {
                    responses += 1;
                    self.check_response(r.id.get(), &r.result, step)?;
                }
                Event::Closed(reason) => {
                    let expected = if matches!(step, Op::Eof) {
                        CloseReason::Eof
                    } else {
                        CloseReason::Local
                    };
                    prop_assert!(matches!(step, Op::Eof | Op::Close), "closed after {step:?}");
                    prop_assert_eq!(reason, &expected);
                    prop_assert_eq!(i, events.len() - 1, "Closed is not last");
                    prop_assert_eq!(self.pending_model(), 0, "Closed with requests pending");
                    self.closed = true;
                }
                Event::Request(r) => {
                    prop_assert!(matches!(step, Op::PeerRequest));
                    self.incoming.push(r.id.clone());
                }
                Event::Diagnostic(Diagnostic::UnmatchedResponse { .. }) => unmatched += 1,
                Event::Diagnostic(Diagnostic::NullIdError(_)) => {
                    prop_assert!(matches!(step, Op::NullIdError))
                }
                Event::Diagnostic(_) => prop_assert!(matches!(step, Op::Garbage(_))),
                other => prop_assert!(false, "unexpected {other:?} after {step:?}"),
            }
        }
        match step {
            Op::Reply { .. } if !was_closed => {
                prop_assert_eq!(
                    responses + unmatched,
                    1,
                    "a reply gives one event: {:?}",
                    events
                );
            }
            Op::Timeout(secs) => {
                let now = self.at(*secs);
                let overdue = self
                    .requests
                    .iter()
                    .any(|r| matches!(r.1, State::Pending(Some(at)) if at <= now));
                prop_assert!(!overdue, "a request past its deadline is still pending");
            }
            Op::Eof | Op::Close => prop_assert!(self.closed),
            _ => {}
        }
        prop_assert_eq!(self.client.pending_len(), self.pending_model());
        prop_assert_eq!(self.client.is_closed(), self.closed);
        Ok(())
    }

    fn check_response(
        &mut self,
        id: u64,
        result: &Result<Box<RawValue>, CallError>,
        step: &Op,
    ) -> Result<(), TestCaseError> {
        match (result, step) {
            (
                Ok(raw),
                Op::Reply {
                    id: sent,
                    reply: Reply::Result,
                    ..
                },
            ) => {
                prop_assert_eq!(id, u64::from(*sent));
                prop_assert_eq!(raw.get(), format!("{{\"n\":{id}}}"));
                self.resolve(id, "result")
            }
            (
                Err(CallError::Rpc(e)),
                Op::Reply {
                    id: sent,
                    reply: Reply::Error,
                    ..
                },
            ) => {
                prop_assert_eq!(id, u64::from(*sent));
                prop_assert_eq!(e.code, ErrorCode(-32000));
                self.resolve(id, "error")
            }
            (Err(CallError::TimedOut), Op::Timeout(secs)) => {
                let now = self.at(*secs);
                let state = self.state(id);
                prop_assert!(
                    matches!(state, Some(State::Pending(Some(at))) if at <= now),
                    "request {id} timed out at +{secs}s while {state:?}"
                );
                self.resolve(id, "timeout")
            }
            (Err(CallError::Closed(_)), Op::Eof | Op::Close) => self.resolve(id, "closed"),
            (result, step) => {
                prop_assert!(
                    false,
                    "unexpected {result:?} for request {id} after {step:?}"
                );
                Ok(())
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_request_resolves_exactly_once(ops in prop::collection::vec(op(), 0..80)) {
        let mut h = Harness::new();
        for step in &ops {
            h.apply(step)?;
            h.check_events(step)?;
        }
        // Closing at the end resolves whatever is left: nothing is lost.
        h.apply(&Op::Close)?;
        h.check_events(&Op::Close)?;
        prop_assert!(h.closed);
        for (id, state) in &h.requests {
            prop_assert!(matches!(state, State::Resolved | State::Cancelled), "{id:?} ended {state:?}");
        }
        prop_assert_eq!(h.client.poll_timeout(), None);
    }
}
