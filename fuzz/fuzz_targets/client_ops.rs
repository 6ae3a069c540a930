//! Arbitrary sequences of commands and inputs into `rpc::Client`; after each
//! step, every request has resolved at most once, never after `cancel`, and
//! `Event::Closed` came at most once, last, with nothing pending.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use meerkat_proto::rpc::{CallError, Client, Config, ErrorCode, ErrorObject, Event, IncomingId};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Arbitrary)]
enum Op {
    Send {
        deadline: Option<u8>,
    },
    Cancel(u8),
    SetDeadline(u8, u8),
    /// Raw bytes from the peer.
    Bytes(Vec<u8>),
    /// A well-formed response of the peer for id `id`, cut in two.
    Reply {
        id: u8,
        error: bool,
        string_id: bool,
        cut: u8,
    },
    /// Our answer to a peer request.
    Respond {
        id: Option<i64>,
        error: bool,
    },
    Eof,
    Timeout(u8),
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending(Option<Instant>),
    Resolved,
    Cancelled,
}

fuzz_target!(|ops: Vec<Op>| {
    let t0 = Instant::now();
    let at = |s: u8| t0 + Duration::from_secs(u64::from(s));
    let mut client = Client::new(Config::default().max_frame_len(512).max_pending(64));
    let mut ids = Vec::new();
    let mut states: BTreeMap<u64, State> = BTreeMap::new();
    let mut closed = false;
    for op in ops.iter().chain([&Op::Close]) {
        let mut now = None;
        match op {
            Op::Send { deadline } => {
                if let Ok(id) = client.send_request("m", None, deadline.map(at)) {
                    assert!(!closed);
                    ids.push(id);
                    assert!(
                        states
                            .insert(id.get(), State::Pending(deadline.map(at)))
                            .is_none()
                    );
                }
            }
            Op::Cancel(i) => {
                if let Some(&id) = ids.get(usize::from(*i) % ids.len().max(1)) {
                    let was = states[&id.get()];
                    assert_eq!(client.cancel(id), matches!(was, State::Pending(_)));
                    if matches!(was, State::Pending(_)) {
                        states.insert(id.get(), State::Cancelled);
                    }
                }
            }
            Op::SetDeadline(i, s) => {
                if let Some(&id) = ids.get(usize::from(*i) % ids.len().max(1)) {
                    let was = states[&id.get()];
                    assert_eq!(
                        client.set_deadline(id, at(*s)),
                        matches!(was, State::Pending(_))
                    );
                    if matches!(was, State::Pending(_)) {
                        states.insert(id.get(), State::Pending(Some(at(*s))));
                    }
                }
            }
            Op::Bytes(bytes) => client.handle_bytes(bytes),
            Op::Reply {
                id,
                error,
                string_id,
                cut,
            } => {
                let id = if *string_id {
                    format!("\"{id}\"")
                } else {
                    id.to_string()
                };
                let body = if *error {
                    r#""error":{"code":-32000,"message":"e"}"#
                } else {
                    r#""result":{"ok":true}"#
                };
                let line = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},{body}}}\n");
                let (a, b) = line.as_bytes().split_at(usize::from(*cut) % line.len());
                client.handle_bytes(a);
                client.handle_bytes(b);
            }
            Op::Respond { id, error } => {
                let id = id.map_or_else(|| IncomingId::from("srv-0"), IncomingId::from);
                let result = if *error {
                    Err(ErrorObject::new(ErrorCode::INTERNAL_ERROR, "e"))
                } else {
                    Ok(serde_json_raw("{}"))
                };
                assert_eq!(client.respond(id, result).is_err(), closed);
            }
            Op::Eof => client.handle_eof(),
            Op::Timeout(s) => {
                now = Some(at(*s));
                client.handle_timeout(at(*s));
            }
            Op::Close => client.close(),
        }
        while client.poll_transmit().is_some() {}
        let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
        if closed {
            assert!(events.is_empty(), "events after Closed: {events:?}");
        }
        for (i, event) in events.iter().enumerate() {
            match event {
                Event::Response(r) => {
                    let state = states
                        .get_mut(&r.id.get())
                        .expect("a response for an id we sent");
                    let State::Pending(deadline) = *state else {
                        panic!("request {} resolved while {state:?}: {r:?}", r.id);
                    };
                    if matches!(r.result, Err(CallError::TimedOut)) {
                        let now = now.expect("TimedOut only from handle_timeout");
                        assert!(deadline.is_some_and(|d| d <= now), "timed out early");
                    }
                    *state = State::Resolved;
                }
                Event::Closed(_) => {
                    assert_eq!(i, events.len() - 1, "Closed is not last");
                    closed = true;
                }
                _ => {}
            }
        }
        if let Some(now) = now {
            let overdue = states
                .values()
                .any(|s| matches!(s, State::Pending(Some(d)) if *d <= now));
            assert!(!overdue, "a request past its deadline is still pending");
        }
        let pending = states
            .values()
            .filter(|s| matches!(s, State::Pending(_)))
            .count();
        assert_eq!(client.pending_len(), pending);
        assert_eq!(client.is_closed(), closed);
        if closed {
            assert_eq!(pending, 0);
            assert_eq!(client.poll_timeout(), None);
        }
    }
    assert!(closed);
});

fn serde_json_raw(json: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(json.to_owned()).expect("valid JSON")
}
