//! Every params type written for the contract line spoken, checked against
//! what the real rkat-rpc 0.9.8 accepted and refused
//! (`tests/fixtures/rkat-rpc-0.9.8`, PROTOCOL.md §7.8), and the 0.5
//! encoding of the same options.
//!
//! A fixture step is the label before a request; its `send` record shows
//! the params as the server got them and its answer whether it parsed them
//! (0.9 rejects unknown keys, and names the keys it expects).

use meerkat_proto::methods::*;
use meerkat_proto::{
    CommsCommand, ContractLine, Dialect, EventCursor, HandlingMode, InputSelector, Method,
    MobAction, MobSpec, Prompt, ProviderParams, ReasoningMode, ServerInfo, SessionOptions,
    SkillKey, SkillRef, SpawnSpec, ToolChoice, ToolDef, ToolFilter, TurnOptions, TurnToolOverlay,
    UsageError,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

const SID: &str = "01a22eed-2ee0-7d92-b4f6-541e2d903454";
const SKILL_SOURCE: &str = "00000000-0000-4000-8000-000000000101";

fn fixture_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/rkat-rpc-0.9.8")
        .join(file)
}

/// The dialect of the real 0.9.8 server (its `initialize` result).
fn v098() -> Dialect {
    let text = std::fs::read_to_string(fixture_path("initialize.json")).expect("fixture present");
    let init: Value = serde_json::from_str(&text).expect("JSON");
    ServerInfo::from_initialize(&init)
        .expect("0.9.8 initialize")
        .dialect()
}

fn v050() -> Dialect {
    Dialect::default()
}

/// The first request after the step labelled `label` in `file`: its method,
/// its params and the server's answer to it.
fn step(file: &str, label: &str) -> (String, Value, Value) {
    let text = std::fs::read_to_string(fixture_path(file)).expect("fixture present");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON record"))
        .collect();
    let at = records
        .iter()
        .position(|r| r["dir"] == "step" && r["label"] == label)
        .unwrap_or_else(|| panic!("no step {label:?} in {file}"));
    let sent = records[at..]
        .iter()
        .find(|r| r["dir"] == "send" && r["msg"].get("id").is_some())
        .expect("a request after the step")["msg"]
        .clone();
    let id = &sent["id"];
    // An answer to it, or the id-less error 0.9 sends for some bad params.
    let answer = records[at..]
        .iter()
        .filter(|r| r["dir"] == "recv" && r["msg"].get("method").is_none())
        .map(|r| &r["msg"])
        .find(|m| m["id"] == *id || (m["id"].is_null() && m.get("error").is_some()))
        .expect("an answer")
        .clone();
    let method = sent["method"].as_str().expect("method").to_owned();
    (method, sent["params"].clone(), answer)
}

/// Whether the server parsed the params (any answer but "Invalid params").
fn parsed(answer: &Value) -> bool {
    !answer["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Invalid params"))
}

/// The keys a refusal of an unknown key says the server expects.
fn expected_keys(answer: &Value) -> BTreeSet<String> {
    let message = answer["error"]["message"].as_str().expect("an error");
    let (_, list) = message.split_once("expected").expect("an expected list");
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .expect("object params")
        .keys()
        .cloned()
        .collect()
}

fn params<M: Method>(p: &M::Params, dialect: &Dialect) -> Result<Value, UsageError> {
    let raw = M::encode_params(p, dialect)?.expect("params");
    Ok(serde_json::from_str(raw.get()).expect("JSON"))
}

/// Asserts that our params for a fixture step are exactly what the 0.9.8
/// server was sent there and parsed.
fn assert_accepted<M: Method>(file: &str, label: &str, p: &M::Params) {
    let (method, sent, answer) = step(file, label);
    assert!(
        parsed(&answer),
        "{label}: the server refused {sent}: {answer}"
    );
    assert_eq!(M::name(&v098()).unwrap(), method, "{label}");
    assert_eq!(params::<M>(p, &v098()).unwrap(), sent, "{label}");
}

/// Asserts a typed refusal: `Unsupported` naming `option` and the line.
fn assert_refused(result: Result<Value, UsageError>, option: &str, line: &str) {
    match result {
        Err(UsageError::Unsupported { method, reason }) => {
            assert_eq!(method, option);
            assert!(
                reason.starts_with(&format!("not on contract {line} (")),
                "{reason}"
            );
        }
        other => panic!("{option} should be refused on {line}: {other:?}"),
    }
}

fn skill() -> SkillRef {
    SkillRef::from(SkillKey::new(SKILL_SOURCE, "demo"))
}

// ---- what 0.9.8 accepted ---------------------------------------------------------

#[test]
fn the_fixture_server_is_the_0_9_line() {
    let d = v098();
    assert_eq!(d.line(), ContractLine::V0_9);
    assert_eq!(d.contract().to_string(), "0.9.8");
    assert_eq!(d.member_send_method(), "mob/member_send");
    assert!(!d.supports_mob_prefabs());
}

#[test]
fn session_calls_match_what_0_9_8_accepted() {
    let probe = SessionOptions::new("Hello probe")
        .model("claude-sonnet-4-5")
        .system_prompt("You are a probe.");
    assert_accepted::<SessionCreate>("probe.jsonl", "session/create with prompt", &probe);
    let deferred = SessionOptions::new("Deferred hello").system_prompt("You are a probe.");
    assert_accepted::<SessionCreateDeferred>("probe.jsonl", "session/create deferred", &deferred);
    let schema =
        json!({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]});
    let structured = SessionOptions::new("Give JSON [[json {\"city\":\"Paris\"}]]")
        .model("claude-sonnet-4-5")
        .system_prompt("You are a probe.")
        .output_schema(schema);
    assert_accepted::<SessionCreate>(
        "probe-b.jsonl",
        "session/create structured output",
        &structured,
    );
    let turn = TurnParams::new(SID, "Second turn", TurnOptions::new());
    assert_accepted::<TurnStart>("probe.jsonl", "turn/start", &turn);
    let sid = SessionIdParams::new(SID);
    assert_accepted::<SessionRead>("probe.jsonl", "session/read", &sid);
    assert_accepted::<TurnInterrupt>("probe.jsonl", "turn/interrupt (idle)", &sid);
    assert_accepted::<SessionStreamOpen>("probe.jsonl", "session/stream_open", &sid);
    assert_accepted::<SessionArchive>("probe.jsonl", "session/archive", &sid);
    assert_accepted::<SessionList>("probe.jsonl", "session/list", &ListParams::default());
    let tool = ToolDef::new("lookup", "Look something up").input_schema(json!({
        "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}));
    assert_accepted::<ToolsRegister>("probe.jsonl", "tools/register", &[tool][..]);
}

#[test]
fn mob_calls_match_what_0_9_8_accepted() {
    let def = json!({"id":"probe-mob","profiles":{"worker":{"model":"claude-sonnet-4-5","tools":{"comms":true}}}});
    let create = MobSpec::definition(def);
    assert_accepted::<MobCreate>("probe-mob.jsonl", "mob/create with definition", &create);
    let spawn = SpawnParams::new("probe-mob", SpawnSpec::new("worker", "w1"));
    assert_accepted::<MobSpawn>("probe-mob.jsonl", "mob/spawn", &spawn);
    let wire = WireParams::local("probe-mob", "w1", "w2");
    assert_accepted::<MobWire>("probe-mob.jsonl", "mob/wire", &wire);
    let all = MobStreamParams::new("probe-mob", None);
    assert_accepted::<MobStreamOpen>("probe-mob.jsonl", "mob/stream_open (mob-wide)", &all);
    let one = MobStreamParams::new("probe-mob", Some("w1".into()));
    let label = "mob/stream_open per-member (agent_identity)";
    assert_accepted::<MobStreamOpen>("probe-mob.jsonl", label, &one);
    let send = MemberSendParams::new("probe-mob", "w1", "Hello mob member", HandlingMode::Queue);
    assert_accepted::<MobMemberSend>("probe-mob.jsonl", "mob/member_send", &send);
    let w1 = MemberParams::new("probe-mob", "w1");
    assert_accepted::<MobRespawn>("probe-mob.jsonl", "mob/respawn w1", &w1);
    let w2 = MemberParams::new("probe-mob", "w2");
    assert_accepted::<MobRetire>("probe-mob.jsonl", "mob/retire w2", &w2);
    let destroy = LifecycleParams::new("probe-mob", MobAction::Destroy);
    assert_accepted::<MobLifecycle>("probe-mob.jsonl", "mob/lifecycle destroy", &destroy);
    let id = MobIdParams::new("probe-mob");
    assert_accepted::<MobMembers>("probe-mob.jsonl", "mob/members", &id);
    assert_accepted::<MobStatus>("probe-mob.jsonl", "mob/status", &id);
    assert_accepted::<MobFlows>("probe-mob.jsonl", "mob/flows", &id);
}

// ---- what 0.9.8 refused, and what we write instead -------------------------------

#[test]
fn turn_start_writes_only_keys_0_9_8_knows() {
    let (_, _, answer) = step("probe.jsonl", "turn/start with 0.5 key flow_tool_overlay");
    let known = expected_keys(&answer);
    let everything = TurnOptions::new()
        .skill_refs(vec![skill()])
        .model("claude-sonnet-4-5")
        .provider("anthropic")
        .provider_params(ProviderParams::new().temperature(0.0))
        .additional_instructions(vec!["be terse".into()])
        .keep_alive(false)
        .turn_tool_overlay(
            TurnToolOverlay::new()
                .allow(["lookup"])
                .block(["shell"])
                .tool_choice_plan(vec![ToolChoice::Required, ToolChoice::tool("lookup")]),
        )
        .injected_context(vec!["ctx".into()])
        .transient_turn_context("now")
        .session_events(false);
    let p = params::<TurnStart>(&TurnParams::new(SID, "x", everything), &v098()).unwrap();
    let written = keys(&p);
    assert!(
        written.is_subset(&known),
        "{written:?} not all in {known:?}"
    );
    // The build settings 0.9 refuses on a turn are never written.
    for refused in ["max_tokens", "output_schema", "structured_output_retries"] {
        let (_, sent, answer) = step("probe.jsonl", "turn/start with max_tokens (build setting)");
        if refused == "max_tokens" {
            assert!(sent.get("max_tokens").is_some() && !parsed(&answer));
        }
        assert!(!written.contains(refused), "{refused}");
    }
    assert_eq!(
        p["turn_tool_overlay"],
        json!({"allowed_tools":["lookup"],"blocked_tools":["shell"],
               "tool_choice_plan":[{"mode":"required"},{"mode":"tool","name":"lookup"}]})
    );
    assert_eq!(
        p["skill_refs"],
        json!([{"kind":"structured","source_uuid":SKILL_SOURCE,"skill_name":"demo"}])
    );
    assert_eq!(p["injected_context"], json!(["ctx"]));
    assert_eq!(p["transient_turn_context"], "now");
    assert_eq!(p["session_events"], false);
}

#[test]
fn skill_references_are_refused_on_0_9() {
    let (_, sent, answer) = step("probe.jsonl", "turn/start with 0.5 key skill_references");
    assert!(sent.get("skill_references").is_some() && !parsed(&answer));
    let turn = TurnOptions::new().skill_references(vec!["legacy/skill".into()]);
    let p = TurnParams::new(SID, "x", turn);
    assert_refused(params::<TurnStart>(&p, &v098()), "skill_references", "0.9");
    let create = SessionOptions::new("x").skill_references(vec!["legacy/skill".into()]);
    assert_refused(
        params::<SessionCreate>(&create, &v098()),
        "skill_references",
        "0.9",
    );
    // 0.5 still writes them.
    assert_eq!(
        params::<TurnStart>(&p, &v050()).unwrap()["skill_references"],
        json!(["legacy/skill"])
    );
}

#[test]
fn provider_params_are_the_typed_object_on_0_9() {
    let (_, sent, answer) = step("probe.jsonl", "turn/start with free-form provider_params");
    assert!(!parsed(&answer));
    let free_form = sent["provider_params"].clone();
    let p = TurnParams::new(
        SID,
        "x",
        TurnOptions::new().provider_params(free_form.clone()),
    );
    assert_refused(
        params::<TurnStart>(&p, &v098()),
        "provider_params.thinking",
        "0.9",
    );
    let create = SessionOptions::new("x").provider_params(free_form.clone());
    assert_refused(
        params::<SessionCreate>(&create, &v098()),
        "provider_params.thinking",
        "0.9",
    );
    // 0.5 takes it free-form, as before.
    assert_eq!(
        params::<TurnStart>(&p, &v050()).unwrap()["provider_params"],
        free_form
    );
    // Every typed key is one 0.9.8 names.
    let typed = ProviderParams::new()
        .temperature(0.2)
        .top_p(0.9)
        .max_output_tokens(100)
        .reasoning(ReasoningMode::Silent)
        .thinking_budget_tokens(64)
        .provider_tag(json!({"provider": "anthropic"}));
    let typed = Value::from(typed);
    assert!(keys(&typed).is_subset(&expected_keys(&answer)));
    assert_eq!(keys(&typed).len(), 6);
    let p = TurnParams::new(SID, "x", TurnOptions::new().provider_params(typed.clone()));
    assert_eq!(
        params::<TurnStart>(&p, &v098()).unwrap()["provider_params"],
        typed
    );
}

#[test]
fn skill_refs_carry_their_kind_on_0_9() {
    let (_, sent, answer) = step(
        "probe.jsonl",
        "session/create with 0.5 skill_refs (no kind)",
    );
    assert!(!parsed(&answer));
    let create = SessionOptions::new("x").skill_refs(vec![skill()]);
    // What 0.5 writes is what 0.9.8 refused...
    let p05 = params::<SessionCreate>(&create, &v050()).unwrap();
    assert_eq!(p05["skill_refs"], sent["skill_refs"]);
    // ...and 0.9 tags it.
    let p09 = params::<SessionCreate>(&create, &v098()).unwrap();
    assert_eq!(
        p09["skill_refs"],
        json!([{"kind":"structured","source_uuid":SKILL_SOURCE,"skill_name":"demo"}])
    );
    let legacy = SessionOptions::new("x").skill_refs(vec![SkillRef::from("not-a-key")]);
    assert_refused(
        params::<SessionCreate>(&legacy, &v098()),
        "skill_refs entry \"not-a-key\"",
        "0.9",
    );
}

#[test]
fn preload_skills_are_skill_keys_on_0_9() {
    let key = format!("{SKILL_SOURCE}/demo");
    let create = SessionOptions::new("x").preload_skills(vec![key.clone()]);
    assert_eq!(
        params::<SessionCreate>(&create, &v050()).unwrap()["preload_skills"],
        json!([key])
    );
    assert_eq!(
        params::<SessionCreate>(&create, &v098()).unwrap()["preload_skills"],
        json!([{"source_uuid": SKILL_SOURCE, "skill_name": "demo"}])
    );
    let id = SessionOptions::new("x").preload_skills(vec!["email".into()]);
    assert_refused(
        params::<SessionCreate>(&id, &v098()),
        "preload_skills entry \"email\"",
        "0.9",
    );
}

#[test]
fn mob_calls_never_write_what_0_9_8_refused() {
    // mob/send is gone: the 0.9 dialect names mob/member_send.
    let (method, _, answer) = step("probe.jsonl", "mob/send (0.5.0 method)");
    assert_eq!(
        (method.as_str(), answer["error"]["code"].as_i64()),
        ("mob/send", Some(-32601))
    );
    assert_eq!(MobMemberSend::name(&v098()).unwrap(), "mob/member_send");
    // meerkat_id is refused; every key we write is one 0.9.8 names.
    let (_, sent, answer) = step(
        "probe.jsonl",
        "mob/member_send with meerkat_id (0.5.2 params)",
    );
    assert!(sent.get("meerkat_id").is_some() && !parsed(&answer));
    let send = MemberSendParams::new("m", "a", "hi", HandlingMode::Queue).idempotency_key("k");
    let written = keys(&params::<MobMemberSend>(&send, &v098()).unwrap());
    assert!(written.is_subset(&expected_keys(&answer)), "{written:?}");
    // A prefab is refused before sending.
    let (_, sent, answer) = step("probe.jsonl", "mob/create with prefab (0.5.0 params)");
    assert!(sent.get("prefab").is_some() && !parsed(&answer));
    let prefab = MobSpec::prefab("coding_swarm");
    assert_refused(params::<MobCreate>(&prefab, &v098()), "prefab", "0.9");
    // member_id gets an answer with id null, which no caller receives:
    // never sent; the selector is agent_identity.
    let (_, sent, answer) = step("probe.jsonl", "mob/stream_open with member_id (0.5 params)");
    assert!(answer["id"].is_null() && !parsed(&answer));
    let one = MobStreamParams::new("m", Some("a".into()));
    let written = params::<MobStreamOpen>(&one, &v098()).unwrap();
    assert!(written.get("member_id").is_none());
    assert!(keys(&written).is_subset(&expected_keys(&answer)));
    assert_eq!(written["agent_identity"], sent["member_id"]);
}

// ---- the 0.9 options ------------------------------------------------------------

#[test]
fn session_options_of_0_9_are_written_in_0_9_shapes() {
    let create = SessionOptions::new("x")
        .disable_system_prompt(true)
        .injected_context(vec!["a".into(), Prompt::from("b")])
        .transient_turn_context("now")
        .session_events(false)
        .enable_schedule(false)
        .enable_web_search(true)
        .enable_workgraph(false)
        .tool_filter(ToolFilter::allow(["lookup"]));
    let p = params::<SessionCreate>(&create, &v098()).unwrap();
    assert_eq!(
        p,
        json!({"prompt":"x","system_prompt":{"action":"disable"},
               "enable_builtins":false,"enable_shell":false,
               "injected_context":["a","b"],"transient_turn_context":"now",
               "session_events":false,"enable_schedule":false,
               "enable_web_search":true,"enable_workgraph":false,
               "tool_filter":{"Allow":["lookup"]}})
    );
    let deny = SessionOptions::new("x").tool_filter(ToolFilter::deny(["shell"]));
    assert_eq!(
        params::<SessionCreate>(&deny, &v098()).unwrap()["tool_filter"],
        json!({"Deny":["shell"]})
    );
}

#[test]
fn options_of_0_9_are_refused_on_0_5_naming_them() {
    let cases: Vec<(&str, SessionOptions)> = vec![
        (
            "system_prompt (disable)",
            SessionOptions::new("x").disable_system_prompt(true),
        ),
        (
            "injected_context",
            SessionOptions::new("x").injected_context(vec!["a".into()]),
        ),
        (
            "transient_turn_context",
            SessionOptions::new("x").transient_turn_context("t"),
        ),
        (
            "session_events",
            SessionOptions::new("x").session_events(true),
        ),
        (
            "enable_schedule",
            SessionOptions::new("x").enable_schedule(true),
        ),
        (
            "enable_web_search",
            SessionOptions::new("x").enable_web_search(true),
        ),
        (
            "enable_workgraph",
            SessionOptions::new("x").enable_workgraph(true),
        ),
        (
            "tool_filter",
            SessionOptions::new("x").tool_filter(ToolFilter::All),
        ),
    ];
    for (option, opts) in cases {
        assert_refused(params::<SessionCreate>(&opts, &v050()), option, "0.5");
        assert_refused(
            params::<SessionCreateDeferred>(&opts, &v050()),
            option,
            "0.5",
        );
    }
    let plan = TurnToolOverlay::new().tool_choice_plan(vec![ToolChoice::Auto]);
    let turns: Vec<(&str, TurnOptions)> = vec![
        (
            "turn_tool_overlay.tool_choice_plan",
            TurnOptions::new().turn_tool_overlay(plan),
        ),
        (
            "injected_context",
            TurnOptions::new().injected_context(vec!["a".into()]),
        ),
        (
            "transient_turn_context",
            TurnOptions::new().transient_turn_context("t"),
        ),
        ("session_events", TurnOptions::new().session_events(false)),
    ];
    for (option, opts) in turns {
        let p = TurnParams::new(SID, "x", opts);
        assert_refused(params::<TurnStart>(&p, &v050()), option, "0.5");
    }
    let keyed = MemberSendParams::new("m", "a", "hi", HandlingMode::Queue).idempotency_key("k");
    assert_refused(
        params::<MobMemberSend>(&keyed, &v050()),
        "idempotency_key",
        "0.5",
    );
}

#[test]
fn the_tool_overlay_is_flow_tool_overlay_on_0_5() {
    let overlay = TurnToolOverlay::new().allow(["lookup"]);
    let p = TurnParams::new(SID, "x", TurnOptions::new().turn_tool_overlay(overlay));
    let p05 = params::<TurnStart>(&p, &v050()).unwrap();
    assert_eq!(
        p05["flow_tool_overlay"],
        json!({"allowed_tools":["lookup"]})
    );
    assert!(p05.get("turn_tool_overlay").is_none());
    let p09 = params::<TurnStart>(&p, &v098()).unwrap();
    assert_eq!(
        p09["turn_tool_overlay"],
        json!({"allowed_tools":["lookup"]})
    );
    assert!(p09.get("flow_tool_overlay").is_none());
}

#[test]
fn contradictory_or_empty_options_are_invalid_args() {
    let both = SessionOptions::new("x")
        .system_prompt("p")
        .disable_system_prompt(true);
    assert!(matches!(
        params::<SessionCreate>(&both, &v098()),
        Err(UsageError::InvalidArgs(_))
    ));
    let empty = TurnParams::new(SID, "x", TurnOptions::new().transient_turn_context(""));
    assert!(matches!(
        params::<TurnStart>(&empty, &v098()),
        Err(UsageError::InvalidArgs(_))
    ));
}

#[test]
fn the_0_5_encoding_of_every_option_is_unchanged() {
    // Every 0.5 option set: the params a 0.5 server has always been sent.
    let all = SessionOptions::new("look")
        .model("claude-sonnet-4-5")
        .provider("anthropic")
        .system_prompt("be brief")
        .max_tokens(512)
        .output_schema(json!({"type":"object"}))
        .structured_output_retries(3)
        .hooks_override(json!({"entries":[]}))
        .enable_builtins(true)
        .enable_memory(true)
        .enable_mob(false)
        .keep_alive(true)
        .comms_name("alice")
        .peer_meta(json!({"labels":{"team":"a"}}))
        .budget_limits(json!({"max_tokens": 1000}))
        .provider_params(json!({"temperature": 0.2}))
        .preload_skills(vec!["a/b".to_owned()])
        .skill_refs(vec![skill(), SkillRef::from("legacy")])
        .skill_references(vec!["legacy/skill".to_owned()])
        .label("team", "a")
        .additional_instructions(vec!["short".to_owned()]);
    assert_eq!(
        params::<SessionCreateDeferred>(&all, &v050()).unwrap(),
        json!({"prompt":"look","initial_turn":"deferred","model":"claude-sonnet-4-5",
               "provider":"anthropic","system_prompt":"be brief","max_tokens":512,
               "output_schema":{"type":"object"},"structured_output_retries":3,
               "hooks_override":{"entries":[]},"enable_builtins":true,"enable_shell":false,
               "enable_memory":true,"enable_mob":false,"keep_alive":true,"comms_name":"alice",
               "peer_meta":{"labels":{"team":"a"}},"budget_limits":{"max_tokens":1000},
               "provider_params":{"temperature":0.2},"preload_skills":["a/b"],
               "skill_refs":[{"source_uuid":SKILL_SOURCE,"skill_name":"demo"},"legacy"],
               "skill_references":["legacy/skill"],"labels":{"team":"a"},
               "additional_instructions":["short"]})
    );
    let turn = TurnOptions::new()
        .skill_refs(vec![skill()])
        .skill_references(vec!["legacy/skill".to_owned()])
        .model("m")
        .provider("anthropic")
        .provider_params(json!({"temperature": 0}))
        .additional_instructions(vec!["terse".to_owned()])
        .keep_alive(false);
    let raw = TurnStart::encode_params(&TurnParams::new("s", "hi", turn), &v050())
        .unwrap()
        .unwrap();
    assert_eq!(
        raw.get(),
        format!(
            r#"{{"additional_instructions":["terse"],"keep_alive":false,"model":"m","prompt":"hi","provider":"anthropic","provider_params":{{"temperature":0}},"session_id":"s","skill_references":["legacy/skill"],"skill_refs":[{{"skill_name":"demo","source_uuid":"{SKILL_SOURCE}"}}]}}"#
        )
    );
}

const PEER: &str = "01a22eee-ac5e-7be3-a212-34e170b59dce";

#[test]
fn comms_send_is_written_for_the_line() {
    // 0.9 answers comms/send params it cannot parse with id null (nobody
    // receives that answer): what it would not parse is refused here.
    let (_, _, answer) = step("badparams.jsonl", "comms/send {}");
    assert!(answer["id"].is_null() && !parsed(&answer));

    let input = CommsSendParams::new(SID, CommsCommand::input("hello"));
    let p05 = params::<CommsSend>(&input, &v050()).unwrap();
    assert_eq!(
        p05,
        json!({"session_id":SID,"kind":"input","body":"hello","allow_self_session":true})
    );
    assert_eq!(params::<CommsSend>(&input, &v098()).unwrap(), p05);

    let to_id = CommsSendParams::new(SID, CommsCommand::peer_message(PEER, "hi"));
    assert_eq!(
        params::<CommsSend>(&to_id, &v098()).unwrap(),
        json!({"session_id":SID,"kind":"peer_message","to":PEER,"body":"hi","handling_mode":"queue"})
    );
    // 0.5 addresses peers by name; 0.9 by id.
    let to_name = CommsSendParams::new(SID, CommsCommand::peer_message("reviewer", "hi"));
    assert_eq!(
        params::<CommsSend>(&to_name, &v050()).unwrap()["to"],
        "reviewer"
    );
    assert_refused(
        params::<CommsSend>(&to_name, &v098()),
        "comms/send to \"reviewer\"",
        "0.9",
    );
    // A field of another kind.
    let stray = CommsSendParams::new(SID, CommsCommand::peer_message(PEER, "hi").source("rpc"));
    assert_refused(params::<CommsSend>(&stray, &v098()), "source", "0.9");
    // Free-form peer requests: 0.9's intents are closed.
    let request = CommsCommand::peer_request(PEER, "review", json!({"pr": 7}));
    let request = CommsSendParams::new(SID, request);
    assert_refused(
        params::<CommsSend>(&request, &v098()),
        "intent \"review\"",
        "0.9",
    );
    // A response without status is completed, as 0.5 reads it.
    let response = CommsCommand::peer_response(PEER, PEER, json!({"ok": true}));
    let response = params::<CommsSend>(&CommsSendParams::new(SID, response), &v098()).unwrap();
    assert_eq!(response["status"], "completed");
    let mut odd = CommsCommand::peer_message(PEER, "hi");
    odd.kind = "peer_shout".into();
    assert_refused(
        params::<CommsSend>(&CommsSendParams::new(SID, odd), &v098()),
        "comms/send kind \"peer_shout\"",
        "0.9",
    );
    let mut bodiless = CommsCommand::peer_message(PEER, "hi");
    bodiless.body = None;
    assert!(matches!(
        params::<CommsSend>(&CommsSendParams::new(SID, bodiless), &v098()),
        Err(UsageError::InvalidArgs(_))
    ));
}

// ---- the 0.9 methods of issue 11 (methods.jsonl) ---------------------------

/// The params the server was sent at `label` of `methods.jsonl`.
fn sent(label: &str) -> Value {
    step("methods.jsonl", label).1
}

fn s(v: &Value) -> &str {
    v.as_str().expect("a string")
}

#[test]
fn the_0_9_methods_write_what_0_9_8_accepted() {
    const F: &str = "methods.jsonl";
    assert_accepted::<RuntimeHealthGet>(F, "runtime/health", &());
    assert_accepted::<ModelsCatalog>(F, "models/catalog", &());

    let p = sent("session/fork_at message 3 (system, user, assistant)");
    let sid = s(&p["session_id"]).to_owned();
    assert_accepted::<SessionForkAt>(
        F,
        "session/fork_at message 3 (system, user, assistant)",
        &ForkAtParams::new(&sid, 3),
    );
    assert_accepted::<EventsLatestCursor>(
        F,
        "events/latest_cursor",
        &LatestCursorParams::session(&sid),
    );
    // From the start: the scope alone; from a cursor: the cursor's scope.
    let mut from_start = ListSinceParams::new(EventCursor::start(&sid), Some(3));
    from_start.cursor = None;
    assert_accepted::<EventsListSince>(
        F,
        "events/list_since from the start, 3 at a time",
        &from_start,
    );
    let label = "events/list_since from the last page's last cursor";
    let mut cursor = EventCursor::start(&sid);
    cursor.sequence = sent(label)["cursor"]["sequence"].as_u64().expect("seq");
    assert_accepted::<EventsListSince>(F, label, &ListSinceParams::new(cursor, Some(3)));

    let label = "turn/stop_run of a finished run";
    let run = s(&sent(label)["run_id"]).to_owned();
    assert_accepted::<TurnStopRun>(F, label, &StopRunParams::new(&sid, run, "probe"));

    let label = "session/input_status of the stopped run's input";
    let input = s(&sent(label)["selector"]["value"]).to_owned();
    let by_id = InputStatusParams::new(&sid, InputSelector::InputId(input));
    assert_accepted::<SessionInputStatus>(F, label, &by_id);
    let by_key = InputSelector::IdempotencyKey("never-used".into());
    assert_accepted::<SessionInputStatus>(
        F,
        "session/input_status by an unknown idempotency key",
        &InputStatusParams::new(&sid, by_key),
    );

    assert_accepted::<MobRun>(
        F,
        "mob/run of the default flow",
        &MobRunParams::new("runner").params(json!({})),
    );
    assert_accepted::<MobRun>(
        F,
        "mob/run with a prompt and a flow id",
        &MobRunParams::new("runner").flow("main").prompt("go"),
    );
    let label = "mob/run_result";
    let run = s(&sent(label)["run_id"]).to_owned();
    assert_accepted::<MobRunResult>(F, label, &FlowRunIdParams::new("runner", run));
    assert_accepted::<MobDestroy>(F, "mob/destroy", &MobIdParams::new("runner"));
    // No params at all: `params` is left out, not `null`.
    assert_eq!(
        params::<MobRun>(&MobRunParams::new("m"), &v098()).unwrap(),
        json!({"mob_id": "m"})
    );
    assert_eq!(
        params::<SessionForkAt>(
            &ForkAtParams::new("s", 2).reactivate_inherited_instructions(),
            &v098()
        )
        .unwrap(),
        json!({"session_id": "s", "message_index": 2, "inherited_instructions": "reactivate_inherited"})
    );
}

/// Every 0.9-only method is refused on 0.5 by name, before any params are
/// written; `models/catalog`, which 0.5 serves, is not.
#[test]
fn the_0_9_methods_are_refused_on_0_5_naming_them() {
    let d = v050();
    let refused: [(&str, Result<&str, UsageError>); 9] = [
        ("turn/stop_run", TurnStopRun::name(&d)),
        ("session/fork_at", SessionForkAt::name(&d)),
        ("events/latest_cursor", EventsLatestCursor::name(&d)),
        ("events/list_since", EventsListSince::name(&d)),
        ("session/input_status", SessionInputStatus::name(&d)),
        ("mob/destroy", MobDestroy::name(&d)),
        ("mob/run", MobRun::name(&d)),
        ("mob/run_result", MobRunResult::name(&d)),
        ("runtime/health", RuntimeHealthGet::name(&d)),
    ];
    for (method, name) in refused {
        assert_refused(name.map(Value::from), method, "0.5");
        assert!(v098().has_method(method), "0.9.8 lists {method}");
    }
    assert_eq!(ModelsCatalog::name(&d).unwrap(), "models/catalog");
}
