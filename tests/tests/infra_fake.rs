//! The fake `rkat-rpc` does what its header promises, scenario by scenario,
//! checked with the raw JSON-lines driver (no SDK involved).

use std::process::Command;
use std::time::{Duration, Instant};

use meerkat_tests::raw::RawRpc;
use serde_json::{Value, json};

use crate::common::FakeFiles;

/// How long a wait for the fake may take: a watchdog, not an expectation.
const WAIT: Duration = Duration::from_secs(60);

fn fake(scenario: &str) -> RawRpc {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-rkat-rpc"));
    command
        .env("FAKE_RKAT_SCENARIO", scenario)
        .args(["--realm", "ignored"]);
    RawRpc::spawn(command).expect("spawn the fake")
}

fn ready(scenario: &str) -> RawRpc {
    let mut rpc = fake(scenario);
    rpc.call("initialize", json!({})).expect("initialize");
    rpc
}

fn sid(result: &Value) -> String {
    result["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned()
}

fn is_response(id: u64) -> impl Fn(&Value) -> bool {
    move |m| m.get("method").is_none() && m["id"] == id
}

#[test]
fn normal_sessions_and_turns() {
    let mut rpc = fake("normal");
    let init = rpc.call("initialize", json!({})).expect("initialize");
    assert_eq!(init["contract_version"], "0.5.2");
    let methods: Vec<&str> = init["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(methods.contains(&"mob/member_send") && !methods.contains(&"mob/send"));
    let caps = rpc.call("capabilities/get", json!({})).expect("caps");
    assert_eq!(
        caps["contract_version"],
        json!({"major": 0, "minor": 5, "patch": 2})
    );

    let turn = rpc.turn("session/create", json!({"prompt": "Hello [[chunks 4]]"}));
    assert_eq!(turn.result()["text"], "You said: Hello");
    let kinds: Vec<&str> = turn
        .events
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "turn_started",
            "text_delta",
            "text_delta",
            "text_delta",
            "text_delta",
            "text_complete",
            "turn_completed",
            "run_completed"
        ]
    );
    assert!(turn.seq_contiguous());
    let id = sid(turn.result());
    let second = rpc.turn("turn/start", json!({"session_id": id, "prompt": "Again"}));
    assert_eq!(second.envelopes[0]["seq"], 10, "seq continues across turns");

    let list = rpc.call("session/list", json!({})).expect("list");
    assert_eq!(list["sessions"][0]["session_id"], id.as_str());
    let read = rpc
        .call("session/read", json!({"session_id": id}))
        .expect("read");
    assert_eq!(read["last_assistant_text"], "You said: Again");
    let history = rpc
        .call("session/history", json!({"session_id": id, "limit": 1}))
        .expect("history");
    assert_eq!(
        (
            history["message_count"].as_u64(),
            history["has_more"].as_bool()
        ),
        (Some(4), Some(true))
    );
    assert_eq!(
        rpc.call("session/archive", json!({"session_id": id}))
            .expect("archive")["archived"],
        true
    );
    let gone = rpc
        .call("session/read", json!({"session_id": id}))
        .expect_err("archived");
    assert_eq!(gone["code"], -32001);
    assert_eq!(
        rpc.call("no/such", json!({})).expect_err("unknown")["code"],
        -32601
    );
}

#[test]
fn deferred_create_prepends_the_prompt() {
    let mut rpc = ready("normal");
    let created = rpc
        .call(
            "session/create",
            json!({"prompt": "Deferred hello", "initial_turn": "deferred"}),
        )
        .expect("create");
    assert!(created.get("text").is_none());
    let turn = rpc.turn(
        "turn/start",
        json!({"session_id": sid(&created), "prompt": "First turn"}),
    );
    assert_eq!(turn.result()["text"], "You said: Deferred hello First turn");
}

#[test]
fn failure_reset_interrupt_and_cancel() {
    let mut rpc = ready("normal");
    let id = sid(rpc.turn("session/create", json!({"prompt": "x"})).result());
    let failed = rpc.turn(
        "turn/start",
        json!({"session_id": id, "prompt": "Boom [[error 400]]"}),
    );
    let error = failed.response.clone().expect_err("fails");
    assert_eq!(error["code"], -32603);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("turn abandoned"))
    );
    assert_eq!(failed.events_of("run_failed").len(), 1);
    assert_eq!(
        rpc.call("runtime/reset", json!({"session_id": id}))
            .expect("reset")["inputs_abandoned"],
        1
    );

    let slow = rpc.request(
        "turn/start",
        json!({"session_id": id, "prompt": "Held [[stall 1]] [[chunks 50]]"}),
    );
    assert!(
        rpc.wait_for(WAIT, |m| m["params"]["event"]["payload"]["type"]
            == "text_delta")
            .is_some()
    );
    assert_eq!(
        rpc.call("turn/interrupt", json!({"session_id": id}))
            .expect("interrupt")["interrupted"],
        true
    );
    let error = rpc.response(slow, WAIT).expect_err("interrupted");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("Run was cancelled")),
        "{error}"
    );

    let slow = rpc.request(
        "turn/start",
        json!({"session_id": id, "prompt": "Held [[stall 1]] [[chunks 50]]"}),
    );
    assert!(
        rpc.wait_for(WAIT, |m| m["params"]["event"]["payload"]["type"]
            == "text_delta")
            .is_some()
    );
    rpc.notify("cancel", json!({"request_id": slow}));
    assert_eq!(
        rpc.response(slow, WAIT).expect_err("cancelled")["code"],
        -32005
    );
    assert_eq!(
        rpc.call("runtime/reset", json!({"session_id": id}))
            .expect("reset")["inputs_abandoned"],
        2
    );
}

#[test]
fn tool_callbacks_round_trip() {
    let mut rpc = ready("normal");
    let registered = rpc.call(
        "tools/register",
        json!({"tools": [{"name": "probe_lookup", "description": "d", "input_schema": {}}]}),
    );
    assert_eq!(registered.expect("register")["registered"], 1);
    let id = rpc.request(
        "session/create",
        json!({"prompt": "Look [[tool probe_lookup {\"key\": \"alpha\"}]]"}),
    );
    let call = rpc
        .wait_for(WAIT, |m| m["method"] == "tool/execute")
        .expect("tool/execute");
    assert_eq!(call["params"]["arguments"], json!({"key": "alpha"}));
    rpc.send(&json!({"jsonrpc": "2.0", "id": call["id"], "result": {"content": "value-for-alpha", "is_error": false}}))
        .expect("answer");
    let result = rpc.response(id, WAIT).expect("turn");
    assert_eq!(
        result["text"],
        "Tool probe_lookup returned: value-for-alpha"
    );
    assert_eq!(result["tool_calls"], 1);

    let mut rpc = ready("tool-callback lookup");
    let id = rpc.request("session/create", json!({"prompt": "anything"}));
    let call = rpc
        .wait_for(WAIT, |m| m["method"] == "tool/execute")
        .expect("tool/execute");
    assert_eq!(call["params"]["name"], "lookup");
    rpc.send(&json!({"jsonrpc": "2.0", "id": call["id"], "error": {"code": -1, "message": "no such key"}}))
        .expect("answer");
    assert_eq!(
        rpc.response(id, WAIT).expect("turn")["text"],
        "Tool lookup failed: no such key"
    );
}

#[test]
fn structured_output_streams_and_config() {
    let mut rpc = ready("normal");
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let turn = rpc.turn(
        "session/create",
        json!({"prompt": "x [[json {\"n\": 7}]]", "output_schema": schema}),
    );
    assert_eq!(turn.result()["structured_output"], json!({"n": 7}));
    let id = sid(turn.result());

    let opened = rpc
        .call("session/stream_open", json!({"session_id": id}))
        .expect("open");
    let stream = opened["stream_id"].as_str().expect("stream_id").to_owned();
    let _ = rpc.turn(
        "turn/start",
        json!({"session_id": id, "prompt": "streamed"}),
    );
    let copies = rpc.take(|m| {
        m["method"] == "session/stream_event" && m["params"]["stream_id"] == stream.as_str()
    });
    assert_eq!(copies.len(), 8);
    assert_eq!(copies[0]["params"]["sequence"], 1);
    let closed = rpc
        .call("session/stream_close", json!({"stream_id": stream}))
        .expect("close");
    assert_eq!(closed["already_closed"], false);
    assert!(
        rpc.wait_for(WAIT, |m| m["method"] == "session/stream_end"
            && m["params"]["outcome"] == "explicit_close")
            .is_some()
    );
    let again = rpc
        .call("session/stream_close", json!({"stream_id": stream}))
        .expect("close again");
    assert_eq!(again["already_closed"], true);

    let patched = rpc
        .call("config/patch", json!({"patch": {"max_tokens": 2048}}))
        .expect("patch");
    assert_eq!(
        (
            patched["config"]["max_tokens"].as_u64(),
            patched["generation"].as_u64()
        ),
        (Some(2048), Some(1))
    );
    let conflict = rpc
        .call(
            "config/patch",
            json!({"patch": {}, "expected_generation": 0}),
        )
        .expect_err("conflict");
    assert!(
        conflict["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Generation conflict"))
    );
    assert!(rpc.call("skills/list", json!({})).expect("skills")["skills"][0]["id"].is_string());
}

#[test]
fn comms_and_mobs() {
    let mut rpc = ready("normal");
    let alice = rpc
        .call(
            "session/create",
            json!({"prompt": "a", "keep_alive": true, "comms_name": "alice"}),
        )
        .expect("alice");
    assert_eq!(alice["turns"], 0);
    rpc.call(
        "session/create",
        json!({"prompt": "b", "keep_alive": true, "comms_name": "bob"}),
    )
    .expect("bob");
    let peers = rpc
        .call("comms/peers", json!({"session_id": sid(&alice)}))
        .expect("peers");
    assert_eq!(peers["peers"][0]["name"], "bob");
    let sent = rpc.call("comms/send", json!({"session_id": sid(&alice), "kind": "peer_message", "to": "bob", "body": "hi", "handling_mode": "queue"}));
    assert_eq!(sent.expect("send")["kind"], "peer_message_sent");
    let invalid = rpc
        .call(
            "comms/send",
            json!({"session_id": sid(&alice), "kind": "peer_message", "body": "hi"}),
        )
        .expect_err("invalid");
    assert_eq!(invalid["data"]["code"], "invalid_command");

    let definition =
        json!({"id": "team", "profiles": {"worker": {"model": "m"}}, "flows": {"review": {}}});
    assert_eq!(
        rpc.call("mob/create", json!({"definition": definition}))
            .expect("create")["mob_id"],
        "team"
    );
    let stream = rpc
        .call("mob/stream_open", json!({"mob_id": "team"}))
        .expect("stream")["stream_id"]
        .clone();
    rpc.call(
        "mob/spawn",
        json!({"mob_id": "team", "profile": "worker", "meerkat_id": "w1"}),
    )
    .expect("spawn");
    let sent = rpc
        .call(
            "mob/member_send",
            json!({"mob_id": "team", "meerkat_id": "w1", "content": "work"}),
        )
        .expect("send");
    assert_eq!(sent["member_id"], "w1");
    let event = rpc
        .wait_for(WAIT, |m| {
            m["method"] == "mob/stream_event"
                && m["params"]["event"]["envelope"]["payload"]["type"] == "run_completed"
        })
        .expect("member events on the mob stream");
    assert_eq!(
        (
            &event["params"]["stream_id"],
            &event["params"]["event"]["source"]
        ),
        (&stream, &json!("w1"))
    );
    assert_eq!(
        rpc.call("mob/members", json!({"mob_id": "team"}))
            .expect("members")["members"][0]["meerkat_id"],
        "w1"
    );
    let run = rpc
        .call(
            "mob/flow_run",
            json!({"mob_id": "team", "flow_id": "review", "params": {}}),
        )
        .expect("run");
    let status = rpc
        .call(
            "mob/flow_status",
            json!({"mob_id": "team", "run_id": run["run_id"]}),
        )
        .expect("status");
    assert_eq!(status["run"]["status"], "completed");
    assert_eq!(
        rpc.call("mob/send", json!({"mob_id": "team"}))
            .expect_err("0.5.2 has no mob/send")["code"],
        -32601
    );
}

#[test]
fn v050_and_wrong_versions() {
    let mut rpc = fake("v050");
    let init = rpc.call("initialize", json!({})).expect("initialize");
    assert_eq!(init["contract_version"], "0.5.0");
    let methods: Vec<&str> = init["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(methods.contains(&"mob/send") && !methods.contains(&"mob/member_send"));
    rpc.call("mob/create", json!({"prefab": "pipeline"}))
        .expect("prefab create");
    rpc.call(
        "mob/spawn",
        json!({"mob_id": "pipeline", "profile": "worker", "meerkat_id": "w"}),
    )
    .expect("spawn");
    rpc.call(
        "mob/send",
        json!({"mob_id": "pipeline", "meerkat_id": "w", "content": "go"}),
    )
    .expect("mob/send");
    let missing = rpc.call(
        "mob/member_send",
        json!({"mob_id": "pipeline", "meerkat_id": "w", "content": "go"}),
    );
    assert_eq!(missing.expect_err("not in 0.5.0")["code"], -32601);

    for version in ["0.4.0", "0.9.8"] {
        let mut rpc = fake(&format!("wrong-version {version}"));
        assert_eq!(
            rpc.call("initialize", json!({})).expect("initialize")["contract_version"],
            version
        );
    }
    let mut rpc = fake("wrong-version");
    assert_eq!(
        rpc.call("capabilities/get", json!({})).expect("caps")["contract_version"]["minor"],
        4
    );
}

#[test]
fn process_failures() {
    let mut rpc = fake("exit-during-handshake");
    let id = rpc.request("initialize", json!({}));
    assert!(rpc.wait_for(WAIT, is_response(id)).is_none());
    assert_eq!(rpc.shutdown(WAIT).expect("exit").code(), Some(1));
    assert!(rpc.stderr().contains("exiting during the handshake"));

    let mut rpc = ready("crash-mid-stream");
    let id = rpc.request("session/create", json!({"prompt": "x"}));
    assert!(
        rpc.wait_for(WAIT, is_response(id)).is_none(),
        "no response before the crash"
    );
    assert_eq!(
        rpc.take(|m| m["params"]["event"]["payload"]["type"] == "text_delta")
            .len(),
        3
    );
    assert_eq!(rpc.shutdown(WAIT).expect("exit").code(), Some(3));
    assert!(rpc.stderr().contains("simulated crash"));

    let mut bad = fake("no-such-scenario");
    assert_eq!(bad.shutdown(WAIT).expect("exit").code(), Some(2));
}

#[test]
fn polluted_and_oversized_output() {
    let mut rpc = ready("garbage-stdout");
    let turn = rpc.turn("session/create", json!({"prompt": "x"}));
    assert_eq!(turn.result()["text"], "You said: x");
    assert!(
        rpc.raw_lines().iter().any(|l| l.contains('\u{1b}')),
        "ANSI log lines: {:?}",
        rpc.raw_lines()
    );

    let mut rpc = ready("oversized-line 3000000");
    let turn = rpc.turn("session/create", json!({"prompt": "x"}));
    assert_eq!(turn.result()["text"], "You said: x");
    let big = rpc.take(|m| m["params"]["junk"].is_string());
    assert!(big[0]["params"]["junk"].as_str().map(str::len) > Some(2_900_000));
}

#[test]
fn event_races_gaps_and_strange_ids() {
    let mut rpc = ready("response-before-events 200");
    let id = rpc.request("session/create", json!({"prompt": "x"}));
    rpc.response(id, WAIT).expect("response");
    assert!(
        !rpc.backlog()
            .iter()
            .any(|m| m["params"]["event"]["payload"]["type"] == "run_completed")
    );
    assert!(
        rpc.wait_for(WAIT, |m| m["params"]["event"]["payload"]["type"]
            == "run_completed")
            .is_some()
    );

    let mut rpc = ready("drop-events");
    let turn = rpc.turn("session/create", json!({"prompt": "x [[chunks 9]]"}));
    assert!(!turn.seq_contiguous());
    assert_eq!(turn.events_of("text_delta").len(), 6);
    // The fake writes a turn's events before its response: once the
    // response is here, a missing run_completed is missing for good.
    let silent = rpc.request(
        "turn/start",
        json!({"session_id": sid(turn.result()), "prompt": "y [[no-terminal]]"}),
    );
    assert!(rpc.response(silent, WAIT).is_ok());
    assert!(
        !rpc.backlog()
            .iter()
            .any(|m| m["params"]["event"]["payload"]["type"] == "run_completed")
    );

    let mut rpc = ready("unknown-ids");
    let turn = rpc.turn("session/create", json!({"prompt": "x"}));
    assert!(turn.response.is_ok());
    assert!(
        rpc.wait_for(WAIT, |m| m["result"]["text"] == "You said: x")
            .is_some(),
        "the duplicate response"
    );
    assert!(rpc.backlog().iter().any(|m| m["id"] == 987_654_321));
    assert!(
        rpc.backlog()
            .iter()
            .any(|m| m["id"].is_null() && m["error"]["code"] == -32700)
    );
}

#[test]
fn floods_bursts_and_silence() {
    let mut rpc = ready("stderr-flood 4");
    assert!(
        rpc.turn("session/create", json!({"prompt": "x"}))
            .response
            .is_ok()
    );
    assert!(rpc.stderr().contains("stderr flood"));

    let mut rpc = ready("burst 5000");
    let turn = rpc.turn("session/create", json!({"prompt": "x"}));
    assert_eq!(turn.events_of("text_delta").len(), 5000);
    assert!(turn.seq_contiguous());

    let mut rpc = ready("never-answer session/list");
    let id = rpc.request("session/list", json!({}));
    assert!(
        rpc.wait_for(Duration::from_millis(300), is_response(id))
            .is_none()
    );
    assert!(rpc.call("config/get", json!({})).is_ok());
}

#[test]
fn records_how_it_was_spawned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("record.json");
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-rkat-rpc"));
    command
        .args(["--realm", "r1"])
        .env("FAKE_RKAT_RECORD", &path)
        .env("MARK", "yes");
    let mut rpc = RawRpc::spawn(command).expect("spawn");
    rpc.call("initialize", json!({})).expect("initialize");
    let record: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("record")).expect("json");
    assert_eq!(record["args"], json!(["--realm", "r1"]));
    assert_eq!(record["env"]["MARK"], "yes");
}

/// The fake with its log and gate in `files` (`FAKE_RKAT_LOG`,
/// `FAKE_RKAT_GATE`), plus `env`.
fn watched(files: &FakeFiles, scenario: &str, env: &[(&str, &str)]) -> RawRpc {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-rkat-rpc"));
    command
        .env("FAKE_RKAT_SCENARIO", scenario)
        .env("FAKE_RKAT_LOG", files.log())
        .env("FAKE_RKAT_GATE", files.gate())
        .envs(env.iter().copied());
    RawRpc::spawn(command).expect("spawn the fake")
}

/// Waits until the fake logged `line` (a 60 s watchdog: these tests run
/// without one).
fn wait_for_line(files: &FakeFiles, line: &str) {
    wait_for_line_count(files, line, 1);
}

/// Waits until the fake logged `line` `n` times (a 60 s watchdog).
fn wait_for_line_count(files: &FakeFiles, line: &str, n: usize) {
    let watchdog = Instant::now() + WAIT;
    while files.lines().iter().filter(|l| *l == line).count() < n {
        assert!(
            Instant::now() < watchdog,
            "not {n} {line:?} in {:?}",
            files.lines()
        );
        std::thread::sleep(crate::common::POLL);
    }
}

fn is_delta(m: &Value) -> bool {
    m["params"]["event"]["payload"]["type"] == "text_delta"
}

#[test]
fn stalled_turns_wait_for_the_gate_or_an_interrupt_and_the_log_says_so() {
    let files = FakeFiles::new();
    let mut rpc = watched(&files, "normal", &[]);
    rpc.call("initialize", json!({})).expect("initialize");
    assert_eq!(files.lines()[0], format!("start {}", rpc.pid()));

    let id = rpc.request(
        "session/create",
        json!({"prompt": "[[stall 1]] [[chunks 3]] held"}),
    );
    assert!(rpc.wait_for(WAIT, is_delta).is_some(), "the first delta");
    // Held: nothing more comes until the gate opens (a window can only
    // miss a delta that would break the stall, never invent one).
    assert!(rpc.wait_for(Duration::from_millis(200), is_delta).is_none());
    files.open_gate();
    assert!(rpc.wait_for(WAIT, is_delta).is_some(), "the second delta");
    files.open_gate();
    let result = rpc.response(id, WAIT).expect("the turn ends");
    assert_eq!(result["text"], "You said: held");
    wait_for_line(&files, &format!("turn {}", sid(&result)));
    let _ = rpc.take(|_| true);

    let held = rpc.request(
        "turn/start",
        json!({"session_id": sid(&result), "prompt": "[[stall 0]] never"}),
    );
    assert!(
        rpc.wait_for(WAIT, |m| m["params"]["event"]["payload"]["type"]
            == "turn_started")
            .is_some()
    );
    rpc.call("turn/interrupt", json!({"session_id": sid(&result)}))
        .expect("interrupt");
    let error = rpc.response(held, WAIT).expect_err("interrupted");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("Run was cancelled")),
        "{error}"
    );

    // Both turns are logged (the second once its error is on the pipe),
    // then stdin EOF ends the fake.
    wait_for_line_count(&files, &format!("turn {}", sid(&result)), 2);
    assert_eq!(rpc.shutdown(WAIT).expect("exit").code(), Some(0));
    let log = files.lines();
    assert_eq!(log[log.len() - 2..], ["eof", "exit"], "{log:?}");
}

#[test]
fn sigterm_is_logged_then_obeyed_or_ignored_when_stubborn() {
    use std::os::unix::process::ExitStatusExt as _;
    let term = |pid: u32| {
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
    };

    let files = FakeFiles::new();
    let mut rpc = watched(&files, "normal", &[]);
    rpc.call("initialize", json!({})).expect("initialize");
    term(rpc.pid());
    // stdin stays open: only the SIGTERM can end it.
    let status = rpc.wait_exit(WAIT).expect("wait").expect("it exits");
    assert_eq!(status.code(), Some(143));
    assert_eq!(files.lines()[1..], ["sigterm", "exit"]);

    let files = FakeFiles::new();
    let mut rpc = watched(&files, "normal", &[("FAKE_RKAT_STUBBORN", "1")]);
    rpc.call("initialize", json!({})).expect("initialize");
    term(rpc.pid());
    wait_for_line(&files, "sigterm");
    assert!(
        rpc.call("session/list", json!({})).is_ok(),
        "alive after SIGTERM"
    );
    rpc.close_stdin();
    wait_for_line(&files, "eof");
    // Only SIGKILL ends it now.
    let status = rpc.shutdown(Duration::ZERO).expect("killed");
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(!files.logged("exit"), "{:?}", files.lines());
}

#[test]
fn a_grandchild_holds_stdout_after_the_fake_exits() {
    let files = FakeFiles::new();
    let mut rpc = watched(&files, "normal", &[("FAKE_RKAT_GRANDCHILD", "1")]);
    rpc.call("initialize", json!({})).expect("initialize");
    let grandchild = files.grandchild().expect("the grandchild is logged");
    assert_eq!(rpc.shutdown(WAIT).expect("exit").code(), Some(0));
    let stdout = std::fs::read_link(format!("/proc/{grandchild}/fd/1")).expect("its stdout");
    assert!(stdout.to_string_lossy().starts_with("pipe:"), "{stdout:?}");
    let killed = Command::new("kill")
        .args(["-KILL", &grandchild.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
}
