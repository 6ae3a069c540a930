//! Running a turn: events, tool callbacks, the RunResult, and the
//! misbehaviours of the turn-level scenarios.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use meerkat_tests::llm::{Markers, schema_sample};
use serde_json::{Value, json};

use super::io::{error, uuid};
use super::scenario::Scenario;
use super::state::{REALM, Shared};

/// The marker that makes a `drop-events` turn skip its terminal event.
const NO_TERMINAL: &str = "[[no-terminal]]";

/// What to run.
pub(crate) struct Turn {
    /// The request id to answer, or `None` for background (keep-alive) turns.
    pub(crate) id: Option<Value>,
    pub(crate) sid: String,
    pub(crate) prompt: Value,
}

/// The text projection of a prompt: a string, or its text blocks joined.
pub(crate) fn prompt_text(prompt: &Value) -> String {
    match prompt {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// `n` nearly equal non-empty pieces of `text` (padded with `.`).
fn split(text: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() < n {
        chars.push('.');
    }
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut at = 0;
    (0..n)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let piece = chars[at..at + len].iter().collect();
            at += len;
            piece
        })
        .collect()
}

fn usage(input: u64, output: u64) -> Value {
    json!({"cache_creation_tokens": null, "cache_read_tokens": null, "input_tokens": input, "output_tokens": output})
}

/// Runs `turn` to the end (called on its own thread).
pub(crate) fn run(shared: &Arc<Shared>, turn: Turn) {
    let Turn { id, sid, prompt } = turn;
    let (lock, interrupt) = {
        let state = shared.lock();
        let Some(session) = state.sessions.get(&sid) else {
            return;
        };
        (
            Arc::clone(&session.turn_lock),
            Arc::clone(&session.interrupt),
        )
    };
    let _serialized = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let (mut text, schema, external) = {
        let mut state = shared.lock();
        if let Some(id) = &id {
            state.running.insert(id.to_string(), sid.clone());
        }
        let registered = state.tools.clone();
        let Some(session) = state.sessions.get_mut(&sid) else {
            return;
        };
        session.running = true;
        interrupt.store(false, Ordering::SeqCst);
        let mut text = prompt_text(&prompt);
        if let Some(deferred) = session.deferred.take() {
            text = format!("{deferred}\n\n{text}");
        }
        let mut external = session.external_tools.clone();
        external.extend(registered);
        (text, session.output_schema.clone(), external)
    };
    let scenario = Arc::clone(&shared.scenario);
    let no_terminal = matches!(*scenario, Scenario::DropEvents) && text.contains(NO_TERMINAL);
    if no_terminal {
        text = text.replace(NO_TERMINAL, " ");
    }
    let markers = Markers::parse(&text);
    // `[[stall N]]`: gate lines written from now on release this turn.
    let gate_base = super::life::gate_lines();
    let emit = |payload: Value| shared.emit(&sid, payload, false);

    if let Scenario::OversizedLine(size) = *scenario {
        oversized_line(shared, size);
    }
    if let Scenario::StderrFlood(_) = *scenario {
        crate::flood_stderr(1);
    }
    emit(json!({"prompt": text, "session_id": sid, "type": "run_started"}));
    emit(json!({"turn_number": 0, "type": "turn_started"}));
    if matches!(*scenario, Scenario::CrashMidStream) {
        for delta in split("You said: about to crash", 3) {
            emit(json!({"delta": delta, "type": "text_delta"}));
        }
        eprintln!("fake-rkat-rpc: simulated crash in the middle of a turn");
        super::life::exit(&shared.log, 3);
    }
    if let Some((code, _)) = markers.error {
        let detail = format!("LLM error (anthropic): Invalid request: scripted error {code}");
        emit(json!({"error": detail, "session_id": sid, "type": "run_failed"}));
        let message = format!("turn abandoned: apply failed: Apply failed: agent error: {detail}");
        return finish(shared, &sid, id.as_ref(), Err((-32603, message)), true);
    }

    // Tool calls: markers, or every turn under `tool-callback`.
    let mut calls = markers.tools.clone();
    if let Scenario::ToolCallback(name) = &*scenario {
        let name = name
            .clone()
            .or_else(|| external.first().cloned())
            .unwrap_or_else(|| "probe_lookup".into());
        calls.push((name, json!({"key": markers.stripped})));
    }
    let mut turn_number = 0;
    let mut outputs = Vec::new();
    for (name, args) in &calls {
        let tid = format!("toolu_fake_{}", uuid().replace('-', "")[..16].to_owned());
        emit(json!({"delta": format!("Calling {name}."), "type": "text_delta"}));
        emit(json!({"content": format!("Calling {name}."), "type": "text_complete"}));
        emit(json!({"args": args, "id": tid, "name": name, "type": "tool_call_requested"}));
        emit(json!({"id": tid, "name": name, "type": "tool_execution_started"}));
        let started = Instant::now();
        let (content, is_error) = call_tool(shared, name, args, &tid);
        emit(
            json!({"duration_ms": started.elapsed().as_millis() as u64, "has_images": false, "id": tid,
            "is_error": is_error, "name": name, "result": content, "type": "tool_execution_completed"}),
        );
        emit(
            json!({"id": tid, "is_error": is_error, "name": name, "type": "tool_result_received"}),
        );
        turn_number += 1;
        emit(json!({"turn_number": turn_number, "type": "turn_started"}));
        outputs.push(if is_error {
            format!("Tool {name} failed: {content}")
        } else {
            format!("Tool {name} returned: {content}")
        });
    }
    let mut answer = if outputs.is_empty() {
        format!("You said: {}", markers.stripped)
    } else {
        outputs.join("\n")
    };
    let mut structured = None;
    if let Some(schema) = &schema {
        answer = markers
            .json
            .clone()
            .unwrap_or_else(|| schema_sample(schema).to_string());
        structured = serde_json::from_str::<Value>(&answer).ok();
    }

    // The deltas. A burst's writer waits for this turn's tail (its last
    // events and response) until `tail_gate` goes, at the end.
    let mut tail_gate = None;
    if let Scenario::Burst { deltas, size } = *scenario {
        let piece = "x".repeat(size.max(1));
        answer = if std::env::var_os("FAKE_RKAT_BURST_SHORT_RESULT").is_some() {
            // The Python SDK 0.5.0 hangs on a line over 64 KiB (asyncio's
            // default readline limit): benchmarks that include it ask for a
            // short result text instead of the deltas' concatenation.
            format!("You said: {deltas} deltas of {size} bytes")
        } else {
            format!("You said: {}", piece.repeat(deltas))
        };
        let lines = shared.render_burst(&sid, deltas, &piece);
        tail_gate = write_burst(shared, lines, text.contains("[[burst-sync]]"));
    } else {
        let delay = Duration::from_millis(markers.slow_ms.unwrap_or(0));
        for (i, delta) in split(&answer, markers.chunks.unwrap_or(3))
            .into_iter()
            .enumerate()
        {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            if let Some(stall) = markers.stall {
                wait_at_stall(i, stall, gate_base, &interrupt);
            }
            if interrupt.load(Ordering::SeqCst) {
                let cancelled = id
                    .as_ref()
                    .is_some_and(|id| shared.lock().cancelled.remove(&id.to_string()));
                let (code, message) = if cancelled {
                    (
                        -32005,
                        "request cancelled before response publish".to_owned(),
                    )
                } else {
                    (-32603, "turn abandoned: apply failed: Apply failed: agent error: Run was cancelled".to_owned())
                };
                return finish(shared, &sid, id.as_ref(), Err((code, message)), true);
            }
            let dropped = matches!(*scenario, Scenario::DropEvents) && i % 3 == 1;
            shared.emit(&sid, json!({"delta": delta, "type": "text_delta"}), dropped);
        }
    }

    let output_tokens = 3 + calls.len() as u64;
    let input_tokens = (text.len() as u64 / 4).max(1);
    let result = json!({
        "session_id": sid,
        "session_ref": format!("{REALM}:{sid}"),
        "text": answer,
        "turns": turn_number + 1,
        "tool_calls": calls.len(),
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens},
    });
    let mut result = result;
    if let Some(structured) = structured {
        result["structured_output"] = structured;
    }
    {
        let mut state = shared.lock();
        if let Some(session) = state.sessions.get_mut(&sid) {
            session
                .history
                .push(json!({"role": "user", "content": text}));
            session.history.push(json!({"role": "block_assistant",
                "blocks": [{"block_type": "text", "data": {"text": answer}}], "stop_reason": "end_turn"}));
            session.last_text = Some(answer.clone());
            session.total_tokens += input_tokens + output_tokens;
            session.updated_at = super::io::now_ms() / 1000;
        }
    }
    let tail = |shared: &Arc<Shared>| {
        shared.emit(
            &sid,
            json!({"content": answer, "type": "text_complete"}),
            false,
        );
        shared.emit(
            &sid,
            json!({"stop_reason": "end_turn", "type": "turn_completed",
            "usage": usage(input_tokens, output_tokens)}),
            false,
        );
        if !no_terminal {
            shared.emit(
                &sid,
                json!({"result": answer, "session_id": sid, "type": "run_completed",
                "usage": usage(input_tokens, output_tokens)}),
                false,
            );
        }
    };
    if let Scenario::ResponseBeforeEvents(ms) = *scenario {
        finish(shared, &sid, id.as_ref(), Ok(result), false);
        std::thread::sleep(Duration::from_millis(ms));
        tail(shared);
    } else {
        tail(shared);
        finish(shared, &sid, id.as_ref(), Ok(result), false);
    }
    drop(tail_gate);
}

/// `[[stall N]]`: holds delta `i` until the gate file released it (`i <
/// N` plus the lines written since the turn started, when it had
/// `gate_base`) or the turn is interrupted or cancelled. NB: polling the
/// gate is how the fake waits; no outcome depends on how fast it polls.
fn wait_at_stall(i: usize, stall: usize, gate_base: usize, interrupt: &AtomicBool) {
    while i + gate_base >= stall + super::life::gate_lines() && !interrupt.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Calls a callback tool on the client and waits (30 s) for its answer.
fn call_tool(shared: &Arc<Shared>, name: &str, args: &Value, tool_use_id: &str) -> (String, bool) {
    let (tx, rx) = channel();
    let srv = {
        let mut state = shared.lock();
        let srv = format!("srv-{}", state.next_srv);
        state.next_srv += 1;
        state.callbacks.insert(srv.clone(), tx);
        srv
    };
    shared.out.send(
        &json!({"jsonrpc": "2.0", "id": srv, "method": "tool/execute",
        "params": {"arguments": args, "name": name, "tool_use_id": tool_use_id}}),
    );
    let answer = rx.recv_timeout(Duration::from_secs(30));
    shared.lock().callbacks.remove(&srv);
    match answer {
        Ok(response) => {
            if let Some(result) = response.get("result") {
                let content = result
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                (
                    content,
                    result
                        .get("is_error")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                )
            } else if let Some(message) = response.pointer("/error/message").and_then(Value::as_str)
            {
                (message.to_owned(), true)
            } else {
                ("Callback response missing result".to_owned(), true)
            }
        }
        Err(_) => (format!("Callback tool '{name}' timed out after 30s"), true),
    }
}

/// Answers the turn request (if any) and clears the running state.
fn finish(
    shared: &Arc<Shared>,
    sid: &str,
    id: Option<&Value>,
    outcome: Result<Value, (i64, String)>,
    failed: bool,
) {
    {
        let mut state = shared.lock();
        if let Some(id) = id {
            state.running.remove(&id.to_string());
        }
        if let Some(session) = state.sessions.get_mut(sid) {
            session.running = false;
            if failed {
                session.failed_inputs += 1;
            }
        }
    }
    let Some(id) = id else { return };
    let message = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, text)) => error(id, code, &text, None),
    };
    if matches!(*shared.scenario, Scenario::UnknownIds) {
        shared
            .out
            .send(&json!({"jsonrpc": "2.0", "id": 987_654_321, "result": {"ghost": true}}));
        shared.out.send(&json!({"jsonrpc": "2.0", "id": "ghost-id", "error": {"code": -32603, "message": "ghost"}}));
        shared.out.send(&error(
            &Value::Null,
            -32700,
            "Parse error: fake id:null error",
            None,
        ));
        shared.out.send(&message);
        shared.out.send(&message);
    } else {
        shared.out.send(&message);
    }
}

/// Writes one line of `size` bytes (a JSON notification padded with `x`)
/// without holding it in memory.
fn oversized_line(shared: &Arc<Shared>, size: usize) {
    let head = br#"{"jsonrpc":"2.0","method":"session/event","params":{"junk":""#;
    let tail = b"\"}}\n";
    let chunk = vec![b'x'; 1 << 20];
    shared.out.with_locked(|w| {
        w.write_all(head)?;
        let mut left = size.saturating_sub(head.len() + tail.len());
        while left > 0 {
            let n = left.min(chunk.len());
            w.write_all(&chunk[..n])?;
            left -= n;
        }
        w.write_all(tail)
    });
}

/// One burst waiting for the round-robin writer: its rendered lines, how far
/// they are written, and who to tell when they all are.
struct PendingBurst {
    lines: Vec<u8>,
    at: usize,
    /// Tells the turn its burst is on the pipe, with the gate the writer
    /// then waits on until the turn has written its tail.
    done: std::sync::mpsc::Sender<std::sync::mpsc::Sender<()>>,
    /// A `[[burst-sync]]` burst (see [`burst_sync_count`]).
    sync: bool,
}

/// Writes a turn's rendered burst and returns once it is all on the pipe,
/// with a gate: the burst writer writes nothing more until the turn drops
/// it (after its last events and its response), so each turn's tail
/// follows its last slice, in the round robin's order, whatever order the
/// turns' own threads would get a core in (a fan-out benchmark measured
/// the fake's thread scheduling otherwise: its raw delivery scored
/// 0.46-0.97).
///
/// Every burst goes through one writer thread that takes about 16 KiB
/// (`FAKE_RKAT_BURST_SLICE` bytes) of whole lines from each pending burst
/// in turn, so concurrent turns
/// interleave on the pipe round robin, as a real server's concurrent
/// streams would (never inside a line), and the order does not depend on
/// who wins a lock (a fan-out benchmark measures the client, not the
/// fake's thread scheduling).
fn write_burst(
    shared: &Arc<Shared>,
    lines: Vec<u8>,
    sync: bool,
) -> Option<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::Sender;
    static WRITER: std::sync::OnceLock<Sender<PendingBurst>> = std::sync::OnceLock::new();
    let writer = WRITER.get_or_init(|| {
        let slice = std::env::var("FAKE_RKAT_BURST_SLICE")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(16 << 10);
        let (tx, rx) = channel::<PendingBurst>();
        let shared = Arc::clone(shared);
        let sync_count = burst_sync_count();
        std::thread::spawn(move || {
            let mut active = std::collections::VecDeque::new();
            // Synced bursts wait here until all of them came, then start
            // together.
            let mut held = Vec::new();
            let mut admit = |burst: PendingBurst, active: &mut std::collections::VecDeque<_>| {
                if burst.sync && sync_count > 1 {
                    held.push(burst);
                    if held.len() == sync_count {
                        active.extend(held.drain(..));
                    }
                } else {
                    active.push_back(burst);
                }
            };
            loop {
                if active.is_empty() {
                    match rx.recv() {
                        Ok(burst) => admit(burst, &mut active),
                        Err(_) => return,
                    }
                }
                while let Ok(burst) = rx.try_recv() {
                    admit(burst, &mut active);
                }
                let Some(mut burst) = active.pop_front() else {
                    continue;
                };
                let rest = &burst.lines[burst.at..];
                let cut = rest
                    .iter()
                    .skip(slice)
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| slice + i + 1);
                shared.out.with_locked(|w| w.write_all(&rest[..cut]));
                burst.at += cut;
                if burst.at < burst.lines.len() {
                    active.push_back(burst);
                } else {
                    let (gate, tail_written) = channel::<()>();
                    if burst.done.send(gate).is_ok() {
                        // Err once the turn dropped the gate.
                        let _ = tail_written.recv();
                    }
                }
            }
        });
        tx
    });
    let (done, finished) = channel();
    if writer
        .send(PendingBurst {
            lines,
            at: 0,
            done,
            sync,
        })
        .is_ok()
    {
        return finished.recv().ok();
    }
    None
}

/// `FAKE_RKAT_BURST_SYNC=K` with a `[[burst-sync]]` prompt: the burst
/// writer holds such bursts until K of them are rendered, then writes them
/// all round robin from their first slice, so a fan-out benchmark measures
/// the client's fairness rather than the order in which the fake happened
/// to start its turns (or its turn threads got a core after a barrier:
/// 6 ms of skew in the first deltas).
fn burst_sync_count() -> usize {
    std::env::var("FAKE_RKAT_BURST_SYNC")
        .ok()
        .and_then(|k| k.parse::<usize>().ok())
        .unwrap_or(0)
}
