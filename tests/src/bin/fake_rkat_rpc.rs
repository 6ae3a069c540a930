//! `fake-rkat-rpc`: a scriptable stand-in for `rkat-rpc` 0.5.x.
//!
//! It speaks the 0.5 wire as the fixtures show it (JSON lines on stdio,
//! `session/event` envelopes with per-session `seq`, keys sorted), answers
//! every method the SDK uses, and misbehaves on cue. Command-line arguments
//! (`--realm`, `--state-root`, ...) are accepted and ignored.
//!
//! Environment:
//! - `FAKE_RKAT_SCENARIO`: `NAME [ARGS...]` (default `normal`); an unknown
//!   name exits 2 with a message on stderr.
//! - `FAKE_RKAT_RECORD`: a file path; at start the fake writes
//!   `{"args": [...], "env": {...}}` there (how it was spawned).
//! - `FAKE_RKAT_BURST_SYNC`: `K`; under `burst`, turns whose prompt has
//!   `[[burst-sync]]` wait until `K` of them are rendered, then write at
//!   once (fan-out benchmarks).
//! - `FAKE_RKAT_BURST_SHORT_RESULT`: set: a burst's result text is a short
//!   summary, not the concatenated deltas (the Python SDK 0.5.0 hangs on
//!   result lines over 64 KiB).
//! - `FAKE_RKAT_TRACE`: a file path; every line the client writes is
//!   appended there as received (for snapshots of the exact requests).
//! - `FAKE_RKAT_LOG`: a file path; the fake appends one line per lifecycle
//!   event, each once it happened: `start PID` (first thing), `grandchild
//!   PID`, `turn SESSION_ID` (a turn ended: its last event and its response
//!   are on the pipe), `eof` (stdin closed), `sigterm`, `exit` (just before
//!   it exits by itself; never written when it is killed). With a log,
//!   SIGTERM is caught: logged, then the fake exits 143.
//! - `FAKE_RKAT_STUBBORN`: set: SIGTERM is ignored (logged) and stdin EOF
//!   does not end the fake; only SIGKILL does (or a 10-minute safety net).
//! - `FAKE_RKAT_GRANDCHILD`: set: at start the fake spawns a copy of itself
//!   that inherits stdout and stderr and sleeps (10 minutes at most), so
//!   the pipes stay open after the fake exits; its pid is logged.
//! - `FAKE_RKAT_GATE`: a file path; each line added to it lets every
//!   stalled turn (`[[stall N]]`) that started before emit one more delta.
//!
//! Turns (`session/create` unless deferred, `turn/start`, keep-alive turns,
//! `mob/member_send`) echo like the scripted LLM: `run_started`,
//! `turn_started`, `text_delta` x3, `text_complete`, `turn_completed`,
//! `run_completed`, then the RunResult `{"text": "You said: <prompt>"}`.
//! Prompt markers: `[[chunks N]]`, `[[slow MS]]` (per delta; the turn can be
//! interrupted), `[[stall N]]` (after `N` deltas the turn holds until it is
//! interrupted or cancelled, or the gate file releases more deltas; tests
//! use it instead of a slow turn they hope is still running),
//! `[[error CODE]]` (`run_failed` + `-32603 "turn abandoned:
//! ..."`), `[[tool NAME {args}]]` (a `tool/execute` callback to the client;
//! the text becomes `Tool NAME returned: <content>`, or `Tool NAME failed:
//! <message>` for an error answer), `[[json {...}]]` (with `output_schema`:
//! `structured_output`; without a marker a sample of the schema). Deferred
//! prompts are prepended to the first `turn/start` prompt with a blank line.
//! `runtime/reset` answers `{"inputs_abandoned": N}` (failed or interrupted
//! inputs since the last reset). Unknown methods: `-32601 "Method not
//! found: <m>"`; unknown sessions: `-32001`.
//!
//! | scenario | behaviour |
//! | --- | --- |
//! | `normal` | contract 0.5.2 with the 0.5.2 method list (`mob/member_send`) |
//! | `v050` | contract 0.5.0 with the 0.5.0 list (`mob/send`, `mob/prefabs`, `tools/register`; `mob/member_send` is not found; `mob/create` accepts `prefab`) |
//! | `wrong-version [V]` | `initialize` reports contract `V` (default `0.4.0`; e.g. `1.0.0`) |
//! | `exit-during-handshake` | reads `initialize`, prints to stderr, exits 1 without answering |
//! | `crash-mid-stream` | a turn emits `run_started`, `turn_started`, 3 deltas, then prints to stderr and exits 3 |
//! | `garbage-stdout` | log lines (plain and ANSI), blank and `\r\n` lines between messages; messages glued to trailing text or a second JSON value |
//! | `oversized-line [BYTES]` | before each turn's events, one line of `BYTES` (default 70 MiB) |
//! | `response-before-events [MS]` | the turn response comes before `text_complete`/`turn_completed`/`run_completed`, which follow after `MS` ms (default 100) |
//! | `drop-events` | every 3rd `text_delta` is skipped (a gap in `seq`); a prompt with `[[no-terminal]]` never gets its `run_completed` |
//! | `unknown-ids` | before each turn response: a response to id 987654321, an error for id `"ghost-id"`, an `id:null` error; then the real response twice |
//! | `stderr-flood [MB]` | writes `MB` MiB (default 8) to stderr before answering `initialize`, and 1 MiB per turn |
//! | `never-answer [METHOD]` | never answers `METHOD` (default `session/list`) |
//! | `burst [N] [SIZE]` | each turn emits `N` (default 10000) deltas of `SIZE` (default 8) bytes, pre-rendered and written by one writer thread in slices of about 16 KiB of whole lines, round robin across concurrent turns (`FAKE_RKAT_BURST_SLICE` bytes; not copied to subscriptions) |
//! | `slow-consumer [N] [SIZE]` | `burst` with defaults 2000 x 4096 bytes |
//! | `deaf` | after answering `capabilities/get` it stops reading stdin (holds until killed, 10 minutes at most): the client's writes fill the pipe |
//! | `tool-flood [N]` | after `capabilities/get`, stops reading stdin and writes `N` (default 300000) `tool/execute` requests for `flood_tool`, then an event of session `flood-done`, and holds |
//! | `strangers [N]` | after `capabilities/get`, writes one `session/event` for each of `N` (default 100000) sessions nobody created, then one of session `strangers-done`; otherwise `normal` |
//! | `bad-utf8` | `echo` is answered with a result whose string holds the invalid bytes `\xff\xfe` |
//! | `huge-line [BYTES]` | before answering `echo`, writes `BYTES` (default 70 MiB, over the client's 64 MiB frame bound) bytes of `x` without a newline, in 1 MiB writes, then the newline; then answers `echo` with `{"echo": params}` |
//! | `deep-nest [N]` | before answering `echo`, writes a line of `N` (default 100000) `[`, then answers `echo` |
//! | `odd-ids` | before answering `echo`: responses whose ids are unknown or odd (a large number, a negative one, a float, a string, an object, an array, `true`, `null`), then the answer `{"first": true}` and a second answer |
//! | `unknown-tools [N]` | after `capabilities/get`, writes `N` (default 10000) `tool/execute` requests for tools nobody registered (still reading stdin), then an event of session `tools-done`; otherwise `normal` |
//! | `tool-callback [NAME]` | every turn calls `tool/execute` `NAME` (default: the first registered or external tool, else `probe_lookup`) with `{"key": <prompt>}` and answers `Tool NAME returned: <content>` |
//!
//! stdin EOF: the fake exits 0.
//!
//! Two more roles, chosen by how it is invoked:
//! - `--version` as its only argument: prints `rkat-rpc 0.5.2` and exits.
//! - Invoked through a link named `cargo` (or `cargo-fail...`): a fake
//!   `cargo install` for the auto-install tests. It appends its arguments,
//!   one line, to `cargo.log` beside the link, prints a few progress lines
//!   on stderr and links `<--root>/bin/rkat-rpc` to itself; `cargo-fail...`
//!   prints `error: could not compile` and exits 101 instead.

#[path = "fake_rkat_rpc/io.rs"]
mod io;
#[path = "fake_rkat_rpc/life.rs"]
mod life;
#[path = "fake_rkat_rpc/methods.rs"]
mod methods;
#[path = "fake_rkat_rpc/mobs.rs"]
mod mobs;
#[path = "fake_rkat_rpc/scenario.rs"]
mod scenario;
#[path = "fake_rkat_rpc/state.rs"]
mod state;
#[path = "fake_rkat_rpc/turns.rs"]
mod turns;

use std::io::{BufRead, Write};
use std::sync::Arc;

use serde_json::{Value, json};

use life::Log;
use scenario::{METHODS_050, METHODS_052, Scenario};
use state::Shared;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 2 && args[1] == "--version" {
        println!("rkat-rpc 0.5.2");
        return;
    }
    let invoked = std::path::Path::new(args.first().map_or("", String::as_str));
    let name = invoked.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("cargo") {
        std::process::exit(fake_cargo(invoked, name, &args[1..]));
    }
    if std::env::var_os(life::HOLDER).is_some() {
        life::hold();
    }
    let log = Log::from_env();
    let stubborn = std::env::var_os("FAKE_RKAT_STUBBORN").is_some();
    if log.is_on() || stubborn {
        life::watch_sigterm(&log, stubborn);
    }
    log.line(&format!("start {}", std::process::id()));
    if std::env::var_os("FAKE_RKAT_GRANDCHILD").is_some() {
        life::spawn_grandchild(&log);
    }
    let spec = std::env::var("FAKE_RKAT_SCENARIO").unwrap_or_default();
    let scenario = match Scenario::parse(&spec) {
        Ok(scenario) => Arc::new(scenario),
        Err(message) => {
            eprintln!("fake-rkat-rpc: {message}");
            life::exit(&log, 2);
        }
    };
    if let Some(path) = std::env::var_os("FAKE_RKAT_RECORD") {
        let record = json!({
            "args": std::env::args().skip(1).collect::<Vec<_>>(),
            "env": std::env::vars().map(|(k, v)| (k, Value::String(v))).collect::<serde_json::Map<_, _>>(),
        });
        let _ = std::fs::write(path, record.to_string());
    }
    let mut trace = std::env::var_os("FAKE_RKAT_TRACE").and_then(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    let shared = Arc::new(Shared::new(Arc::clone(&scenario), log.clone()));
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(file) = trace.as_mut() {
            let _ = writeln!(file, "{text}").and_then(|()| file.flush());
        }
        let message: Value = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(e) => {
                shared
                    .out
                    .error(&Value::Null, -32700, &format!("Parse error: {e}"));
                continue;
            }
        };
        handle(&shared, message);
    }
    log.line("eof");
    if stubborn {
        life::hold();
    }
    life::exit(&log, 0);
}

/// Dispatches one message from the client.
fn handle(shared: &Arc<Shared>, message: Value) {
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        // A response to one of our tool/execute calls.
        let id = message
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(waiter) = shared.lock().callbacks.get(id) {
            let _ = waiter.send(message.clone());
        }
        return;
    };
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let Some(id) = message.get("id").filter(|id| !id.is_null()).cloned() else {
        if method == "cancel" {
            methods::cancel(shared, &params);
        }
        return;
    };
    if let Scenario::NeverAnswer(swallowed) = &*shared.scenario
        && swallowed == method
    {
        return;
    }
    if *shared.scenario == Scenario::BadUtf8 && method == "echo" {
        let mut line = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"text":"a"#).into_bytes();
        line.extend_from_slice(b"\xff\xfeb\"}}\n");
        shared.out.write_raw(&line);
        return;
    }
    if method == "echo" && hostile_before_echo(shared, &id) {
        shared.out.result(&id, json!({"echo": params}));
        return;
    }
    match method {
        "initialize" => initialize(shared, &id),
        "capabilities/get" => {
            shared.out.result(&id, capabilities(&shared.scenario));
            match &*shared.scenario {
                // Stops reading: whatever the client writes stays in the pipe.
                Scenario::Deaf => life::hold(),
                Scenario::ToolFlood(n) => {
                    for i in 0..*n {
                        shared.out.send(&json!({"jsonrpc": "2.0", "id": format!("flood-{i}"),
                            "method": "tool/execute",
                            "params": {"name": "flood_tool", "arguments": {"i": i}, "tool_use_id": format!("t{i}")}}));
                    }
                    shared
                        .out
                        .notify("session/event", stranger_event("flood-done"));
                    life::hold();
                }
                Scenario::UnknownTools(n) => {
                    for i in 0..*n {
                        shared.out.send(&json!({"jsonrpc": "2.0", "id": format!("nobody-{i}"),
                            "method": "tool/execute",
                            "params": {"name": format!("no_such_tool_{i}"), "arguments": {}, "tool_use_id": format!("t{i}")}}));
                    }
                    shared
                        .out
                        .notify("session/event", stranger_event("tools-done"));
                }
                Scenario::Strangers(n) => {
                    for i in 0..*n {
                        shared
                            .out
                            .notify("session/event", stranger_event(&format!("stranger-{i}")));
                    }
                    shared
                        .out
                        .notify("session/event", stranger_event("strangers-done"));
                }
                _ => {}
            }
        }
        _ => {
            if !methods::handle(shared, &id, method, &params)
                && !mobs::handle(shared, &id, method, &params)
            {
                shared
                    .out
                    .error(&id, -32601, &format!("Method not found: {method}"));
            }
        }
    }
}

fn initialize(shared: &Arc<Shared>, id: &Value) {
    match &*shared.scenario {
        Scenario::ExitDuringHandshake => {
            eprintln!("fake-rkat-rpc: exiting during the handshake");
            life::exit(&shared.log, 1);
        }
        Scenario::StderrFlood(mib) => flood_stderr(*mib),
        _ => {}
    }
    let scenario = &shared.scenario;
    let methods = if scenario.is_v050() {
        METHODS_050
    } else {
        METHODS_052
    };
    let version = if scenario.is_v050() { "0.5.0" } else { "0.5.2" };
    shared.out.result(
        id,
        json!({
            "server_info": {"name": "meerkat-rpc", "version": version},
            "contract_version": scenario.contract(),
            "methods": methods,
        }),
    );
}

/// What the hostile scenarios write before their answer to `echo` (for
/// `odd-ids`, a first answer too); whether the scenario answers `echo`.
fn hostile_before_echo(shared: &Arc<Shared>, id: &Value) -> bool {
    match &*shared.scenario {
        Scenario::HugeLine(bytes) => {
            let chunk = vec![b'x'; 1 << 20];
            let mut left = *bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                shared.out.write_raw(&chunk[..n]);
                left -= n;
            }
            shared.out.write_raw(b"\n");
        }
        Scenario::DeepNest(n) => {
            let mut line = vec![b'['; *n];
            line.push(b'\n');
            shared.out.write_raw(&line);
        }
        Scenario::OddIds => {
            for odd in [
                json!(987_654_321),
                json!(-1),
                json!(1.5),
                json!("ghost-id"),
                json!({"id": 1}),
                json!([1]),
                json!(true),
                Value::Null,
            ] {
                shared
                    .out
                    .send(&json!({"jsonrpc": "2.0", "id": odd, "result": {"ghost": true}}));
            }
            shared
                .out
                .send(&json!({"jsonrpc": "2.0", "id": id, "result": {"first": true}}));
        }
        _ => return false,
    }
    true
}

/// Writes `mib` MiB to stderr (blocks when the client does not drain it).
pub(crate) fn flood_stderr(mib: usize) {
    let line = format!("{}\n", "fake-rkat-rpc stderr flood ".repeat(37));
    let chunk = line.repeat((1 << 20) / line.len() + 1);
    let mut stderr = std::io::stderr().lock();
    for _ in 0..mib {
        let _ = stderr.write_all(&chunk.as_bytes()[..1 << 20]);
    }
    let _ = stderr.flush();
}

fn capabilities(scenario: &Scenario) -> Value {
    let parts: Vec<u64> = scenario
        .contract()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or(0);
    let cap = |id: &str, description: &str, status: Value| json!({"id": id, "description": description, "status": status});
    let available = json!("Available");
    json!({
        "contract_version": {"major": part(0), "minor": part(1), "patch": part(2)},
        "capabilities": [
            cap("sessions", "Agent loop and session lifecycle", available.clone()),
            cap("streaming", "Event streaming during agent execution", available.clone()),
            cap("structured_output", "Schema-validated JSON output extraction", available.clone()),
            cap("hooks", "Hook points", available.clone()),
            cap("builtins", "Built-in tools", json!({"DisabledByPolicy": {"description": "tools.builtins_enabled = false"}})),
            cap("shell", "Shell tool", json!({"DisabledByPolicy": {"description": "tools.shell_enabled = false"}})),
            cap("comms", "Inter-agent communication", available.clone()),
            cap("session_store", "PersistentSessionService", available.clone()),
            cap("session_compaction", "DefaultCompactor", available.clone()),
            cap("skills", "Skill loading, resolution, and injection", available),
            cap("mcp_live", "Live MCP server mutation", json!({"NotCompiled": {"feature": "mcp-live"}})),
        ],
    })
}

/// The fake `cargo install` (see the crate docs): returns the exit code.
fn fake_cargo(invoked: &std::path::Path, name: &str, args: &[String]) -> i32 {
    use std::io::Write as _;
    let log = invoked.with_file_name("cargo.log");
    let line = format!("{}\n", args.join(" "));
    let logged = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = logged {
        eprintln!("fake cargo: cannot log to {}: {e}", log.display());
        return 2;
    }
    eprintln!("    Updating crates.io index");
    eprintln!("  Installing meerkat-rpc (fake)");
    if name.starts_with("cargo-fail") {
        eprintln!(
            "error: could not compile `meerkat-rpc` (bin \"rkat-rpc\") due to 1 previous error"
        );
        return 101;
    }
    let Some(root) = args
        .iter()
        .position(|a| a == "--root")
        .and_then(|i| args.get(i + 1))
    else {
        eprintln!("fake cargo: no --root");
        return 2;
    };
    let bin = std::path::Path::new(root).join("bin");
    let linked = std::fs::create_dir_all(&bin).and_then(|()| {
        let exe = std::env::current_exe()?;
        std::os::unix::fs::symlink(exe, bin.join("rkat-rpc"))
    });
    match linked {
        Ok(()) => {
            eprintln!("   Installed package `meerkat-rpc` (fake)");
            0
        }
        Err(e) => {
            eprintln!("fake cargo: {e}");
            2
        }
    }
}

/// A `session/event` of `session`, a session nobody created.
fn stranger_event(session: &str) -> Value {
    json!({"session_id": session, "event": {"event_id": "e1", "source_id": format!("session:{session}"),
        "seq": 1, "timestamp_ms": 1, "payload": {"type": "text_delta", "delta": "x"}}})
}
