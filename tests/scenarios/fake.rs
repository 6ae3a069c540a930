// Scenarios against `fake-rkat-rpc`: every misbehaviour of the fake server,
// concurrency, and the exact requests of every public method. Included by
// `sdk_tokio.rs` and `sdk_blocking.rs`, which define `sdk`, `aw!`,
// `scenario!`, `spawn_all!`, `handler!` and `pause!` for their transport.
//
// No scenario reads the clock to decide: one that needs the fake to be at
// some point waits for a state it can see (`until!`: the fake's log of
// finished turns, the requests it received), and a scenario's watchdog is
// the only bound on that wait.

use crate::common::FakeFiles;

/// Waits until `$state` holds, polling; only the scenario's watchdog
/// bounds it.
macro_rules! until {
    ($state:expr) => {
        while !$state {
            pause!(crate::common::POLL);
        }
    };
}

const FAKE: &str = env!("CARGO_BIN_EXE_fake-rkat-rpc");

fn fake(scenario: &str) -> sdk::ConnectOptions {
    sdk::ConnectOptions::new()
        .rkat_path(FAKE)
        .env("FAKE_RKAT_SCENARIO", scenario)
        .request_timeout(Duration::from_secs(30))
}

/// Deltas and the set of event types of a finished stream.
fn texts(events: &[sdk::Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            sdk::Event::TextDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

fn types(events: &[sdk::Event]) -> Vec<&str> {
    events.iter().map(sdk::Event::event_type).collect()
}

/// Options for the fake with its lifecycle log, gate and trace in `files`.
fn watched(scenario: &str, files: &FakeFiles) -> sdk::ConnectOptions {
    fake(scenario)
        .env("FAKE_RKAT_LOG", files.log())
        .env("FAKE_RKAT_GATE", files.gate())
        .env("FAKE_RKAT_TRACE", files.trace())
}

/// The lines the client wrote, after the handshake, with ids that change
/// between runs replaced.
fn trace_after_handshake(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            !matches!(
                v.get("method").and_then(Value::as_str),
                Some("initialize" | "initialized" | "capabilities/get")
            )
        })
        .map(|mut v| {
            redact(&mut v);
            v
        })
        .collect()
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if matches!(k.as_str(), "session_id" | "stream_id" | "run_id") && val.is_string() {
                    *val = Value::String("[id]".into());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn snapshot_requests(name: &str, trace: &std::path::Path) {
    let requests = trace_after_handshake(trace);
    insta::with_settings!({
        snapshot_path => "../snapshots/requests",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_json_snapshot!(name, requests);
    });
}

fn traced(scenario: &str) -> (sdk::ConnectOptions, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("trace.jsonl");
    let options = fake(scenario).env("FAKE_RKAT_TRACE", &trace);
    (options, dir, trace)
}

// ---- process and connection ---------------------------------------------

scenario! {
    fn fake_connect_reports_server_and_capabilities() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        assert_eq!(client.server_info().version, "0.5.2");
        assert!(client.has_capability("sessions"));
        assert!(client.capabilities().iter().any(|c| c.id == "sessions"));
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_missing_binary_names_every_place_tried() {
        let err = aw!(sdk::MeerkatClient::connect(
            sdk::ConnectOptions::new().rkat_path("/nonexistent/dir/rkat-rpc")
        ))
        .expect_err("no such binary");
        assert_eq!(err.code(), "BINARY_NOT_FOUND");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/dir/rkat-rpc"), "{msg}");
        assert!(msg.contains("cargo install meerkat-rpc"), "{msg}");
    }
}

scenario! {
    fn fake_realm_with_isolated_is_rejected_before_spawning() {
        let dir = tempfile::tempdir().expect("temp dir");
        let record = dir.path().join("record.json");
        let err = aw!(sdk::MeerkatClient::connect(
            fake("normal").env("FAKE_RKAT_RECORD", &record).realm_id("team").isolated(true)
        ))
        .expect_err("conflicting options");
        assert_eq!(err.code(), "INVALID_ARGS");
        assert!(!record.exists(), "nothing was spawned");
    }
}

scenario! {
    fn fake_child_gets_flags_and_rust_log_off() {
        let dir = tempfile::tempdir().expect("temp dir");
        let record = dir.path().join("record.json");
        let client = aw!(sdk::MeerkatClient::connect(
            fake("normal")
                .env("FAKE_RKAT_RECORD", &record)
                .env("EXTRA_VAR", "yes")
                .realm_id("team")
                .instance_id("i1")
                .realm_backend("redb")
                .state_root(dir.path().join("state"))
                .context_root(dir.path().join("ctx"))
                .user_config_root(dir.path().join("user"))
        ))
        .expect("connect");
        aw!(client.close()).expect("close");
        let rec: Value = serde_json::from_str(&std::fs::read_to_string(&record).expect("record")).expect("json");
        let args: Vec<&str> = rec["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
        for flag in ["--realm", "team", "--instance", "i1", "--realm-backend", "redb", "--state-root", "--context-root", "--user-config-root"] {
            assert!(args.contains(&flag), "{flag} in {args:?}");
        }
        assert_eq!(rec["env"]["EXTRA_VAR"], "yes");
        if std::env::var_os("RUST_LOG").is_none() {
            assert_eq!(rec["env"]["RUST_LOG"], "off");
        }
    }
}

scenario! {
    fn fake_exit_during_handshake_names_status_and_stderr() {
        let err = aw!(sdk::MeerkatClient::connect(fake("exit-during-handshake"))).expect_err("server exits");
        assert_eq!(err.code(), "CONNECTION_CLOSED");
        let msg = err.to_string();
        assert!(msg.contains("exiting during the handshake"), "stderr tail in {msg}");
        assert!(msg.contains('1'), "exit status in {msg}");
    }
}

scenario! {
    fn fake_unanswered_initialize_is_a_timeout() {
        let err = aw!(sdk::MeerkatClient::connect(
            fake("never-answer initialize").request_timeout(Duration::from_millis(300))
        ))
        .expect_err("no handshake");
        assert_eq!(err.code(), "TIMEOUT");
        assert!(err.to_string().contains("initialize"), "{err}");
    }
}

scenario! {
    fn fake_wrong_contract_version_is_a_version_mismatch() {
        let err = aw!(sdk::MeerkatClient::connect(fake("wrong-version 1.0.0"))).expect_err("mismatch");
        assert_eq!(err.code(), "VERSION_MISMATCH");
        assert!(matches!(&err, sdk::Error::VersionMismatch { server, .. } if server == "1.0.0"), "{err:?}");
        assert!(err.to_string().contains("0.5.x or 0.9.x"), "{err}");
    }
}

scenario! {
    fn fake_crash_mid_stream_errors_every_waiter() {
        let client = aw!(sdk::MeerkatClient::connect(fake("crash-mid-stream"))).expect("connect");
        let pid = client.pid().expect("a child process");
        let mut events = aw!(client.create_session_streaming("hello")).expect("stream starts");
        let mut seen = Vec::new();
        let err = loop {
            match aw!(events.next()) {
                Some(Ok(e)) => seen.push(e),
                Some(Err(e)) => break e,
                None => panic!("stream ended without the crash error; saw {:?}", types(&seen)),
            }
        };
        assert!(types(&seen).contains(&"text_delta"), "{:?}", types(&seen));
        assert_eq!(err.code(), "CONNECTION_CLOSED");
        let msg = err.to_string();
        assert!(msg.contains("simulated crash"), "{msg}");
        assert!(msg.contains('3'), "{msg}");
        let later = aw!(client.list_sessions()).expect_err("dead client");
        assert_eq!(later.code(), "CONNECTION_CLOSED");
        crate::common::assert_reaped(pid);
    }
}

scenario! {
    fn fake_logs_glued_and_blank_lines_on_stdout_are_skipped() {
        let client = aw!(sdk::MeerkatClient::connect(fake("garbage-stdout"))).expect("connect");
        let session = aw!(client.create_session("alpha")).expect("create");
        assert_eq!(session.text(), "You said: alpha");
        let (text, result) = aw!(aw!(session.stream("beta")).expect("stream").collect_text()).expect("collect");
        assert_eq!(text, result.text);
        assert_eq!(result.text, "You said: beta");
        let again = aw!(session.turn("gamma")).expect("turn");
        assert_eq!(again.text, "You said: gamma");
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_oversized_line_is_skipped_not_buffered() {
        let client = aw!(sdk::MeerkatClient::connect(fake("oversized-line 70000000"))).expect("connect");
        let events = aw!(client.create_session_streaming("big")).expect("stream");
        let (text, result) = aw!(events.collect_text()).expect("collect");
        assert_eq!(result.text, "You said: big");
        assert_eq!(text, result.text);
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_events_after_the_response_still_reach_the_stream() {
        let client = aw!(sdk::MeerkatClient::connect(fake("response-before-events 100"))).expect("connect");
        let session = aw!(client.create_session("one")).expect("create");
        let mut events = aw!(session.stream("two")).expect("stream");
        let mut seen = Vec::new();
        while let Some(e) = aw!(events.next()) {
            seen.push(e.expect("event"));
        }
        let t = types(&seen);
        assert!(t.contains(&"text_complete") && t.contains(&"run_completed"), "{t:?}");
        assert_eq!(t.last(), Some(&"run_completed"));
        assert_eq!(events.result().expect("result").text, "You said: two");
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_dropped_events_are_reported_and_the_result_stays_authoritative() {
        let client = aw!(sdk::MeerkatClient::connect(fake("drop-events"))).expect("connect");
        let session = aw!(client.create_session("x")).expect("create");
        let mut events = aw!(session.stream("[[chunks 9]] a longer answer in nine pieces")).expect("stream");
        let mut seen = Vec::new();
        while let Some(e) = aw!(events.next()) {
            seen.push(e.expect("event"));
        }
        let missing: u64 = seen
            .iter()
            .map(|e| match e {
                sdk::Event::EventsLost { missing } => *missing,
                _ => 0,
            })
            .sum();
        assert!(missing >= 3, "gaps reported: {:?}", types(&seen));
        let result = events.result().expect("result");
        assert!(texts(&seen).len() < result.text.len());
        // A turn whose terminal event never comes still ends (grace).
        let events = aw!(session.stream("[[no-terminal]] then nothing")).expect("stream");
        let result = aw!(events.collect()).expect("ends after the grace");
        assert!(result.text.contains("then nothing"));
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_unknown_null_and_duplicate_ids_do_not_disturb() {
        let client = aw!(sdk::MeerkatClient::connect(fake("unknown-ids"))).expect("connect");
        let session = aw!(client.create_session("first")).expect("create");
        let result = aw!(session.turn("second")).expect("turn");
        assert_eq!(result.text, "You said: second");
        assert!(!aw!(client.list_sessions()).expect("list").is_empty());
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_stderr_flood_never_blocks_the_server() {
        let client = aw!(sdk::MeerkatClient::connect(fake("stderr-flood 8"))).expect("connect");
        let session = aw!(client.create_session("a")).expect("create");
        for i in 0..3 {
            let r = aw!(session.turn(format!("turn {i}"))).expect("turn");
            assert_eq!(r.text, format!("You said: turn {i}"));
        }
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_never_answered_request_times_out_and_the_client_stays_usable() {
        // The 500 ms timeout is for session/list; a loaded machine may make
        // the other requests miss it too: they try again until answered.
        let options = fake("never-answer session/list").request_timeout(Duration::from_millis(500));
        let client = loop {
            match aw!(sdk::MeerkatClient::connect(options.clone())) {
                Err(e) if e.code() == "TIMEOUT" => {}
                other => break other.expect("connect"),
            }
        };
        let err = aw!(client.list_sessions()).expect_err("times out");
        assert_eq!(err.code(), "TIMEOUT");
        assert!(err.to_string().contains("session/list"), "{err}");
        let session = loop {
            match aw!(client.create_session("still alive")) {
                Err(e) if e.code() == "TIMEOUT" => {}
                other => break other.expect("create"),
            }
        };
        assert_eq!(session.text(), "You said: still alive");
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_close_fails_pending_requests_and_reaps_the_child() {
        let client = aw!(sdk::MeerkatClient::connect(fake("never-answer session/list"))).expect("connect");
        let pid = client.pid().expect("a child process");
        aw!(client.close()).expect("close");
        crate::common::assert_reaped(pid);
        let err = aw!(client.list_sessions()).expect_err("closed");
        assert_eq!(err.code(), "CLIENT_CLOSED");
    }
}

scenario! {
    fn fake_pending_request_fails_with_closed_when_close_runs() {
        let files = std::sync::Arc::new(FakeFiles::new());
        let client = aw!(sdk::MeerkatClient::connect(watched("never-answer session/list", &files))).expect("connect");
        let closer = client.clone();
        let results = spawn_all!(vec![(client, None), (closer, Some(files))], |pair| {
            let (c, files) = pair;
            if let Some(files) = files {
                // Close once the fake holds the list request: it is pending.
                until!(!files.received("session/list").is_empty());
                aw!(c.close()).map(|()| 0usize)
            } else {
                aw!(c.list_sessions()).map(|l| l.len())
            }
        });
        let err = results.into_iter().find_map(Result::err).expect("the list failed");
        assert!(matches!(err.code().as_ref(), "CLIENT_CLOSED" | "CONNECTION_CLOSED"), "{err}");
    }
}

scenario! {
    fn fake_drop_without_close_leaves_no_process() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        let pid = client.pid().expect("a child process");
        let session = aw!(client.create_session("x")).expect("create");
        drop(session);
        drop(client);
        crate::common::assert_reaped(pid);
    }
}

// ---- sessions over the fake ----------------------------------------------

scenario! {
    fn fake_failed_turn_then_a_normal_turn_answers_the_new_prompt() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        let session = aw!(client.create_session("hi")).expect("create");
        let err = aw!(session.turn("[[error 500]] fail")).expect_err("fails");
        assert!(matches!(err, sdk::Error::Rpc(_)), "{err:?}");
        let ok = aw!(session.turn("next")).expect("next turn");
        assert_eq!(ok.text, "You said: next");
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_failed_streamed_create_still_resets_its_runtime() {
        let (options, _dir, trace) = traced("normal");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        let mut events = aw!(client.create_session_streaming("[[error 500]] first turn fails")).expect("stream");
        let mut failed = None;
        while let Some(e) = aw!(events.next()) {
            if let Err(e) = e {
                failed = Some(e);
            }
        }
        assert!(matches!(failed, Some(sdk::Error::Rpc(_))), "{failed:?}");
        let sid = events.session_id().expect("known from the events").to_owned();
        aw!(client.close()).expect("close");
        let text = std::fs::read_to_string(&trace).expect("trace");
        let reset = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["method"] == "runtime/reset")
            .expect("a runtime/reset after the failed first turn");
        assert_eq!(reset["params"]["session_id"], sid.as_str());
    }
}

scenario! {
    fn fake_interrupt_then_a_normal_turn() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        let session = aw!(client.create_session("hi")).expect("create");
        // Held after one delta: the interrupt always finds it running.
        let mut events = aw!(session.stream("[[stall 1]] [[chunks 50]] a held answer")).expect("stream");
        let first = aw!(events.next()).expect("an event").expect("ok");
        assert_eq!(first.event_type(), "run_started");
        aw!(session.interrupt()).expect("interrupt");
        while let Some(e) = aw!(events.next()) {
            if e.is_err() {
                break;
            }
        }
        let ok = aw!(session.turn("after")).expect("next turn");
        assert_eq!(ok.text, "You said: after");
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_callback_tools_answer_fail_panic_and_reenter() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        let inner = client.clone();
        aw!(client.register_tool(
            sdk::ToolDef::new("lookup", "Look up").input_schema(json!({"type":"object"})),
            handler!(|args| { Ok::<_, String>(sdk::ToolOutput::text(format!("found {}", args["q"]))) })
        ))
        .expect("register");
        aw!(client.register_tool(
            sdk::ToolDef::new("broken", "Fails"),
            handler!(|_args| { Err::<sdk::ToolOutput, _>("no such thing".to_owned()) })
        ))
        .expect("register");
        aw!(client.register_tool(
            sdk::ToolDef::new("panics", "Panics"),
            handler!(|_args| {
                if true { panic!("handler exploded"); }
                Ok::<_, String>(sdk::ToolOutput::text("never"))
            })
        ))
        .expect("register");
        aw!(client.register_tool(
            sdk::ToolDef::new("reenter", "Calls the client"),
            handler!([inner] |_args| {
                let c = inner.clone();
                let n = aw!(c.list_sessions()).map_err(|e| e.to_string())?.len();
                Ok::<_, String>(sdk::ToolOutput::text(format!("{n} sessions")))
            })
        ))
        .expect("register");
        let session = aw!(client.create_session("hi")).expect("create");
        let r = aw!(session.turn(r#"[[tool lookup {"q":"meerkat"}]] go"#)).expect("turn");
        assert!(r.text.contains("found \"meerkat\""), "{}", r.text);
        let r = aw!(session.turn("[[tool broken {}]] go")).expect("turn");
        assert!(r.text.contains("no such thing"), "{}", r.text);
        let r = aw!(session.turn("[[tool panics {}]] go")).expect("turn");
        assert!(r.text.contains("panic") || r.text.contains("exploded"), "{}", r.text);
        let r = aw!(session.turn("[[tool reenter {}]] go")).expect("turn");
        assert!(r.text.contains("1 sessions"), "{}", r.text);
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_fifty_sessions_stream_at_once_each_gets_its_own_events() {
        let client = aw!(sdk::MeerkatClient::connect(fake("normal"))).expect("connect");
        let results = spawn_all!((0..50).map(|i| (i, client.clone())).collect::<Vec<_>>(), |(i, c)| {
            let session = aw!(c.create_session(format!("session {i}"))).expect("create");
            let mut events = aw!(session.stream(format!("[[chunks 40]] stream number {i} with its own words"))).expect("stream");
            let mut seen = Vec::new();
            while let Some(e) = aw!(events.next()) {
                seen.push(e.expect("event"));
            }
            let result = events.result().expect("result").clone();
            (i, texts(&seen), types(&seen).iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), result.text, result.session_id, session.id().to_owned())
        });
        assert_eq!(results.len(), 50);
        for (i, text, types, result_text, result_sid, sid) in results {
            assert_eq!(result_text, format!("You said: [[chunks 40]] stream number {i} with its own words").replace("[[chunks 40]] ", ""), "session {i}");
            assert_eq!(text, result_text, "session {i}: deltas in order");
            assert_eq!(types.first().map(String::as_str), Some("run_started"));
            assert_eq!(types.last().map(String::as_str), Some("run_completed"));
            assert_eq!(result_sid, sid);
        }
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_a_stalled_consumer_does_not_stall_other_sessions() {
        let client = aw!(sdk::MeerkatClient::connect(fake("burst 20000 16"))).expect("connect");
        let a = aw!(client.create_session_streaming("not read")).expect("stream a");
        let mut b = aw!(client.create_session_streaming("read")).expect("stream b");
        // However far b's reader falls behind, every event of b is either
        // delivered or counted as dropped.
        let (mut delivered, mut dropped) = (0u64, 0u64);
        while let Some(e) = aw!(b.next()) {
            match e.expect("event") {
                sdk::Event::Lagged { dropped: n } => dropped += n,
                _ => delivered += 1,
            }
        }
        let result = b.result().expect("b completes while a is unread");
        assert!(!result.session_id.is_empty());
        assert_eq!(result.text.len(), "You said: ".len() + 20000 * 16);
        assert_eq!(delivered + dropped, 20000 + BURST_FRAME, "run_started, turn_started, the deltas, text_complete, turn_completed, run_completed");
        drop(a);
        aw!(client.close()).expect("close");
    }
}

scenario! {
    fn fake_a_slow_consumer_gets_a_lag_signal_and_bounded_memory() {
        // 5,000 events against a 100-event budget, read only once all of
        // them reached the client.
        const BUDGET: usize = 100;
        let files = FakeFiles::new();
        let client = aw!(sdk::MeerkatClient::connect(watched("burst 5000 8", &files).stream_budget(BUDGET))).expect("connect");
        let session = aw!(client.create_session("x")).expect("create");
        let mut events = aw!(session.stream("slow reader")).expect("stream");
        // The fake logs the turn once all of it, response included, is on
        // the pipe; the answer to a later request comes after all of it on
        // the pipe, so once that answer is here the client has routed every
        // event of the turn, and nobody read any.
        until!(files.turns_done(session.id()) == 2);
        aw!(client.list_sessions()).expect("list");
        let (mut delivered, mut dropped) = (0u64, 0u64);
        while let Some(e) = aw!(events.next()) {
            match e.expect("event") {
                sdk::Event::Lagged { dropped: n } => dropped += n,
                _ => delivered += 1,
            }
        }
        assert!(dropped > 0, "the consumer was told it fell behind");
        // Nothing was read while the burst arrived: the stream held at most
        // its budget.
        assert!(delivered <= BUDGET as u64, "at most the budget was held: {delivered}");
        assert_eq!(delivered + dropped, 5000 + BURST_FRAME, "every event delivered or counted");
        assert!(events.result().is_some(), "the end is never dropped");
        aw!(client.close()).expect("close");
    }
}

/// The events of a burst turn besides its deltas: `run_started`,
/// `turn_started`, `text_complete`, `turn_completed`, `run_completed`.
const BURST_FRAME: u64 = 5;

scenario! {
    fn fake_v050_dialect_uses_mob_send() {
        let (options, _dir, trace) = traced("v050");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        assert_eq!(client.server_info().contract_version.to_string(), "0.5.0");
        let mob = aw!(client.create_mob(sdk::MobSpec::prefab("coding_swarm"))).expect("mob");
        aw!(mob.spawn(sdk::SpawnSpec::new("worker", "w1"))).expect("spawn");
        aw!(mob.member("w1").send("hello", sdk::HandlingMode::Queue)).expect("send");
        aw!(client.close()).expect("close");
        let sent = trace_after_handshake(&trace);
        assert!(sent.iter().any(|m| m["method"] == "mob/send"), "{sent:?}");
        assert!(!sent.iter().any(|m| m["method"] == "mob/member_send"));
    }
}

// ---- the exact requests ----------------------------------------------------

scenario! {
    fn requests_create_session_default_and_all_options() {
        let (options, _dir, trace) = traced("normal");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        aw!(client.create_session("plain")).expect("default");
        let all = sdk::SessionOptions::new(vec![
            sdk::ContentBlock::text("look"),
            sdk::ContentBlock::image("image/png", "iVBORw0KGgo="),
        ])
        .model("claude-sonnet-4-5")
        .provider("anthropic")
        .system_prompt("be brief")
        .max_tokens(512)
        .output_schema(json!({"type":"object","properties":{"a":{"type":"string"}}}))
        .structured_output_retries(3)
        .hooks_override(json!({"entries":[]}))
        .enable_builtins(true)
        .enable_shell(true)
        .enable_memory(true)
        .enable_mob(true)
        .keep_alive(true)
        .comms_name("alice")
        .peer_meta(json!({"labels":{"team":"a"}}))
        .budget_limits(json!({"max_tokens": 1000}))
        .provider_params(json!({"temperature": 0.2}))
        .preload_skills(vec!["a/b".to_owned()])
        .skill_refs(vec![sdk::SkillRef::from(sdk::SkillKey::new("0190e0a0-0000-7000-8000-000000000001", "email"))]);
        aw!(client.create_session(all)).expect("all options");
        aw!(client.create_deferred_session("later")).expect("deferred");
        aw!(client.close()).expect("close");
        snapshot_requests("create_session", &trace);
    }
}

scenario! {
    fn requests_turns_streams_and_session_calls() {
        let (options, _dir, trace) = traced("normal");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        let session = aw!(client.create_session("one")).expect("create");
        aw!(session.turn("two")).expect("turn");
        aw!(session.turn_with("three", sdk::TurnOptions::new().model("claude-sonnet-4-5").additional_instructions(vec!["short".to_owned()]))).expect("turn with");
        let every_turn_option = sdk::TurnOptions::new()
            .skill_refs(vec![sdk::SkillRef::from(sdk::SkillKey::new("0190e0a0-0000-7000-8000-000000000001", "email"))])
            .skill_references(vec!["legacy/skill".to_owned()])
            .model("claude-sonnet-4-5")
            .provider("anthropic")
            .provider_params(json!({"temperature": 0}))
            .additional_instructions(vec!["be terse".to_owned()])
            .keep_alive(false);
        aw!(session.turn_with("all turn options", every_turn_option)).expect("all turn options");
        aw!(session.invoke_skill(sdk::SkillKey::new("0190e0a0-0000-7000-8000-000000000001", "email"), "draft it")).expect("skill");
        aw!(aw!(session.stream_with("streamed with options", sdk::TurnOptions::new().model("claude-sonnet-4-5"))).expect("stream").collect()).expect("collect");
        aw!(aw!(client.create_session_streaming("created streaming")).expect("stream").collect()).expect("collect");
        aw!(aw!(session.stream("four")).expect("stream").collect()).expect("collect");
        aw!(session.history(0, Some(10))).expect("history");
        aw!(client.list_sessions()).expect("list");
        aw!(client.read_session(session.id())).expect("read");
        aw!(client.read_session_history(session.id(), 1, None)).expect("history");
        aw!(session.interrupt()).expect("interrupt");
        aw!(session.archive()).expect("archive");
        let deferred = aw!(client.create_deferred_session("setup")).expect("deferred");
        aw!(deferred.start_turn("go", sdk::TurnOptions::default())).expect("start");
        aw!(client.close()).expect("close");
        snapshot_requests("session_calls", &trace);
    }
}

scenario! {
    fn requests_config_skills_comms_tools_and_subscriptions() {
        let (options, _dir, trace) = traced("normal");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        let cfg = aw!(client.get_config()).expect("get");
        aw!(client.set_config(cfg.config)).expect("set");
        aw!(client.patch_config(json!({"max_tokens": 2048}))).expect("patch");
        aw!(client.list_skills()).expect("skills");
        aw!(client.register_tool(sdk::ToolDef::new("echo", "Echo").input_schema(json!({"type":"object"})), handler!(|a| { Ok::<_, String>(sdk::ToolOutput::text(a.to_string())) }))).expect("tool");
        let session = aw!(client.create_session(sdk::SessionOptions::new("hi").keep_alive(true).comms_name("alice"))).expect("create");
        aw!(session.send(sdk::CommsCommand::input("hello"))).expect("send");
        aw!(session.peers()).expect("peers");
        let sub = aw!(session.subscribe_events()).expect("subscribe");
        aw!(sub.close()).expect("close sub");
        aw!(client.close()).expect("close");
        snapshot_requests("config_skills_comms_tools", &trace);
    }
}

scenario! {
    fn requests_every_mob_method() {
        let (options, _dir, trace) = traced("normal");
        let client = aw!(sdk::MeerkatClient::connect(options)).expect("connect");
        let mob = aw!(client.create_mob(sdk::MobSpec::definition(json!({"id":"team","profiles":{"worker":{"model":"claude-sonnet-4-5"}},"flows":{"review":{"steps":{}}}})))).expect("create");
        aw!(client.list_mobs()).expect("list");
        aw!(mob.status()).expect("status");
        aw!(mob.spawn(sdk::SpawnSpec::new("worker", "w1"))).expect("spawn");
        aw!(mob.spawn(sdk::SpawnSpec::new("worker", "w2"))).expect("spawn");
        aw!(mob.wire("w1", "w2")).expect("wire");
        aw!(mob.members()).expect("members");
        aw!(mob.member("w1").send("hello", sdk::HandlingMode::Steer)).expect("send");
        aw!(mob.unwire("w1", "w2")).expect("unwire");
        aw!(mob.respawn("w2")).expect("respawn");
        aw!(mob.retire("w2")).expect("retire");
        assert_eq!(aw!(mob.flows()).expect("flows"), vec!["review".to_owned()]);
        let run_id = aw!(mob.run_flow("review", json!({"pr": 7}))).expect("run flow");
        assert!(aw!(mob.flow_status(&run_id)).expect("flow status").is_some());
        aw!(mob.cancel_flow(&run_id)).expect("cancel flow");
        let sub = aw!(mob.subscribe_events()).expect("subscribe");
        aw!(sub.close()).expect("close sub");
        let sub = aw!(mob.subscribe_member_events("w1")).expect("subscribe member");
        aw!(sub.close()).expect("close sub");
        aw!(mob.lifecycle(sdk::MobAction::Stop)).expect("stop");
        aw!(mob.lifecycle(sdk::MobAction::Resume)).expect("resume");
        aw!(client.close()).expect("close");
        snapshot_requests("mob_methods", &trace);
    }
}
