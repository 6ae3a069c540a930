//! Decoding loses nothing the server sent.
//!
//! Every payload the server sent in the real transcripts of
//! `tests/fixtures` (0.5.0, 0.5.2, 0.9.8, and the 0.5 examples of the
//! protocol reference) is decoded with the typed model, the typed value is
//! serialized again, and every key and value of the wire must be found in
//! it:
//!
//! - results of the methods the SDK models, decoded with the `Method` the
//!   SDK calls (methods that answer one field of the result object are
//!   checked on that field; the other keys must be listed in
//!   [`ECHOED`] with the reason they are not kept);
//! - the params of `session/event`, `session/stream_event`,
//!   `mob/stream_event`, `session/stream_end` and `mob/stream_end`, and of
//!   the server's `tool/execute` requests (as a `ToolCall`);
//! - the `data.error` of 0.9.x turn failures, as a [`TurnFailure`].
//!
//! "Found" means: an object has every key of the wire object (a key whose
//! wire value is `null` may be absent: an optional field that is not set),
//! an array has the same length, and scalars are equal. Keys the typed
//! value adds (0.5.x fields filled from their 0.9.x replacements, zero
//! defaults) are allowed. Unknown extras kept in an `extra` map count as
//! kept: that is what the map is for.

use meerkat_proto::methods::*;
use meerkat_proto::{
    Dialect, ErrorObject, IncomingId, Method, RpcError, ServerInfo, ToolCall, TurnFailure,
    decode_session_event, decode_stream_end, decode_stream_event,
};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).expect("a Value always serialises")
}

/// Keys of a result object that a method answering one field does not
/// keep, and why.
const ECHOED: &[(&str, &str, &str)] = &[
    (
        "turn/interrupt",
        "session_id",
        "the session of the request, echoed",
    ),
    (
        "turn/interrupt",
        "result",
        "0.9.x: `interrupted` | `staged_noop`, the same fact as the bool `interrupted`",
    ),
    ("mob/members", "mob_id", "the mob of the request, echoed"),
    ("mob/flows", "mob_id", "the mob of the request, echoed"),
    (
        "events/latest_cursor",
        "contract_version",
        "the server's contract version, known from the handshake",
    ),
];

/// Where `typed` lacks something `wire` has, as `path: what` lines.
fn lost(path: &str, wire: &Value, typed: Option<&Value>, out: &mut Vec<String>) {
    match (wire, typed) {
        (Value::Null, None | Some(Value::Null)) => {}
        (_, None) => out.push(format!("{path}: dropped")),
        (Value::Object(w), Some(Value::Object(t))) => {
            for (k, v) in w {
                lost(&format!("{path}.{k}"), v, t.get(k), out);
            }
        }
        (Value::Array(w), Some(Value::Array(t))) => {
            if w.len() != t.len() {
                out.push(format!("{path}: {} elements, typed {}", w.len(), t.len()));
            }
            for (i, v) in w.iter().enumerate() {
                lost(&format!("{path}[{i}]"), v, t.get(i), out);
            }
        }
        (Value::Number(w), Some(Value::Number(t))) if w.as_f64() == t.as_f64() => {}
        (w, Some(t)) if w == t => {}
        (w, Some(t)) => out.push(format!("{path}: wire {w}, typed {t}")),
    }
}

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("typed values serialise")
}

/// How a method's result is checked.
enum Typed {
    /// The typed value of the whole result.
    Whole(Value),
    /// The typed value of one field; the other keys must be in [`ECHOED`].
    Field(&'static str, Value),
}

fn whole<M: Method>(r: &RawValue, d: &Dialect) -> Result<Typed, String>
where
    M::Output: Serialize,
{
    M::decode_result(r, d)
        .map(|x| Typed::Whole(to_value(&x)))
        .map_err(|e| e.to_string())
}

fn field<M: Method>(name: &'static str, r: &RawValue, d: &Dialect) -> Result<Typed, String>
where
    M::Output: Serialize,
{
    M::decode_result(r, d)
        .map(|x| Typed::Field(name, to_value(&x)))
        .map_err(|e| e.to_string())
}

/// The typed result of `method`; `None` when the SDK does not model it.
fn typed_result(
    method: &str,
    params: &Value,
    r: &RawValue,
    d: &Dialect,
) -> Option<Result<Typed, String>> {
    Some(match method {
        "initialize" => whole::<Initialize>(r, d),
        "capabilities/get" => whole::<CapabilitiesGet>(r, d),
        "session/create" if params.get("initial_turn").is_some() => {
            whole::<SessionCreateDeferred>(r, d)
        }
        "session/create" => whole::<SessionCreate>(r, d),
        "turn/start" => whole::<TurnStart>(r, d),
        "turn/interrupt" => field::<TurnInterrupt>("interrupted", r, d),
        "session/list" => field::<SessionList>("sessions", r, d),
        "session/read" => whole::<SessionRead>(r, d),
        "session/history" => whole::<SessionHistoryGet>(r, d),
        "session/archive" => field::<SessionArchive>("archived", r, d),
        "session/stream_open" => whole::<SessionStreamOpen>(r, d),
        "session/stream_close" => whole::<SessionStreamClose>(r, d),
        "comms/send" => whole::<CommsSend>(r, d),
        "comms/peers" => field::<CommsPeers>("peers", r, d),
        "config/get" => whole::<ConfigGet>(r, d),
        "config/set" => whole::<ConfigSet>(r, d),
        "config/patch" => whole::<ConfigPatch>(r, d),
        "runtime/reset" => field::<RuntimeReset>("inputs_abandoned", r, d),
        "tools/register" => field::<ToolsRegister>("registered", r, d),
        "skills/list" => field::<SkillsList>("skills", r, d),
        "mob/create" => {
            // The plain method answers the id; the detailed one everything.
            let id = MobCreate::decode_result(r, d).map_err(|e| e.to_string());
            let all = MobCreateDetailed::decode_result(r, d).map_err(|e| e.to_string());
            match (id, all) {
                (Ok(id), Ok(all)) if id == all.mob_id => Ok(Typed::Whole(to_value(&all))),
                (id, all) => Err(format!("mob/create: {id:?} vs {all:?}")),
            }
        }
        "mob/list" => field::<MobList>("mobs", r, d),
        "mob/status" => whole::<MobStatus>(r, d),
        "mob/lifecycle" => whole::<MobLifecycle>(r, d),
        "mob/spawn" => whole::<MobSpawn>(r, d),
        "mob/retire" => whole::<MobRetire>(r, d),
        "mob/respawn" => whole::<MobRespawn>(r, d),
        "mob/wire" => whole::<MobWire>(r, d),
        "mob/unwire" => whole::<MobUnwire>(r, d),
        "mob/members" => field::<MobMembers>("members", r, d),
        "mob/flows" => field::<MobFlows>("flows", r, d),
        "mob/flow_run" => field::<MobFlowRun>("run_id", r, d),
        "mob/flow_status" => field::<MobFlowStatus>("run", r, d),
        "mob/flow_cancel" => whole::<MobFlowCancel>(r, d),
        "mob/stream_open" => whole::<MobStreamOpen>(r, d),
        "mob/stream_close" => whole::<MobStreamClose>(r, d),
        "mob/send" | "mob/member_send" => whole::<MobMemberSend>(r, d),
        "turn/stop_run" => whole::<TurnStopRun>(r, d),
        "session/fork_at" => whole::<SessionForkAt>(r, d),
        "events/latest_cursor" => field::<EventsLatestCursor>("cursor", r, d),
        "events/list_since" => whole::<EventsListSince>(r, d),
        "session/input_status" => field::<SessionInputStatus>("state", r, d),
        "mob/destroy" => whole::<MobDestroy>(r, d),
        "mob/run" => field::<MobRun>("run_id", r, d),
        "mob/run_result" => field::<MobRunResult>("run", r, d),
        "models/catalog" => whole::<ModelsCatalog>(r, d),
        "runtime/health" => whole::<RuntimeHealthGet>(r, d),
        _ => return None,
    })
}

/// What one file yielded: payloads checked by kind, and what was lost.
#[derive(Default)]
struct Report {
    checked: BTreeMap<String, usize>,
    skipped: BTreeMap<String, usize>,
    lost: Vec<String>,
}

impl Report {
    fn check(&mut self, kind: String, at: &str, wire: &Value, typed: &Value) {
        let mut out = Vec::new();
        lost("", wire, Some(typed), &mut out);
        self.lost
            .extend(out.into_iter().map(|l| format!("{at} {kind}{l}")));
        *self.checked.entry(kind).or_default() += 1;
    }

    fn skip(&mut self, kind: String) {
        *self.skipped.entry(kind).or_default() += 1;
    }

    fn notification(&mut self, at: &str, method: &str, params: &Value) {
        let r = raw(params);
        let typed = match method {
            "session/event" => decode_session_event(&r).map(
                |(session_id, event)| serde_json::json!({"session_id": session_id, "event": event}),
            ),
            "session/stream_event" | "mob/stream_event" => {
                decode_stream_event(&r).map(|p| to_value(&p))
            }
            "session/stream_end" | "mob/stream_end" => decode_stream_end(&r).map(|p| to_value(&p)),
            "tool/execute" => {
                let call = ToolCall::from_params(IncomingId::String("srv".into()), Some(params));
                Ok(serde_json::json!({
                    "name": call.name,
                    "arguments": call.arguments,
                    "tool_use_id": call.tool_use_id,
                    "dedupe_key": call.dedupe_key,
                }))
            }
            other => {
                self.skip(format!("{other} (server request)"));
                return;
            }
        };
        match typed {
            Ok(typed) => self.check(method.to_owned(), at, params, &typed),
            Err(e) => self
                .lost
                .push(format!("{at} {method}: does not decode: {e}")),
        }
    }

    fn response(&mut self, at: &str, method: &str, params: &Value, msg: &Value, d: &Dialect) {
        if let Some(err) = msg.get("error") {
            let obj: ErrorObject =
                serde_json::from_value(err.clone()).expect("error objects decode");
            let e = RpcError::from(obj);
            match (e.turn_failure(), err.pointer("/data/error")) {
                (Some(f), Some(wire)) => {
                    let typed = to_value::<TurnFailure>(&f);
                    self.check(format!("{method} error data.error"), at, wire, &typed);
                }
                (None, Some(_)) => self
                    .lost
                    .push(format!("{at} {method}: data.error not typed")),
                _ => {}
            }
            return;
        }
        let result = &msg["result"];
        let Some(typed) = typed_result(method, params, &raw(result), d) else {
            self.skip(format!("{method} result"));
            return;
        };
        let kind = format!("{method} result");
        match typed {
            Err(e) => self.lost.push(format!("{at} {kind}: does not decode: {e}")),
            Ok(Typed::Whole(typed)) => self.check(kind, at, result, &typed),
            Ok(Typed::Field(name, typed)) => {
                for key in result.as_object().into_iter().flat_map(|m| m.keys()) {
                    let echoed = ECHOED.iter().any(|(m, k, _)| *m == method && k == key);
                    if key != name && !echoed {
                        self.lost.push(format!("{at} {kind}: `{key}` is not kept"));
                    }
                }
                let wire = result.get(name).cloned().unwrap_or(Value::Null);
                self.check(kind, at, &wire, &typed);
            }
        }
    }
}

/// A transcript (`{"dir", "msg", ...}` lines).
fn transcript(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).expect("fixture present");
    let mut sent: HashMap<String, (String, Value)> = HashMap::new();
    let mut dialect = Dialect::default();
    let mut report = Report::default();
    for (n, line) in text.lines().enumerate() {
        let o: Value = serde_json::from_str(line).expect("fixture lines are JSON");
        let at = format!("line {}:", n + 1);
        let msg = &o["msg"];
        match o["dir"].as_str().unwrap_or_default() {
            "send" => {
                if let (Some(id), Some(method)) = (msg.get("id"), msg["method"].as_str()) {
                    sent.insert(id.to_string(), (method.to_owned(), msg["params"].clone()));
                }
            }
            "recv" => match msg["method"].as_str() {
                Some(method) => report.notification(&at, method, &msg["params"]),
                None => {
                    let Some((method, params)) = sent.get(&msg["id"].to_string()).cloned() else {
                        report.skip("response to no request (id null)".into());
                        continue;
                    };
                    if method == "initialize"
                        && let Ok(info) = ServerInfo::from_initialize(&msg["result"])
                    {
                        dialect = info.dialect();
                    }
                    report.response(&at, &method, &params, msg, &dialect);
                }
            },
            _ => {}
        }
    }
    report
}

/// The protocol reference's examples (`{"_case", "message"}` lines).
fn examples(path: &Path) -> Report {
    let text = std::fs::read_to_string(path).expect("fixture present");
    let mut report = Report::default();
    let dialect = Dialect::default();
    for line in text.lines() {
        let o: Value = serde_json::from_str(line).expect("fixture lines are JSON");
        let case = o["_case"].as_str().unwrap_or_default();
        let msg = &o["message"];
        let at = format!("{case}:");
        match msg["method"].as_str() {
            Some(method) => report.notification(&at, method, &msg["params"]),
            None if msg.get("error").is_some() => {
                report.response(&at, "(error)", &Value::Null, msg, &dialect);
            }
            None => {
                let method = case.split(['.', ' ']).next().unwrap_or_default();
                let params = if case.contains("deferred") {
                    serde_json::json!({"initial_turn": "deferred"})
                } else {
                    Value::Null
                };
                report.response(&at, method, &params, msg, &dialect);
            }
        }
    }
    report
}

#[test]
fn every_payload_of_every_fixture_decodes_losslessly() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .flat_map(|dir| {
            std::fs::read_dir(dir)
                .expect("fixture dir")
                .filter_map(Result::ok)
        })
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files.push(fixtures().join("examples-0.5.jsonl"));
    assert!(files.iter().any(|f| f.to_string_lossy().contains("0.9.8")));

    let mut summary = String::new();
    let mut lost = Vec::new();
    let mut total = 0;
    for file in &files {
        let name = file
            .strip_prefix(fixtures())
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        let report = if name.starts_with("examples") {
            examples(file)
        } else {
            transcript(file)
        };
        let n: usize = report.checked.values().sum();
        total += n;
        writeln!(summary, "{name}: {n} payloads checked").unwrap();
        for (kind, count) in &report.checked {
            writeln!(summary, "  {kind}: {count}").unwrap();
        }
        for (kind, count) in &report.skipped {
            writeln!(summary, "  not checked, {kind}: {count}").unwrap();
        }
        lost.extend(report.lost.into_iter().map(|l| format!("{name} {l}")));
    }
    writeln!(summary, "total: {total} payloads checked").unwrap();
    assert!(
        lost.is_empty(),
        "the typed model lost {} things:\n{}",
        lost.len(),
        lost.join("\n")
    );
    insta::assert_snapshot!(summary);
}

/// The check itself: it sees a dropped key, a changed value, a shorter
/// array, and lets a `null` go missing.
#[test]
fn the_check_sees_what_is_lost() {
    let wire = serde_json::json!({"a": 1, "b": [1, {"c": "x"}], "n": null, "d": {"e": true}});
    let mut out = Vec::new();
    lost("", &wire, Some(&wire), &mut out);
    assert!(out.is_empty(), "{out:?}");
    let typed = serde_json::json!({"a": 1.0, "b": [1, {"c": "y"}], "d": {}, "added": 0});
    lost("", &wire, Some(&typed), &mut out);
    assert_eq!(out, [".b[1].c: wire \"x\", typed \"y\"", ".d.e: dropped"]);
    out.clear();
    lost(
        "",
        &wire,
        Some(&serde_json::json!({"a": 1, "b": [1], "d": {"e": true}})),
        &mut out,
    );
    assert_eq!(out, [".b: 2 elements, typed 1", ".b[1]: dropped"]);
}
