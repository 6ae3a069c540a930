//! The SDK [`Engine`] (and the `Connection` routing under it) facing a
//! server that says anything: the client starts turns, creates, plain calls
//! and subscriptions, cancels and drops them, while the server sends raw
//! bytes and structured-ish lines built from the input (responses to real
//! and unknown ids, `session/event` of the client's sessions and of
//! strangers with any `seq`, `session/stream_event`, `tool/execute`,
//! requests of unknown methods), the writer takes output or stalls, and
//! time passes. After every step:
//!
//! - a call resolves at most once: its answer is never lost to a second
//!   completion (a call that resolves with a closed error while the
//!   connection is open was completed twice); a stream hands out one end,
//!   then nothing;
//! - no event of session A reaches a turn stream of session B, a create's
//!   stream carries one session only, and a subscription only its own
//!   stream's events;
//! - the routing state for unknown sessions is capped (256 strangers plus
//!   the client's own sessions);
//! - the bytes waiting for stdin stay under the bound plus one frame;
//! - once the connection closes (close, end of output) every call and
//!   every stream resolves; once time runs far enough, every call and
//!   turn stream does.

#![no_main]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use meerkat_proto::sdk::{End, Engine, EngineConfig, Ingest, Next, ops};
use meerkat_proto::{ConnectOptions, Error, RequestId, SessionOptions, TurnOptions};
use serde_json::{Value, json};

/// Event ids made by the harness start with this; raw input holding it is
/// not fed (it could forge a routing mark).
const MARK: &str = "fz|";

const LIMITS: [usize; 4] = [256, 1024, 4096, 65536];
/// How many bytes the pipe takes from a caller's direct write.
const PIPE_ROOM: [usize; 5] = [0, 1, 7, 64, usize::MAX];
const TIMEOUT: Duration = Duration::from_secs(60);

/// The input: 4 header bytes (output bound, whether the server offers
/// `runtime/reset` (bit 0) and whether callers write directly (bit 1, the
/// pipe's room in the bits above), stream budget (bit 4: the engine's
/// `handle_bytes` instead of the reader's `Ingest`), how it ends), a little-endian `u16`
/// length and that many bytes of [`Op`]s (decoded with `arbitrary`), then
/// server lines (`\n`-separated; the corpus seeds them from the recorded
/// transcripts). [`Op::Line`] feeds one of them; after the ops, every
/// line is fed once more, in order, each followed by a write and a poll.
struct Input<'a> {
    limit: u8,
    with_reset: bool,
    /// Callers write the output themselves while the writer sleeps
    /// (`Engine::set_direct_writes`), into a pipe with this much room each
    /// time.
    direct: Option<usize>,
    budget: u8,
    /// The server's bytes go through `Ingest` and `handle_ingested` (the
    /// transports' reader path), else through `handle_bytes`.
    reader: bool,
    ops: Vec<Op>,
    lines: Vec<&'a [u8]>,
    end: Finale,
}

impl<'a> Input<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let (header, rest) = data.split_first_chunk::<6>()?;
        let len = usize::from(u16::from_le_bytes([header[4], header[5]])).min(rest.len());
        let (ops, tail) = rest.split_at(len);
        let mut u = Unstructured::new(ops);
        let mut parsed = Vec::new();
        while !u.is_empty() && parsed.len() < 400 {
            parsed.push(Op::arbitrary(&mut u).ok()?);
        }
        let lines = tail
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .take(256)
            .collect();
        Some(Self {
            limit: header[0],
            with_reset: header[1] & 1 == 1,
            direct: (header[1] & 2 == 2)
                .then(|| PIPE_ROOM[usize::from(header[1] >> 2) % PIPE_ROOM.len()]),
            budget: header[2],
            reader: header[2] & 0x10 == 0,
            ops: parsed,
            lines,
            end: match header[3] % 3 {
                0 => Finale::Close,
                1 => Finale::Eof,
                _ => Finale::TimePasses,
            },
        })
    }
}

#[derive(Debug)]
enum Finale {
    Close,
    Eof,
    TimePasses,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// A streamed turn on client session `s{n % 4}`.
    Turn(u8),
    /// A streamed `session/create`.
    Create,
    /// A plain call (`session/list`, or `session/archive` of `s{n % 4}`).
    Plain { archive: Option<u8> },
    /// A subscription to `s{n % 4}`.
    Subscribe(u8),
    /// The caller of the n-th call or stream goes away.
    Drop(u8),
    /// Every waiter looks (poll).
    Poll,
    /// The writer takes a batch.
    Take,
    /// The clock moves by this many seconds.
    Advance(u8),
    /// Raw bytes from the server.
    Bytes(Vec<u8>),
    /// Server line `n` of the input's tail, with its newline.
    Line(u8),
    /// A response to request `id` (as the client numbered it).
    Respond {
        id: u8,
        shape: u8,
        error: Option<u8>,
    },
    /// `session/event` of a client session (`s*`, `c*`) or a stranger.
    Event {
        session: Session,
        seq: u16,
        kind: u8,
    },
    /// `session/stream_event` of stream `st-{n}`.
    StreamEvent { stream: u8, sequence: u16 },
    /// `session/stream_end` of stream `st-{n}`.
    StreamEnd(u8),
    /// A `tool/execute` for an unknown tool.
    ToolExecute(u16),
    /// A request of a method the client does not serve.
    Unknown(u16),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Session {
    Mine(u8),
    Created(u8),
    Stranger(u16),
}

impl Session {
    fn name(self) -> String {
        match self {
            Self::Mine(n) => format!("s{}", n % 4),
            Self::Created(n) => format!("c{}", n % 4),
            Self::Stranger(n) => format!("x{n}"),
        }
    }
}

#[derive(Debug)]
enum Waiter {
    /// A plain call or a subscription's open.
    Call {
        sub: Option<(String, Option<String>)>,
    },
    /// A turn stream; `Some(session)` for a turn, `None` for a create.
    Stream {
        session: Option<String>,
        /// Sessions of the client's turns when it started (a create's
        /// events are never theirs).
        taken: HashSet<String>,
        seen: Option<String>,
        ended: bool,
    },
    /// A subscription after its open: its stream id.
    Sub { stream: String, ended: bool },
}

struct Harness {
    engine: Engine<()>,
    /// The reader's framing and scan, when the input takes that path.
    ingest: Option<Ingest>,
    now: Instant,
    limit: usize,
    /// Every call and stream started, in order (for `Drop`).
    started: Vec<RequestId>,
    ids: HashMap<u64, RequestId>,
    waiters: BTreeMap<u64, Waiter>,
    /// Sessions the client named in a turn.
    turned: HashSet<String>,
    /// Methods of the requests seen on the wire, by id.
    methods: HashMap<u64, (String, Option<String>)>,
    largest_frame: usize,
    events: u64,
    /// The pipe's room for a caller's direct write, when callers write.
    direct: Option<usize>,
    /// What reached the server's stdin, writer's and callers' bytes in
    /// order, up to the last whole line: every line must be whole JSON
    /// (never two writers' bytes interleaved).
    wire: Vec<u8>,
}

impl Harness {
    fn new(input: &Input) -> Self {
        let limit = LIMITS[usize::from(input.limit) % LIMITS.len()];
        let options = ConnectOptions::new()
            .max_output_bytes(limit)
            .request_timeout(TIMEOUT)
            .stream_budget(usize::from(input.budget % 16) + 1);
        let mut config = EngineConfig::from_options(&options);
        config.child = false;
        let now = Instant::now();
        let mut h = Self {
            ingest: None,
            engine: Engine::new(config, now),
            now,
            limit,
            started: Vec::new(),
            ids: HashMap::new(),
            waiters: BTreeMap::new(),
            turned: HashSet::new(),
            methods: HashMap::new(),
            largest_frame: 0,
            events: 0,
            direct: input.direct,
            wire: Vec::new(),
        };
        h.engine.set_direct_writes(input.direct.is_some());
        h.ingest = input.reader.then(|| h.engine.ingest());
        let mut methods = vec![
            "initialize",
            "initialized",
            "capabilities/get",
            "session/list",
            "session/create",
            "session/archive",
            "turn/start",
            "turn/interrupt",
            "session/stream_open",
            "session/stream_close",
        ];
        if input.with_reset {
            methods.push("runtime/reset");
        }
        h.take();
        let init = h.id_of("initialize");
        h.feed(&json!({"jsonrpc":"2.0","id":init,"result":{
            "server_info":{"name":"meerkat-rpc","version":"0.5.2"},
            "contract_version":"0.5.2","methods":methods}}));
        h.take();
        let caps = h.id_of("capabilities/get");
        h.feed(&json!({"jsonrpc":"2.0","id":caps,"result":{
            "contract_version":{"major":0,"minor":5,"patch":2},"capabilities":[
            {"id":"sessions","description":"s","status":"Available"},
            {"id":"streaming","description":"e","status":"Available"}]}}));
        assert!(matches!(
            h.engine.poll_ready(Waker::noop()),
            Poll::Ready(Ok(_))
        ));
        h
    }

    fn id_of(&self, method: &str) -> u64 {
        *self
            .methods
            .iter()
            .find(|(_, (m, _))| m == method)
            .unwrap_or_else(|| panic!("no {method} on the wire"))
            .0
    }

    fn feed(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).expect("JSON");
        line.push(b'\n');
        self.server_bytes(&line);
    }

    /// The server wrote `bytes`: to the engine by the input's path.
    fn server_bytes(&mut self, bytes: &[u8]) {
        match &mut self.ingest {
            Some(ingest) => {
                let batch = ingest.feed(bytes);
                self.engine.handle_ingested(batch, self.now);
            }
            None => self.engine.handle_bytes(bytes, self.now),
        }
    }

    /// The writer takes a batch: it ends with a whole line.
    fn take(&mut self) {
        let batch = self.engine.take_output();
        assert!(batch.is_empty() || batch.ends_with(b"\n"), "a cut frame");
        self.write(&batch);
    }

    /// The effects of a step: a caller writes what it is handed, as much
    /// as the pipe takes, and says so (then the effects again).
    fn effects(&mut self) {
        let mut effects = self.engine.effects();
        while let Some(batch) = effects.write_now.take() {
            let room = self.direct.expect("write_now only with direct writes");
            let written = batch.len().min(room);
            self.write(&batch[..written]);
            self.engine.caller_wrote(batch, written);
            effects = self.engine.effects();
        }
    }

    /// Bytes reach the server: each whole line is JSON, a request of ours
    /// is noted.
    fn write(&mut self, bytes: &[u8]) {
        self.wire.extend_from_slice(bytes);
        let Some(end) = self.wire.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let whole: Vec<u8> = self.wire.drain(..=end).collect();
        for line in whole.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            self.largest_frame = self.largest_frame.max(line.len() + 1);
            let msg: Value = serde_json::from_slice(line).expect("the client writes JSON");
            if let (Some(id), Some(method)) = (msg["id"].as_u64(), msg["method"].as_str()) {
                let session = msg["params"]["session_id"].as_str().map(str::to_owned);
                self.methods.insert(id, (method.to_owned(), session));
            }
        }
    }

    fn started(&mut self, id: RequestId, waiter: Waiter) {
        self.started.push(id);
        self.ids.insert(id.get(), id);
        assert!(
            self.waiters.insert(id.get(), waiter).is_none(),
            "id {id} reused"
        );
    }

    fn result_for(&self, id: u64, shape: u8) -> Value {
        let (method, session) = self
            .methods
            .get(&id)
            .cloned()
            .unwrap_or_else(|| (String::new(), None));
        let shape = match method.as_str() {
            "turn/start" | "session/create" => 0,
            "session/stream_open" => 1,
            "session/list" => 2,
            _ => shape % 4,
        };
        match shape {
            0 => {
                let session = session.unwrap_or_else(|| format!("c{}", id % 4));
                json!({"session_id":session,"text":"ok","turns":1,"tool_calls":0,
                    "usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}})
            }
            1 => json!({"stream_id":format!("st-{}", id % 4),"opened":true}),
            2 => json!({"sessions":[]}),
            _ => json!({}),
        }
    }

    /// Server bytes, unless they hold the harness's event mark.
    fn raw(&mut self, bytes: &[u8]) {
        if !bytes.windows(MARK.len()).any(|w| w == MARK.as_bytes()) {
            self.server_bytes(bytes);
        }
    }

    fn step(&mut self, op: &Op, lines: &[&[u8]]) {
        let now = self.now;
        match op {
            Op::Turn(n) => {
                let session = format!("s{}", n % 4);
                let call = ops::turn(&session, "hi".into(), TurnOptions::default());
                if let Ok(stream) = self.engine.open_turn(call, now) {
                    self.turned.insert(session.clone());
                    let waiter = Waiter::Stream {
                        session: Some(session),
                        taken: HashSet::new(),
                        seen: None,
                        ended: false,
                    };
                    self.started(stream.id(), waiter);
                }
            }
            Op::Create => {
                let call = ops::create_session(SessionOptions::new("hi"));
                if let Ok(stream) = self.engine.open_turn(call, now) {
                    let waiter = Waiter::Stream {
                        session: None,
                        taken: self.turned.clone(),
                        seen: None,
                        ended: false,
                    };
                    self.started(stream.id(), waiter);
                }
            }
            Op::Plain { archive } => {
                let started = match archive {
                    Some(n) => self
                        .engine
                        .start(ops::archive(&format!("s{}", n % 4)), now)
                        .map(|(id, _)| id),
                    None => self
                        .engine
                        .start(ops::list_sessions(), now)
                        .map(|(id, _)| id),
                };
                if let Ok(id) = started {
                    self.started(id, Waiter::Call { sub: None });
                }
            }
            Op::Subscribe(n) => {
                let session = format!("s{}", n % 4);
                if let Ok((id, _, _)) = self
                    .engine
                    .open_subscription(ops::subscribe_session(&session), now)
                {
                    self.started(
                        id,
                        Waiter::Call {
                            sub: Some((session, None)),
                        },
                    );
                }
            }
            Op::Drop(n) => {
                if self.started.is_empty() {
                    return;
                }
                let id = self.started[usize::from(*n) % self.started.len()];
                match self.waiters.remove(&id.get()) {
                    Some(Waiter::Call { .. }) => self.engine.cancel_call(id),
                    Some(Waiter::Stream { .. }) => self.engine.drop_stream(id, None, now),
                    Some(Waiter::Sub { stream, .. }) => {
                        let close = ops::close_session_stream(stream);
                        self.engine.drop_stream(id, Some(close), now);
                    }
                    None => {}
                }
            }
            Op::Poll => self.poll_all(),
            Op::Take => self.take(),
            Op::Advance(secs) => {
                self.now += Duration::from_secs(u64::from(*secs));
                self.engine.handle_timeout(self.now);
            }
            Op::Bytes(bytes) => self.raw(bytes),
            Op::Line(n) => {
                if let Some(line) = lines.get(usize::from(*n) % lines.len().max(1)) {
                    let mut line = line.to_vec();
                    line.push(b'\n');
                    self.raw(&line);
                }
            }
            Op::Respond { id, shape, error } => {
                let id = u64::from(*id);
                let msg = match error {
                    Some(code) => {
                        let (code, message) = match code % 4 {
                            0 => (-32603, "turn abandoned: apply failed: agent error"),
                            1 => (-32603, "Runtime not ready: running"),
                            2 => (-32601, "method not found"),
                            _ => (-32000, "nope"),
                        };
                        json!({"jsonrpc":"2.0","id":id,"error":{"code":code,"message":message}})
                    }
                    None => json!({"jsonrpc":"2.0","id":id,"result":self.result_for(id, *shape)}),
                };
                self.feed(&msg);
            }
            Op::Event { session, seq, kind } => {
                let name = session.name();
                self.events += 1;
                let payload = match kind % 4 {
                    0 => json!({"type":"run_started","session_id":name,"prompt":"hi"}),
                    1 => json!({"type":"run_completed","session_id":name,"result":"ok",
                        "usage":{"input_tokens":1,"output_tokens":2}}),
                    2 => json!({"type":"run_failed","session_id":name,"error":"boom"}),
                    _ => json!({"type":"text_delta","delta":"x"}),
                };
                let event_id = format!("{MARK}{name}|{}", self.events);
                self.feed(&json!({"jsonrpc":"2.0","method":"session/event","params":{
                    "session_id":name,"event":{"event_id":event_id,
                    "source_id":format!("session:{name}"),"seq":seq,"timestamp_ms":1,
                    "payload":payload}}}));
            }
            Op::StreamEvent { stream, sequence } => {
                let stream = format!("st-{}", stream % 4);
                self.events += 1;
                let event_id = format!("{MARK}{stream}|{}", self.events);
                self.feed(
                    &json!({"jsonrpc":"2.0","method":"session/stream_event","params":{
                    "stream_id":stream,"sequence":sequence,"session_id":"s0","event":{
                    "event_id":event_id,"source_id":"session:s0","seq":sequence,
                    "timestamp_ms":1,"payload":{"type":"text_delta","delta":"x"}}}}),
                );
            }
            Op::StreamEnd(stream) => {
                let stream = format!("st-{}", stream % 4);
                self.feed(&json!({"jsonrpc":"2.0","method":"session/stream_end",
                    "params":{"stream_id":stream,"outcome":"closed"}}));
            }
            Op::ToolExecute(n) => {
                self.feed(&json!({"jsonrpc":"2.0","id":format!("srv-{n}"),
                    "method":"tool/execute","params":{"name":"nobody","arguments":{},
                    "tool_use_id":"t"}}));
            }
            Op::Unknown(n) => {
                self.feed(&json!({"jsonrpc":"2.0","id":format!("srv-{n}"),
                    "method":"no/such_method","params":{}}));
            }
        }
        self.effects();
        self.check();
    }

    /// Every waiter looks once.
    fn poll_all(&mut self) {
        let ids: Vec<u64> = self.waiters.keys().copied().collect();
        for key in ids {
            self.poll_one(key);
        }
    }

    fn poll_one(&mut self, key: u64) {
        let id = self.ids[&key];
        let closed = self.engine.is_closed();
        let Some(waiter) = self.waiters.get_mut(&key) else {
            return;
        };
        // A subscription whose open just resolved looks at its stream too
        // (it may hold its end already: the connection closed meanwhile).
        let mut opened_now = false;
        match waiter {
            Waiter::Call { sub } => match self.engine.poll_call(id, Waker::noop()) {
                Poll::Pending => {}
                Poll::Ready(result) => {
                    if let Err(Error::Closed | Error::ConnectionClosed { .. }) = &result {
                        assert!(
                            closed,
                            "call {id} lost its answer while the connection is open"
                        );
                    }
                    let opened = result.ok().and_then(|raw| {
                        serde_json::from_str::<Value>(raw.get()).ok()?["stream_id"]
                            .as_str()
                            .map(str::to_owned)
                    });
                    match (sub.take(), opened) {
                        (Some(_), Some(stream)) => {
                            *waiter = Waiter::Sub {
                                stream,
                                ended: false,
                            };
                            opened_now = true;
                        }
                        _ => {
                            self.waiters.remove(&key);
                        }
                    }
                }
            },
            Waiter::Stream {
                session,
                taken,
                seen,
                ended,
            } => loop {
                match self.engine.poll_stream(id, Waker::noop()) {
                    Poll::Pending => {
                        assert!(!*ended, "stream {id} waits again after its end");
                        break;
                    }
                    Poll::Ready(None) => {
                        assert!(*ended, "stream {id} gone without an end");
                        break;
                    }
                    Poll::Ready(Some(next)) => {
                        assert!(!*ended, "stream {id}: {next:?} after its end");
                        match next {
                            Next::End(_) => *ended = true,
                            Next::Event(event) => {
                                let owner = mark_of(&event.envelope().event_id);
                                let Some(owner) = owner else { continue };
                                match session {
                                    Some(s) => assert_eq!(
                                        &owner, s,
                                        "an event of {owner} in the turn stream of {s}"
                                    ),
                                    None => {
                                        assert!(
                                            !taken.contains(&owner),
                                            "an event of the client's {owner} in a create's stream"
                                        );
                                        let first = seen.get_or_insert_with(|| owner.clone());
                                        assert_eq!(
                                            first, &owner,
                                            "two sessions in one create's stream"
                                        );
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            },
            Waiter::Sub { stream, ended } => loop {
                match self.engine.poll_stream(id, Waker::noop()) {
                    Poll::Pending => {
                        assert!(!*ended, "subscription {id} waits again after its end");
                        break;
                    }
                    Poll::Ready(None) => break,
                    Poll::Ready(Some(next)) => {
                        assert!(!*ended, "subscription {id}: {next:?} after its end");
                        match next {
                            Next::End(End::Subscription { .. } | End::Turn(_)) => *ended = true,
                            Next::End(_) => *ended = true,
                            Next::Event(event) => {
                                if let Some(owner) = mark_of(&event.envelope().event_id) {
                                    assert_eq!(
                                        &owner, stream,
                                        "an event of {owner} in subscription {stream}"
                                    );
                                }
                            }
                            _ => {}
                        }
                    }
                }
            },
        }
        if opened_now {
            self.poll_one(key);
        }
    }

    fn check(&self) {
        let d = self.engine.diagnostics();
        let mine = 8; // s0..s3 and c0..c3
        assert!(
            d.tracked_sessions <= mine + 256,
            "{} sessions tracked",
            d.tracked_sessions
        );
        // One frame of ours is at most a few hundred bytes; answers to the
        // server are small too.
        let frame = self.largest_frame.max(1024);
        assert!(
            self.engine.output_bytes() <= self.limit + frame,
            "{} bytes wait for stdin (bound {})",
            self.engine.output_bytes(),
            self.limit
        );
    }

    /// After the end: every call and stream resolved (subscriptions only
    /// when the connection closed).
    fn finish(&mut self, end: &Finale) {
        match end {
            Finale::Close => self.engine.close(self.now),
            Finale::Eof => {
                if let Some(ingest) = &mut self.ingest {
                    self.engine.handle_ingested(ingest.finish(), self.now);
                }
                self.engine.handle_eof(self.now);
            }
            Finale::TimePasses => {
                for _ in 0..1000 {
                    let Some(at) = self.engine.poll_timeout() else {
                        break;
                    };
                    self.now = self.now.max(at);
                    self.engine.handle_timeout(self.now);
                    self.effects();
                    self.check();
                }
                assert_eq!(self.engine.poll_timeout(), None, "timers never settle");
            }
        }
        self.effects();
        self.check();
        self.poll_all();
        let closed = self.engine.is_closed();
        if matches!(end, Finale::Close | Finale::Eof) {
            assert!(closed, "still open after {end:?}");
        }
        for (id, waiter) in &self.waiters {
            match waiter {
                Waiter::Call { .. } => panic!("call {id} unresolved after {end:?}"),
                Waiter::Stream { ended, .. } => assert!(*ended, "stream {id} open after {end:?}"),
                Waiter::Sub { ended, .. } => {
                    assert!(*ended || !closed, "subscription {id} open after {end:?}")
                }
            }
        }
    }
}

/// The session or stream an event made by the harness was sent for.
fn mark_of(event_id: &str) -> Option<String> {
    let rest = event_id.strip_prefix(MARK)?;
    Some(rest.split('|').next()?.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let mut h = Harness::new(&input);
    for op in &input.ops {
        h.step(op, &input.lines);
    }
    for n in 0..input.lines.len() {
        let n = u8::try_from(n).unwrap_or(u8::MAX);
        h.step(&Op::Line(n), &input.lines);
        h.step(&Op::Take, &input.lines);
        h.step(&Op::Poll, &input.lines);
    }
    h.finish(&input.end);
});
