//! Mob methods (0.5.2 surface, plus `mob/send`/prefabs under `v050`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::io::uuid;
use super::methods::{close_mob_stream, spawn_turn};
use super::state::{Member, Mob, Session, Shared, Stream, StreamTarget};
use super::turns::Turn;

/// Handles `method`; `false` when it is not a mob method of this dialect.
pub(crate) fn handle(shared: &Arc<Shared>, id: &Value, method: &str, params: &Value) -> bool {
    let v050 = shared.scenario.is_v050();
    let out = &shared.out;
    let str_param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let fail = |message: String| out.error(id, -32602, &message);
    match method {
        "mob/prefabs" if v050 => out.result(
            id,
            json!({"prefabs": [{"key": "pipeline", "toml_template": "# fake"}]}),
        ),
        "mob/create" => {
            let (mob_id, profiles, flows) = if let Some(definition) = params.get("definition") {
                let keys = |v: &Value| {
                    v.as_object()
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default()
                };
                (
                    definition["id"].as_str().unwrap_or_default().to_owned(),
                    keys(&definition["profiles"]),
                    keys(&definition["flows"]),
                )
            } else if let (true, Some(prefab)) =
                (v050, params.get("prefab").and_then(Value::as_str))
            {
                (prefab.to_owned(), vec!["worker".to_owned()], Vec::new())
            } else {
                return fail_now(shared, id, "Invalid params: missing field `definition`");
            };
            if mob_id.is_empty() {
                return fail_now(shared, id, "mob_id must not be empty");
            }
            let mut state = shared.lock();
            if state.mobs.iter().any(|m| m.id == mob_id) {
                drop(state);
                return fail_now(shared, id, &format!("mob already exists: {mob_id}"));
            }
            state.mobs.push(Mob {
                id: mob_id.clone(),
                status: "Running".into(),
                profiles,
                flows,
                ..Mob::default()
            });
            out.result(id, json!({"mob_id": mob_id}));
        }
        "mob/list" => {
            let mobs: Vec<Value> = shared
                .lock()
                .mobs
                .iter()
                .map(|m| json!({"mob_id": m.id, "status": m.status}))
                .collect();
            out.result(id, json!({"mobs": mobs}));
        }
        _ if method.starts_with("mob/") => {
            let mob_id = str_param("mob_id");
            let exists = shared.lock().mobs.iter().any(|m| m.id == mob_id);
            if !exists && method != "mob/stream_close" {
                fail(format!("Mob not found: {mob_id}"));
                return true;
            }
            return mob_method(shared, id, method, params, &mob_id, v050);
        }
        _ => return false,
    }
    true
}

fn fail_now(shared: &Arc<Shared>, id: &Value, message: &str) -> bool {
    shared.out.error(id, -32602, message);
    true
}

fn mob_method(
    shared: &Arc<Shared>,
    id: &Value,
    method: &str,
    params: &Value,
    mob_id: &str,
    v050: bool,
) -> bool {
    let out = &shared.out;
    let str_param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut state = shared.lock();
    let Some(mob) = state.mobs.iter_mut().find(|m| m.id == mob_id) else {
        drop(state);
        if method == "mob/stream_close" {
            close_mob_stream(shared, id, params);
            return true;
        }
        return false;
    };
    match method {
        "mob/status" => out.result(id, json!({"mob_id": mob_id, "status": mob.status})),
        "mob/lifecycle" => {
            let action = str_param("action");
            let status = match action.as_str() {
                "stop" => "Stopped",
                "resume" | "reset" => "Running",
                "complete" => "Completed",
                "destroy" => "Destroyed",
                other => {
                    return fail_now(
                        shared,
                        id,
                        &format!("Invalid params: unknown action {other}"),
                    );
                }
            };
            mob.status = status.into();
            out.result(id, json!({"action": action, "mob_id": mob_id, "ok": true}));
        }
        "mob/spawn" => {
            let (profile, meerkat) = (str_param("profile"), str_param("meerkat_id"));
            if !mob.profiles.contains(&profile) {
                drop(state);
                return fail_now(shared, id, &format!("profile not found: {profile}"));
            }
            if mob.members.iter().any(|m| m.id == meerkat) {
                drop(state);
                return fail_now(shared, id, &format!("meerkat already exists: {meerkat}"));
            }
            let sid = uuid();
            mob.members.push(Member {
                id: meerkat.clone(),
                profile: profile.clone(),
                session_id: sid.clone(),
                ..Member::default()
            });
            let mut session = Session::new(sid.clone(), "claude-sonnet-4-5".into());
            session.comms_name = Some(format!("{mob_id}/{profile}/{meerkat}"));
            session.member_of = Some((mob_id.to_owned(), meerkat.clone(), profile));
            state.order.push(sid.clone());
            state.sessions.insert(sid.clone(), session);
            out.result(
                id,
                json!({"meerkat_id": meerkat, "member_ref": {"kind": "session", "session_id": sid},
                "mob_id": mob_id, "session_id": sid}),
            );
        }
        "mob/retire" => {
            let meerkat = str_param("meerkat_id");
            let Some(at) = mob.members.iter().position(|m| m.id == meerkat) else {
                drop(state);
                return fail_now(shared, id, &format!("meerkat not found: {meerkat}"));
            };
            let member = mob.members.remove(at);
            state.sessions.remove(&member.session_id);
            state.order.retain(|s| s != &member.session_id);
            out.result(id, json!({"retired": true}));
        }
        "mob/respawn" => {
            let meerkat = str_param("meerkat_id");
            let Some(member) = mob.members.iter_mut().find(|m| m.id == meerkat) else {
                drop(state);
                return fail_now(shared, id, &format!("meerkat not found: {meerkat}"));
            };
            let old = std::mem::replace(&mut member.session_id, uuid());
            let new = member.session_id.clone();
            let mut session = state.sessions.remove(&old).unwrap_or_default();
            session.id = new.clone();
            session.history.clear();
            state.sessions.insert(new.clone(), session);
            state.order.retain(|s| s != &old);
            state.order.push(new.clone());
            out.result(id, json!({"receipt": {"member_id": meerkat, "new_session_id": new, "old_session_id": old},
                "status": "completed"}));
        }
        "mob/wire" | "mob/unwire" => {
            let member = str_param("member");
            let peer = params
                .pointer("/peer/local")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let wire = method == "mob/wire";
            for (a, b) in [(&member, &peer), (&peer, &member)] {
                if let Some(m) = mob.members.iter_mut().find(|m| &m.id == a) {
                    m.wired_to.retain(|w| w != b);
                    if wire {
                        m.wired_to.push(b.clone());
                    }
                }
            }
            out.result(
                id,
                if wire {
                    json!({"wired": true})
                } else {
                    json!({"unwired": true})
                },
            );
        }
        "mob/members" => {
            let members: Vec<Value> = mob
                .members
                .iter()
                .map(|m| {
                    json!({"meerkat_id": m.id, "profile": m.profile,
                    "member_ref": {"kind": "session", "session_id": m.session_id},
                    "runtime_mode": "autonomous_host", "state": "Active", "wired_to": m.wired_to,
                    "status": "active", "is_final": false, "current_session_id": m.session_id})
                })
                .collect();
            out.result(id, json!({"members": members, "mob_id": mob_id}));
        }
        "mob/send" | "mob/member_send" if (method == "mob/send") == v050 => {
            let meerkat = str_param("meerkat_id");
            let Some(member) = mob.members.iter().find(|m| m.id == meerkat) else {
                drop(state);
                return fail_now(shared, id, &format!("meerkat not found: {meerkat}"));
            };
            let sid = member.session_id.clone();
            let mode = params
                .get("handling_mode")
                .and_then(Value::as_str)
                .unwrap_or("queue")
                .to_owned();
            drop(state);
            out.result(id, json!({"mob_id": mob_id, "member_id": meerkat, "session_id": sid, "handling_mode": mode}));
            let prompt = params.get("content").cloned().unwrap_or(Value::Null);
            let prompt = json!(format!(
                "[EVENT via rpc] {}",
                super::turns::prompt_text(&prompt)
            ));
            spawn_turn(
                shared,
                Turn {
                    id: None,
                    sid,
                    prompt,
                },
            );
        }
        "mob/flows" => out.result(id, json!({"flows": mob.flows, "mob_id": mob_id})),
        "mob/flow_run" => {
            let flow = str_param("flow_id");
            if !mob.flows.contains(&flow) {
                drop(state);
                return fail_now(shared, id, &format!("flow not found: {flow}"));
            }
            let run_id = uuid();
            mob.runs.push((run_id.clone(), flow));
            out.result(id, json!({"run_id": run_id}));
        }
        "mob/flow_status" => {
            let run_id = str_param("run_id");
            let run = mob
                .runs
                .iter()
                .find(|(r, _)| *r == run_id)
                .map(|(r, flow)| {
                    json!({"run_id": r, "mob_id": mob_id, "flow_id": flow, "status": "completed",
                    "flow_state": {"phase": "done", "fields": {}}, "activation_params": {},
                    "created_at": "2026-01-01T00:00:00Z", "completed_at": "2026-01-01T00:00:01Z",
                    "step_ledger": [], "failure_ledger": []})
                });
            out.result(id, json!({"run": run}));
        }
        "mob/flow_cancel" => out.result(id, json!({"canceled": true})),
        "mob/stream_open" => {
            let member = params
                .get("member_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let stream_id = uuid();
            state.streams.insert(
                stream_id.clone(),
                Stream {
                    target: StreamTarget::Mob {
                        mob_id: mob_id.to_owned(),
                        member,
                    },
                    sequence: 0,
                },
            );
            out.result(id, json!({"opened": true, "stream_id": stream_id}));
        }
        "mob/stream_close" => {
            drop(state);
            close_mob_stream(shared, id, params);
        }
        _ => return false,
    }
    true
}
