//! `meerkat-bench`: the workloads of `scripts/bench.sh`, one per call, each
//! printing one JSON object on stdout.
//!
//! ```text
//! meerkat-bench stream    <tokio|blocking|floor> <fake> <events>
//! meerkat-bench roundtrip <tokio|tokio-task|blocking|floor|floor-threads4|echo|echo-threads|echo-threads4> <fake> <requests>
//! meerkat-bench fanout    <tokio|blocking> <fake> <sessions> <events-per-session>
//! meerkat-bench memory    <tokio|blocking> <fake> <events> <slowdown>
//! meerkat-bench coldstart <tokio|blocking|raw|python:<interpreter>:<py_bench.py>> <runs>
//! meerkat-bench session   <tokio|blocking|python:<interpreter>:<py_bench.py>> <turns> <requests>
//! ```
//!
//! `coldstart` and `session` run against the real `rkat-rpc` named by
//! `$MEERKAT_RKAT_RPC` and the scripted LLM (see the `real` module).
//!
//! Every workload runs against the same `fake-rkat-rpc` (scenario
//! `burst N 8`: a turn writes N pre-rendered `text_delta` events in 1 MiB
//! chunks, as fast as the pipe takes them). Streams are timed from their
//! first `text_delta` to their end: the fake renders the burst after
//! `run_started`/`turn_started`, and that rendering is never counted.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod real;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let num = |i: usize| arg(i).parse::<usize>().unwrap_or(0);
    let out = match (arg(0), arg(1)) {
        ("stream", "tokio") => tokio_rt().block_on(tokio_stream(arg(2), num(3))),
        ("stream", "blocking") => blocking_stream(arg(2), num(3)),
        ("stream", "floor") => floor_stream(arg(2), num(3)),
        ("roundtrip", "tokio") => tokio_rt().block_on(tokio_roundtrip(arg(2), num(3))),
        ("roundtrip", "tokio-task") => {
            let (fake, n) = (arg(2).to_owned(), num(3));
            let rt = tokio_rt();
            rt.block_on(async move {
                tokio::spawn(async move { tokio_roundtrip(&fake, n).await }).await
            })
            .expect("the task")
        }
        ("roundtrip", "blocking") => blocking_roundtrip(arg(2), num(3)),
        ("roundtrip", "floor") => floor_roundtrip(arg(2), num(3)),
        ("roundtrip", "floor-threads4") => floor_threads4_roundtrip(arg(2), num(3)),
        ("roundtrip", "echo") => echo_roundtrip(num(3)),
        ("roundtrip", "echo-threads") => echo_threads_roundtrip(num(3)),
        ("roundtrip", "echo-threads4") => echo_threads4_roundtrip(num(3)),
        ("fanout", "tokio") => tokio_rt().block_on(tokio_fanout(arg(2), num(3), num(4))),
        ("fanout", "blocking") => blocking_fanout(arg(2), num(3), num(4)),
        ("fanout", "floor") => floor_fanout(arg(2), num(3), num(4)),
        ("memory", "tokio") => tokio_rt().block_on(tokio_memory(arg(2), num(3), num(4))),
        ("memory", "blocking") => blocking_memory(arg(2), num(3), num(4)),
        ("coldstart", implementation) => real::coldstart(implementation, num(2)),
        ("session", implementation) => real::session(implementation, num(2), num(3)),
        _ => {
            eprintln!("usage: see the crate docs of meerkat-bench");
            std::process::exit(2);
        }
    };
    println!("{out}");
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn burst(events: usize) -> String {
    format!("burst {events} 8")
}

fn tokio_options(fake: &str, scenario: &str) -> meerkat_transport_tokio::ConnectOptions {
    meerkat_transport_tokio::ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", scenario)
}

fn percentiles(mut lat: Vec<Duration>) -> Value {
    lat.sort_unstable();
    let at = |q: f64| {
        let i = ((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1));
        lat.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    json!({"requests": lat.len(), "p50_us": at(0.5), "p99_us": at(0.99)})
}

fn is_delta(event_type: &str) -> bool {
    event_type == "text_delta"
}

fn rate(events: usize, first: Option<Instant>, end: Instant) -> Value {
    let secs = first.map_or(0.0, |t| end.duration_since(t).as_secs_f64());
    json!({"events": events, "seconds": secs, "events_per_s": events as f64 / secs.max(1e-9)})
}

/// Adds `dropped`: events the SDK dropped for this consumer (reported as
/// `Event::Lagged`; never counted as delivered).
fn with_dropped(mut v: Value, dropped: u64) -> Value {
    v["dropped"] = json!(dropped);
    v
}

// ---- workload 1: stream throughput -------------------------------------

async fn tokio_stream(fake: &str, n: usize) -> Value {
    use meerkat_transport_tokio::MeerkatClient;
    let client = MeerkatClient::connect(tokio_options(fake, &burst(n)))
        .await
        .expect("connect");
    let session = client.create_session("warm up").await.expect("create");
    let mut events = session.stream("go").await.expect("stream");
    let (mut count, mut dropped, mut first) = (0usize, 0u64, None);
    while let Some(event) = events.next().await {
        let event = event.expect("event");
        if let meerkat_transport_tokio::Event::Lagged { dropped: d } = event {
            dropped += d;
            continue;
        }
        if is_delta(event.event_type()) {
            first.get_or_insert_with(Instant::now);
        }
        if first.is_some() {
            count += 1;
        }
    }
    let end = Instant::now();
    client.close().await.expect("close");
    with_dropped(rate(count, first, end), dropped)
}

fn blocking_stream(fake: &str, n: usize) -> Value {
    use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    let options = ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", burst(n));
    let client = MeerkatClient::connect(options).expect("connect");
    let session = client.create_session("warm up").expect("create");
    let (mut count, mut dropped, mut first) = (0usize, 0u64, None);
    for event in session.stream("go").expect("stream") {
        let event = event.expect("event");
        if let meerkat_transport_blocking::Event::Lagged { dropped: d } = event {
            dropped += d;
            continue;
        }
        if is_delta(event.event_type()) {
            first.get_or_insert_with(Instant::now);
        }
        if first.is_some() {
            count += 1;
        }
    }
    let end = Instant::now();
    client.close().expect("close");
    with_dropped(rate(count, first, end), dropped)
}

/// A raw child speaking JSON lines, no SDK.
struct Raw {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    line: Vec<u8>,
}

impl Raw {
    fn spawn(program: &str, args: &[&str], scenario: Option<&str>) -> Self {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env("RUST_LOG", "off");
        if let Some(scenario) = scenario {
            command.env("FAKE_RKAT_SCENARIO", scenario);
        }
        let mut child = command.spawn().expect("spawn");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::with_capacity(64 * 1024, child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            line: Vec::new(),
        }
    }

    fn spawn_with(program: &str, scenario: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(program);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env("RUST_LOG", "off")
            .env("FAKE_RKAT_SCENARIO", scenario)
            .envs(env.iter().copied());
        let mut child = command.spawn().expect("spawn");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::with_capacity(64 * 1024, child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            line: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).expect("write");
        self.stdin.write_all(b"\n").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// The next line, parsed only as `IgnoredAny` (the floor's work).
    fn next_line(&mut self) -> &[u8] {
        self.line.clear();
        self.stdout.read_until(b'\n', &mut self.line).expect("read");
        let _ = serde_json::from_slice::<serde::de::IgnoredAny>(&self.line);
        &self.line
    }

    /// Reads until the response to `id` (a line starting `{"id":<id>,`
    /// or containing `"id":<id>`), counting `session/event` lines.
    fn until_response(&mut self, id: u64, mut on_event: impl FnMut()) {
        let tag = format!("\"id\":{id},");
        loop {
            let line = self.next_line();
            if line.is_empty() {
                panic!("the server closed its output");
            }
            if line.starts_with(b"{\"jsonrpc\":\"2.0\",\"method\":\"session/event\"") {
                on_event();
            } else if contains(line, tag.as_bytes()) {
                return;
            }
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn floor_stream(fake: &str, n: usize) -> Value {
    let mut raw = Raw::spawn(fake, &[], Some(&burst(n)));
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    raw.until_response(1, || {});
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"session/create","params":{"prompt":"warm up"}}"#);
    let sid = loop {
        let line = raw.next_line().to_vec();
        if contains(&line, b"\"id\":2,") {
            let v: Value = serde_json::from_slice(&line).expect("json");
            break v["result"]["session_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
    };
    raw.send(&format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"turn/start","params":{{"session_id":"{sid}","prompt":"go"}}}}"#
    ));
    // The first two events are run_started and turn_started; the deltas
    // follow (this floor parses nothing but IgnoredAny, so it counts).
    let (mut seen, mut count, mut first) = (0usize, 0usize, None);
    raw.until_response(3, || {
        seen += 1;
        if seen == 3 {
            first = Some(Instant::now());
        }
        if first.is_some() {
            count += 1;
        }
    });
    rate(count, first, Instant::now())
}

// ---- workload 2: request round trip ------------------------------------

/// `session/list` through the tokio transport. The `tokio` row calls it
/// from `block_on` (the main thread, outside the runtime's workers, as
/// `#[tokio::main]` does): each call wakes the writer task from outside the
/// runtime. The `tokio-task` row calls it from a spawned task: the writer
/// task then runs on the caller's worker.
async fn tokio_roundtrip(fake: &str, n: usize) -> Value {
    use meerkat_transport_tokio::MeerkatClient;
    let client = MeerkatClient::connect(tokio_options(fake, "normal"))
        .await
        .expect("connect");
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        client.list_sessions().await.expect("list");
        lat.push(t0.elapsed());
    }
    client.close().await.expect("close");
    percentiles(lat)
}

fn blocking_roundtrip(fake: &str, n: usize) -> Value {
    use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    let options = ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", "normal");
    let client = MeerkatClient::connect(options).expect("connect");
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        client.list_sessions().expect("list");
        lat.push(t0.elapsed());
    }
    client.close().expect("close");
    percentiles(lat)
}

/// `session/list` in raw JSON lines against the fake: no SDK at all.
fn floor_roundtrip(fake: &str, n: usize) -> Value {
    let mut raw = Raw::spawn(fake, &[], Some("normal"));
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    raw.until_response(1, || {});
    let mut lat = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let id = i + 2;
        let t0 = Instant::now();
        raw.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"session/list","params":{{}}}}"#
        ));
        raw.until_response(id, || {});
        lat.push(t0.elapsed());
    }
    percentiles(lat)
}

/// `session/list` in raw JSON lines against the fake through the four
/// handoffs of `echo-threads4` (caller -> writer thread, reader thread ->
/// caller): what a transport without a driver costs over the fake before
/// it does any work of its own, the reference of the SDK rows.
fn floor_threads4_roundtrip(fake: &str, n: usize) -> Value {
    let mut child = Command::new(fake)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("RUST_LOG", "off")
        .env("FAKE_RKAT_SCENARIO", "normal")
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::with_capacity(64 * 1024, child.stdout.take().expect("stdout"));
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\n")
        .expect("write");
    let mut line = Vec::new();
    while !contains(&line, b"\"id\":1,") {
        line.clear();
        assert!(
            stdout.read_until(b'\n', &mut line).expect("read") > 0,
            "the fake ended"
        );
    }
    threads4(child, stdin, stdout, n, true, |i| {
        let id = i + 2;
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"session/list\",\"params\":{{}}}}\n")
            .into_bytes()
    })
}

/// A small line through `cat` and back: the pipe's own round trip.
fn echo_roundtrip(n: usize) -> Value {
    let mut raw = Raw::spawn("cat", &[], None);
    let line = r#"{"jsonrpc":"2.0","id":1,"result":{"sessions":[]}}"#;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        raw.send(line);
        let _ = raw.next_line();
        lat.push(t0.elapsed());
    }
    percentiles(lat)
}

/// The same line through `cat`, handed between threads the way the
/// blocking transport hands a request and its response (caller -> driver
/// -> writer -> pipe -> `cat` -> pipe -> reader -> driver -> caller), with
/// nothing else done: what six wakeups cost, against the echo's two.
fn echo_threads_roundtrip(n: usize) -> Value {
    use std::sync::mpsc::{Sender, channel};
    enum Input {
        Call(Vec<u8>, Sender<Vec<u8>>),
        Bytes(Vec<u8>),
    }
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (to_driver, inputs) = channel::<Input>();
    let (to_writer, frames) = channel::<Vec<u8>>();
    let writer = std::thread::spawn(move || {
        for frame in frames {
            stdin.write_all(&frame).expect("write");
            stdin.flush().expect("flush");
        }
    });
    let from_reader = to_driver.clone();
    let _reader = std::thread::spawn(move || {
        let mut line = Vec::new();
        while stdout.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if from_reader
                .send(Input::Bytes(std::mem::take(&mut line)))
                .is_err()
            {
                return;
            }
        }
    });
    let driver = std::thread::spawn(move || {
        let mut waiting = std::collections::VecDeque::new();
        for input in inputs {
            match input {
                Input::Call(frame, reply) => {
                    waiting.push_back(reply);
                    let _ = to_writer.send(frame);
                }
                Input::Bytes(line) => {
                    if let Some(reply) = waiting.pop_front() {
                        let _ = reply.send(line);
                    }
                }
            }
        }
    });
    let line = br#"{"jsonrpc":"2.0","id":1,"result":{"sessions":[]}}
"#;
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let (reply, answer) = channel();
        let t0 = Instant::now();
        to_driver
            .send(Input::Call(line.to_vec(), reply))
            .expect("driver");
        let _ = answer.recv().expect("answer");
        lat.push(t0.elapsed());
    }
    // cat's exit ends the reader; then the driver's channel closes, and
    // with it the writer's.
    drop(to_driver);
    let _ = child.kill();
    let _ = child.wait();
    let _ = driver.join();
    let _ = writer.join();
    percentiles(lat)
}

/// The echo with four handoffs instead of six: the caller queues its
/// frame for the writer itself and the reader answers the caller (no driver
/// in between): what a transport without a driver hop could reach.
fn echo_threads4_roundtrip(n: usize) -> Value {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cat");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let line = br#"{"jsonrpc":"2.0","id":1,"result":{"sessions":[]}}
"#;
    threads4(child, stdin, stdout, n, false, |_| line.to_vec())
}

/// `n` round trips through four handoffs: the caller queues `frame(i)`
/// for a writer thread, and a reader thread answers the caller with the
/// next line of `stdout` (checked as JSON, into `IgnoredAny`, with
/// `parse`); then the child is killed.
fn threads4(
    mut child: std::process::Child,
    mut stdin: std::process::ChildStdin,
    mut stdout: BufReader<std::process::ChildStdout>,
    n: usize,
    parse: bool,
    frame: impl Fn(u64) -> Vec<u8>,
) -> Value {
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Arc, Mutex};
    let waiting: Arc<Mutex<std::collections::VecDeque<Sender<Vec<u8>>>>> = Arc::default();
    let (to_writer, frames) = channel::<Vec<u8>>();
    let writer = std::thread::spawn(move || {
        for frame in frames {
            stdin.write_all(&frame).expect("write");
            stdin.flush().expect("flush");
        }
    });
    let answers = Arc::clone(&waiting);
    let reader = std::thread::spawn(move || {
        let mut line = Vec::new();
        while stdout.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if parse {
                let _ = serde_json::from_slice::<serde::de::IgnoredAny>(&line);
            }
            let reply = answers.lock().expect("lock").pop_front();
            if let Some(reply) = reply {
                let _ = reply.send(std::mem::take(&mut line));
            }
            line.clear();
        }
    });
    let mut lat = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let (reply, answer) = channel();
        let t0 = Instant::now();
        waiting.lock().expect("lock").push_back(reply);
        to_writer.send(frame(i)).expect("writer");
        let _ = answer.recv().expect("answer");
        lat.push(t0.elapsed());
    }
    drop(to_writer);
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();
    let _ = reader.join();
    percentiles(lat)
}

// ---- workload 3: fan-out -----------------------------------------------

/// The fan-out turns' prompt: their bursts start together (see the fake's
/// `FAKE_RKAT_BURST_SYNC`).
const SYNC: &str = "go [[burst-sync]]";

/// Events the SDK dropped for the fan-out consumers (`Event::Lagged`).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Total events/s from the first delta any session saw to the last event.
/// Fairness: every session's rate counted from the same start (the moment
/// all turns were requested) to its own end, slowest over fastest: a
/// session starved while others stream finishes late and scores low.
fn fanout_result(per_session: Vec<(usize, Instant, Instant)>, start: Instant) -> Value {
    let Some(first) = per_session.iter().map(|s| s.1).min() else {
        return json!({});
    };
    let end = per_session.iter().map(|s| s.2).max().unwrap_or(first);
    let total: usize = per_session.iter().map(|s| s.0).sum();
    let rates: Vec<f64> = per_session
        .iter()
        .map(|(n, _, last)| *n as f64 / last.duration_since(start).as_secs_f64().max(1e-9))
        .collect();
    let max = rates.iter().copied().fold(0.0, f64::max);
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let secs = end.duration_since(first).as_secs_f64();
    json!({"sessions": per_session.len(), "events": total, "seconds": secs,
        "events_per_s": total as f64 / secs.max(1e-9), "fairness": min / max.max(1e-9),
        "dropped": DROPPED.load(Ordering::Relaxed)})
}

async fn tokio_fanout(fake: &str, sessions: usize, per: usize) -> Value {
    use meerkat_transport_tokio::MeerkatClient;
    let options =
        tokio_options(fake, &burst(per)).env("FAKE_RKAT_BURST_SYNC", sessions.to_string());
    let client = MeerkatClient::connect(options).await.expect("connect");
    let mut handles = Vec::new();
    for _ in 0..sessions {
        handles.push(client.create_session("warm up"));
    }
    let mut created = Vec::new();
    for h in handles {
        created.push(h.await.expect("create"));
    }
    let start = Instant::now();
    let tasks: Vec<_> = created
        .into_iter()
        .map(|session| {
            tokio::spawn(async move {
                let mut events = session.stream(SYNC).await.expect("stream");
                let (mut n, mut first) = (0usize, None);
                while let Some(e) = events.next().await {
                    let e = e.expect("event");
                    if let meerkat_transport_tokio::Event::Lagged { dropped } = e {
                        DROPPED.fetch_add(dropped, Ordering::Relaxed);
                        continue;
                    }
                    if is_delta(e.event_type()) {
                        first.get_or_insert_with(Instant::now);
                    }
                    if first.is_some() {
                        n += 1;
                    }
                }
                (n, first.unwrap_or_else(Instant::now), Instant::now())
            })
        })
        .collect();
    let mut per_session = Vec::new();
    for t in tasks {
        per_session.push(t.await.expect("task"));
    }
    client.close().await.expect("close");
    fanout_result(per_session, start)
}

fn blocking_fanout(fake: &str, sessions: usize, per: usize) -> Value {
    use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    let options = ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", burst(per))
        .env("FAKE_RKAT_BURST_SYNC", sessions.to_string());
    let client = MeerkatClient::connect(options).expect("connect");
    let created: Vec<_> = (0..sessions)
        .map(|_| client.create_session("warm up").expect("create"))
        .collect();
    let start = Instant::now();
    let threads: Vec<_> = created
        .into_iter()
        .map(|session| {
            std::thread::spawn(move || {
                let (mut n, mut first) = (0usize, None);
                for e in session.stream(SYNC).expect("stream") {
                    let e = e.expect("event");
                    if let meerkat_transport_blocking::Event::Lagged { dropped } = e {
                        DROPPED.fetch_add(dropped, Ordering::Relaxed);
                        continue;
                    }
                    if is_delta(e.event_type()) {
                        first.get_or_insert_with(Instant::now);
                    }
                    if first.is_some() {
                        n += 1;
                    }
                }
                (n, first.unwrap_or_else(Instant::now), Instant::now())
            })
        })
        .collect();
    let per_session: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    client.close().expect("close");
    fanout_result(per_session, start)
}

/// The same fan-out read raw from the pipe: the server's own delivery
/// order, the fairness no client can beat.
fn floor_fanout(fake: &str, sessions: usize, per: usize) -> Value {
    #[derive(serde::Deserialize)]
    struct Note<'a> {
        #[serde(borrow, default)]
        params: Option<Params<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow, default)]
        session_id: &'a str,
    }
    let mut raw = Raw::spawn_with(
        fake,
        &burst(per),
        &[("FAKE_RKAT_BURST_SYNC", &sessions.to_string())],
    );
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    raw.until_response(1, || {});
    let mut sids = Vec::new();
    for i in 0..sessions as u64 {
        let id = i + 2;
        raw.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"session/create","params":{{"prompt":"warm up"}}}}"#
        ));
        let tag = format!("\"id\":{id},");
        loop {
            let line = raw.next_line().to_vec();
            if contains(&line, tag.as_bytes()) {
                let v: Value = serde_json::from_slice(&line).expect("json");
                sids.push(
                    v["result"]["session_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                break;
            }
        }
    }
    let start = Instant::now();
    let base = 1000;
    for (i, sid) in sids.iter().enumerate() {
        raw.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"turn/start","params":{{"session_id":"{sid}","prompt":"{SYNC}"}}}}"#,
            base + i
        ));
    }
    let mut seen: std::collections::HashMap<String, (usize, Instant, Instant)> =
        std::collections::HashMap::new();
    let mut responses = 0;
    while responses < sessions {
        let line = raw.next_line().to_vec();
        if line.is_empty() {
            break;
        }
        if line.starts_with(b"{\"jsonrpc\":\"2.0\",\"method\":\"session/event\"") {
            if let Ok(Note { params: Some(p) }) = serde_json::from_slice::<Note<'_>>(&line) {
                let now = Instant::now();
                let e = seen.entry(p.session_id.to_owned()).or_insert((0, now, now));
                e.0 += 1;
                e.2 = now;
            }
        } else if contains(&line, b"\"result\"") {
            responses += 1;
        }
    }
    fanout_result(seen.into_values().collect(), start)
}

// ---- workload 4: memory under a slow consumer ---------------------------

/// Peak resident set of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    let mut status = String::new();
    if let Ok(mut f) = std::fs::File::open("/proc/self/status") {
        let _ = f.read_to_string(&mut status);
    }
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The consumer pauses after every 1,000 events so that it reads at
/// `1/slowdown` of the arrival rate measured by workload 1 (`rate` events/s
/// is passed in as the pause per 1,000 events).
fn pause_per_thousand(slowdown: usize) -> Duration {
    // `slowdown` is the consumer's period per 1,000 events in microseconds.
    Duration::from_micros(slowdown as u64)
}

async fn tokio_memory(fake: &str, n: usize, slowdown: usize) -> Value {
    use meerkat_transport_tokio::{Event, MeerkatClient};
    let client = MeerkatClient::connect(
        tokio_options(fake, &burst(n)).request_timeout(Duration::from_secs(3600)),
    )
    .await
    .expect("connect");
    // Deferred: no warm-up turn (its 1M-event burst would count too).
    let session = client
        .create_deferred_session("setup")
        .await
        .expect("create");
    let baseline = peak_rss_mib();
    let mut events = session
        .stream_turn("go", Default::default())
        .await
        .expect("stream");
    let (mut delivered, mut dropped, mut i) = (0u64, 0u64, 0u64);
    while let Some(event) = events.next().await {
        match event.expect("event") {
            Event::Lagged { dropped: d } => dropped += d,
            _ => delivered += 1,
        }
        i += 1;
        if i % 1000 == 0 {
            tokio::time::sleep(pause_per_thousand(slowdown)).await;
        }
    }
    let peak = peak_rss_mib();
    client.close().await.expect("close");
    json!({"events_sent": n, "delivered": delivered, "dropped": dropped, "baseline_rss_mib": baseline, "peak_rss_mib": peak})
}

fn blocking_memory(fake: &str, n: usize, slowdown: usize) -> Value {
    use meerkat_transport_blocking::{ConnectOptions, Event, MeerkatClient};
    let options = ConnectOptions::new()
        .rkat_path(fake)
        .env("FAKE_RKAT_SCENARIO", burst(n))
        .request_timeout(Duration::from_secs(3600));
    let client = MeerkatClient::connect(options).expect("connect");
    // Deferred: no warm-up turn (its 1M-event burst would count too).
    let session = client.create_deferred_session("setup").expect("create");
    let baseline = peak_rss_mib();
    let (mut delivered, mut dropped, mut i) = (0u64, 0u64, 0u64);
    for event in session
        .stream_turn("go", Default::default())
        .expect("stream")
    {
        match event.expect("event") {
            Event::Lagged { dropped: d } => dropped += d,
            _ => delivered += 1,
        }
        i += 1;
        if i % 1000 == 0 {
            std::thread::sleep(pause_per_thousand(slowdown));
        }
    }
    let peak = peak_rss_mib();
    client.close().expect("close");
    json!({"events_sent": n, "delivered": delivered, "dropped": dropped, "baseline_rss_mib": baseline, "peak_rss_mib": peak})
}
