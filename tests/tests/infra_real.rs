//! End-to-end proof of the harness: the real `rkat-rpc` 0.5.2 driven in raw
//! JSON lines against the scripted LLM. These tests also pin the findings
//! written down in `meerkat_tests::real` (tool flags, model, skills, comms,
//! mobs): if a future server changes them, a test here fails.

use std::time::Duration;

use meerkat_tests::llm::ScriptedLlm;
use meerkat_tests::raw::RawRpc;
use meerkat_tests::real::RealServer;
use serde_json::{Value, json};

/// How long a wait on the real server may take: a watchdog, not an
/// expectation.
const WAIT: Duration = Duration::from_secs(60);

/// A 1x1 PNG.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

fn start(server: &RealServer) -> RawRpc {
    let mut rpc = server.spawn_raw();
    let init = rpc.call("initialize", json!({})).expect("initialize");
    assert_eq!(init["contract_version"], "0.5.2");
    rpc
}

/// Options that keep the tool list small and deterministic.
fn quiet(mut params: Value) -> Value {
    params["enable_builtins"] = json!(false);
    params["enable_shell"] = json!(false);
    params
}

fn tool_names(request: &Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the LLM got no new request for 500 ms (members of a mob run
/// turns of their own after spawn and wire; 0.5.2 sometimes never runs
/// input that races such a turn).
fn settle(llm: &ScriptedLlm) {
    loop {
        let before = llm.request_count();
        std::thread::sleep(Duration::from_millis(500));
        if llm.request_count() == before {
            return;
        }
    }
}

fn session_id(result: &Value) -> String {
    result["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned()
}

#[test]
fn config_patch_then_text_in_chunks() {
    let llm = ScriptedLlm::start();
    // The realm config points nowhere; config/patch must redirect it.
    let server = RealServer::builder("http://127.0.0.1:9").build();
    let mut rpc = start(&server);
    let caps = rpc
        .call("capabilities/get", json!({}))
        .expect("capabilities");
    assert_eq!(
        caps["contract_version"],
        json!({"major": 0, "minor": 5, "patch": 2})
    );
    let patched = rpc
        .call(
            "config/patch",
            json!({"patch": {"providers": {"base_urls": {"anthropic": llm.url()}}}}),
        )
        .expect("config/patch");
    assert_eq!(
        patched["config"]["providers"]["base_urls"]["anthropic"],
        llm.url()
    );

    let turn = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "Hello there [[chunks 7]]"})),
    );
    assert_eq!(turn.result()["text"], "You said: Hello there");
    assert!(
        turn.seq_contiguous(),
        "no events lost on a 7-delta turn: {:?}",
        turn.envelopes
    );
    let deltas: Vec<&str> = turn
        .events_of("text_delta")
        .iter()
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(deltas.len(), 7);
    assert_eq!(deltas.concat(), "You said: Hello there");
    assert_eq!(turn.events.last().expect("events")["type"], "run_completed");
    assert_eq!(llm.request_count(), 1);
    assert_eq!(llm.requests()[0]["stream"], true);
    assert_eq!(llm.recorded()[0].header("x-api-key"), Some("dummy"));
}

#[test]
fn builtin_tool_turn() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let turn = rpc.turn(
        "session/create",
        json!({"prompt": "What time is it? [[tool datetime {}]]", "enable_builtins": true, "enable_shell": false}),
    );
    let result = turn.result();
    assert_eq!(result["tool_calls"], 1);
    assert_eq!(result["turns"], 2);
    let text = result["text"].as_str().expect("text");
    assert!(text.starts_with("Tool datetime returned: {"), "{text}");
    assert!(text.contains("iso8601"), "{text}");
    for kind in [
        "tool_call_requested",
        "tool_execution_started",
        "tool_execution_completed",
        "tool_result_received",
    ] {
        assert_eq!(turn.events_of(kind).len(), 1, "{kind}");
    }
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let follow_up = requests[1]["messages"].as_array().expect("messages");
    let last = follow_up.last().expect("a message");
    assert_eq!(last["content"][0]["type"], "tool_result");
}

#[test]
fn structured_output_with_schema() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]});
    let turn = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "Compute [[json {\"answer\": 42}]]", "output_schema": schema})),
    );
    assert_eq!(turn.result()["structured_output"], json!({"answer": 42}));
    let recorded = llm.recorded();
    assert_eq!(
        recorded.len(),
        2,
        "one agentic call and one extraction call"
    );
    assert!(recorded[0].body.get("output_config").is_none());
    assert_eq!(
        recorded[1].body["output_config"]["format"]["type"],
        "json_schema"
    );
    assert_eq!(
        recorded[1].header("anthropic-beta"),
        Some("structured-outputs-2025-11-13")
    );

    // A bad extraction answer is retried, then the schema sample is used.
    let turn = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "Again [[badjson x1]]", "output_schema": schema})),
    );
    assert_eq!(turn.result()["structured_output"], json!({"answer": 1}));
    assert_eq!(turn.result()["turns"], 3);
}

#[test]
fn failed_turn_then_reset_then_normal_turn() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let created = rpc.turn("session/create", quiet(json!({"prompt": "Start"})));
    let sid = session_id(created.result());

    let failed = rpc.turn(
        "turn/start",
        json!({"session_id": sid, "prompt": "Fail please [[error 400]]"}),
    );
    let error = failed.response.clone().expect_err("the turn fails");
    assert_eq!(error["code"], -32603);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid_request_error")),
        "{error}"
    );
    assert_eq!(failed.events_of("run_failed").len(), 1);

    let reset = rpc.reset_runtime(&sid).expect("runtime/reset");
    assert!(reset["inputs_abandoned"].as_u64().is_some(), "{reset}");
    let _ = rpc.take(|_| true);
    let ok = rpc.turn(
        "turn/start",
        json!({"session_id": sid, "prompt": "Recovered"}),
    );
    assert_eq!(ok.result()["text"], "You said: Recovered");
}

#[test]
fn interrupt_a_slow_turn_then_reset() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let created = rpc.turn("session/create", quiet(json!({"prompt": "Start"})));
    let sid = session_id(created.result());
    let id = rpc.request(
        "turn/start",
        json!({"session_id": sid, "prompt": "Held [[stall 1]] [[chunks 50]]"}),
    );
    let first_delta = rpc.wait_for(WAIT, |m| {
        m["params"]["event"]["payload"]["type"] == "text_delta"
    });
    assert!(first_delta.is_some(), "the slow stream started");
    let interrupted = rpc
        .call("turn/interrupt", json!({"session_id": sid}))
        .expect("interrupt");
    assert_eq!(interrupted["interrupted"], true);
    let error = rpc
        .response(id, WAIT)
        .expect_err("an interrupted turn fails in 0.5.2");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("cancelled")),
        "{error}"
    );
    rpc.reset_runtime(&sid).expect("runtime/reset");
    let _ = rpc.take(|_| true);
    let ok = rpc.turn("turn/start", json!({"session_id": sid, "prompt": "After"}));
    assert_eq!(ok.result()["text"], "You said: After");
}

#[test]
fn multimodal_prompt_reaches_the_llm() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let prompt = json!([
        {"type": "text", "text": "What is this?"},
        {"type": "image", "media_type": "image/png", "source": "inline", "data": PNG_1X1},
    ]);
    let turn = rpc.turn("session/create", quiet(json!({"prompt": prompt})));
    assert_eq!(turn.result()["text"], "You said: What is this?");
    let request = &llm.requests()[0];
    let content = &request["messages"][0]["content"];
    let image = content
        .as_array()
        .and_then(|blocks| blocks.iter().find(|b| b["type"] == "image"))
        .unwrap_or_else(|| panic!("no image block in {content}"));
    assert_eq!(
        image["source"],
        json!({"type": "base64", "media_type": "image/png", "data": PNG_1X1})
    );
}

/// Finding 1: absent tool flags mean builtins and shell ON; explicit
/// `false` turns them off; memory/mob flags add no tools in this build.
#[test]
fn finding_absent_tool_flags_enable_builtins_and_shell() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let _ = rpc.turn("session/create", json!({"prompt": "absent"}));
    let _ = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "off", "enable_memory": false, "enable_mob": false})),
    );
    let _ = rpc.turn(
        "session/create",
        json!({"prompt": "all on", "enable_builtins": true, "enable_shell": true, "enable_memory": true, "enable_mob": true}),
    );
    let requests = llm.requests();
    let (absent, off, on) = (
        tool_names(&requests[0]),
        tool_names(&requests[1]),
        tool_names(&requests[2]),
    );
    for tool in [
        "datetime",
        "task_create",
        "apply_patch",
        "shell",
        "shell_jobs",
        "load_skill",
    ] {
        assert!(
            absent.contains(&tool.to_owned()),
            "{tool} when flags are absent: {absent:?}"
        );
        assert!(
            !off.contains(&tool.to_owned()),
            "{tool} when flags are false: {off:?}"
        );
    }
    assert_eq!(absent, on, "absent flags behave as all on");
    assert!(
        off.iter()
            .all(|t| t.starts_with("meerkat_schedule_") || t == "web_search"),
        "{off:?}"
    );
}

/// Finding 2: the realm default model is `claude-opus-4-6` (anthropic);
/// `claude-sonnet-4-5` also selects the anthropic provider.
#[test]
fn finding_models_select_anthropic() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let default = rpc.turn("session/create", quiet(json!({"prompt": "default"})));
    let sonnet = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "sonnet", "model": "claude-sonnet-4-5"})),
    );
    let requests = llm.requests();
    assert_eq!(requests[0]["model"], "claude-opus-4-6");
    assert_eq!(requests[1]["model"], "claude-sonnet-4-5");
    for turn in [default, sonnet] {
        let read = rpc
            .call(
                "session/read",
                json!({"session_id": session_id(turn.result())}),
            )
            .expect("read");
        assert_eq!(read["provider"], "anthropic");
    }
}

/// Finding 3: a project skill in `<context-root>/.rkat/skills/<source
/// uuid>/<name>/SKILL.md` is listed, and its `SkillKey` resolves.
#[test]
fn finding_project_skill_is_listed_and_injected() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let skill = server.add_skill(
        "greeter",
        "Greets people warmly",
        "Always greet with SKILL-BODY-MARK.",
    );
    let mut rpc = start(&server);
    let listed = rpc.call("skills/list", json!({})).expect("skills/list");
    let entry = listed["skills"]
        .as_array()
        .and_then(|skills| skills.iter().find(|s| s["id"] == skill.id.as_str()))
        .unwrap_or_else(|| panic!("{} not in {listed}", skill.id))
        .clone();
    assert_eq!(entry["name"], "greeter");
    assert_eq!(entry["scope"], "project");
    let created = rpc.turn("session/create", quiet(json!({"prompt": "Hi"})));
    let sid = session_id(created.result());
    let key = json!({"source_uuid": skill.source_uuid, "skill_name": skill.skill_name});
    let turn = rpc.turn(
        "turn/start",
        json!({"session_id": sid, "prompt": "Greet me", "skill_refs": [key]}),
    );
    let text = turn.result()["text"].as_str().expect("text");
    assert!(
        text.contains("SKILL-BODY-MARK"),
        "the skill body is prepended to the prompt: {text}"
    );
    let created = rpc.turn(
        "session/create",
        quiet(json!({"prompt": "Hello", "skill_refs": [key]})),
    );
    let text = created.result()["text"].as_str().expect("text");
    assert!(
        text.contains("SKILL-BODY-MARK"),
        "skill_refs on session/create work too: {text}"
    );
}

/// Finding 4: two plain keep-alive sessions cannot talk (the session
/// inproc runtime requires peer auth and nothing trusts them); `input` to
/// a session works with `allow_self_session`; `peer_message` needs
/// `handling_mode` in 0.5.2.
#[test]
fn finding_comms_between_plain_keep_alive_sessions() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let alice = rpc
        .call(
            "session/create",
            quiet(json!({"prompt": "I am alice", "keep_alive": true, "comms_name": "alice"})),
        )
        .expect("alice");
    let bob = rpc
        .call(
            "session/create",
            quiet(json!({"prompt": "I am bob", "keep_alive": true, "comms_name": "bob"})),
        )
        .expect("bob");
    assert_eq!(
        alice["turns"], 0,
        "keep-alive create answers at once with an empty result"
    );
    let (alice, bob) = (session_id(&alice), session_id(&bob));
    assert!(llm.wait_for_requests(2, WAIT), "both first turns ran");

    let peers = rpc
        .call("comms/peers", json!({"session_id": alice}))
        .expect("peers");
    assert_eq!(peers["peers"], json!([]));
    let missing_mode = rpc
        .call(
            "comms/send",
            json!({"session_id": alice, "kind": "peer_message", "to": "bob", "body": "hi"}),
        )
        .expect_err("handling_mode is required");
    assert_eq!(
        missing_mode["data"]["details"][0],
        json!({"field": "handling_mode", "issue": "required_field"})
    );
    let untrusted = rpc
        .call(
            "comms/send",
            json!({"session_id": alice, "kind": "peer_message", "to": "bob", "body": "hi", "handling_mode": "queue"}),
        )
        .expect_err("bob is not trusted");
    assert_eq!(untrusted["data"]["code"], "peer_not_found_or_not_trusted");

    let input = rpc
        .call(
            "comms/send",
            json!({"session_id": bob, "kind": "input", "body": "direct input", "allow_self_session": true}),
        )
        .expect("input");
    assert_eq!(input["kind"], "input_accepted");
    let turn = llm.wait_for_user_text(WAIT, "[EVENT via rpc] direct input");
    assert!(turn.is_some(), "the input ran a turn: {:?}", llm.requests());
}

/// Finding 5: `mob/create` with a definition works offline; spawning needs
/// `tools.comms = true`, `mob/member_send` needs `external_addressable`;
/// wired members see each other as `<mob>/<profile>/<id>` peers and can
/// exchange `peer_message`s (the receiver's LLM sees `[COMMS MESSAGE from
/// <peer>]\n<body>`).
#[test]
fn finding_mob_with_definition_offline() {
    let llm = ScriptedLlm::start();
    let server = RealServer::new(&llm);
    let mut rpc = start(&server);
    let plain = json!({"id": "plain", "profiles": {"worker": {"model": "claude-sonnet-4-5"}}});
    assert_eq!(
        rpc.call("mob/create", json!({"definition": plain}))
            .expect("create")["mob_id"],
        "plain"
    );
    let no_comms = rpc
        .call(
            "mob/spawn",
            json!({"mob_id": "plain", "profile": "worker", "meerkat_id": "w1"}),
        )
        .expect_err("spawn needs comms");
    assert!(
        no_comms["message"]
            .as_str()
            .is_some_and(|m| m.contains("comms=true")),
        "{no_comms}"
    );

    let profile = json!({"model": "claude-sonnet-4-5", "tools": {"comms": true}, "external_addressable": true});
    let team = json!({"id": "team", "profiles": {"worker": profile}});
    rpc.call("mob/create", json!({"definition": team}))
        .expect("create team");
    let w1 = rpc
        .call(
            "mob/spawn",
            json!({"mob_id": "team", "profile": "worker", "meerkat_id": "w1"}),
        )
        .expect("spawn w1");
    rpc.call(
        "mob/spawn",
        json!({"mob_id": "team", "profile": "worker", "meerkat_id": "w2"}),
    )
    .expect("spawn w2");
    // Input (member_send, peer messages) that races the member's kickoff turn is sometimes never
    // run by 0.5.2: let the kickoffs finish first.
    assert!(
        llm.wait_for_requests(2, WAIT),
        "spawned members run a kickoff turn"
    );
    rpc.drain_for(Duration::from_millis(500));
    assert_eq!(
        rpc.call(
            "mob/wire",
            json!({"mob_id": "team", "member": "w1", "peer": {"local": "w2"}})
        )
        .expect("wire")["wired"],
        true
    );
    let peers = rpc
        .call("comms/peers", json!({"session_id": session_id(&w1)}))
        .expect("peers");
    assert_eq!(peers["peers"][0]["name"], "team/worker/w2");
    settle(&llm);
    let peer_send = rpc.call(
        "comms/send",
        json!({"session_id": session_id(&w1), "kind": "peer_message", "to": "team/worker/w2",
               "body": "hello w2", "handling_mode": "queue"}),
    );
    assert_eq!(
        peer_send.expect("peer_message between wired members")["kind"],
        "peer_message_sent"
    );
    let delivered = llm.wait_for_request(WAIT, |b| {
        b["messages"]
            .as_array()
            .and_then(|m| m.last())
            .is_some_and(|m| m.to_string().contains("hello w2"))
    });
    let delivered = delivered.map(|b| b["messages"].as_array().and_then(|m| m.last().cloned()));
    let content = delivered
        .flatten()
        .map(|m| m["content"].to_string())
        .unwrap_or_default();
    assert!(
        content.contains("[COMMS MESSAGE from team/worker/w1]\\nhello w2"),
        "{content}"
    );

    settle(&llm);
    let sent = rpc
        .call(
            "mob/member_send",
            json!({"mob_id": "team", "meerkat_id": "w1", "content": "work please"}),
        )
        .expect("member_send");
    assert_eq!(sent["member_id"], "w1");
    let turn = llm.wait_for_user_text(WAIT, "[EVENT via rpc] work please");
    assert!(
        turn.is_some(),
        "the member ran a turn: {:?}",
        llm.requests()
    );

    let stopped = rpc
        .call("mob/lifecycle", json!({"mob_id": "team", "action": "stop"}))
        .expect("stop");
    assert_eq!(stopped["ok"], true);
    assert_eq!(
        rpc.call("mob/status", json!({"mob_id": "team"}))
            .expect("status")["status"],
        "Stopped"
    );
}
