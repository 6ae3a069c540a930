//! The `Connection` rules, one test per rule, plus property tests of the
//! routing invariants (DESIGN.md §3).
#![allow(clippy::needless_range_loop)] // Parallel per-session vectors read clearest by index.

use meerkat_proto::methods::{
    MobStreamOpen, MobStreamParams, SessionCreate, SessionIdParams, SessionList, SessionStreamOpen,
    TurnParams, TurnStart,
};
use meerkat_proto::{
    CallError, CloseReason, Connection, ConnectionConfig, ContractLine, Event, Output, RequestId,
    RequestOptions, SessionOptions, StreamEnd, StreamItem, TurnOptions, UsageError,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

// ---- helpers -------------------------------------------------------------

struct Peer {
    conn: Connection,
    now: Instant,
}

impl Peer {
    fn new() -> Self {
        Self::with(ConnectionConfig::default())
    }

    fn with(config: ConnectionConfig) -> Self {
        Self {
            conn: Connection::new(config),
            now: Instant::now(),
        }
    }

    /// A connection that went through the handshake with a 0.5.2 server.
    fn ready() -> Self {
        let mut p = Self::new();
        p.conn.start_handshake(None);
        p.sent();
        p.feed(&json!({"jsonrpc":"2.0","id":1,"result":{
            "contract_version":"0.5.2",
            "methods":["initialize","session/create","turn/start","mob/member_send","runtime/reset"],
            "server_info":{"name":"meerkat-rpc","version":"0.5.2"}}}));
        p.sent();
        p.feed(&json!({"jsonrpc":"2.0","id":2,"result":{"capabilities":[
            {"id":"sessions","description":"","status":"Available"}]}}));
        assert!(matches!(p.outputs().as_slice(), [Output::Ready(_)]));
        p
    }

    fn feed(&mut self, v: &Value) {
        let mut line = serde_json::to_vec(v).unwrap();
        line.push(b'\n');
        self.conn.handle_bytes(&line);
    }

    fn sent(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(t) = self.conn.poll_transmit() {
            out.push(serde_json::from_slice(t.json()).unwrap());
        }
        out
    }

    fn outputs(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(o) = self.conn.poll_output() {
            out.push(o);
        }
        out
    }

    fn opts(&self, stream: bool) -> RequestOptions {
        RequestOptions::new(self.now).stream(stream)
    }

    fn create(&mut self, prompt: &str, stream: bool) -> RequestId {
        let opts = self.opts(stream);
        self.conn
            .request::<SessionCreate>(&SessionOptions::new(prompt), opts)
            .unwrap()
    }

    fn turn(&mut self, session: &str, prompt: &str, stream: bool) -> RequestId {
        let opts = self.opts(stream);
        self.conn
            .request::<TurnStart>(
                &TurnParams::new(session, prompt, TurnOptions::default()),
                opts,
            )
            .unwrap()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        self.conn.handle_timeout(now);
    }

    /// Runs the driver's timer loop until nothing is due at `self.now`.
    fn settle(&mut self) {
        for _ in 0..4 {
            match self.conn.poll_timeout() {
                Some(at) if at <= self.now => {
                    let now = self.now;
                    self.conn.handle_timeout(now);
                }
                _ => break,
            }
        }
    }
}

fn event(session: &str, seq: u64, payload: Value) -> Value {
    json!({"jsonrpc":"2.0","method":"session/event","params":{"session_id":session,"event":{
        "event_id":format!("e{seq}"),"source_id":format!("session:{session}"),"seq":seq,
        "timestamp_ms":1,"payload":payload}}})
}

fn delta(session: &str, seq: u64, text: &str) -> Value {
    event(session, seq, json!({"type":"text_delta","delta":text}))
}

fn started(session: &str, seq: u64, prompt: &str) -> Value {
    event(
        session,
        seq,
        json!({"type":"run_started","session_id":session,"prompt":prompt}),
    )
}

fn completed(session: &str, seq: u64) -> Value {
    event(
        session,
        seq,
        json!({"type":"run_completed","session_id":session,"result":"ok","usage":{"input_tokens":1,"output_tokens":2}}),
    )
}

fn result(id: RequestId, session: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id.get(),"result":{"session_id":session,"text":"ok","turns":1,"tool_calls":0,
        "usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}})
}

/// The text deltas and terminal events of `id`'s stream items.
fn items_of(outputs: &[Output], id: RequestId) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::StreamItem { id: i, item } if *i == id => Some(match item {
                StreamItem::Event(e) => match &e.envelope().event {
                    Event::TextDelta { delta, .. } => delta.clone(),
                    other => other.event_type().to_owned(),
                },
                StreamItem::EventsLost {
                    expected_seq,
                    received_seq,
                } => format!("lost {expected_seq}..{received_seq}"),
                _ => "other".into(),
            }),
            _ => None,
        })
        .collect()
}

fn end_of(outputs: &[Output], id: RequestId) -> Option<&StreamEnd> {
    outputs.iter().find_map(|o| match o {
        Output::StreamEnd { id: i, end } if *i == id => Some(end),
        _ => None,
    })
}

/// 0.9.x structured output: `run_completed` says `extraction_required`,
/// the extraction call streams on, and `extraction_succeeded` ends the run
/// (probe-b.jsonl of the 0.9.8 fixtures). Its events stay on the turn.
#[test]
fn a_run_that_needs_extraction_ends_with_its_extraction_event() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "Give JSON", true);
    p.sent();
    p.feed(&started("s1", 1, "Give JSON"));
    p.feed(&event(
        "s1",
        2,
        json!({"type":"run_completed","session_id":"s1","result":"You said: Give JSON",
               "extraction_required":true,"usage":{"input_tokens":1,"output_tokens":1}}),
    ));
    p.feed(&delta("s1", 3, "{"));
    p.feed(&event(
        "s1",
        4,
        json!({"type":"extraction_succeeded","session_id":"s1","structured_output":{"city":"Paris"}}),
    ));
    p.feed(&result(id, "s1"));
    let outputs = p.outputs();
    assert_eq!(
        items_of(&outputs, id),
        ["run_started", "run_completed", "{", "extraction_succeeded"]
    );
    assert!(matches!(end_of(&outputs, id), Some(StreamEnd::Turn(Ok(_)))));
}

// ---- handshake -----------------------------------------------------------

#[test]
fn handshake_sends_initialize_initialized_and_capabilities() {
    let mut p = Peer::new();
    p.conn.start_handshake(None);
    let sent = p.sent();
    assert_eq!(sent[0]["method"], "initialize");
    assert_eq!(sent[0]["params"]["client_info"]["name"], "meerkat-rs");
    p.feed(&json!({"jsonrpc":"2.0","id":1,"result":{"contract_version":"0.5.0",
        "methods":["initialize","mob/send","mob/prefabs"],"server_info":{"name":"meerkat-rpc","version":"0.5.0"}}}));
    let sent = p.sent();
    assert_eq!(sent[0], json!({"jsonrpc":"2.0","method":"initialized"}));
    assert_eq!(sent[1]["method"], "capabilities/get");
    assert!(p.outputs().is_empty(), "not ready before capabilities");
    p.feed(&json!({"jsonrpc":"2.0","id":2,"result":{"capabilities":[
        {"id":"skills","description":"","status":{"DisabledByPolicy":{"description":"off"}}}]}}));
    let out = p.outputs();
    let [Output::Ready(info)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(info.version, "0.5.0");
    assert!(!info.has_capability("skills"));
    assert_eq!(p.conn.dialect().member_send_method(), "mob/send");
    assert!(p.conn.server().is_some());
}

#[test]
fn a_contract_of_another_line_closes_with_version_mismatch() {
    for version in ["1.0.0", "0.7.0", "0.4.0", "1.9.0"] {
        let mut p = Peer::new();
        p.conn.start_handshake(None);
        p.sent();
        p.feed(&json!({"jsonrpc":"2.0","id":1,"result":{"contract_version":version,"methods":[]}}));
        let out = p.outputs();
        let [Output::Closed(CloseReason::VersionMismatch { server, sdk })] = out.as_slice() else {
            panic!("{version}: {out:?}")
        };
        assert_eq!((server.as_str(), sdk.as_str()), (version, "0.5.x or 0.9.x"));
        assert!(p.conn.is_closed());
        assert!(p.conn.server().is_none());
        assert!(p.sent().is_empty(), "{version}: nothing after initialize");
    }
}

/// The `initialize` result of the real rkat-rpc 0.9.8.
fn initialize_098() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/rkat-rpc-0.9.8/initialize.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture present")).unwrap()
}

/// A connection after the handshake with the real 0.9.8 server.
fn ready_098() -> Peer {
    let mut p = Peer::new();
    p.conn.start_handshake(None);
    p.sent();
    p.feed(&json!({"jsonrpc":"2.0","id":1,"result":initialize_098()}));
    let sent = p.sent();
    assert_eq!(sent[0], json!({"jsonrpc":"2.0","method":"initialized"}));
    assert_eq!(sent[1]["method"], "capabilities/get");
    p.feed(
        &json!({"jsonrpc":"2.0","id":2,"result":{"contract_version":{"major":0,"minor":9,"patch":8},
        "capabilities":[{"id":"sessions","description":"","status":"Available"}]}}),
    );
    let out = p.outputs();
    let [Output::Ready(info)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(info.contract_version.to_string(), "0.9.8");
    p
}

#[test]
fn a_0_9_8_handshake_speaks_the_0_9_line() {
    let p = ready_098();
    let dialect = p.conn.dialect();
    assert_eq!(dialect.line(), ContractLine::V0_9);
    assert_eq!(dialect.member_send_method(), "mob/member_send");
    assert!(!dialect.has_method("runtime/reset"));
    assert!(p.conn.server().unwrap().has_capability("mob"));
}

#[test]
fn a_0_9_request_is_written_for_0_9_and_a_refused_one_sends_nothing() {
    let mut p = ready_098();
    let opts = p.opts(false);
    let _stream = p
        .conn
        .request::<MobStreamOpen>(&MobStreamParams::new("m", Some("w1".into())), opts)
        .unwrap();
    let sent = p.sent();
    assert_eq!(sent[0]["method"], "mob/stream_open");
    assert_eq!(
        sent[0]["params"],
        json!({"mob_id":"m","agent_identity":"w1"})
    );

    let legacy = TurnOptions::new().skill_references(vec!["legacy/skill".into()]);
    let err = p
        .conn
        .request::<TurnStart>(&TurnParams::new("s1", "hi", legacy), opts)
        .unwrap_err();
    assert!(
        matches!(&err, UsageError::Unsupported { method, reason }
            if method == "skill_references" && reason.starts_with("not on contract 0.9")),
        "{err:?}"
    );
    assert!(p.sent().is_empty(), "nothing sent for a refused request");
    assert!(p.outputs().is_empty());
}

#[test]
fn initialize_error_and_timeout_fail_the_handshake() {
    let mut p = Peer::new();
    p.conn.start_handshake(None);
    p.feed(&json!({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"boom"}}));
    assert!(matches!(
        p.outputs().as_slice(),
        [Output::Closed(CloseReason::Handshake(m))] if m.contains("boom")
    ));

    let mut p = Peer::new();
    let deadline = p.now + Duration::from_secs(5);
    p.conn.start_handshake(Some(deadline));
    assert_eq!(p.conn.poll_timeout(), Some(deadline));
    p.advance(Duration::from_secs(6));
    assert!(matches!(
        p.outputs().as_slice(),
        [Output::Closed(CloseReason::HandshakeTimedOut { method })] if method == "initialize"
    ));
}

#[test]
fn eof_during_handshake_reports_closed_once() {
    let mut p = Peer::new();
    p.conn.start_handshake(None);
    p.conn.handle_bytes(b"2026-11-25T00:00:00Z INFO starting\n");
    p.conn.handle_eof();
    let out = p.outputs();
    assert!(matches!(out[0], Output::Diagnostic(_)), "{out:?}");
    assert!(
        matches!(out[1..], [Output::Closed(CloseReason::Eof)]),
        "{out:?}"
    );
    p.conn.close();
    assert!(p.outputs().is_empty());
}

#[test]
fn capabilities_failure_still_gets_ready() {
    let mut p = Peer::new();
    p.conn.start_handshake(None);
    p.feed(&json!({"jsonrpc":"2.0","id":1,"result":{"contract_version":"0.5.2","methods":[]}}));
    p.feed(&json!({"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}));
    assert!(matches!(p.outputs().as_slice(), [Output::Ready(i)] if i.capabilities.is_empty()));
}

// ---- plain requests and server requests ----------------------------------

#[test]
fn plain_request_resolves_with_response() {
    let mut p = Peer::ready();
    let opts = p.opts(false);
    let id = p
        .conn
        .request::<SessionList>(&Default::default(), opts)
        .unwrap();
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"result":{"sessions":[]}}));
    assert!(
        matches!(p.outputs().as_slice(), [Output::Response { id: i, result: Ok(_) }] if *i == id)
    );
}

#[test]
fn tool_execute_becomes_a_tool_call_and_is_answered() {
    let mut p = Peer::ready();
    p.feed(
        &json!({"jsonrpc":"2.0","id":"srv-0","method":"tool/execute",
        "params":{"name":"search","arguments":{"q":"x"},"tool_use_id":"toolu_1"}}),
    );
    let out = p.outputs();
    let [Output::ToolCall(call)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        (call.name.as_str(), call.arguments["q"].as_str()),
        ("search", Some("x"))
    );
    p.conn.respond_tool(
        call.id.clone(),
        Ok(meerkat_proto::ToolOutput::text("found")),
    );
    p.conn
        .respond_tool(call.id.clone(), Err("handler panicked".into()));
    let sent = p.sent();
    assert_eq!(
        sent[0],
        json!({"jsonrpc":"2.0","id":"srv-0","result":{"content":"found","is_error":false}})
    );
    assert_eq!(sent[1]["result"]["is_error"], true);
    assert_eq!(sent[1]["result"]["content"], "handler panicked");
}

#[test]
fn other_server_requests_are_refused() {
    let mut p = Peer::ready();
    p.feed(&json!({"jsonrpc":"2.0","id":"srv-1","method":"sampling/create","params":{}}));
    assert!(p.outputs().is_empty());
    let sent = p.sent();
    assert_eq!(sent[0]["error"]["code"], -32601);
    assert_eq!(sent[0]["id"], "srv-1");
}

// ---- turn streams --------------------------------------------------------

#[test]
fn turn_stream_items_then_end_with_response() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "hi", true);
    p.feed(&started("s1", 1, "hi"));
    p.feed(&delta("s1", 2, "a"));
    p.feed(&delta("s1", 3, "b"));
    p.feed(&completed("s1", 4));
    p.feed(&result(id, "s1"));
    let out = p.outputs();
    assert_eq!(
        items_of(&out, id),
        ["run_started", "a", "b", "run_completed"]
    );
    assert!(matches!(end_of(&out, id), Some(StreamEnd::Turn(Ok(_)))));
    assert!(matches!(out.last(), Some(Output::StreamEnd { .. })));
}

#[test]
fn response_before_last_events_keeps_the_stream_open() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "hi", true);
    p.feed(&delta("s1", 1, "a"));
    p.feed(&result(id, "s1"));
    assert!(
        end_of(&p.outputs(), id).is_none(),
        "waits for run_completed"
    );
    p.settle();
    p.feed(&delta("s1", 2, "b"));
    p.feed(&completed("s1", 3));
    let out = p.outputs();
    assert_eq!(items_of(&out, id), ["b", "run_completed"]);
    assert!(matches!(end_of(&out, id), Some(StreamEnd::Turn(Ok(_)))));
    assert_eq!(p.conn.poll_timeout(), None);
}

#[test]
fn dropped_terminal_event_ends_the_stream_after_the_grace() {
    let grace = Duration::from_millis(100);
    let mut p = Peer::with(ConnectionConfig::default().turn_grace(grace));
    p.conn.start_handshake(None);
    p.feed(&json!({"jsonrpc":"2.0","id":1,"result":{"contract_version":"0.5.2","methods":[]}}));
    p.feed(&json!({"jsonrpc":"2.0","id":2,"result":{}}));
    p.outputs();
    let id = p.turn("s1", "hi", true);
    p.feed(&delta("s1", 1, "a"));
    p.feed(&result(id, "s1"));
    // The grace is armed from the driver's clock at the next timeout.
    let due = p.conn.poll_timeout().expect("grace pending");
    assert!(due <= p.now);
    p.settle();
    assert_eq!(p.conn.poll_timeout(), Some(p.now + grace));
    p.advance(Duration::from_millis(50));
    assert!(end_of(&p.outputs(), id).is_none());
    p.advance(Duration::from_millis(60));
    assert!(matches!(
        end_of(&p.outputs(), id),
        Some(StreamEnd::Turn(Ok(_)))
    ));
}

#[test]
fn failed_turn_ends_with_its_error_after_run_failed() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "hi", true);
    p.feed(&event(
        "s1",
        1,
        json!({"type":"run_failed","session_id":"s1","error":"boom"}),
    ));
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"error":{"code":-32603,"message":"turn abandoned: x"}}));
    let out = p.outputs();
    assert_eq!(items_of(&out, id), ["run_failed"]);
    assert!(matches!(
        end_of(&out, id),
        Some(StreamEnd::Turn(Err(CallError::Rpc(_))))
    ));
}

#[test]
fn non_streamed_turn_gets_a_response_and_absorbs_its_events() {
    let mut p = Peer::ready();
    let a = p.turn("s1", "one", false);
    let b = p.turn("s1", "two", true);
    p.feed(&started("s1", 1, "one"));
    p.feed(&completed("s1", 2));
    p.feed(&result(a, "s1"));
    p.feed(&started("s1", 3, "two"));
    p.feed(&completed("s1", 4));
    p.feed(&result(b, "s1"));
    let out = p.outputs();
    assert!(matches!(&out[0], Output::Response { id, result: Ok(_) } if *id == a));
    assert_eq!(items_of(&out, a), Vec::<String>::new());
    assert_eq!(items_of(&out, b), ["run_started", "run_completed"]);
}

#[test]
fn next_run_start_ends_a_turn_whose_terminal_event_was_lost() {
    let mut p = Peer::ready();
    let a = p.turn("s1", "one", true);
    let b = p.turn("s1", "two", true);
    p.feed(&started("s1", 1, "one"));
    p.feed(&result(a, "s1"));
    // run_completed (seq 2) dropped; the next run starts.
    p.feed(&started("s1", 3, "two"));
    let out = p.outputs();
    assert_eq!(items_of(&out, a), ["run_started"]);
    assert!(matches!(end_of(&out, a), Some(StreamEnd::Turn(Ok(_)))));
    assert_eq!(items_of(&out, b), ["lost 2..3", "run_started"]);
}

#[test]
fn seq_gap_is_reported_before_the_event_that_revealed_it() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "hi", true);
    p.feed(&delta("s1", 1, "a"));
    p.feed(&delta("s1", 5, "b"));
    p.feed(&delta("s1", 6, "c"));
    assert_eq!(items_of(&p.outputs(), id), ["a", "lost 2..5", "b", "c"]);
}

#[test]
fn events_of_other_sessions_never_leak_into_a_turn() {
    let mut p = Peer::ready();
    let id = p.turn("s1", "hi", true);
    p.feed(&delta("s2", 1, "x"));
    p.feed(&delta("s1", 1, "a"));
    assert_eq!(items_of(&p.outputs(), id), ["a"]);
}

// ---- creates -------------------------------------------------------------

#[test]
fn single_create_takes_events_before_its_session_is_known() {
    let mut p = Peer::ready();
    let id = p.create("hello", true);
    p.feed(&started("s9", 1, "hello"));
    p.feed(&delta("s9", 2, "hi"));
    p.feed(&completed("s9", 3));
    p.feed(&result(id, "s9"));
    let out = p.outputs();
    assert_eq!(items_of(&out, id), ["run_started", "hi", "run_completed"]);
    assert!(matches!(end_of(&out, id), Some(StreamEnd::Turn(Ok(_)))));
}

#[test]
fn concurrent_creates_bind_by_prompt() {
    let mut p = Peer::ready();
    let a = p.create("alpha", true);
    let b = p.create("beta", true);
    p.feed(&started("sb", 1, "beta"));
    p.feed(&started("sa", 1, "alpha"));
    p.feed(&delta("sa", 2, "A"));
    p.feed(&delta("sb", 2, "B"));
    p.feed(&completed("sa", 3));
    p.feed(&completed("sb", 3));
    p.feed(&result(b, "sb"));
    p.feed(&result(a, "sa"));
    let out = p.outputs();
    assert_eq!(items_of(&out, a), ["run_started", "A", "run_completed"]);
    assert_eq!(items_of(&out, b), ["run_started", "B", "run_completed"]);
}

#[test]
fn ambiguous_creates_buffer_until_a_response_names_the_session() {
    let mut p = Peer::ready();
    let a = p.create("same", true);
    let b = p.create("same", true);
    p.feed(&started("s2", 1, "same"));
    p.feed(&delta("s2", 2, "two"));
    p.feed(&started("s1", 1, "same"));
    p.feed(&delta("s1", 2, "one"));
    assert!(p.outputs().is_empty(), "nothing routed while ambiguous");
    p.feed(&completed("s1", 3));
    p.feed(&result(a, "s1"));
    // a is bound to s1; b is the only create left, so s2 binds to it.
    p.feed(&completed("s2", 3));
    p.feed(&result(b, "s2"));
    let out = p.outputs();
    assert_eq!(items_of(&out, a), ["run_started", "one", "run_completed"]);
    assert_eq!(items_of(&out, b), ["run_started", "two", "run_completed"]);
}

#[test]
fn unbound_buffer_is_bounded_and_reports_the_loss() {
    let mut p = Peer::with(ConnectionConfig::default().max_unbound_events(4));
    let a = p.create("same", true);
    let b = p.create("same", true);
    p.feed(&started("s1", 1, "same"));
    for seq in 2..10 {
        p.feed(&delta("s1", seq, "x"));
    }
    p.feed(&completed("s1", 10));
    p.feed(&result(a, "s1"));
    p.feed(&result(b, "s2"));
    // b's session sent nothing: it ends after the grace.
    p.settle();
    p.advance(Duration::from_secs(1));
    let out = p.outputs();
    let items = items_of(&out, a);
    assert!(items.len() <= 6, "{items:?}");
    assert!(items.iter().any(|i| i.starts_with("lost")), "{items:?}");
    assert!(end_of(&out, a).is_some());
    assert!(end_of(&out, b).is_some());
}

#[test]
fn create_error_ends_its_stream_at_once() {
    let mut p = Peer::ready();
    let id = p.create("x", true);
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"error":{"code":-32602,"message":"bad model"}}));
    assert!(matches!(
        end_of(&p.outputs(), id),
        Some(StreamEnd::Turn(Err(CallError::Rpc(e)))) if e.message == "bad model"
    ));
}

// ---- subscriptions -------------------------------------------------------

fn stream_event(stream: &str, seq: u64, text: &str) -> Value {
    json!({"jsonrpc":"2.0","method":"session/stream_event","params":{"stream_id":stream,"sequence":seq,
        "session_id":"s1","event":{"event_id":"e","source_id":"session:s1","seq":seq,"timestamp_ms":1,
        "payload":{"type":"text_delta","delta":text}}}})
}

#[test]
fn subscription_buffers_events_until_the_open_result() {
    let mut p = Peer::ready();
    let opts = p.opts(false);
    let id = p
        .conn
        .request::<SessionStreamOpen>(&SessionIdParams::new("s1"), opts)
        .unwrap();
    p.feed(&stream_event("st", 1, "early"));
    assert!(p.outputs().is_empty());
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"result":{"stream_id":"st","session_id":"s1","opened":true}}));
    p.feed(&stream_event("st", 2, "late"));
    p.feed(&json!({"jsonrpc":"2.0","method":"session/stream_end","params":{"stream_id":"st","outcome":"remote_end"}}));
    let out = p.outputs();
    assert!(matches!(&out[0], Output::Response { result: Ok(_), .. }));
    assert_eq!(items_of(&out, id), ["early", "late"]);
    assert!(matches!(
        end_of(&out, id),
        Some(StreamEnd::Subscription { outcome, .. }) if outcome == "remote_end"
    ));
}

#[test]
fn subscription_open_without_stream_id_ends_at_once() {
    let mut p = Peer::ready();
    let opts = p.opts(false);
    let id = p
        .conn
        .request::<SessionStreamOpen>(&SessionIdParams::new("s1"), opts)
        .unwrap();
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"result":{"opened":true}}));
    assert!(matches!(
        end_of(&p.outputs(), id),
        Some(StreamEnd::Subscription { outcome, .. }) if outcome == "invalid_open_response"
    ));
}

#[test]
fn cancelled_subscription_reports_nothing_more() {
    let mut p = Peer::ready();
    let opts = p.opts(false);
    let id = p
        .conn
        .request::<SessionStreamOpen>(&SessionIdParams::new("s1"), opts)
        .unwrap();
    p.feed(&json!({"jsonrpc":"2.0","id":id.get(),"result":{"stream_id":"st","opened":true}}));
    p.outputs();
    assert!(p.conn.cancel(id));
    p.feed(&stream_event("st", 1, "x"));
    p.feed(&json!({"jsonrpc":"2.0","method":"session/stream_end","params":{"stream_id":"st","outcome":"explicit_close"}}));
    assert!(p.outputs().is_empty());
}

// ---- cancel and close ----------------------------------------------------

#[test]
fn cancelled_turn_absorbs_its_events_then_frees_the_session() {
    let mut p = Peer::ready();
    let a = p.turn("s1", "one", true);
    p.feed(&delta("s1", 1, "a"));
    p.outputs();
    assert!(p.conn.cancel(a));
    p.feed(&delta("s1", 2, "still a"));
    let b = p.turn("s1", "two", true);
    p.feed(&completed("s1", 3));
    p.feed(&result(a, "s1"));
    p.feed(&delta("s1", 4, "b"));
    let out = p.outputs();
    assert!(!out.iter().any(|o| matches!(o, Output::StreamItem { id, .. } | Output::StreamEnd { id, .. } if *id == a)), "{out:?}");
    assert!(
        matches!(out.as_slice(), [Output::Diagnostic(_), ..]),
        "late answer: {out:?}"
    );
    assert_eq!(items_of(&out, b), ["b"]);
}

#[test]
fn close_resolves_everything_then_reports_closed_once() {
    let mut p = Peer::ready();
    let plain = p
        .conn
        .request::<SessionList>(&Default::default(), RequestOptions::new(p.now))
        .unwrap();
    let turn = p.turn("s1", "x", true);
    let responded = p.turn("s2", "y", true);
    p.feed(&result(responded, "s2"));
    let opts = p.opts(false);
    let sub = p
        .conn
        .request::<SessionStreamOpen>(&SessionIdParams::new("s1"), opts)
        .unwrap();
    p.feed(&json!({"jsonrpc":"2.0","id":sub.get(),"result":{"stream_id":"st","opened":true}}));
    p.outputs();
    p.conn.handle_eof();
    let out = p.outputs();
    assert!(
        matches!(&out[0], Output::Response { id, result: Err(CallError::Closed(CloseReason::Eof)) } if *id == plain)
    );
    assert!(matches!(
        end_of(&out, turn),
        Some(StreamEnd::Closed(CloseReason::Eof))
    ));
    assert!(matches!(
        end_of(&out, responded),
        Some(StreamEnd::Turn(Ok(_)))
    ));
    assert!(matches!(end_of(&out, sub), Some(StreamEnd::Closed(_))));
    assert!(matches!(out.last(), Some(Output::Closed(CloseReason::Eof))));
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Closed(_)))
            .count(),
        1
    );
    assert!(
        p.conn
            .request::<SessionList>(&Default::default(), RequestOptions::new(p.now))
            .is_err()
    );
}

// ---- properties ----------------------------------------------------------

/// A scripted server: `n` sessions, each with a streamed turn or create, the
/// events of all sessions interleaved by `order`, responses at `resp_at`.
#[derive(Debug, Clone)]
struct Script {
    creates: Vec<bool>,
    events_per: Vec<u8>,
    order: Vec<u8>,
    resp_early: Vec<bool>,
    chunk: usize,
}

fn script() -> impl Strategy<Value = Script> {
    (1usize..8).prop_flat_map(|n| {
        (
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(1u8..6, n),
            prop::collection::vec(any::<u8>(), 0..80),
            prop::collection::vec(any::<bool>(), n),
            1usize..200,
        )
            .prop_map(|(creates, events_per, order, resp_early, chunk)| Script {
                creates,
                events_per,
                order,
                resp_early,
                chunk,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every stream gets exactly its own session's events, in order, then
    /// exactly one end; whatever the interleaving, chunking and whether the
    /// response comes before the last events.
    #[test]
    fn every_stream_gets_exactly_its_own_events(s in script()) {
        let mut p = Peer::ready();
        let n = s.creates.len();
        let mut ids = Vec::new();
        for i in 0..n {
            let sid = format!("s{i}");
            let prompt = format!("prompt {i}");
            ids.push(if s.creates[i] { p.create(&prompt, true) } else { p.turn(&sid, &prompt, true) });
        }
        // Per session: run_started, deltas, run_completed.
        let mut queues: Vec<Vec<Value>> = (0..n).map(|i| {
            let sid = format!("s{i}");
            let mut v = vec![started(&sid, 1, &format!("prompt {i}"))];
            for k in 0..s.events_per[i] { v.push(delta(&sid, 2 + u64::from(k), &format!("{i}:{k}"))); }
            v.push(completed(&sid, 2 + u64::from(s.events_per[i])));
            v
        }).collect();
        let mut bytes = Vec::new();
        let mut responded = vec![false; n];
        let mut pos = vec![0usize; n];
        let mut pick = s.order.iter().copied().cycle();
        let mut remaining: usize = queues.iter().map(Vec::len).sum();
        while remaining > 0 {
            let mut i = usize::from(pick.next().unwrap_or(0)) % n;
            while pos[i] >= queues[i].len() { i = (i + 1) % n; }
            // Creates' sessions: respond early only after run_started went out.
            if s.resp_early[i] && !responded[i] && pos[i] + 1 == queues[i].len() && pos[i] > 0 {
                let mut l = serde_json::to_vec(&result(ids[i], &format!("s{i}"))).unwrap();
                l.push(b'\n');
                bytes.extend(l);
                responded[i] = true;
            }
            let mut l = serde_json::to_vec(&queues[i][pos[i]]).unwrap();
            l.push(b'\n');
            bytes.extend(l);
            pos[i] += 1;
            remaining -= 1;
        }
        for i in 0..n {
            if !responded[i] {
                let mut l = serde_json::to_vec(&result(ids[i], &format!("s{i}"))).unwrap();
                l.push(b'\n');
                bytes.extend(l);
            }
        }
        queues.clear();
        for c in bytes.chunks(s.chunk) { p.conn.handle_bytes(c); }
        p.settle();
        let out = p.outputs();
        for i in 0..n {
            let mut expect = vec!["run_started".to_owned()];
            for k in 0..s.events_per[i] { expect.push(format!("{i}:{k}")); }
            expect.push("run_completed".into());
            prop_assert_eq!(items_of(&out, ids[i]), expect, "stream {}", i);
            let ends = out.iter().filter(|o| matches!(o, Output::StreamEnd { id, .. } if *id == ids[i])).count();
            prop_assert_eq!(ends, 1);
            prop_assert!(matches!(end_of(&out, ids[i]), Some(StreamEnd::Turn(Ok(_)))));
        }
        // Nothing reported for an id after its end.
        let mut ended: HashMap<RequestId, bool> = HashMap::new();
        for o in &out {
            match o {
                Output::StreamItem { id, .. } => prop_assert!(!ended.contains_key(id)),
                Output::StreamEnd { id, .. } => { prop_assert!(ended.insert(*id, true).is_none()); }
                _ => {}
            }
        }
    }

    /// Any operation sequence resolves every request exactly once by close.
    #[test]
    fn every_request_resolves_exactly_once(ops in prop::collection::vec(0u8..6, 0..60)) {
        let mut p = Peer::ready();
        let mut open: Vec<RequestId> = Vec::new();
        let mut cancelled = Vec::new();
        let mut out = Vec::new();
        for (k, op) in ops.iter().enumerate() {
            out.extend(p.outputs());
            match op {
                0 => open.push(p.create(&format!("p{k}"), k % 2 == 0)),
                1 => open.push(p.turn(&format!("s{}", k % 3), "x", k % 2 == 0)),
                2 => { let o = p.opts(false); open.push(p.conn.request::<SessionList>(&Default::default(), o).unwrap()); }
                3 => if let Some(id) = open.first().copied() { p.feed(&result(id, &format!("s{}", k % 3))); },
                4 => if let Some(id) = open.pop() {
                    let done = out.iter().any(|o| matches!(o, Output::Response { id: i, .. } | Output::StreamEnd { id: i, .. } if *i == id));
                    p.conn.cancel(id);
                    if done { open.push(id) } else { cancelled.push(id) }
                },
                _ => p.feed(&delta(&format!("s{}", k % 3), k as u64, "d")),
            }
        }
        p.advance(Duration::from_secs(1));
        p.settle();
        p.conn.close();
        out.extend(p.outputs());
        let mut finals: HashMap<RequestId, usize> = HashMap::new();
        for o in &out {
            if let Output::Response { id, .. } | Output::StreamEnd { id, .. } = o {
                *finals.entry(*id).or_default() += 1;
            }
        }
        for id in open.iter().filter(|id| !cancelled.contains(id)) {
            prop_assert_eq!(finals.get(id).copied(), Some(1), "request {:?}", id);
        }
        for id in &cancelled { prop_assert!(!finals.contains_key(id)); }
        prop_assert!(matches!(out.last(), Some(Output::Closed(_))));
    }
}
