//! The rules of the SDK [`Engine`], one test per behaviour, driven sans-IO
//! (STYLE.md lesson 12): a scripted server reads the client's JSON lines
//! and answers with JSON lines, time is `t0 + Duration` passed in (no
//! sleeps, no threads), and a counting [`Waker`] tells exactly when a
//! waiting consumer is woken.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use meerkat_proto::sdk::{
    Call, Decoder, DiagnosticKind, EXIT_GRACE, End, Engine, EngineConfig, ExitInfo, ExitWatch,
    INTERRUPT_PAUSE, INTERRUPT_TRIES, Ingest, MAX_PAGED_ITEMS, Next, RESET_PAUSE, RESET_TRIES,
    STREAM_BATCH, Subscription, TimerStep, ops,
};
use meerkat_proto::{
    ConnectOptions, ContractLine, Error, Event, HandlingMode, RequestId, StreamOpened, ToolCall,
    ToolDef, ToolOutput, TurnOptions,
};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};

// ---- the scripted server ---------------------------------------------------

/// What the server advertises at `initialize`.
#[derive(Debug, Clone, Copy)]
enum Server {
    /// A 0.5.x server: it keeps a failed or interrupted input queued and
    /// offers `runtime/reset`.
    WithReset,
    /// A server without `runtime/reset` (as the 0.9 line, which does not
    /// replay a failed input).
    WithoutReset,
}

impl Server {
    fn methods(self) -> Vec<&'static str> {
        let mut methods = vec![
            "initialize",
            "initialized",
            "capabilities/get",
            "session/list",
            "session/create",
            "turn/start",
            "turn/interrupt",
            "session/stream_open",
            "session/stream_close",
            "tools/register",
        ];
        if let Self::WithReset = self {
            methods.push("runtime/reset");
        }
        methods
    }
}

/// The message of a failed run on 0.5.x (PROTOCOL.md §6.2, from the
/// fixtures).
const ABANDONED: &str = "turn abandoned: apply failed: Apply failed: agent error: \
                         LLM error (anthropic): Server overloaded (503)";

/// The answer to `runtime/reset` while the runtime still runs.
const NOT_READY: &str = "Runtime not ready: running";

/// The tool handlers of these tests are names.
type Handler = &'static str;

/// A waker that counts its wakeups.
struct Wakes {
    count: Arc<Counter>,
    waker: Waker,
}

#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Wakes {
    fn new() -> Self {
        let count = Arc::new(Counter::default());
        let waker = Waker::from(Arc::clone(&count));
        Self { count, waker }
    }

    fn count(&self) -> usize {
        self.count.0.load(Ordering::SeqCst)
    }
}

/// The engine driven as a transport drives it, facing a scripted server,
/// on a virtual clock.
struct Pair {
    engine: Engine<Handler>,
    /// The server's output goes through the reader's path, as in the
    /// transports: framed and scanned, then routed.
    ingest: Ingest,
    now: Instant,
    /// What the client wrote that the test has not looked at yet.
    sent: VecDeque<Value>,
    /// Tool calls handed out by `Effects`, with their handler.
    tool_calls: Vec<(ToolCall, Handler)>,
    /// What the last `Effects` said about the connection.
    closed: bool,
    /// When the transport's timer fires (re-armed as `Effects` says).
    timer: Option<Instant>,
}

impl Pair {
    /// An engine whose `initialize` is on the wire.
    fn new(options: &ConnectOptions) -> Self {
        let now = Instant::now();
        let engine = Engine::new(EngineConfig::from_options(options), now);
        let mut pair = Self {
            ingest: engine.ingest(),
            engine,
            now,
            sent: VecDeque::new(),
            tool_calls: Vec::new(),
            closed: false,
            timer: None,
        };
        pair.settle();
        pair
    }

    /// An engine after the handshake with a 0.5.2 `server`.
    fn ready(server: Server) -> Self {
        Self::ready_with(&ConnectOptions::new(), server)
    }

    fn ready_with(options: &ConnectOptions, server: Server) -> Self {
        let mut pair = Self::new(options);
        pair.answer_initialize("0.5.2", &server.methods());
        assert_eq!(pair.expect("initialized").get("id"), None);
        let caps = pair.expect("capabilities/get");
        pair.ok(
            &caps,
            json!({"contract_version":{"major":0,"minor":5,"patch":2},"capabilities":[
                {"id":"sessions","description":"Agent loop and session lifecycle","status":"Available"},
                {"id":"streaming","description":"Event streaming","status":"Available"},
                {"id":"skills","description":"Skills","status":{"DisabledByPolicy":{"description":"off"}}}]}),
        );
        assert!(matches!(
            pair.engine.poll_ready(Waker::noop()),
            Poll::Ready(Ok(_))
        ));
        pair.nothing_sent();
        pair
    }

    fn answer_initialize(&mut self, contract: &str, methods: &[&str]) {
        let init = self.expect("initialize");
        self.ok(
            &init,
            json!({"server_info":{"name":"meerkat-rpc","version":contract},
                "contract_version":contract,"methods":methods}),
        );
    }

    /// What a transport does after touching the engine: wake the
    /// consumers, take the tool calls, hand the output to the writer.
    fn settle(&mut self) {
        let mut effects = self.engine.effects();
        self.tool_calls.append(&mut effects.tool_calls);
        self.closed = effects.closed;
        if effects.rearm_timer {
            self.timer = self.engine.arm_timer();
        }
        effects.wake_all();
        let out = self.engine.take_output();
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let msg = serde_json::from_slice(line).expect("the client writes JSON lines");
            self.sent.push_back(msg);
        }
    }

    /// The server writes `msg` (one line) now.
    fn feed(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        self.feed_raw(&line);
    }

    fn feed_raw(&mut self, bytes: &[u8]) {
        let batch = self.ingest.feed(bytes);
        self.engine.handle_ingested(batch, self.now);
        self.settle();
    }

    /// The server answers request `req` with `result`.
    fn ok(&mut self, req: &Value, result: Value) {
        self.feed(&json!({"jsonrpc":"2.0","id":req["id"],"result":result}));
    }

    /// The server answers request `req` with an error.
    fn fail(&mut self, req: &Value, code: i64, message: &str) {
        self.feed(&json!({"jsonrpc":"2.0","id":req["id"],"error":{"code":code,"message":message}}));
    }

    /// The run of turn `req` fails, as on 0.5.x: `run_failed`, then the
    /// turn's -32603.
    fn fail_turn(&mut self, req: &Value, seq: u64) {
        let session = req["params"]["session_id"].as_str().unwrap().to_owned();
        self.feed(&failed(&session, seq));
        self.fail(req, -32603, ABANDONED);
    }

    /// The next frame the client wrote, which must be of `method`.
    fn expect(&mut self, method: &str) -> Value {
        let msg = self
            .sent
            .pop_front()
            .unwrap_or_else(|| panic!("expected {method}; the client wrote nothing"));
        assert_eq!(msg["method"], method, "{msg}");
        msg
    }

    /// The next frame the client wrote, if any (it must be `method`).
    fn sent_now(&mut self, method: &str) -> Option<Value> {
        let msg = self.sent.pop_front()?;
        assert_eq!(msg["method"], method, "{msg}");
        Some(msg)
    }

    fn nothing_sent(&self) {
        assert!(self.sent.is_empty(), "unexpected frames: {:?}", self.sent);
    }

    /// The clock moves to `at` and the transport's timer fires.
    fn at(&mut self, at: Instant) {
        self.now = at;
        self.timer = None;
        self.engine.handle_timeout(at);
        self.settle();
    }

    fn advance(&mut self, by: Duration) {
        self.at(self.now + by);
    }

    /// One look of the exit watch at `at`; whether to keep watching.
    fn exit_tick(&mut self, at: Instant, exited: Option<&ExitInfo>) -> bool {
        self.now = at;
        let watching = self
            .engine
            .exit_tick(self.now, exited.and_then(|e| e.exit_status.clone()));
        self.settle();
        watching
    }

    fn start<T: 'static>(&mut self, call: Call<T>) -> (RequestId, Decoder<T>) {
        let started = self.engine.start(call, self.now).expect("the call starts");
        self.settle();
        started
    }

    fn poll(&mut self, id: RequestId, wakes: &Wakes) -> Poll<Result<Box<RawValue>, Error>> {
        self.engine.poll_call(id, &wakes.waker)
    }

    /// The answer of `id`, which must have come.
    fn answer<T>(&mut self, id: RequestId, wakes: &Wakes, decoder: Decoder<T>) -> Result<T, Error> {
        match self.poll(id, wakes) {
            Poll::Ready(raw) => decoder.decode(raw, self.engine.dialect()),
            Poll::Pending => panic!("call {id:?} still waits"),
        }
    }

    /// Everything stream `id` hands out now, described (see [`show`]).
    fn drain(&mut self, id: RequestId, wakes: &Wakes) -> Vec<String> {
        let mut items = Vec::new();
        while let Poll::Ready(Some(next)) = self.engine.poll_stream(id, &wakes.waker) {
            items.push(show(&next));
        }
        items
    }

    /// How many calls and streams the engine still keeps. The engine has
    /// no counters; its `Debug` shows both.
    fn kept(&self) -> (usize, usize) {
        let debug = format!("{:?}", self.engine);
        let field = |name: &str| -> usize {
            debug
                .split(&format!("{name}: "))
                .nth(1)
                .and_then(|rest| rest.split([',', ' ']).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {debug}"))
        };
        (field("calls"), field("streams"))
    }
}

// ---- what the server says ----------------------------------------------------

fn event(session: &str, seq: u64, payload: Value) -> Value {
    json!({"jsonrpc":"2.0","method":"session/event","params":{"session_id":session,"event":{
        "event_id":format!("e{seq}"),"source_id":format!("session:{session}"),"seq":seq,
        "timestamp_ms":1,"payload":payload}}})
}

fn started(session: &str, seq: u64) -> Value {
    event(
        session,
        seq,
        json!({"type":"run_started","session_id":session,"prompt":"hi"}),
    )
}

fn delta(session: &str, seq: u64, text: &str) -> Value {
    event(session, seq, json!({"type":"text_delta","delta":text}))
}

fn completed(session: &str, seq: u64) -> Value {
    event(
        session,
        seq,
        json!({"type":"run_completed","session_id":session,"result":"ok",
            "usage":{"input_tokens":1,"output_tokens":2}}),
    )
}

fn failed(session: &str, seq: u64) -> Value {
    event(
        session,
        seq,
        json!({"type":"run_failed","session_id":session,"error":"LLM error (anthropic): Server overloaded (503)"}),
    )
}

fn run_result(session: &str) -> Value {
    json!({"session_id":session,"text":"ok","turns":1,"tool_calls":0,
        "usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}})
}

fn stream_event(stream: &str, sequence: u64, text: &str) -> Value {
    json!({"jsonrpc":"2.0","method":"session/stream_event","params":{"stream_id":stream,
        "sequence":sequence,"session_id":"s1","event":{"event_id":format!("x{sequence}"),
        "source_id":"session:s1","seq":sequence,"timestamp_ms":1,
        "payload":{"type":"text_delta","delta":text}}}})
}

fn tool_execute(srv_id: &str, name: &str) -> Value {
    json!({"jsonrpc":"2.0","id":srv_id,"method":"tool/execute",
        "params":{"arguments":{"q":"meerkat"},"name":name,"tool_use_id":"toolu_1"}})
}

fn turn(session: &str) -> Call<meerkat_proto::RunResult> {
    ops::turn(session, "hi".into(), TurnOptions::default())
}

/// A stream item, described: a delta's text, another event's type, a
/// signal, or the end.
fn show(next: &Next) -> String {
    match next {
        Next::Event(e) => match e.envelope().event {
            Event::TextDelta { delta, .. } => delta,
            other => other.event_type().to_owned(),
        },
        Next::Signal(Event::Lagged { dropped }) => format!("lagged {dropped}"),
        Next::Signal(Event::EventsLost { missing }) => format!("lost {missing}"),
        Next::Signal(other) => other.event_type().to_owned(),
        Next::End(End::Turn(Ok(_))) => "end".into(),
        Next::End(End::Turn(Err(e))) => format!("end {}", e.code()),
        Next::End(End::Subscription { outcome, .. }) => format!("end {outcome}"),
        Next::End(other) => format!("end {other:?}"),
        other => format!("{other:?}"),
    }
}

fn rpc_code(err: &Error) -> i64 {
    match err {
        Error::Rpc(e) => i64::from(e.code.0),
        other => panic!("not a server error: {other:?}"),
    }
}

// ---- calls -------------------------------------------------------------------

#[test]
fn a_call_is_answered_decoded_and_woken_exactly_then() {
    let mut p = Pair::ready(Server::WithReset);
    let (list, decoder) = p.start(ops::list_sessions());
    let list_req = p.expect("session/list");
    let (other, _) = p.start(ops::list_sessions());
    let other_req = p.expect("session/list");
    let (w, w_other) = (Wakes::new(), Wakes::new());
    assert!(p.poll(list, &w).is_pending());
    assert!(
        p.poll(list, &w).is_pending(),
        "polling again changes nothing"
    );
    assert!(p.poll(other, &w_other).is_pending());

    // Neither a log line nor another call's answer wakes it.
    p.feed_raw(b"2026-11-25T00:00:00Z ERROR keep-alive turn failed\n");
    p.ok(&other_req, json!({"sessions":[]}));
    assert_eq!((w.count(), w_other.count()), (0, 1));

    p.ok(
        &list_req,
        json!({"sessions":[{"session_id":"s1","created_at":1,"updated_at":2,
            "message_count":3,"total_tokens":4,"is_active":false}]}),
    );
    assert_eq!(w.count(), 1, "woken once, when its answer came");
    let sessions = p.answer(list, &w, decoder).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].session_id, "s1");
    assert_eq!(w.count(), 1);
    assert_eq!(p.kept(), (1, 0), "only the untaken answer is kept");
}

#[test]
fn a_cancelled_plain_call_is_forgotten_at_once() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, _decoder) = p.start(ops::list_sessions());
    let req = p.expect("session/list");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    let deadline = p.now + ConnectOptions::new().request_timeout;
    assert_eq!(p.engine.poll_timeout(), Some(deadline));

    p.engine.cancel_call(id);
    p.settle();
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
    assert_eq!(p.engine.poll_timeout(), None, "its deadline went with it");

    // A late answer, or its old deadline, resolves nothing and wakes no one.
    p.ok(&req, json!({"sessions":[]}));
    p.at(deadline);
    assert_eq!(w.count(), 0);
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
}

// ---- the runtime reset -------------------------------------------------------

#[test]
fn a_failed_turn_is_reset_before_its_error_is_released() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());

    p.fail_turn(&req, 1);
    let reset = p.expect("runtime/reset");
    assert_eq!(reset["params"], json!({"session_id":"s1"}));
    assert_eq!(w.count(), 0);
    assert!(p.poll(id, &w).is_pending(), "the error is held");

    p.ok(&reset, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 1, "woken when the reset is answered");
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert_eq!(rpc_code(&err), -32603);
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn a_timed_out_turn_is_reset_before_its_timeout_is_released() {
    let timeout = Duration::from_secs(10);
    let mut p = Pair::ready_with(
        &ConnectOptions::new().request_timeout(timeout),
        Server::WithReset,
    );
    let (id, decoder) = p.start(turn("s1"));
    p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    assert_eq!(p.engine.poll_timeout(), Some(p.now + timeout));

    p.advance(timeout);
    let reset = p.expect("runtime/reset");
    assert_eq!(reset["params"]["session_id"], "s1");
    assert_eq!(w.count(), 0);

    p.ok(&reset, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 1);
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert!(
        matches!(&err, Error::TimedOut { method } if method == "turn/start"),
        "{err:?}"
    );
}

#[test]
fn a_busy_runtime_is_retried_every_pause_until_the_tries_run_out() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.fail_turn(&req, 1);

    let mut reset = p.expect("runtime/reset");
    let mut tries = 1;
    while tries < RESET_TRIES {
        p.fail(&reset, -32602, NOT_READY);
        let due = p.now + RESET_PAUSE;
        assert_eq!(p.engine.poll_timeout(), Some(due), "try {tries}");
        p.at(due - Duration::from_millis(1));
        p.nothing_sent();
        p.at(due);
        reset = p.expect("runtime/reset");
        assert_eq!(reset["params"]["session_id"], "s1");
        tries += 1;
        assert_eq!(w.count(), 0, "held while retrying");
    }
    // The last try is refused as well: the engine gives up.
    p.fail(&reset, -32602, NOT_READY);
    assert_eq!(tries, RESET_TRIES);
    assert_eq!(w.count(), 1);
    assert_eq!(p.engine.poll_timeout(), None);
    p.advance(RESET_PAUSE);
    p.nothing_sent();
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert_eq!(rpc_code(&err), -32603);
}

#[test]
fn a_reset_that_succeeds_on_a_retry_releases_the_error_then() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.fail_turn(&req, 1);
    let reset = p.expect("runtime/reset");
    p.fail(&reset, -32602, NOT_READY);
    p.advance(RESET_PAUSE);
    let retry = p.expect("runtime/reset");
    assert_eq!(w.count(), 0);
    p.ok(&retry, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 1);
    assert_eq!(rpc_code(&p.answer(id, &w, decoder).unwrap_err()), -32603);
    assert_eq!(p.engine.poll_timeout(), None);
}

#[test]
fn an_interrupt_answered_ok_is_followed_by_a_reset_before_ok() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p.start(ops::interrupt("s1"));
    let req = p.expect("turn/interrupt");
    assert_eq!(req["params"], json!({"session_id":"s1"}));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());

    p.ok(&req, json!({"interrupted":true}));
    let reset = p.expect("runtime/reset");
    assert_eq!(reset["params"]["session_id"], "s1");
    assert_eq!(w.count(), 0);
    assert!(p.poll(id, &w).is_pending());

    p.ok(&reset, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 1);
    p.answer(id, &w, decoder).unwrap();
    assert_eq!(p.kept(), (0, 0));
}

const NOT_SETTLED: &str = "Failed to interrupt session: Interrupt outcome is not settled for run \
    01a22ef4-3535-75e1-bc02-fd960b2ed601: executor reported the exact run non-current while \
    machine authority still binds it";

#[test]
fn an_interrupt_not_settled_yet_is_tried_again_until_it_is() {
    // 0.9.8 answers so while other sessions are busy, and the turn runs on
    // (fixtures/rkat-rpc-0.9.8/interrupt-race-4-busy.jsonl).
    let mut p = Pair::ready(Server::WithoutReset);
    let (id, decoder) = p.start(ops::interrupt("s1"));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    let req = p.expect("turn/interrupt");
    p.fail(&req, -32603, NOT_SETTLED);
    assert_eq!(w.count(), 0, "not handed out: tried again");
    assert_eq!(p.engine.poll_timeout(), Some(p.now + INTERRUPT_PAUSE));
    p.advance(INTERRUPT_PAUSE - Duration::from_millis(1));
    p.nothing_sent();
    p.advance(Duration::from_millis(1));
    let again = p.expect("turn/interrupt");
    assert_eq!(again["params"], json!({"session_id":"s1"}));
    p.ok(&again, json!({"interrupted":true}));
    assert_eq!(w.count(), 1);
    p.answer(id, &w, decoder).unwrap();
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn an_interrupt_never_settled_fails_with_the_servers_error_after_its_tries() {
    let mut p = Pair::ready(Server::WithoutReset);
    let (id, decoder) = p.start(ops::interrupt("s1"));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    for _ in 0..INTERRUPT_TRIES {
        let req = p.expect("turn/interrupt");
        p.fail(&req, -32603, NOT_SETTLED);
        p.advance(INTERRUPT_PAUSE);
    }
    p.nothing_sent();
    assert_eq!(w.count(), 1);
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert_eq!(rpc_code(&err), -32603);
    assert!(err.to_string().contains("not settled"), "{err}");
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn an_interrupt_waiting_for_a_retry_fails_at_close() {
    let mut p = Pair::ready(Server::WithoutReset);
    let (id, decoder) = p.start(ops::interrupt("s1"));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    let req = p.expect("turn/interrupt");
    p.fail(&req, -32603, NOT_SETTLED);
    let now = p.now;
    p.engine.close(now);
    p.settle();
    assert_eq!(w.count(), 1);
    assert_eq!(
        p.answer(id, &w, decoder).unwrap_err().code(),
        "CLIENT_CLOSED"
    );
}

#[test]
fn history_without_a_limit_follows_has_more_to_the_end() {
    // 0.9.x serves 100 messages unless asked for more (1000 at most).
    let mut p = Pair::ready(Server::WithoutReset);
    let (id, decoder) = p.start(ops::session_history("s1", 0, None));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    let first = p.expect("session/history");
    assert_eq!(first["params"], json!({"session_id":"s1","offset":0}));
    let msg = |i: u32| json!({"role":"user","content":format!("m{i}"),"created_at":"t"});
    p.ok(
        &first,
        json!({"session_id":"s1","message_count":3,"offset":0,"limit":100,
        "has_more":true,"messages":[msg(0), msg(1)]}),
    );
    assert_eq!(w.count(), 0, "more to come");
    let second = p.expect("session/history");
    assert_eq!(
        second["params"],
        json!({"session_id":"s1","offset":2,"limit":1000})
    );
    p.ok(
        &second,
        json!({"session_id":"s1","message_count":3,"offset":2,"limit":1000,
        "has_more":false,"messages":[msg(2)]}),
    );
    assert_eq!(w.count(), 1);
    let history = p.answer(id, &w, decoder).unwrap();
    assert_eq!(history.messages.len(), 3);
    assert_eq!(p.kept(), (0, 0));

    // With a limit, one page as asked.
    let (id, decoder) = p.start(ops::session_history("s1", 0, Some(1)));
    let req = p.expect("session/history");
    p.ok(
        &req,
        json!({"session_id":"s1","message_count":3,"offset":0,"limit":1,
        "has_more":true,"messages":[msg(0)]}),
    );
    p.nothing_sent();
    assert_eq!(p.answer(id, &w, decoder).unwrap().messages.len(), 1);
}

/// A pair whose server speaks contract 0.9.8.
fn ready_v09(methods: &[&str]) -> Pair {
    let mut p = Pair::new(&ConnectOptions::new());
    p.answer_initialize("0.9.8", methods);
    p.expect("initialized");
    let caps = p.expect("capabilities/get");
    p.ok(&caps, json!({"capabilities":[]}));
    assert!(matches!(
        p.engine.poll_ready(Waker::noop()),
        Poll::Ready(Ok(_))
    ));
    p
}

#[test]
fn the_session_list_on_0_9_follows_full_pages_to_the_end() {
    // 0.9.8 serves 100 sessions unless asked for more (1000 at most) and
    // says nothing of more: a full page means ask again from its end.
    let mut p = ready_v09(&["initialize", "session/list"]);
    let session = |i: usize| json!({"session_id":format!("s{i}"),"created_at":1,"updated_at":1});
    let page =
        |from: usize, to: usize| json!({"sessions":(from..to).map(session).collect::<Vec<_>>()});
    let (id, decoder) = p.start(ops::list_sessions());
    let w = Wakes::new();
    let first = p.expect("session/list");
    assert_eq!(first["params"], json!({}));
    p.ok(&first, page(0, 100));
    assert_eq!(w.count(), 0, "a full first page: more to come");
    let second = p.expect("session/list");
    assert_eq!(second["params"], json!({"offset":100,"limit":1000}));
    p.ok(&second, page(100, 1100));
    let third = p.expect("session/list");
    assert_eq!(third["params"], json!({"offset":1100,"limit":1000}));
    p.ok(&third, page(1100, 1103));
    p.nothing_sent();
    let sessions = p.answer(id, &w, decoder).unwrap();
    let ids: Vec<_> = sessions.iter().map(|s| s.session_id.clone()).collect();
    assert_eq!(ids, (0..1103).map(|i| format!("s{i}")).collect::<Vec<_>>());
    assert_eq!(p.kept(), (0, 0));

    // Fewer than a page: one request.
    let (id, decoder) = p.start(ops::list_sessions());
    let req = p.expect("session/list");
    p.ok(&req, page(0, 7));
    p.nothing_sent();
    assert_eq!(p.answer(id, &w, decoder).unwrap().len(), 7);
}

#[test]
fn a_server_that_never_stops_paging_fails_the_call_at_the_bound() {
    let mut p = ready_v09(&["initialize", "session/list"]);
    let (id, decoder) = p.start(ops::list_sessions());
    let mut sent = 0;
    let mut next = 0;
    while let Some(req) = p.sent_now("session/list") {
        let size = if next == 0 { 100 } else { 1000 };
        let sessions: Vec<_> = (next..next + size)
            .map(|i| json!({"session_id":format!("s{i}"),"created_at":1,"updated_at":1}))
            .collect();
        next += size;
        sent += 1;
        p.ok(&req, json!({"sessions": sessions}));
        assert!(sent <= 1000, "the pages end");
    }
    let w = Wakes::new();
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert_eq!(err.code(), "INVALID_RESPONSE");
    assert!(next >= MAX_PAGED_ITEMS, "{next}");
    assert!(err.to_string().contains("ask with a limit"), "{err}");
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn the_session_list_on_0_5_is_one_request_whatever_its_length() {
    // 0.5.x returns every session at once: 100 of them are not a page.
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p.start(ops::list_sessions());
    let req = p.expect("session/list");
    let sessions: Vec<_> = (0..100)
        .map(|i| json!({"session_id":format!("s{i}"),"created_at":1,"updated_at":1}))
        .collect();
    p.ok(&req, json!({"sessions": sessions}));
    p.nothing_sent();
    let w = Wakes::new();
    assert_eq!(p.answer(id, &w, decoder).unwrap().len(), 100);
}

#[test]
fn a_raw_call_sends_its_params_as_they_are_and_keeps_every_guarantee() {
    let timeout = Duration::from_secs(5);
    let mut p = Pair::ready_with(
        &ConnectOptions::new().request_timeout(timeout),
        Server::WithoutReset,
    );
    let (id, decoder) = p.start(Call::raw("runtime/health", json!({"verbose": true})));
    let req = p.expect("runtime/health");
    assert_eq!(req["params"], json!({"verbose": true}));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.ok(&req, json!({"status": "ok"}));
    assert_eq!(p.answer(id, &w, decoder).unwrap(), json!({"status": "ok"}));

    // Unanswered: TIMEOUT naming the method, once.
    let (id, decoder) = p.start(Call::raw("models/catalog", json!({})));
    let _ = p.expect("models/catalog");
    assert!(p.poll(id, &w).is_pending());
    p.advance(timeout);
    let err = p.answer(id, &w, decoder).unwrap_err();
    assert_eq!(err.code(), "TIMEOUT");
    assert!(err.to_string().contains("models/catalog"), "{err}");
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn a_server_without_runtime_reset_gets_no_reset() {
    let timeout = Duration::from_secs(10);
    let mut p = Pair::ready_with(
        &ConnectOptions::new().request_timeout(timeout),
        Server::WithoutReset,
    );

    // A failed turn: its error at once.
    let (id, decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.fail_turn(&req, 1);
    assert_eq!(w.count(), 1);
    assert_eq!(rpc_code(&p.answer(id, &w, decoder).unwrap_err()), -32603);
    p.nothing_sent();

    // An interrupt: Ok at once.
    let (id, decoder) = p.start(ops::interrupt("s1"));
    let req = p.expect("turn/interrupt");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.ok(&req, json!({"interrupted":true}));
    assert_eq!(w.count(), 1);
    p.answer(id, &w, decoder).unwrap();
    p.nothing_sent();

    // A timed-out turn: the timeout at once.
    let (id, decoder) = p.start(turn("s1"));
    p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.advance(timeout);
    assert_eq!(w.count(), 1);
    assert!(matches!(
        p.answer(id, &w, decoder),
        Err(Error::TimedOut { .. })
    ));
    p.nothing_sent();

    // A turn stream dropped mid-way is forgotten at once: nothing to reset.
    let stream = p.engine.open_turn(turn("s2"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    p.feed(&started("s2", 1));
    p.engine.drop_stream(stream.id(), None, p.now);
    p.settle();
    assert_eq!(p.kept(), (0, 0));
    p.fail_turn(&req, 2);
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn a_turn_whose_caller_cancelled_is_still_reset_on_failure() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, _decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.engine.cancel_call(id);
    p.settle();
    p.nothing_sent();
    assert_eq!(p.kept(), (1, 0), "the engine keeps the turn's rule");

    p.fail_turn(&req, 1);
    let reset = p.expect("runtime/reset");
    assert_eq!(reset["params"]["session_id"], "s1");
    p.ok(&reset, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 0, "nobody waits any more");
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));

    // A cancelled turn that succeeds is simply forgotten.
    let (id, _decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    p.engine.cancel_call(id);
    p.feed(&completed("s1", 2));
    p.ok(&req, run_result("s1"));
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
}

// ---- streams -----------------------------------------------------------------

#[test]
fn a_dropped_turn_stream_is_drained_and_still_reset_when_it_fails() {
    let mut p = Pair::ready(Server::WithReset);
    let stream = p.engine.open_turn(turn("s1"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    let w = Wakes::new();
    p.feed(&started("s1", 1));
    p.feed(&delta("s1", 2, "a"));
    assert_eq!(p.drain(stream.id(), &w), ["run_started", "a"]);
    p.feed(&delta("s1", 3, "b"));

    // The consumer goes away with "b" unread.
    p.engine.drop_stream(stream.id(), None, p.now);
    p.settle();
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 1), "drained, still awaiting the end");
    for seq in 4..20 {
        p.feed(&delta("s1", seq, "more"));
    }
    p.fail_turn(&req, 20);
    let reset = p.expect("runtime/reset");
    assert_eq!(reset["params"]["session_id"], "s1");
    p.ok(&reset, json!({"inputs_abandoned":1}));
    assert_eq!(w.count(), 1, "once, for \"b\", before the drop");
    assert_eq!(p.kept(), (0, 0));
    assert!(matches!(
        p.engine.poll_stream(stream.id(), &w.waker),
        Poll::Ready(None)
    ));
}

#[test]
fn a_dropped_subscription_sends_its_close() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder, mut sub) = p
        .engine
        .open_subscription(ops::subscribe_session("s1"), p.now)
        .unwrap();
    p.settle();
    let open = p.expect("session/stream_open");
    assert_eq!(open["params"], json!({"session_id":"s1"}));
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.ok(
        &open,
        json!({"stream_id":"st-1","session_id":"s1","opened":true}),
    );
    assert_eq!(w.count(), 1);
    let opened = p.answer(id, &w, decoder).unwrap();
    sub.opened(opened.stream_id);
    p.feed(&stream_event("st-1", 1, "x"));
    assert_eq!(p.drain(sub.id(), &w), ["x"]);
    p.feed(&stream_event("st-1", 2, "unread"));

    p.engine.drop_stream(sub.id(), sub.close_on_drop(), p.now);
    p.settle();
    let close = p.expect("session/stream_close");
    assert_eq!(close["params"], json!({"stream_id":"st-1"}));
    assert_eq!(p.kept(), (1, 0), "only the detached close request");

    // The server's last words for it go nowhere.
    p.feed(&stream_event("st-1", 3, "late"));
    p.feed(
        &json!({"jsonrpc":"2.0","method":"session/stream_end","params":{
        "ended":true,"outcome":"explicit_close","session_id":"s1","stream_id":"st-1"}}),
    );
    p.ok(
        &close,
        json!({"stream_id":"st-1","closed":true,"already_closed":false}),
    );
    assert_eq!(w.count(), 2, "once for the open, once for \"unread\"");
    p.nothing_sent();
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn a_slow_consumer_lags_within_its_budget_and_still_gets_the_end() {
    let budget = 4;
    let mut p = Pair::ready_with(
        &ConnectOptions::new().stream_budget(budget),
        Server::WithReset,
    );
    let mut stream = p.engine.open_turn(turn("s1"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(p.engine.poll_stream(stream.id(), &w.waker).is_pending());

    // 11 events while the consumer sleeps: 4 kept, 7 dropped.
    p.feed(&started("s1", 1));
    for seq in 2..12 {
        p.feed(&delta("s1", seq, &format!("d{seq}")));
    }
    assert_eq!(w.count(), 1, "woken by the first event only");
    let mut items = Vec::new();
    for _ in 0..2 {
        let Poll::Ready(Some(next)) = p.engine.poll_stream(stream.id(), &w.waker) else {
            panic!("an event is queued");
        };
        items.push(show(&next));
    }
    // 10 more, the end event and the answer: 2 fit in the budget again.
    for seq in 12..22 {
        p.feed(&delta("s1", seq, &format!("d{seq}")));
    }
    p.feed(&completed("s1", 22));
    p.ok(&req, run_result("s1"));

    let mut nexts = Vec::new();
    while let Poll::Ready(Some(next)) = p.engine.poll_stream(stream.id(), &w.waker) {
        items.push(show(&next));
        nexts.push(next);
    }
    assert_eq!(
        items,
        [
            "run_started",
            "d2",
            "d3",
            "d4",
            "lagged 7",
            "d12",
            "d13",
            "lagged 9",
            "end"
        ]
    );
    // The consumer's view: the signal as an event, then the turn's result.
    let dialect = p.engine.dialect().clone();
    let seen: Vec<_> = nexts
        .into_iter()
        .filter_map(|next| stream.on_next(Some(next), &dialect))
        .collect();
    assert_eq!(
        seen.len(),
        6,
        "four events and two signals; the end is no item"
    );
    assert!(matches!(
        seen[2].as_ref().unwrap().event,
        Event::Lagged { dropped: 7 }
    ));
    assert_eq!(stream.take_result().unwrap().text, "ok");
    assert!(matches!(
        p.engine.poll_stream(stream.id(), &w.waker),
        Poll::Ready(None)
    ));
    p.engine.drop_stream(stream.id(), None, p.now);
    assert_eq!(p.kept(), (0, 0));
}

#[test]
fn a_consumer_takes_a_batch_under_one_lock_in_order_and_its_budget_frees() {
    let budget = 4;
    let mut p = Pair::ready_with(
        &ConnectOptions::new().stream_budget(budget),
        Server::WithReset,
    );
    let mut stream = p.engine.open_turn(turn("s1"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    let w = Wakes::new();
    assert!(stream.poll_engine(&mut p.engine, &w.waker).is_pending());
    assert!(stream.buffered().is_none());

    // 6 events while the consumer sleeps: 4 kept, 2 dropped.
    for seq in 1..7 {
        p.feed(&delta("s1", seq, &format!("d{seq}")));
    }
    assert_eq!(w.count(), 1);
    // One poll takes the whole queue: the first item, the rest buffered.
    let Poll::Ready(Some(first)) = stream.poll_engine(&mut p.engine, &w.waker) else {
        panic!("an event is queued");
    };
    let mut items = vec![show(&first)];
    assert!(
        p.engine.poll_stream(stream.id(), &w.waker).is_pending(),
        "the engine's queue is empty: the batch holds the rest"
    );
    // The budget counts the engine's queue only: 4 more fit at once.
    for seq in 7..11 {
        p.feed(&delta("s1", seq, &format!("d{seq}")));
    }
    while let Some(next) = stream.buffered() {
        items.push(show(&next));
    }
    p.feed(&completed("s1", 11));
    p.ok(&req, run_result("s1"));
    while let Poll::Ready(Some(next)) = stream.poll_engine(&mut p.engine, &w.waker) {
        items.push(show(&next));
    }
    assert_eq!(
        items,
        [
            "d1", "d2", "d3", "d4", "lagged 2", "d7", "d8", "d9", "d10", "lagged 1", "end"
        ]
    );
    assert!(stream.buffered().is_none());
}

#[test]
fn a_batch_is_at_most_stream_batch_items() {
    let mut p = Pair::ready_with(
        &ConnectOptions::new().stream_budget(3 * STREAM_BATCH),
        Server::WithReset,
    );
    let mut stream = p.engine.open_turn(turn("s1"), p.now).unwrap();
    p.settle();
    let _req = p.expect("turn/start");
    let w = Wakes::new();
    for seq in 1..=2 * STREAM_BATCH as u64 {
        p.feed(&delta("s1", seq, "d"));
    }
    assert!(stream.poll_engine(&mut p.engine, &w.waker).is_ready());
    let mut buffered = 0;
    while stream.buffered().is_some() {
        buffered += 1;
    }
    assert_eq!(buffered, STREAM_BATCH - 1);
    let mut rest = 0;
    while let Poll::Ready(Some(_)) = p.engine.poll_stream(stream.id(), &w.waker) {
        rest += 1;
    }
    assert_eq!(rest, STREAM_BATCH, "the rest stayed in the engine");
}

// ---- callback tools ----------------------------------------------------------

#[test]
fn a_call_of_an_unknown_tool_is_answered_by_the_engine() {
    let mut p = Pair::ready(Server::WithReset);
    p.feed(&tool_execute("srv-0", "nope"));
    assert!(p.tool_calls.is_empty());
    let answer = p.sent.pop_front().expect("an answer");
    assert_eq!(answer["id"], "srv-0");
    assert_eq!(answer["result"]["is_error"], true);
    assert!(
        answer["result"]["content"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{answer}"
    );
    assert!(
        answer.get("error").is_none(),
        "an error result, for the model"
    );
    p.nothing_sent();
}

#[test]
fn a_registered_tool_call_comes_out_with_its_handler() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, decoder) = p
        .engine
        .start_register_tool(ToolDef::new("search", "Search the docs"), "h1", p.now)
        .unwrap();
    p.settle();
    let register = p.expect("tools/register");
    assert_eq!(register["params"]["tools"][0]["name"], "search");

    // The handler is in place before the server answers.
    p.feed(&tool_execute("srv-0", "search"));
    let (call, handler) = p.tool_calls.pop().expect("a tool call");
    assert_eq!(handler, "h1");
    assert_eq!(
        (call.name.as_str(), call.arguments["q"].as_str()),
        ("search", Some("meerkat"))
    );
    p.nothing_sent();
    p.engine
        .respond_tool(call.id, Ok(ToolOutput::text("3 results")), p.now);
    p.settle();
    let answer = p.sent.pop_front().expect("the tool's answer");
    assert_eq!(
        answer,
        json!({"jsonrpc":"2.0","id":"srv-0","result":{"content":"3 results","is_error":false}})
    );

    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.ok(&register, json!({"registered":1}));
    p.answer(id, &w, decoder).unwrap();
    p.feed(&tool_execute("srv-1", "search"));
    assert_eq!(p.tool_calls.len(), 1);
}

#[test]
fn a_refused_registration_drops_its_handler_unless_a_later_one_replaced_it() {
    let mut p = Pair::ready(Server::WithReset);
    let (first, first_decoder) = p
        .engine
        .start_register_tool(ToolDef::new("search", "v1"), "h1", p.now)
        .unwrap();
    let (second, second_decoder) = p
        .engine
        .start_register_tool(ToolDef::new("search", "v2"), "h2", p.now)
        .unwrap();
    let (lookup, _) = p
        .engine
        .start_register_tool(ToolDef::new("lookup", "v1"), "h3", p.now)
        .unwrap();
    p.settle();
    let (first_req, second_req, lookup_req) = (
        p.expect("tools/register"),
        p.expect("tools/register"),
        p.expect("tools/register"),
    );

    // The first "search" is refused: the second's handler stays.
    let w = Wakes::new();
    assert!(p.poll(first, &w).is_pending());
    p.fail(
        &first_req,
        -32602,
        "Invalid params: missing field `input_schema`",
    );
    let err = p.answer(first, &w, first_decoder).unwrap_err();
    assert_eq!(rpc_code(&err), -32602);
    p.ok(&second_req, json!({"registered":1}));
    p.answer(second, &w, second_decoder).unwrap();
    p.feed(&tool_execute("srv-0", "search"));
    assert_eq!(p.tool_calls.pop().map(|(_, h)| h), Some("h2"));
    p.nothing_sent();

    // "lookup" is refused (its caller gone): its handler goes.
    p.engine.cancel_call(lookup);
    p.fail(&lookup_req, -32602, "Invalid params");
    p.feed(&tool_execute("srv-1", "lookup"));
    assert!(p.tool_calls.is_empty());
    let answer = p.sent.pop_front().expect("the engine's answer");
    assert_eq!(
        (&answer["id"], &answer["result"]["is_error"]),
        (&json!("srv-1"), &json!(true))
    );
    assert_eq!(p.kept(), (0, 0));
}

// ---- the exit watch and close ---------------------------------------------------

#[test]
fn an_exited_child_whose_output_stays_quiet_ends_the_connection() {
    let mut p = Pair::ready(Server::WithReset);
    let (call, decoder) = p.start(ops::list_sessions());
    p.expect("session/list");
    let stream = p.engine.open_turn(turn("s1"), p.now).unwrap();
    p.settle();
    p.expect("turn/start");
    let (w_call, w_stream) = (Wakes::new(), Wakes::new());
    assert!(p.poll(call, &w_call).is_pending());
    assert!(p.drain(stream.id(), &w_stream).is_empty());
    let exited = ExitInfo::new(
        Some("exit status: 3".into()),
        "thread 'main' panicked".into(),
    );
    let (t0, tick, quiet) = (p.now, ExitWatch::INTERVAL, ExitWatch::QUIET);
    p.engine.handle_stderr(exited.stderr_tail.as_bytes());

    assert!(p.exit_tick(t0, None), "running: keep watching");
    let exited_at = t0 + tick;
    assert!(p.exit_tick(exited_at, Some(&exited)), "just exited: wait");
    // Something the child started still holds its stdout and writes:
    // the quiet period starts again at the next tick.
    p.now = exited_at + quiet / 2;
    p.feed_raw(b"2026-11-25T00:00:01Z ERROR still flushing\n");
    let quiet_from = p.now + tick;
    assert!(p.exit_tick(quiet_from, Some(&exited)), "output came: wait");
    // Without that line the connection would end here.
    assert!(p.exit_tick(exited_at + quiet + tick, Some(&exited)));
    assert!(p.exit_tick(quiet_from + quiet - tick, Some(&exited)));
    assert_eq!((w_call.count(), w_stream.count()), (0, 0));
    assert!(!p.closed);

    let ended = !p.exit_tick(quiet_from + quiet, Some(&exited));
    assert!(ended, "quiet for ExitWatch::QUIET: ended");
    assert!(p.closed && p.engine.is_closed());
    assert_eq!((w_call.count(), w_stream.count()), (1, 1));
    let err = p.answer(call, &w_call, decoder).unwrap_err();
    assert_eq!(err.code(), "CONNECTION_CLOSED");
    assert!(
        matches!(&err, Error::ConnectionClosed { exit_status: Some(s), stderr_tail, .. }
            if s == "exit status: 3" && stderr_tail.contains("panicked")),
        "{err:?}"
    );
    assert_eq!(p.drain(stream.id(), &w_stream), ["end CONNECTION_CLOSED"]);
    assert!(
        !p.exit_tick(p.now + tick, Some(&exited)),
        "nothing to watch"
    );
}

/// The transports' timer loop, run on the virtual clock: step, then sleep
/// exactly as told. A child that exited while its output stays open is
/// looked at every INTERVAL and ended after QUIET; the loop then stops.
#[test]
fn the_timer_loop_watches_an_exited_child_until_the_connection_ends() {
    let mut p = Pair::ready(Server::WithReset);
    let (call, decoder) = p.start(ops::list_sessions());
    p.expect("session/list");
    let w_call = Wakes::new();
    assert!(p.poll(call, &w_call).is_pending());
    let t0 = p.now;

    // Running: the next look is one INTERVAL away, the call's timeout later.
    let step = p.engine.timer_step(t0, Some(None));
    assert_eq!(step, TimerStep::Sleep(Some(t0 + ExitWatch::INTERVAL)));
    // Woken early (a rearm): nothing is due, the same deadline stands.
    let early = t0 + ExitWatch::INTERVAL / 2;
    assert_eq!(p.engine.timer_step(early, Some(None)), step);

    // Exited: follow the loop's own deadlines until it stops.
    let exited = Some(Some("exit status: 3".to_string()));
    let mut now = t0 + ExitWatch::INTERVAL;
    let mut looks = Vec::new();
    loop {
        match p.engine.timer_step(now, exited.clone()) {
            TimerStep::Stop => break,
            TimerStep::Sleep(Some(at)) => {
                assert!(at > now, "a deadline in the future, not a spin");
                looks.push(at - t0);
                now = at;
            }
            TimerStep::Sleep(None) => panic!("a watched child is always timed"),
        }
        assert!(looks.len() < 100, "the watch ends");
    }
    p.settle();
    // Every look an INTERVAL apart, until QUIET without output had passed.
    let expected: Vec<_> = (2..)
        .map(|n| ExitWatch::INTERVAL * n)
        .take_while(|at| *at <= ExitWatch::INTERVAL + ExitWatch::QUIET)
        .collect();
    assert_eq!(looks, expected);
    assert!(p.engine.is_closed());
    assert_eq!(w_call.count(), 1);
    let err = p.answer(call, &w_call, decoder).unwrap_err();
    assert!(
        matches!(&err, Error::ConnectionClosed { exit_status: Some(s), .. } if s == "exit status: 3"),
        "{err:?}"
    );
    assert_eq!(p.engine.timer_step(now, exited), TimerStep::Stop);
}

/// Without a child (TCP) only the engine's own deadlines are timed, and a
/// timed-out call is resolved by the step that passes its deadline.
#[test]
fn the_timer_loop_without_a_child_times_out_calls() {
    let mut p = Pair::ready(Server::WithReset);
    let (call, decoder) = p.start(ops::list_sessions());
    p.expect("session/list");
    let w_call = Wakes::new();
    assert!(p.poll(call, &w_call).is_pending());
    let deadline = p.now + ConnectOptions::new().request_timeout;
    assert_eq!(
        p.engine.timer_step(p.now, None),
        TimerStep::Sleep(Some(deadline))
    );
    assert_eq!(p.engine.timer_step(deadline, None), TimerStep::Sleep(None));
    p.now = deadline;
    p.settle();
    let err = p.answer(call, &w_call, decoder).unwrap_err();
    assert_eq!(err.code(), "TIMEOUT");
}

#[test]
fn close_resolves_every_waiter_with_client_closed_and_ends_every_stream() {
    let mut p = Pair::ready(Server::WithReset);
    let (plain, plain_decoder) = p.start(ops::list_sessions());
    let (turn_id, turn_decoder) = p.start(turn("s1"));
    let stream = p.engine.open_turn(turn("s2"), p.now).unwrap();
    let (open, open_decoder, mut sub) = p
        .engine
        .open_subscription(ops::subscribe_session("s3"), p.now)
        .unwrap();
    p.settle();
    for method in [
        "session/list",
        "turn/start",
        "turn/start",
        "session/stream_open",
    ] {
        let req = p.expect(method);
        if method == "session/stream_open" {
            p.ok(&req, json!({"stream_id":"st-3","opened":true}));
        }
    }
    let ws: Vec<Wakes> = (0..4).map(|_| Wakes::new()).collect();
    sub.opened(p.answer(open, &ws[3], open_decoder).unwrap().stream_id);
    assert!(p.poll(plain, &ws[0]).is_pending());
    assert!(p.poll(turn_id, &ws[1]).is_pending());
    assert!(p.drain(stream.id(), &ws[2]).is_empty());
    assert!(p.drain(sub.id(), &ws[3]).is_empty());

    p.engine.close(p.now);
    p.settle();
    assert!(p.closed);
    assert!(ws.iter().all(|w| w.count() == 1), "everyone woken once");
    let plain_err = p.answer(plain, &ws[0], plain_decoder).unwrap_err();
    let turn_err = p.answer(turn_id, &ws[1], turn_decoder).unwrap_err();
    for err in [&plain_err, &turn_err] {
        assert!(matches!(err, Error::Closed), "{err:?}");
        assert_eq!(err.code(), "CLIENT_CLOSED");
    }
    assert_eq!(p.drain(stream.id(), &ws[2]), ["end CLIENT_CLOSED"]);
    let Poll::Ready(next) = p.engine.poll_stream(sub.id(), &ws[3].waker) else {
        panic!("the subscription ended");
    };
    assert!(matches!(sub.on_next(next), Some(Err(Error::Closed))));
    assert!(sub.is_done());
    p.nothing_sent();

    // Nothing starts any more.
    assert!(matches!(
        p.engine.start(ops::list_sessions(), p.now),
        Err(Error::Closed)
    ));
    assert!(matches!(
        p.engine.open_turn(turn("s1"), p.now),
        Err(Error::Closed)
    ));
    assert!(matches!(
        p.engine
            .start_register_tool(ToolDef::new("t", "d"), "h", p.now),
        Err(Error::Closed)
    ));
    p.settle();
    p.nothing_sent();
}

#[test]
fn close_releases_an_outcome_held_for_a_reset_as_it_was() {
    let mut p = Pair::ready(Server::WithReset);
    let (failed_turn, turn_decoder) = p.start(turn("s1"));
    let req = p.expect("turn/start");
    let (interrupt, interrupt_decoder) = p.start(ops::interrupt("s2"));
    let interrupt_req = p.expect("turn/interrupt");
    let (w_turn, w_interrupt) = (Wakes::new(), Wakes::new());
    assert!(p.poll(failed_turn, &w_turn).is_pending());
    assert!(p.poll(interrupt, &w_interrupt).is_pending());
    p.fail_turn(&req, 1);
    p.ok(&interrupt_req, json!({"interrupted":true}));
    p.expect("runtime/reset");
    p.expect("runtime/reset");

    // The turn had failed and the interrupt had worked before the close:
    // the close cuts the resets short, not those outcomes.
    p.engine.close(p.now);
    p.settle();
    assert_eq!((w_turn.count(), w_interrupt.count()), (1, 1));
    let err = p.answer(failed_turn, &w_turn, turn_decoder).unwrap_err();
    assert_eq!(rpc_code(&err), -32603);
    p.answer(interrupt, &w_interrupt, interrupt_decoder)
        .unwrap();
    assert_eq!(p.kept(), (0, 0));
    p.nothing_sent();
}

// ---- the handshake -------------------------------------------------------------

#[test]
fn a_server_of_another_contract_fails_the_handshake_with_version_mismatch() {
    let mut p = Pair::new(&ConnectOptions::new());
    let w = Wakes::new();
    assert!(p.engine.poll_ready(&w.waker).is_pending());
    p.answer_initialize("1.0.0", &["initialize", "session/create"]);
    assert_eq!(w.count(), 1);
    let Poll::Ready(Err(err)) = p.engine.poll_ready(&w.waker) else {
        panic!("the handshake failed");
    };
    assert!(
        matches!(&err, Error::VersionMismatch { server, sdk } if server == "1.0.0" && sdk == "0.5.x or 0.9.x"),
        "{err:?}"
    );
    assert_eq!(err.code(), "VERSION_MISMATCH");
    assert!(err.to_string().contains("0.5.x or 0.9.x"), "{err}");
    p.nothing_sent();
    assert!(p.closed);
    assert!(p.engine.start(ops::list_sessions(), p.now).is_err());
}

#[test]
fn a_0_9_server_is_spoken_to_in_0_9_and_refused_options_send_nothing() {
    let mut p = Pair::new(&ConnectOptions::new());
    p.answer_initialize(
        "0.9.8",
        &[
            "initialize",
            "session/create",
            "turn/start",
            "mob/member_send",
        ],
    );
    p.expect("initialized");
    let caps = p.expect("capabilities/get");
    p.ok(&caps, json!({"capabilities":[]}));
    assert!(matches!(
        p.engine.poll_ready(Waker::noop()),
        Poll::Ready(Ok(_))
    ));
    assert_eq!(p.engine.dialect().line(), ContractLine::V0_9);

    let legacy = TurnOptions::new().skill_references(vec!["legacy/skill".into()]);
    let Err(err) = p.engine.start(ops::turn("s1", "hi".into(), legacy), p.now) else {
        panic!("skill_references is not on 0.9");
    };
    assert_eq!(err.code(), "UNSUPPORTED");
    assert!(
        matches!(&err, Error::Unsupported { what, reason }
            if what == "skill_references" && reason.starts_with("not on contract 0.9 (")),
        "{err:?}"
    );
    p.settle();
    p.nothing_sent();

    let (_id, _decoder) = p
        .engine
        .start(
            ops::member_send("m", "w1", "hi".into(), HandlingMode::Queue),
            p.now,
        )
        .unwrap();
    p.settle();
    let send = p.expect("mob/member_send");
    assert_eq!(
        send["params"],
        json!({"mob_id":"m","agent_identity":"w1","content":"hi","handling_mode":"queue"})
    );
}

#[test]
fn a_0_9_option_on_a_0_5_server_is_unsupported_before_sending() {
    let mut p = Pair::ready(Server::WithReset);
    assert_eq!(p.engine.dialect().line(), ContractLine::V0_5);
    let quiet = TurnOptions::new().session_events(false);
    let Err(err) = p.engine.start(ops::turn("s1", "hi".into(), quiet), p.now) else {
        panic!("session_events is not on 0.5");
    };
    assert!(
        matches!(&err, Error::Unsupported { what, reason }
            if what == "session_events" && reason.starts_with("not on contract 0.5 (")),
        "{err:?}"
    );
    p.settle();
    p.nothing_sent();
}

#[test]
fn a_server_that_ends_first_fails_the_handshake_with_connection_closed() {
    let mut p = Pair::new(&ConnectOptions::new());
    let w = Wakes::new();
    assert!(p.engine.poll_ready(&w.waker).is_pending());
    p.feed_raw(b"Error: unknown flag --bogus\n");
    assert_eq!(w.count(), 0);
    let info = ExitInfo::new(
        Some("exit status: 2".into()),
        "error: unexpected argument".into(),
    );
    p.engine.handle_stderr(info.stderr_tail.as_bytes());
    p.engine.handle_stderr_eof(p.now);
    assert!(p.engine.exit_tick(p.now, info.exit_status.clone()));
    p.engine.handle_eof(p.now);
    p.settle();
    assert_eq!(w.count(), 1);
    let Poll::Ready(Err(err)) = p.engine.poll_ready(&w.waker) else {
        panic!("the handshake failed");
    };
    assert_eq!(err.code(), "CONNECTION_CLOSED");
    assert!(
        matches!(&err, Error::ConnectionClosed { exit_status: Some(s), .. } if s == "exit status: 2"),
        "{err:?}"
    );
}

#[test]
fn a_silent_server_fails_the_handshake_at_the_connect_timeout() {
    let timeout = Duration::from_secs(5);
    let mut p = Pair::new(&ConnectOptions::new().request_timeout(timeout));
    let w = Wakes::new();
    assert!(p.engine.poll_ready(&w.waker).is_pending());
    let deadline = p.now + timeout;
    assert_eq!(p.engine.poll_timeout(), Some(deadline));
    p.at(deadline - Duration::from_millis(1));
    assert_eq!(w.count(), 0);
    p.at(deadline);
    assert_eq!(w.count(), 1);
    assert!(matches!(
        p.engine.poll_ready(&w.waker),
        Poll::Ready(Err(Error::TimedOut { method })) if method == "initialize"
    ));
}

// ---- properties ----------------------------------------------------------------

/// One step of a property run.
#[derive(Debug, Clone)]
enum Op {
    /// A `session/list`.
    Plain,
    /// A turn on session `s{n % 2}`.
    Turn(u8),
    /// An interrupt of session `s{n % 2}`.
    Interrupt(u8),
    /// A streamed turn on session `s{n % 2}`.
    Stream(u8),
    /// A subscription to session `s{n % 2}`.
    Subscribe(u8),
    /// Registers tool `t{n % 2}` (with a handler of its own).
    Register(u8),
    /// The server calls tool `t{n % 2}`.
    CallTool(u8),
    /// The caller of the `n`th waiting call or stream goes away.
    Cancel(u8),
    /// The server answers the `n`th request it holds.
    Answer(u8, Reply),
    /// This many milliseconds pass and the timer fires.
    Advance(u16),
    /// The server's output ends.
    Eof,
    /// The user closes the client.
    Close,
}

#[derive(Debug, Clone, Copy)]
enum Reply {
    Ok,
    Refused,
    ResetWorthy,
    NotReady,
}

fn op() -> impl Strategy<Value = Op> {
    let reply = prop_oneof![
        3 => Just(Reply::Ok),
        1 => Just(Reply::Refused),
        1 => Just(Reply::ResetWorthy),
        1 => Just(Reply::NotReady),
    ];
    // NB: EOF and close end a run's interesting part; keep them rare.
    prop_oneof![
        6 => Just(Op::Plain),
        10 => any::<u8>().prop_map(Op::Turn),
        4 => any::<u8>().prop_map(Op::Interrupt),
        8 => any::<u8>().prop_map(Op::Stream),
        6 => any::<u8>().prop_map(Op::Subscribe),
        5 => any::<u8>().prop_map(Op::Register),
        6 => any::<u8>().prop_map(Op::CallTool),
        8 => any::<u8>().prop_map(Op::Cancel),
        30 => (any::<u8>(), reply).prop_map(|(n, r)| Op::Answer(n, r)),
        8 => (0u16..3_000).prop_map(Op::Advance),
        1 => Just(Op::Eof),
        1 => Just(Op::Close),
    ]
}

/// What a caller of a property run waits for.
enum Wait {
    Call,
    Stream,
    /// A subscription: its open answer (while the decoder is there), then
    /// its events.
    Subscription {
        sub: Subscription,
        decoder: Option<Decoder<StreamOpened>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Resolved,
    Cancelled,
}

/// A caller of a property run, and what it saw.
struct Waiter {
    id: RequestId,
    wait: Wait,
    wakes: Wakes,
    /// Its wakeups when it last polled `Pending` (or resolved, or left).
    wakes_then: usize,
    state: State,
}

/// The latest registration of a tool, as the server saw it.
struct Registration {
    wire_id: Value,
    handler: Handler,
    deadline: Instant,
    /// The server's answer, if it came in time.
    accepted: Option<bool>,
}

/// A started call, waited for as a plain call.
fn as_call<T>((id, _): (RequestId, Decoder<T>)) -> (RequestId, Wait) {
    (id, Wait::Call)
}

/// A property run: the pair, the callers, and the server's memory.
struct Run {
    p: Pair,
    waiters: Vec<Waiter>,
    /// Requests the server holds, unanswered.
    held: Vec<Value>,
    tools: HashMap<String, Registration>,
    seq: u64,
    timeout: Duration,
}

impl Run {
    fn new() -> Self {
        let timeout = Duration::from_secs(2);
        let options = ConnectOptions::new().request_timeout(timeout);
        Self {
            p: Pair::ready_with(&options, Server::WithReset),
            waiters: Vec::new(),
            held: Vec::new(),
            tools: HashMap::new(),
            seq: 0,
            timeout,
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let session = |n: u8| format!("s{}", n % 2);
        let (engine, now) = (&mut self.p.engine, self.p.now);
        let started = match op {
            Op::Plain => engine.start(ops::list_sessions(), now).map(as_call),
            Op::Turn(n) => engine.start(turn(&session(n)), now).map(as_call),
            Op::Interrupt(n) => engine.start(ops::interrupt(&session(n)), now).map(as_call),
            Op::Stream(n) => engine
                .open_turn(turn(&session(n)), now)
                .map(|s| (s.id(), Wait::Stream)),
            Op::Subscribe(n) => engine
                .open_subscription(ops::subscribe_session(&session(n)), now)
                .map(|(id, decoder, sub)| {
                    let decoder = Some(decoder);
                    (id, Wait::Subscription { sub, decoder })
                }),
            Op::Register(n) => self.register(n),
            Op::CallTool(n) => {
                self.call_tool(n)?;
                return self.observe();
            }
            Op::Cancel(n) => {
                self.cancel(n);
                return self.observe();
            }
            Op::Answer(n, reply) => {
                self.answer(n, reply);
                return self.observe();
            }
            Op::Advance(ms) => {
                self.p.advance(Duration::from_millis(u64::from(ms)));
                let (next, now) = (self.p.engine.poll_timeout(), self.p.now);
                prop_assert!(next.is_none_or(|at| at > now), "{next:?} not after {now:?}");
                return self.observe();
            }
            Op::Eof => {
                engine.handle_eof(now);
                engine.handle_timeout(now + EXIT_GRACE);
                return self.observe();
            }
            Op::Close => {
                engine.close(now);
                return self.observe();
            }
        };
        match started {
            Ok((id, wait)) => self.waiters.push(Waiter {
                id,
                wait,
                wakes: Wakes::new(),
                wakes_then: 0,
                state: State::Waiting,
            }),
            Err(e) => prop_assert!(self.p.engine.is_closed(), "refused while open: {e:?}"),
        }
        self.observe()
    }

    /// What the transport and the callers do after each step: settle,
    /// let the server read, poll everyone who waits. The transport's timer
    /// never sleeps past the engine's earliest deadline.
    fn observe(&mut self) -> Result<(), TestCaseError> {
        self.p.settle();
        let (timer, next) = (self.p.timer, self.p.engine.poll_timeout());
        prop_assert!(
            next.is_none_or(|next| timer.is_some_and(|timer| timer <= next)),
            "the timer sleeps until {timer:?}, the engine has work at {next:?}"
        );
        let requests = self.p.sent.drain(..);
        self.held
            .extend(requests.filter(|m| m.get("id").is_some() && m.get("method").is_some()));
        for w in self
            .waiters
            .iter_mut()
            .filter(|w| w.state == State::Waiting)
        {
            self.p.poll_waiter(w)?;
        }
        Ok(())
    }

    /// Registers tool `t{n % 2}` with a handler of its own.
    fn register(&mut self, n: u8) -> Result<(RequestId, Wait), Error> {
        let name = format!("t{}", n % 2);
        let handler: Handler = Box::leak(format!("h{}", self.waiters.len()).into_boxed_str());
        let def = ToolDef::new(&name, "d");
        let (id, _) = self
            .p
            .engine
            .start_register_tool(def, handler, self.p.now)?;
        let registration = Registration {
            wire_id: json!(id.get()),
            handler,
            deadline: self.p.now + self.timeout,
            accepted: None,
        };
        self.tools.insert(name, registration);
        Ok((id, Wait::Call))
    }

    fn cancel(&mut self, n: u8) {
        let waiting: Vec<usize> = (0..self.waiters.len())
            .filter(|&i| self.waiters[i].state == State::Waiting)
            .collect();
        let Some(&i) = waiting.get(usize::from(n) % waiting.len().max(1)) else {
            return;
        };
        let (engine, now) = (&mut self.p.engine, self.p.now);
        let w = &mut self.waiters[i];
        match &w.wait {
            Wait::Call => engine.cancel_call(w.id),
            Wait::Stream => engine.drop_stream(w.id, None, now),
            Wait::Subscription {
                decoder: Some(_), ..
            } => engine.drop_stream(w.id, None, now),
            Wait::Subscription { sub, decoder: None } => {
                engine.drop_stream(w.id, sub.close_on_drop(), now)
            }
        }
        w.state = State::Cancelled;
        w.wakes_then = w.wakes.count();
    }

    /// The scripted server answers the `n`th request it holds.
    fn answer(&mut self, n: u8, reply: Reply) {
        if self.held.is_empty() {
            return;
        }
        let req = self.held.remove(usize::from(n) % self.held.len());
        let session = req["params"]["session_id"]
            .as_str()
            .unwrap_or("s0")
            .to_owned();
        let stream_id = format!("st-{}", req["id"]);
        self.seq += 1;
        let (p, seq) = (&mut self.p, self.seq);
        match (req["method"].as_str().unwrap(), reply) {
            ("tools/register", reply) => {
                let name = req["params"]["tools"][0]["name"].as_str().unwrap();
                if let Some(r) = self.tools.get_mut(name).filter(|r| r.wire_id == req["id"]) {
                    r.accepted = Some(matches!(reply, Reply::Ok) && p.now < r.deadline);
                }
                match reply {
                    Reply::Ok => p.ok(&req, json!({"registered":1})),
                    _ => p.fail(&req, -32602, "Invalid params"),
                }
            }
            ("turn/start", Reply::Ok) => {
                p.feed(&completed(&session, seq));
                p.ok(&req, run_result(&session));
            }
            ("turn/start", Reply::ResetWorthy) => p.fail_turn(&req, seq),
            ("session/list", Reply::Ok) => p.ok(&req, json!({"sessions":[]})),
            ("turn/interrupt", Reply::Ok) => p.ok(&req, json!({"interrupted":true})),
            ("session/stream_open", Reply::Ok) => {
                p.ok(
                    &req,
                    json!({"stream_id":stream_id,"session_id":session,"opened":true}),
                );
                p.feed(&stream_event(&stream_id, 1, "x"));
            }
            ("session/stream_close", Reply::Ok) => {
                let closed = req["params"]["stream_id"].clone();
                p.ok(
                    &req,
                    json!({"stream_id":closed,"closed":true,"already_closed":false}),
                );
                p.feed(
                    &json!({"jsonrpc":"2.0","method":"session/stream_end","params":{
                    "ended":true,"outcome":"explicit_close","stream_id":closed}}),
                );
            }
            (_, Reply::Ok) => p.ok(&req, json!({"inputs_abandoned":1})),
            (_, Reply::Refused) => p.fail(&req, -32602, "Invalid params"),
            (_, Reply::ResetWorthy) => p.fail(&req, -32603, ABANDONED),
            (_, Reply::NotReady) => p.fail(&req, -32602, NOT_READY),
        }
    }

    /// The server calls tool `t{n % 2}`: its latest registration's handler
    /// gets it, unless that registration failed; else the engine answers.
    fn call_tool(&mut self, n: u8) -> Result<(), TestCaseError> {
        if self.p.engine.is_closed() {
            return Ok(());
        }
        let name = format!("t{}", n % 2);
        let srv_id = format!("srv-{}", self.seq);
        self.seq += 1;
        let now = self.p.now;
        let expected = self
            .tools
            .get(&name)
            .filter(|r| r.accepted.unwrap_or(now < r.deadline))
            .map(|r| r.handler);
        self.p.feed(&tool_execute(&srv_id, &name));
        let calls = std::mem::take(&mut self.p.tool_calls);
        prop_assert_eq!(
            calls.iter().map(|(_, h)| *h).collect::<Vec<_>>(),
            Vec::from_iter(expected)
        );
        for (call, _) in calls {
            self.p
                .engine
                .respond_tool(call.id, Ok(ToolOutput::text("done")), now);
            self.p.settle();
        }
        let answers: Vec<&Value> = self
            .p
            .sent
            .iter()
            .filter(|m| m["id"] == json!(srv_id))
            .collect();
        prop_assert_eq!(answers.len(), 1, "one answer to {}", srv_id);
        prop_assert_eq!(
            &answers[0]["result"]["is_error"],
            &json!(expected.is_none())
        );
        Ok(())
    }

    /// The output ends: everything resolves, and nothing is left behind.
    fn finish(mut self) -> Result<(), TestCaseError> {
        // The child's status and stderr are not told: the engine closes at
        // EXIT_GRACE all the same.
        let now = self.p.now;
        self.p.engine.handle_eof(now);
        self.p.engine.handle_timeout(now + EXIT_GRACE);
        self.p.settle();
        for w in &mut self.waiters {
            match w.state {
                State::Waiting => {
                    self.p.poll_waiter(w)?;
                    prop_assert_eq!(w.state, State::Resolved, "{:?} never resolved", w.id);
                }
                State::Resolved | State::Cancelled => {
                    prop_assert_eq!(w.wakes.count(), w.wakes_then, "{:?} woken after", w.id);
                }
            }
            if w.state == State::Resolved && !matches!(w.wait, Wait::Call) {
                let after = self.p.engine.poll_stream(w.id, &w.wakes.waker);
                prop_assert!(
                    matches!(after, Poll::Ready(None)),
                    "{:?}: a second end",
                    w.id
                );
                self.p.engine.drop_stream(w.id, None, self.p.now);
            }
        }
        self.p.settle();
        self.p.nothing_sent();
        prop_assert_eq!(self.p.kept(), (0, 0));
        prop_assert_eq!(self.p.engine.poll_timeout(), None);
        Ok(())
    }
}

impl Pair {
    /// Polls `w` as its consumer would; an answer never comes without a
    /// wakeup, and a stream ends exactly once.
    fn poll_waiter(&mut self, w: &mut Waiter) -> Result<(), TestCaseError> {
        let mut got = false;
        if let Wait::Subscription { sub, decoder } = &mut w.wait
            && decoder.is_some()
            && let Poll::Ready(raw) = self.engine.poll_call(w.id, &w.wakes.waker)
        {
            got = true;
            let decoder = decoder.take().unwrap();
            match decoder.decode(raw, self.engine.dialect()) {
                Ok(opened) => sub.opened(opened.stream_id),
                Err(_) => w.state = State::Resolved,
            }
        }
        match &w.wait {
            _ if w.state != State::Waiting => {}
            Wait::Call => {
                if self.engine.poll_call(w.id, &w.wakes.waker).is_ready() {
                    got = true;
                    w.state = State::Resolved;
                }
            }
            Wait::Subscription {
                decoder: Some(_), ..
            } => {}
            Wait::Stream | Wait::Subscription { .. } => loop {
                match self.engine.poll_stream(w.id, &w.wakes.waker) {
                    Poll::Ready(Some(Next::End(_))) => {
                        got = true;
                        w.state = State::Resolved;
                        break;
                    }
                    Poll::Ready(Some(_)) => got = true,
                    Poll::Ready(None) => prop_assert!(false, "{:?} over without an end", w.id),
                    Poll::Pending => break,
                }
            },
        }
        if got {
            prop_assert!(w.wakes.count() > w.wakes_then, "{:?}: no wakeup", w.id);
        }
        w.wakes_then = w.wakes.count();
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Under any interleaving of starts, cancels, answers (ok, refused,
    /// reset-worthy, not ready), tool calls, timeouts, EOF and close:
    /// every call and stream that started resolves exactly once (unless
    /// its caller went away), never without a wakeup and never woken
    /// after; every `tool/execute` is answered once, by the handler of
    /// the tool's latest registration unless it failed; `poll_timeout`
    /// never points to the past after `handle_timeout`; nothing is left.
    #[test]
    fn every_started_call_resolves_exactly_once(steps in prop::collection::vec(op(), 0..80)) {
        let mut run = Run::new();
        for step in steps {
            run.step(step)?;
        }
        run.finish()?;
    }
}

#[test]
fn the_0_9_methods_send_nothing_on_a_0_5_server() {
    // `Pair::ready` speaks to a 0.5.x server.
    let mut p = Pair::ready(Server::WithReset);
    assert_eq!(p.engine.dialect().line(), ContractLine::V0_5);
    let refused: [(&str, Result<_, Error>); 3] = [
        (
            "runtime/health",
            p.engine.start(ops::runtime_health(), p.now).map(drop),
        ),
        (
            "turn/stop_run",
            p.engine
                .start(ops::stop_run("s1", "r1", "why"), p.now)
                .map(drop),
        ),
        (
            "mob/destroy",
            p.engine.start(ops::mob_destroy("m"), p.now).map(drop),
        ),
    ];
    for (method, result) in refused {
        let Err(err) = result else {
            panic!("{method} is not on 0.5");
        };
        assert_eq!(err.code(), "UNSUPPORTED");
        assert!(
            matches!(&err, Error::Unsupported { what, reason }
                if what == method && reason.starts_with("not on contract 0.5 (")),
            "{err:?}"
        );
    }
    p.settle();
    p.nothing_sent();
    // The catalog, which 0.5 serves, is sent.
    let (_id, _decoder) = p.start(ops::models_catalog());
    assert_eq!(p.expect("models/catalog")["params"], json!({}));
}

// ---- bounded under any peer (issue 12) ----------------------------------------

/// A raw call whose frame is about `bytes` long.
fn big_call(bytes: usize) -> Call<Value> {
    Call::raw("echo", json!({ "blob": "x".repeat(bytes) }))
}

#[test]
fn a_request_fails_at_once_when_the_bytes_waiting_for_stdin_reach_the_bound() {
    // Nobody takes the output: the child stopped reading its stdin.
    let mut p = Pair::ready(Server::WithReset);
    let mut accepted = 0;
    let refused = loop {
        match p.engine.start(big_call(1 << 20), p.now) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(
            accepted <= 64,
            "64 MiB queued for stdin and still accepting"
        );
    };
    assert_eq!(refused.code(), "WRITE_QUEUE_FULL", "{refused}");
    // The default bound is 16 MiB: 15 frames of a little over 1 MiB stay
    // below it, the 16th takes it over and the 17th is refused.
    assert_eq!(accepted, 16);
    // Once the writer drained the queue, requests go through again.
    // (whole frames, one batch at a time; the empty take says the last
    // batch was written)
    let mut frames = 0;
    loop {
        let batch = p.engine.take_output();
        if batch.is_empty() {
            break;
        }
        assert_eq!(batch.last(), Some(&b'\n'), "whole frames");
        frames += batch.iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(frames, accepted);
    assert!(p.engine.start(big_call(10), p.now).is_ok());
}

/// Every way a user sends a request is bounded, not only plain calls:
/// found by the `conn_routing` fuzz target (streamed turns on a stuck
/// writer queued without limit).
#[test]
fn streamed_turns_subscriptions_and_tool_registrations_are_refused_at_the_bound() {
    let mut p = Pair::ready_with(
        &ConnectOptions::new().max_output_bytes(256),
        Server::WithReset,
    );
    let mut accepted = 0;
    let refused = loop {
        match p.engine.open_turn(turn("s1"), p.now) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= 10, "{} bytes queued", p.engine.output_bytes());
    };
    assert_eq!(refused.code(), "WRITE_QUEUE_FULL", "{refused}");
    assert!(
        p.engine.output_bytes() < 256 + 200,
        "{}",
        p.engine.output_bytes()
    );
    let sub = p
        .engine
        .open_subscription(ops::subscribe_session("s1"), p.now);
    assert_eq!(
        sub.err().map(|e| e.code().to_string()).as_deref(),
        Some("WRITE_QUEUE_FULL")
    );
    let tool = ToolDef::new("lookup", "looks up");
    let reg = p.engine.start_register_tool(tool, "lookup", p.now);
    assert_eq!(
        reg.err().map(|e| e.code().to_string()).as_deref(),
        Some("WRITE_QUEUE_FULL")
    );
}

#[test]
fn a_timed_out_request_not_yet_written_is_dropped_from_the_queue() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, _decoder) = p.engine.start(ops::list_sessions(), p.now).unwrap();
    // The writer is stuck: the frame is still queued when the deadline passes.
    let later = p.now + ConnectOptions::new().request_timeout;
    p.engine.handle_timeout(later);
    let w = Wakes::new();
    match p.poll(id, &w) {
        Poll::Ready(Err(e)) => assert_eq!(e.code(), "TIMEOUT"),
        other => panic!("not timed out: {other:?}"),
    }
    let out = String::from_utf8(p.engine.take_output()).unwrap();
    assert!(
        !out.contains("session/list"),
        "a timed-out request is still written: {out}"
    );
}

#[test]
fn a_cancelled_request_not_yet_written_is_dropped_from_the_queue() {
    let mut p = Pair::ready(Server::WithReset);
    let (kept, _) = p.engine.start(ops::read_session("kept"), p.now).unwrap();
    let (id, _decoder) = p.engine.start(ops::list_sessions(), p.now).unwrap();
    p.engine.cancel_call(id);
    let out = String::from_utf8(p.engine.take_output()).unwrap();
    assert!(!out.contains("session/list"), "{out}");
    assert!(out.contains("session/read"), "the other request is written");
    p.engine.cancel_call(kept);
}

#[test]
fn a_frame_the_writer_took_is_written_whole_even_if_its_request_times_out() {
    let mut p = Pair::ready(Server::WithReset);
    let (_id, _decoder) = p.engine.start(ops::list_sessions(), p.now).unwrap();
    let taken = String::from_utf8(p.engine.take_output()).unwrap();
    assert!(taken.ends_with('\n') && taken.contains("session/list"));
    p.engine
        .handle_timeout(p.now + ConnectOptions::new().request_timeout);
    assert!(p.engine.take_output().is_empty());
}

#[test]
fn a_response_with_invalid_utf8_inside_a_string_resolves_its_call() {
    let mut p = Pair::ready(Server::WithReset);
    let (id, _decoder) = p.start(Call::raw("echo", json!({})));
    let req = p.expect("echo");
    let mut line = format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"text":"a"#,
        req["id"]
    )
    .into_bytes();
    line.extend_from_slice(b"\xff\xfeb\"}}\n");
    let w = Wakes::new();
    assert!(p.poll(id, &w).is_pending());
    p.feed_raw(&line);
    assert_eq!(w.count(), 1, "the answer came: the caller is woken");
    match p.poll(id, &w) {
        Poll::Ready(Ok(raw)) => {
            let value: Value = serde_json::from_str(raw.get()).unwrap();
            assert_eq!(value["text"], "a\u{fffd}\u{fffd}b");
        }
        other => panic!("not answered: {other:?}"),
    }
}

/// How many sessions the engine keeps routing state for (its `Debug`
/// shows it, as `kept` reads calls and streams).
fn tracked_sessions(p: &Pair) -> usize {
    let debug = format!("{:?}", p.engine);
    debug
        .split("tracked_sessions: ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tracked_sessions in {debug}"))
}

#[test]
fn events_of_sessions_the_client_never_asked_about_are_not_kept_forever() {
    let mut p = Pair::ready(Server::WithReset);
    for i in 0..5_000 {
        p.feed(&delta(&format!("stranger-{i}"), 1, "x"));
    }
    let kept = tracked_sessions(&p);
    assert!(kept <= 256, "{kept} sessions kept for 5000 strangers");
}

#[test]
fn a_session_the_client_used_is_kept_until_it_is_archived() {
    let mut p = Pair::ready(Server::WithReset);
    let w = Wakes::new();
    let first = p.engine.open_turn(turn("mine"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    p.feed(&started("mine", 1));
    p.feed(&completed("mine", 2));
    p.ok(&req, run_result("mine"));
    let _ = p.drain(first.id(), &w);
    for i in 0..1_000 {
        p.feed(&delta(&format!("stranger-{i}"), 1, "x"));
    }
    // Still known after a flood of strangers: a gap in its `seq` is
    // reported on the next turn.
    let next = p.engine.open_turn(turn("mine"), p.now).unwrap();
    p.settle();
    let req = p.expect("turn/start");
    p.feed(&started("mine", 5));
    let items = p.drain(next.id(), &w);
    assert_eq!(items, ["lost 2", "run_started"]);
    p.feed(&completed("mine", 6));
    p.ok(&req, run_result("mine"));
    let _ = p.drain(next.id(), &w);
    let before = tracked_sessions(&p);
    let (archive, _) = p.start(ops::archive("mine"));
    let req = p.expect("session/archive");
    p.ok(&req, json!({"archived": true}));
    let _ = p.poll(archive, &w);
    assert_eq!(tracked_sessions(&p), before - 1, "archived: forgotten");
}

#[test]
fn a_server_that_floods_tool_calls_without_reading_the_answers_stays_bounded() {
    let options = ConnectOptions::new().max_output_bytes(4096);
    let mut p = Pair::ready_with(&options, Server::WithReset);
    // The server stops reading its stdin and asks for tools, over and over.
    for i in 0..2_000 {
        let call = tool_execute(&format!("srv-{i}"), "nobody_registered_this");
        let mut line = serde_json::to_vec(&call).unwrap();
        line.push(b'\n');
        p.engine.handle_bytes(&line, p.now);
        let _ = p.engine.effects();
    }
    let d = p.engine.diagnostics();
    assert!(
        d.output_bytes < 4096 + 512,
        "{} bytes queued for a server that reads nothing",
        d.output_bytes
    );
    assert_eq!(p.engine.output_bytes(), d.output_bytes);
    assert!(
        d.count(DiagnosticKind::ServerRequestDropped) > 1_900,
        "{d:?}"
    );
    assert_eq!(d.output_limit, 4096);
}

#[test]
fn a_server_that_floods_unknown_methods_without_reading_the_refusals_stays_bounded() {
    let options = ConnectOptions::new().max_output_bytes(4096);
    let mut p = Pair::ready_with(&options, Server::WithReset);
    // The server stops reading its stdin and asks for methods the client
    // does not serve, over and over: each would get a -32601 refusal.
    for i in 0..2_000 {
        let request = json!({"jsonrpc":"2.0","id":format!("srv-{i}"),
            "method":"client/unheard_of","params":{"i":i}});
        let mut line = serde_json::to_vec(&request).unwrap();
        line.push(b'\n');
        p.engine.handle_bytes(&line, p.now);
        let _ = p.engine.effects();
    }
    let d = p.engine.diagnostics();
    assert!(
        d.output_bytes < 4096 + 512,
        "{} bytes of refusals queued for a server that reads nothing",
        d.output_bytes
    );
    assert!(
        d.count(DiagnosticKind::ServerRequestDropped) > 1_900,
        "{d:?}"
    );
    // Under the bound, a refusal is still written.
    p.settle();
    p.sent.clear();
    p.settle();
    p.feed(&json!({"jsonrpc":"2.0","id":"srv-late","method":"client/unheard_of"}));
    let refusal = p.sent.pop_front().expect("a refusal under the bound");
    assert_eq!(refusal["id"], "srv-late");
    assert_eq!(refusal["error"]["code"], -32601);
}

#[test]
fn what_the_engine_recovered_from_is_counted_with_samples() {
    let mut p = Pair::ready(Server::WithReset);
    p.feed_raw(b"2026-11-25T00:00:00Z INFO a log line on stdout\n");
    p.feed_raw(b"{\"jsonrpc\":\"2.0\",\"id\":987654,\"result\":{}}\n");
    p.feed(&delta("never-heard-of-it", 1, "x"));
    p.feed_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"session/event\",\"params\":5}\n");
    let (id, _) = p.start(Call::raw("echo", json!({})));
    let req = p.expect("echo");
    let mut bad = format!(r#"{{"jsonrpc":"2.0","id":{},"result":"a"#, req["id"]).into_bytes();
    bad.extend_from_slice(b"\xff\"}\n");
    p.feed_raw(&bad);
    assert!(p.poll(id, &Wakes::new()).is_ready());

    let d = p.engine.diagnostics();
    assert_eq!(d.count(DiagnosticKind::SkippedLine), 1, "{d:?}");
    assert_eq!(d.count(DiagnosticKind::UnmatchedResponse), 1, "{d:?}");
    assert_eq!(d.count(DiagnosticKind::UnknownSessionEvent), 1, "{d:?}");
    assert_eq!(d.count(DiagnosticKind::UndecodableEvent), 1, "{d:?}");
    assert_eq!(d.count(DiagnosticKind::LossyUtf8), 1, "{d:?}");
    assert_eq!(d.total(), 5);
    assert_eq!(d.samples.len(), 5);
    assert_eq!(d.samples[0].kind, DiagnosticKind::SkippedLine);
    assert!(d.samples[0].detail.contains("a log line"), "{d:?}");
    assert!(d.samples[2].detail.contains("never-heard-of-it"), "{d:?}");

    // The samples are bounded; the counts go on.
    for _ in 0..100 {
        p.feed_raw(b"another log line\n");
    }
    let d = p.engine.diagnostics();
    assert_eq!(d.count(DiagnosticKind::SkippedLine), 101);
    assert_eq!(d.samples.len(), meerkat_proto::sdk::DIAGNOSTIC_SAMPLES);
}

/// One step of a writer that is sometimes stuck.
#[derive(Debug, Clone)]
enum WriterStep {
    /// The caller starts a request of about this many bytes.
    Start(usize),
    /// The caller of the n-th started request goes away.
    Cancel(usize),
    /// The writer takes a batch (and so finished the one before).
    Take,
    /// The clock moves by this many seconds (requests time out at 600).
    Advance(u64),
}

fn writer_step() -> impl Strategy<Value = WriterStep> {
    prop_oneof![
        4 => (1usize..3000).prop_map(WriterStep::Start),
        1 => (0usize..40).prop_map(WriterStep::Cancel),
        2 => Just(WriterStep::Take),
        1 => (1u64..400).prop_map(WriterStep::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the caller and a stuck writer do: the bytes waiting never
    /// pass the bound by more than one frame; the writer only gets whole
    /// frames; a request refused with `WRITE_QUEUE_FULL` was refused only
    /// at the bound; and no frame of a request that timed out or was
    /// cancelled before the writer took it is ever written.
    #[test]
    fn the_output_queue_is_bounded_and_hands_out_only_live_whole_frames(
        steps in prop::collection::vec(writer_step(), 0..120)
    ) {
        const LIMIT: usize = 8 * 1024;
        let options = ConnectOptions::new().max_output_bytes(LIMIT);
        let mut p = Pair::ready_with(&options, Server::WithReset);
        let mut started: Vec<RequestId> = Vec::new();
        let mut gone: std::collections::HashSet<u64> = std::collections::HashSet::new();
        let timeout = ConnectOptions::new().request_timeout;
        let mut sent_at: HashMap<u64, Instant> = HashMap::new();
        for step in steps {
            match step {
                WriterStep::Start(size) => {
                    let before = p.engine.output_bytes();
                    match p.engine.start(big_call(size), p.now) {
                        Ok((id, _)) => {
                            started.push(id);
                            sent_at.insert(id.get(), p.now);
                        }
                        Err(e) => {
                            prop_assert_eq!(e.code(), "WRITE_QUEUE_FULL");
                            prop_assert!(before >= LIMIT, "refused below the bound: {}", before);
                        }
                    }
                    // At most one frame (under 3000 bytes of blob) past it.
                    prop_assert!(p.engine.output_bytes() < LIMIT + 3000 + 200);
                }
                WriterStep::Cancel(n) => {
                    if let Some(&id) = started.get(n) {
                        p.engine.cancel_call(id);
                        gone.insert(id.get());
                    }
                }
                WriterStep::Take => {
                    let batch = p.engine.take_output();
                    prop_assert!(batch.is_empty() || batch.ends_with(b"\n"), "whole frames only");
                    for line in batch.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        let msg: Value = serde_json::from_slice(line).expect("a whole JSON line");
                        if let Some(id) = msg["id"].as_u64() {
                            prop_assert!(!gone.contains(&id), "request {} written after it was given up", id);
                        }
                    }
                }
                WriterStep::Advance(secs) => {
                    p.now += Duration::from_secs(secs);
                    p.engine.handle_timeout(p.now);
                    for (id, at) in &sent_at {
                        if *at + timeout <= p.now {
                            gone.insert(*id);
                        }
                    }
                }
            }
            let _ = p.engine.effects();
        }
    }
}
