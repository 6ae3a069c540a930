//! Every line of every real transcript in `tests/fixtures` decodes into the
//! typed model, and the typed events of each scenario are snapshotted.
//!
//! Responses decode with the `Method` of the request they answer; events
//! must never fall back to `Event::Unknown` (every 0.5.x and 0.9.8 type is
//! modelled). `model_lossless.rs` checks that nothing of them is dropped.

use meerkat_proto::methods::*;
use meerkat_proto::{
    Dialect, ErrorObject, Event, Method, RpcError, ServerInfo, decode_session_event,
    decode_stream_end, decode_stream_event,
};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn raw(v: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(v).expect("a Value always serialises")
}

/// Decodes a result with the method that was called; returns a short summary.
fn decode_result(method: &str, params: &Value, result: &Value) -> Result<String, String> {
    let d = Dialect::default();
    let r = raw(result);
    fn s<T: std::fmt::Debug>(x: Result<T, meerkat_proto::DecodeError>) -> Result<String, String> {
        x.map(|_| "ok".to_owned()).map_err(|e| e.to_string())
    }
    match method {
        "initialize" => {
            ServerInfo::from_initialize(result).map(|i| format!("contract {}", i.contract_version))
        }
        "capabilities/get" => {
            let mut info =
                ServerInfo::from_initialize(&serde_json::json!({"contract_version":"0.5.0"}))?;
            info.set_capabilities(result);
            let avail = info
                .capabilities
                .iter()
                .filter(|c| c.is_available())
                .count();
            Ok(format!(
                "{} capabilities, {avail} available",
                info.capabilities.len()
            ))
        }
        "session/create" if params.get("initial_turn").is_some() => {
            s(SessionCreateDeferred::decode_result(&r, &d))
        }
        "session/create" => SessionCreate::decode_result(&r, &d)
            .map(|x| {
                format!(
                    "turns={} tool_calls={} structured={}",
                    x.turns,
                    x.tool_calls,
                    x.structured_output.is_some()
                )
            })
            .map_err(|e| e.to_string()),
        "turn/start" => TurnStart::decode_result(&r, &d)
            .map(|x| {
                format!(
                    "turns={} tool_calls={} text={:?}",
                    x.turns, x.tool_calls, x.text
                )
            })
            .map_err(|e| e.to_string()),
        "turn/interrupt" => s(TurnInterrupt::decode_result(&r, &d)),
        "session/list" => SessionList::decode_result(&r, &d)
            .map(|x| format!("{} sessions", x.len()))
            .map_err(|e| e.to_string()),
        "session/read" => s(SessionRead::decode_result(&r, &d)),
        "session/history" => SessionHistoryGet::decode_result(&r, &d)
            .map(|h| {
                let unknown = h
                    .messages
                    .iter()
                    .filter(|m| matches!(m, meerkat_proto::HistoryMessage::Unknown(_)))
                    .count();
                format!("{} messages, {unknown} unknown", h.messages.len())
            })
            .map_err(|e| e.to_string()),
        "session/archive" => SessionArchive::decode_result(&r, &d)
            .map(|a| format!("archived={a}"))
            .map_err(|e| e.to_string()),
        "config/get" => s(ConfigGet::decode_result(&r, &d)),
        "config/patch" => s(ConfigPatch::decode_result(&r, &d)),
        "config/set" => s(ConfigSet::decode_result(&r, &d)),
        "runtime/reset" => RuntimeReset::decode_result(&r, &d)
            .map(|n| format!("abandoned={n}"))
            .map_err(|e| e.to_string()),
        "tools/register" => ToolsRegister::decode_result(&r, &d)
            .map(|n| format!("registered={n}"))
            .map_err(|e| e.to_string()),
        "skills/list" => SkillsList::decode_result(&r, &d)
            .map(|x| format!("{} skills, first {:?}", x.len(), x.first().map(|s| &s.id)))
            .map_err(|e| e.to_string()),
        "mob/create" => MobCreateDetailed::decode_result(&r, &d)
            .map(|x| format!("mob {} claim_token={}", x.mob_id, x.claim_token.is_some()))
            .map_err(|e| e.to_string()),
        "mob/spawn" => MobSpawn::decode_result(&r, &d)
            .map(|x| format!("member {} session {:?}", x.meerkat_id, x.session_id))
            .map_err(|e| e.to_string()),
        "mob/members" => MobMembers::decode_result(&r, &d)
            .map(|x| {
                let m: Vec<String> = x
                    .iter()
                    .map(|m| format!("{}({}, {})", m.meerkat_id, m.profile, m.status))
                    .collect();
                m.join(" ")
            })
            .map_err(|e| e.to_string()),
        "mob/respawn" => MobRespawn::decode_result(&r, &d)
            .map(|x| format!("{} {}", x.status, x.receipt.member_id))
            .map_err(|e| e.to_string()),
        "mob/status" => s(MobStatus::decode_result(&r, &d)),
        "mob/list" => s(MobList::decode_result(&r, &d)),
        "mob/lifecycle" | "mob/retire" | "mob/wire" => s(MobWire::decode_result(&r, &d)),
        "mob/flows" => s(MobFlows::decode_result(&r, &d)),
        "mob/stream_open" => s(MobStreamOpen::decode_result(&r, &d)),
        "mob/stream_close" | "session/stream_close" => s(MobStreamClose::decode_result(&r, &d)),
        "session/stream_open" => s(SessionStreamOpen::decode_result(&r, &d)),
        other => Ok(format!("({other}: not modelled)")),
    }
}

/// Run-length encodes event type names: `text_delta x6`.
fn rle(types: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let mut j = i;
        while j < types.len() && types[j] == types[i] {
            j += 1;
        }
        out.push(if j - i > 1 {
            format!("{} x{}", types[i], j - i)
        } else {
            types[i].clone()
        });
        i = j;
    }
    out.join(", ")
}

fn transcript_summary(file: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(file)).expect("fixture present");
    let mut sent: HashMap<String, (String, Value)> = HashMap::new();
    let mut out = String::new();
    let mut events: Vec<String> = Vec::new();
    let flush = |out: &mut String, events: &mut Vec<String>| {
        if !events.is_empty() {
            writeln!(out, "  events: {}", rle(events)).unwrap();
            events.clear();
        }
    };
    for line in text.lines() {
        let o: Value = serde_json::from_str(line).expect("fixture lines are JSON");
        match o["dir"].as_str().unwrap_or_default() {
            "step" => {
                flush(&mut out, &mut events);
                // 0.5.x transcripts name a step `step`, 0.9.8 ones `label`.
                let label = o["step"].as_str().or_else(|| o["label"].as_str());
                writeln!(out, "{}:", label.unwrap_or_default()).unwrap();
            }
            "send" => {
                let m = &o["msg"];
                if let (Some(id), Some(method)) = (m.get("id"), m["method"].as_str()) {
                    sent.insert(id.to_string(), (method.to_owned(), m["params"].clone()));
                }
            }
            "recv-raw" => events.push("(log line)".to_owned()),
            // A line sent as it is (not JSON-RPC 2.0: `"jsonrpc": "1.0"`).
            "send-raw" => {}
            "recv" => {
                let m = &o["msg"];
                match m["method"].as_str() {
                    Some("session/event") => {
                        let (_, env) = decode_session_event(&raw(&m["params"]))
                            .expect("session/event decodes");
                        assert!(
                            !matches!(env.event, Event::Unknown { .. }),
                            "{file}: unknown event in {line}"
                        );
                        assert!(
                            env.source_session_id().is_some(),
                            "{file}: no source session in {line}"
                        );
                        events.push(env.event.event_type().to_owned());
                    }
                    Some("session/stream_event" | "mob/stream_event") => {
                        let p =
                            decode_stream_event(&raw(&m["params"])).expect("stream event decodes");
                        assert!(
                            !matches!(p.envelope.event, Event::Unknown { .. }),
                            "{file}: unknown event in {line}"
                        );
                        events.push(match &p.envelope.member {
                            Some(a) => format!(
                                "stream:{}@{}/{}",
                                p.envelope.event.event_type(),
                                a.member_id,
                                a.profile
                            ),
                            None => format!("stream:{}", p.envelope.event.event_type()),
                        });
                    }
                    Some("session/stream_end" | "mob/stream_end") => {
                        let p = decode_stream_end(&raw(&m["params"])).expect("stream end decodes");
                        events.push(format!("stream_end:{}", p.outcome));
                    }
                    Some(method) => {
                        let call = meerkat_proto::ToolCall::from_params(
                            meerkat_proto::IncomingId::String(
                                m["id"].as_str().unwrap_or_default().into(),
                            ),
                            m.get("params"),
                        );
                        flush(&mut out, &mut events);
                        writeln!(
                            out,
                            "  server request {method}: tool {} args {}",
                            call.name, call.arguments
                        )
                        .unwrap();
                    }
                    None => {
                        flush(&mut out, &mut events);
                        let (method, params) = sent
                            .get(&m["id"].to_string())
                            .cloned()
                            .unwrap_or_else(|| ("(unmatched id)".to_owned(), Value::Null));
                        if let Some(err) = m.get("error") {
                            let obj: ErrorObject =
                                serde_json::from_value(err.clone()).expect("error objects decode");
                            let e = RpcError::from(obj);
                            write!(out, "  {method} -> error {} {:?}", e.code_string(), e.kind)
                                .unwrap();
                            match e.turn_failure() {
                                Some(f) => {
                                    writeln!(out, " turn failure {} {:?}", f.kind, f.provider)
                                }
                                None => writeln!(out),
                            }
                            .unwrap();
                        } else {
                            let summary = decode_result(&method, &params, &m["result"])
                                .unwrap_or_else(|e| {
                                    panic!("{file}: {method} result does not decode: {e}")
                                });
                            writeln!(out, "  {method} -> {summary}").unwrap();
                        }
                    }
                }
            }
            other => panic!("unknown dir {other}"),
        }
    }
    flush(&mut out, &mut events);
    out
}

#[test]
fn rkat_rpc_0_5_0_basic() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.5.0/basic.jsonl"));
}

#[test]
fn rkat_rpc_0_5_0_extras() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.5.0/extras.jsonl"));
}

#[test]
fn rkat_rpc_0_5_2_all() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.5.2/all.jsonl"));
}

#[test]
fn rkat_rpc_0_9_8_probe() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.9.8/probe.jsonl"));
}

#[test]
fn rkat_rpc_0_9_8_probe_b() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.9.8/probe-b.jsonl"));
}

#[test]
fn rkat_rpc_0_9_8_probe_mob() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.9.8/probe-mob.jsonl"));
}

#[test]
fn rkat_rpc_0_9_8_interrupt() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.9.8/interrupt.jsonl"));
}

#[test]
fn rkat_rpc_0_9_8_interrupt_race() {
    insta::assert_snapshot!(transcript_summary(
        "rkat-rpc-0.9.8/interrupt-race-4-busy.jsonl"
    ));
}

#[test]
fn rkat_rpc_0_9_8_badparams() {
    insta::assert_snapshot!(transcript_summary("rkat-rpc-0.9.8/badparams.jsonl"));
}

/// The protocol reference's examples, built from the real 0.5.0 types.
#[test]
fn protocol_examples() {
    let text =
        std::fs::read_to_string(fixtures().join("examples-0.5.jsonl")).expect("fixture present");
    let mut out = String::new();
    for line in text.lines() {
        let o: Value = serde_json::from_str(line).unwrap();
        let case = o["_case"].as_str().unwrap_or_default();
        let m = &o["message"];
        let summary = match m["method"].as_str() {
            Some("session/event") => format!(
                "{:?}",
                decode_session_event(&raw(&m["params"])).unwrap().1.event
            ),
            Some("session/stream_event" | "mob/stream_event") => {
                let p = decode_stream_event(&raw(&m["params"])).unwrap();
                format!("{:?} member={:?}", p.envelope.event, p.envelope.member)
            }
            Some("session/stream_end" | "mob/stream_end") => {
                format!("{:?}", decode_stream_end(&raw(&m["params"])).unwrap())
            }
            Some(_) => format!(
                "{:?}",
                meerkat_proto::ToolCall::from_params(
                    meerkat_proto::IncomingId::String("srv-0".into()),
                    m.get("params")
                )
            ),
            None if m.get("error").is_some() => {
                format!(
                    "{:?}",
                    RpcError::from(
                        serde_json::from_value::<ErrorObject>(m["error"].clone()).unwrap()
                    )
                )
            }
            None => {
                let method = case.split(['.', ' ']).next().unwrap_or_default();
                let params = if case.contains("deferred") {
                    serde_json::json!({"initial_turn":"deferred"})
                } else {
                    Value::Null
                };
                match method {
                    "mob/send" => format!(
                        "{:?}",
                        MobMemberSend::decode_result(&raw(&m["result"]), &Dialect::default())
                            .unwrap()
                    ),
                    _ => decode_result(method, &params, &m["result"])
                        .unwrap_or_else(|e| panic!("{case}: {e}")),
                }
            }
        };
        assert!(
            !summary.contains("Unknown {"),
            "{case} decoded as unknown: {summary}"
        );
        writeln!(out, "{case}:\n  {summary}").unwrap();
    }
    insta::assert_snapshot!(out);
}
