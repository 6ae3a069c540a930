//! Workloads against a real `rkat-rpc` (the one `$MEERKAT_RKAT_RPC` names,
//! 0.5.2 or 0.9.8) and the project's scripted Anthropic-compatible LLM on
//! 127.0.0.1, set up by `meerkat_tests::real::RealServer` exactly as the
//! end-to-end suites do (isolated HOME, state root, realm config pointing
//! the anthropic provider at the LLM).
//!
//! - `coldstart <impl> <runs>`: per run a fresh setup (a new state root and
//!   realm, written before the clock starts), then the clock runs from the
//!   call to `connect` to (a) `connect` returning, i.e. the handshake done
//!   (`initialize` answered, then `capabilities/get`: both our transports
//!   and both Python SDKs send the two before `connect` returns) and (b)
//!   the first `text_delta` of the session's first turn, streamed from
//!   `session/create`. `raw` is the floor: the same lines written by hand
//!   on a pipe, timing the `initialize` answer, the `capabilities/get`
//!   answer and the first `text_delta` line.
//! - `session <impl> <turns> <requests>`: one connection, a first turn,
//!   then `turns` short streamed turns (12 deltas each; time to the first
//!   delta and to the end) and `requests` sequential `session/list`.
//!
//! `<impl>` is `tokio`, `blocking`, `raw` (coldstart only) or
//! `python:<interpreter>:<py_bench.py>`, which runs the official Python
//! SDK installed for that interpreter on the same setup (one interpreter
//! per cold-start run, timed inside it after its imports). Every workload
//! prints one JSON object; samples in milliseconds or microseconds as named.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meerkat_tests::llm::ScriptedLlm;
use meerkat_tests::real::{RealServer, server_version};
use meerkat_transport_tokio::{Event, SessionOptions};
use serde_json::{Value, json};

/// The model every session names: a 0.9 server's default is not Anthropic's.
const MODEL: &str = "claude-sonnet-4-5";
/// The first turn of a cold start: a short reply in 4 deltas.
const COLD_PROMPT: &str = "Hello [[chunks 4]]";
/// How long the raw floor waits for any awaited line of a cold start.
const RAW_DEADLINE: Duration = Duration::from_secs(60);
/// A short streamed turn of `session`.
const TURN_PROMPT: &str = "Tell me something short [[chunks 12]]";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median, min and max of samples (sorted in place).
fn stats(samples: &mut [f64]) -> Value {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    let median = match n {
        0 => 0.0,
        _ if n % 2 == 1 => samples[n / 2],
        _ => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    };
    json!({
        "median": median,
        "min": samples.first().copied().unwrap_or(0.0),
        "max": samples.last().copied().unwrap_or(0.0),
        "samples": samples,
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A Python driver: `python:<interpreter>:<script>`.
struct Python<'a> {
    interpreter: &'a str,
    script: &'a str,
}

fn python(implementation: &str) -> Option<Python<'_>> {
    let rest = implementation.strip_prefix("python:")?;
    let (interpreter, script) = rest.split_once(':')?;
    Some(Python {
        interpreter,
        script,
    })
}

impl Python<'_> {
    /// Runs `py_bench.py <mode> <rkat-rpc> <spec> <args..>` with the
    /// setup's environment (what our transports give the child; the Python
    /// SDK passes its own environment on) and parses its JSON line.
    fn run(&self, mode: &str, server: &RealServer, extra: &[String]) -> Value {
        let spec = json!({
            "realm_id": server.realm(),
            "state_root": server.state_root(),
            "context_root": server.context_root(),
            "user_config_root": server.user_config_root(),
            "model": MODEL,
        });
        let mut command = Command::new(self.interpreter);
        command
            .arg(self.script)
            .arg(mode)
            .arg(server.binary())
            .arg(spec.to_string())
            .args(extra);
        for name in RealServer::env_removed() {
            command.env_remove(name);
        }
        command.envs(server.env());
        let out = command.output().expect("the Python interpreter runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout.lines().last().map(serde_json::from_str::<Value>) {
            Some(Ok(v)) if out.status.success() => v,
            _ => {
                let err = String::from_utf8_lossy(&out.stderr);
                let tail: String = err
                    .chars()
                    .rev()
                    .take(400)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                panic!("py_bench.py {mode} failed ({}): {tail}", out.status);
            }
        }
    }
}

// ---- cold start --------------------------------------------------------

/// One cold start: handshake and first `text_delta` ms; for the floor also
/// the `initialize` answer and the bare exec (`rkat-rpc --version` to its
/// exit: loading the binary, no realm, no handshake).
struct Cold {
    handshake: f64,
    first_delta: f64,
    initialize: Option<f64>,
    exec: Option<f64>,
}

fn cold_tokio(server: &RealServer) -> Cold {
    use meerkat_transport_tokio::MeerkatClient;
    let rt = crate::tokio_rt();
    rt.block_on(async {
        let options = server.connect_options();
        let t0 = Instant::now();
        let client = MeerkatClient::connect(options).await.expect("connect");
        let handshake = t0.elapsed();
        let mut events = client
            .create_session_streaming(SessionOptions::new(COLD_PROMPT).model(MODEL))
            .await
            .expect("stream");
        let mut first_delta = None;
        while let Some(event) = events.next().await {
            if let Event::TextDelta { .. } = event.expect("event") {
                first_delta.get_or_insert_with(|| t0.elapsed());
            }
        }
        client.close().await.expect("close");
        Cold {
            handshake: ms(handshake),
            first_delta: ms(first_delta.expect("a text_delta")),
            initialize: None,
            exec: None,
        }
    })
}

fn cold_blocking(server: &RealServer) -> Cold {
    use meerkat_transport_blocking::MeerkatClient;
    let options = server.connect_options();
    let t0 = Instant::now();
    let client = MeerkatClient::connect(options).expect("connect");
    let handshake = t0.elapsed();
    let events = client
        .create_session_streaming(SessionOptions::new(COLD_PROMPT).model(MODEL))
        .expect("stream");
    let mut first_delta = None;
    for event in events {
        if let Event::TextDelta { .. } = event.expect("event") {
            first_delta.get_or_insert_with(|| t0.elapsed());
        }
    }
    client.close().expect("close");
    Cold {
        handshake: ms(handshake),
        first_delta: ms(first_delta.expect("a text_delta")),
        initialize: None,
        exec: None,
    }
}

/// The floor: the server's own cold start, read on a pipe with no SDK.
fn cold_raw(server: &RealServer) -> Cold {
    let t = Instant::now();
    let version = server
        .command()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("rkat-rpc --version runs");
    let exec = t.elapsed();
    assert!(version.success(), "rkat-rpc --version failed: {version}");
    let mut command = server.command();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = command.spawn().expect("rkat-rpc starts");
    // Drained like the SDKs drain it (they keep a tail for errors).
    let mut stderr = child.stderr.take().expect("piped stderr");
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Lines come through a channel so that every wait has a deadline: a turn
    // that fails (or a server that stalls) ends the run with its last line.
    let (lines, rx) = std::sync::mpsc::channel::<String>();
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let reader = std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = t0 + RAW_DEADLINE;
    let read_until = |pred: &dyn Fn(&str) -> bool, fail: &dyn Fn(&str) -> bool| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => panic!("rkat-rpc: no awaited line within {RAW_DEADLINE:?} ({e})"),
        };
        if pred(&line) {
            return;
        }
        assert!(
            !fail(&line),
            "rkat-rpc answered before the awaited line: {line}"
        );
    };
    let never = |_: &str| false;
    let is_answer = |id: u64| {
        move |l: &str| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["id"] == id && v.get("method").is_none())
        }
    };
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{}}}}"#
    )
    .expect("write");
    read_until(&is_answer(1), &never);
    let initialize = t0.elapsed();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","method":"initialized"}}"#).expect("write");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":2,"method":"capabilities/get","params":{{}}}}"#
    )
    .expect("write");
    read_until(&is_answer(2), &never);
    let handshake = t0.elapsed();
    let create = json!({"jsonrpc": "2.0", "id": 3, "method": "session/create",
        "params": {"prompt": COLD_PROMPT, "model": MODEL}});
    writeln!(stdin, "{create}").expect("write");
    read_until(
        &|l: &str| l.contains("\"method\"") && l.contains("\"text_delta\""),
        &is_answer(3),
    );
    let first_delta = t0.elapsed();
    read_until(&is_answer(3), &never);
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let _ = drain.join();
    let _ = reader.join();
    Cold {
        handshake: ms(handshake),
        first_delta: ms(first_delta),
        initialize: Some(ms(initialize)),
        exec: Some(ms(exec)),
    }
}

/// `coldstart <impl> <runs>`.
pub(crate) fn coldstart(implementation: &str, runs: usize) -> Value {
    let llm = ScriptedLlm::start();
    let load_start = loadavg();
    let (mut handshake, mut first_delta, mut initialize, mut exec) =
        (vec![], vec![], vec![], vec![]);
    let mut sdk = None;
    for _ in 0..runs.max(1) {
        // A fresh realm and state root each run, written before the clock.
        let server = RealServer::new(&llm);
        let cold = match implementation {
            "tokio" => cold_tokio(&server),
            "blocking" => cold_blocking(&server),
            "raw" => cold_raw(&server),
            other => {
                let py = python(other).unwrap_or_else(|| panic!("unknown implementation {other}"));
                let v = py.run("coldstart", &server, &[]);
                sdk = Some(v["sdk"].clone());
                Cold {
                    handshake: v["handshake_ms"].as_f64().expect("handshake_ms"),
                    first_delta: v["first_delta_ms"].as_f64().expect("first_delta_ms"),
                    initialize: None,
                    exec: None,
                }
            }
        };
        handshake.push(cold.handshake);
        first_delta.push(cold.first_delta);
        initialize.extend(cold.initialize);
        exec.extend(cold.exec);
    }
    let mut out = json!({
        "server": server_version(),
        "runs": handshake.len(),
        "handshake_ms": stats(&mut handshake),
        "first_delta_ms": stats(&mut first_delta),
        "load_start": load_start,
        "load_end": loadavg(),
    });
    if !initialize.is_empty() {
        out["initialize_ms"] = stats(&mut initialize);
    }
    if !exec.is_empty() {
        out["exec_ms"] = stats(&mut exec);
    }
    if let Some(sdk) = sdk {
        out["sdk"] = sdk;
    }
    out
}

// ---- a short streamed turn and session/list on a warm connection --------

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn session_tokio(server: &RealServer, turns: usize, requests: usize) -> Value {
    use meerkat_transport_tokio::MeerkatClient;
    crate::tokio_rt().block_on(async {
        let client = MeerkatClient::connect(server.connect_options())
            .await
            .expect("connect");
        let session = client
            .create_session(SessionOptions::new("warm up").model(MODEL))
            .await
            .expect("create");
        let (mut first, mut total, mut deltas) = (vec![], vec![], 0usize);
        for _ in 0..turns {
            let t0 = Instant::now();
            let mut events = session.stream(TURN_PROMPT).await.expect("stream");
            let mut got = None;
            while let Some(event) = events.next().await {
                if let Event::TextDelta { .. } = event.expect("event") {
                    got.get_or_insert_with(|| t0.elapsed());
                    deltas += 1;
                }
            }
            total.push(ms(t0.elapsed()));
            first.push(ms(got.expect("a text_delta")));
        }
        let mut lat = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t0 = Instant::now();
            client.list_sessions().await.expect("list");
            lat.push(us(t0.elapsed()));
        }
        client.close().await.expect("close");
        session_result(first, total, deltas, lat)
    })
}

fn session_blocking(server: &RealServer, turns: usize, requests: usize) -> Value {
    use meerkat_transport_blocking::MeerkatClient;
    let client = MeerkatClient::connect(server.connect_options()).expect("connect");
    let session = client
        .create_session(SessionOptions::new("warm up").model(MODEL))
        .expect("create");
    let (mut first, mut total, mut deltas) = (vec![], vec![], 0usize);
    for _ in 0..turns {
        let t0 = Instant::now();
        let mut got = None;
        for event in session.stream(TURN_PROMPT).expect("stream") {
            if let Event::TextDelta { .. } = event.expect("event") {
                got.get_or_insert_with(|| t0.elapsed());
                deltas += 1;
            }
        }
        total.push(ms(t0.elapsed()));
        first.push(ms(got.expect("a text_delta")));
    }
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t0 = Instant::now();
        client.list_sessions().expect("list");
        lat.push(us(t0.elapsed()));
    }
    client.close().expect("close");
    session_result(first, total, deltas, lat)
}

fn session_result(
    mut first: Vec<f64>,
    mut total: Vec<f64>,
    deltas: usize,
    mut lat: Vec<f64>,
) -> Value {
    let turns = total.len();
    lat.sort_by(f64::total_cmp);
    let p = |q: f64| {
        let i = ((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1));
        lat.get(i).copied().unwrap_or(0.0)
    };
    let (p50, p99) = (p(0.5), p(0.99));
    json!({
        "turns": turns,
        "deltas_per_turn": deltas as f64 / turns.max(1) as f64,
        "first_delta_ms": stats(&mut first),
        "turn_ms": stats(&mut total),
        "requests": lat.len(),
        "list_p50_us": p50,
        "list_p99_us": p99,
    })
}

/// `session <impl> <turns> <requests>`.
pub(crate) fn session(implementation: &str, turns: usize, requests: usize) -> Value {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let load_start = loadavg();
    let mut out = match implementation {
        "tokio" => session_tokio(&server, turns, requests),
        "blocking" => session_blocking(&server, turns, requests),
        other => {
            let py = python(other).unwrap_or_else(|| panic!("unknown implementation {other}"));
            let v = py.run(
                "session",
                &server,
                &[turns.to_string(), requests.to_string()],
            );
            // The driver sends its samples; the statistics are computed here,
            // the same way for every row.
            let floats = |key: &str| -> Vec<f64> {
                v[key]
                    .as_array()
                    .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_f64).collect())
            };
            let deltas = v["deltas"].as_u64().unwrap_or(0) as usize;
            let mut out = session_result(
                floats("first_delta_ms"),
                floats("turn_ms"),
                deltas,
                floats("list_us"),
            );
            out["sdk"] = v["sdk"].clone();
            out
        }
    };
    out["server"] = json!(server_version());
    out["load_start"] = json!(load_start);
    out["load_end"] = json!(loadavg());
    out
}
