//! Session, turn, stream, config, skills, tools, runtime and comms methods.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::io::{error, uuid};
use super::state::{REALM, Session, Shared, Stream, StreamTarget};
use super::turns::{self, Turn};

/// Handles `method`; `false` when it is not one of these.
pub(crate) fn handle(shared: &Arc<Shared>, id: &Value, method: &str, params: &Value) -> bool {
    let out = &shared.out;
    match method {
        "session/create" => create(shared, id, params),
        "turn/start" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let Some(prompt) = params.get("prompt").cloned() else {
                out.error(id, -32602, "Invalid params: missing field `prompt`");
                return true;
            };
            spawn_turn(shared, Turn { id: Some(id.clone()), sid, prompt });
        }
        "turn/interrupt" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            if let Some(session) = shared.lock().sessions.get(&sid)
                && session.running
            {
                session.interrupt.store(true, Ordering::SeqCst);
            }
            out.result(id, json!({"interrupted": true}));
        }
        "session/list" => {
            let state = shared.lock();
            let sessions: Vec<Value> = state
                .order
                .iter()
                .filter_map(|sid| state.sessions.get(sid))
                .map(|s| s.info(REALM))
                .collect();
            out.result(id, json!({"sessions": sessions}));
        }
        "session/read" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let state = shared.lock();
            let Some(session) = state.sessions.get(&sid) else { return true };
            let mut info = session.info(REALM);
            info["model"] = json!(session.model);
            info["provider"] = json!("anthropic");
            if let Some(text) = &session.last_text {
                info["last_assistant_text"] = json!(text);
            }
            out.result(id, info);
        }
        "session/history" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let state = shared.lock();
            let Some(session) = state.sessions.get(&sid) else { return true };
            let offset = params.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
            let limit = params.get("limit").and_then(Value::as_u64).map(|l| l as usize);
            let all = &session.history;
            let end = limit.map_or(all.len(), |l| (offset + l).min(all.len()));
            let page: Vec<Value> = all.get(offset.min(end)..end).unwrap_or_default().to_vec();
            let mut result = json!({"session_id": sid, "session_ref": format!("{REALM}:{sid}"),
                "message_count": all.len(), "offset": offset, "has_more": end < all.len(), "messages": page});
            if let Some(limit) = limit {
                result["limit"] = json!(limit);
            }
            out.result(id, result);
        }
        "session/archive" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            {
                let mut state = shared.lock();
                state.sessions.remove(&sid);
                state.order.retain(|s| s != &sid);
            }
            out.result(id, json!({"archived": true}));
            shared.end_session_streams(&sid, "remote_end");
        }
        "session/stream_open" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let stream_id = uuid();
            shared.lock().streams.insert(stream_id.clone(), Stream {
                target: StreamTarget::Session(sid.clone()),
                sequence: 0,
            });
            out.result(id, json!({"stream_id": stream_id, "session_id": sid, "opened": true}));
        }
        "session/stream_close" => close_stream(shared, id, params, "session/stream_end"),
        "config/get" => config_envelope(shared, id),
        "config/set" => {
            let config = params.get("config").cloned().unwrap_or_else(|| params.clone());
            if !check_generation(shared, id, params) {
                return true;
            }
            {
                let mut state = shared.lock();
                state.config = config;
                state.generation += 1;
            }
            config_envelope(shared, id);
        }
        "config/patch" => {
            let patch = params.get("patch").cloned().unwrap_or_else(|| params.clone());
            if !check_generation(shared, id, params) {
                return true;
            }
            {
                let mut state = shared.lock();
                merge_patch(&mut state.config, &patch);
                state.generation += 1;
            }
            config_envelope(shared, id);
        }
        "skills/list" => out.result(id, json!({"skills": [
            {"id": "fake-skill", "name": "fake-skill", "description": "A skill of the fake server",
             "scope": "project", "source": "project", "is_active": true},
            {"id": "multi-agent-comms", "name": "multi-agent-comms", "description": "Built in",
             "scope": "builtin", "source": "embedded", "is_active": true},
        ]})),
        "skills/inspect" => out.result(id, json!({"id": params["id"], "name": params["id"],
            "description": "A skill of the fake server", "scope": "project", "body": "# Fake skill\n"})),
        "tools/register" => {
            let tools = params.get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut state = shared.lock();
            for tool in &tools {
                if let Some(name) = tool.get("name").and_then(Value::as_str) {
                    state.tools.retain(|t| t != name);
                    state.tools.push(name.to_owned());
                }
            }
            out.result(id, json!({"registered": tools.len()}));
        }
        "runtime/reset" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let mut state = shared.lock();
            let Some(session) = state.sessions.get_mut(&sid) else { return true };
            if session.running {
                out.error(id, -32602, "Runtime not ready: running");
            } else {
                let abandoned = std::mem::take(&mut session.failed_inputs);
                out.result(id, json!({"inputs_abandoned": abandoned}));
            }
        }
        "input/list" => {
            let Some(sid) = existing_session(shared, id, params) else { return true };
            let failed = shared.lock().sessions.get(&sid).map_or(0, |s| s.failed_inputs);
            let ids: Vec<String> = (0..failed).map(|_| uuid()).collect();
            out.result(id, json!({"input_ids": ids}));
        }
        "comms/send" => comms_send(shared, id, params),
        "comms/peers" => {
            let Some(sid) = comms_session(shared, id, params) else { return true };
            let state = shared.lock();
            let peers: Vec<Value> = state
                .order
                .iter()
                .filter_map(|s| state.sessions.get(s))
                .filter(|s| s.id != sid)
                .filter_map(|s| s.comms_name.as_ref())
                .map(|name| json!({"address": format!("inproc://{name}"), "capabilities": {},
                    "last_unreachable_reason": null, "meta": {}, "name": name, "peer_id": format!("ed25519:{name}"),
                    "reachability": "reachable", "sendable_kinds": ["peer_message", "peer_request", "peer_response"],
                    "source": "Inproc"}))
                .collect();
            out.result(id, json!({"peers": peers}));
        }
        _ => return false,
    }
    true
}

/// `cancel {request_id}`: interrupts the turn of that request.
pub(crate) fn cancel(shared: &Arc<Shared>, params: &Value) {
    let Some(request) = params.get("request_id") else {
        return;
    };
    let key = request.to_string();
    let mut state = shared.lock();
    if let Some(sid) = state.running.get(&key).cloned() {
        state.cancelled.insert(key);
        if let Some(session) = state.sessions.get(&sid) {
            session.interrupt.store(true, Ordering::SeqCst);
        }
    }
}

fn create(shared: &Arc<Shared>, id: &Value, params: &Value) {
    let Some(prompt) = params.get("prompt").cloned() else {
        shared
            .out
            .error(id, -32602, "Invalid params: missing field `prompt`");
        return;
    };
    let keep_alive = params
        .get("keep_alive")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let comms_name = params
        .get("comms_name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if keep_alive && comms_name.is_none() {
        shared
            .out
            .error(id, -32602, "keep_alive requires comms_name to be set");
        return;
    }
    let sid = uuid();
    let model = params
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-opus-4-6");
    let mut session = Session::new(sid.clone(), model.to_owned());
    session.comms_name = comms_name;
    session.keep_alive = keep_alive;
    session.labels = params.get("labels").cloned();
    session.output_schema = params.get("output_schema").cloned();
    session.external_tools = params
        .get("external_tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let deferred = params.get("initial_turn").and_then(Value::as_str) == Some("deferred");
    if deferred {
        session.deferred = Some(turns::prompt_text(&prompt));
    }
    {
        let mut state = shared.lock();
        state.order.push(sid.clone());
        state.sessions.insert(sid.clone(), session);
    }
    let session_ref = format!("{REALM}:{sid}");
    if deferred {
        shared
            .out
            .result(id, json!({"session_id": sid, "session_ref": session_ref}));
    } else if keep_alive {
        shared.out.result(id, json!({"session_id": sid, "session_ref": session_ref, "text": "",
            "turns": 0, "tool_calls": 0, "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}}));
        spawn_turn(
            shared,
            Turn {
                id: None,
                sid,
                prompt,
            },
        );
    } else {
        spawn_turn(
            shared,
            Turn {
                id: Some(id.clone()),
                sid,
                prompt,
            },
        );
    }
}

/// Runs a turn on its own thread, and logs it once it is all on the pipe.
pub(crate) fn spawn_turn(shared: &Arc<Shared>, turn: Turn) {
    let shared = Arc::clone(shared);
    std::thread::spawn(move || {
        let sid = turn.sid.clone();
        turns::run(&shared, turn);
        shared.log.line(&format!("turn {sid}"));
    });
}

/// The `session_id` param of a live session, or an error answered.
fn existing_session(shared: &Arc<Shared>, id: &Value, params: &Value) -> Option<String> {
    let Some(raw) = params.get("session_id").and_then(Value::as_str) else {
        shared
            .out
            .error(id, -32602, "Invalid params: missing field `session_id`");
        return None;
    };
    let sid = raw
        .strip_prefix(&format!("{REALM}:"))
        .unwrap_or(raw)
        .to_owned();
    if shared.lock().sessions.contains_key(&sid) {
        Some(sid)
    } else {
        shared
            .out
            .error(id, -32001, &format!("Session not found: {sid}"));
        None
    }
}

fn comms_session(shared: &Arc<Shared>, id: &Value, params: &Value) -> Option<String> {
    let sid = params
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let enabled = shared
        .lock()
        .sessions
        .get(&sid)
        .is_some_and(|s| s.comms_name.is_some());
    if enabled {
        Some(sid)
    } else {
        shared.out.error(
            id,
            -32602,
            &format!("Session not found or comms not enabled: {sid}"),
        );
        None
    }
}

fn comms_send(shared: &Arc<Shared>, id: &Value, params: &Value) {
    let Some(sid) = comms_session(shared, id, params) else {
        return;
    };
    let field = |name: &str| params.get(name).and_then(Value::as_str);
    let invalid = |details: Value| {
        let data = json!({"code": "invalid_command", "message": "Command validation failed", "details": details});
        shared
            .out
            .send(&error(id, -32602, "Command validation failed", Some(data)));
    };
    let kind = field("kind").unwrap_or_default();
    let needs = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .filter(|n| field(n).is_none())
            .map(|n| json!({"field": n, "issue": "required_field"}))
            .collect()
    };
    let missing = match kind {
        "input" => needs(&["body"]),
        "peer_message" => needs(&["to", "handling_mode"]),
        "peer_request" => needs(&["to", "intent", "handling_mode"]),
        "peer_response" => needs(&["to", "in_reply_to"]),
        other => vec![json!({"field": "kind", "issue": "unknown_kind", "got": other})],
    };
    if !missing.is_empty() {
        return invalid(Value::Array(missing));
    }
    if kind == "input" {
        if !params
            .get("allow_self_session")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            let message = "validation failed: self-session input rejected: set allow_self_session=true to override";
            let data = json!({"code": "send_failed", "message": message});
            return shared.out.send(&error(id, -32603, message, Some(data)));
        }
        shared.out.result(
            id,
            json!({"interaction_id": uuid(), "kind": "input_accepted", "stream_reserved": false}),
        );
        let prompt = json!(format!(
            "[EVENT via rpc] {}",
            field("body").unwrap_or_default()
        ));
        return spawn_turn(
            shared,
            Turn {
                id: None,
                sid,
                prompt,
            },
        );
    }
    let to = field("to").unwrap_or_default();
    let known = shared
        .lock()
        .sessions
        .values()
        .any(|s| s.comms_name.as_deref() == Some(to) && s.id != sid);
    if !known {
        let message = format!("peer '{to}' is not found or not trusted");
        let data = json!({"code": "peer_not_found_or_not_trusted", "peer": to, "message": message});
        return shared.out.send(&error(id, -32603, &message, Some(data)));
    }
    let result = match kind {
        "peer_message" => {
            json!({"acked": true, "envelope_id": uuid(), "kind": "peer_message_sent"})
        }
        "peer_request" => {
            json!({"envelope_id": uuid(), "interaction_id": uuid(), "kind": "peer_request_sent", "stream_reserved": false})
        }
        _ => {
            json!({"envelope_id": uuid(), "in_reply_to": field("in_reply_to"), "kind": "peer_response_sent"})
        }
    };
    shared.out.result(id, result);
}

fn close_stream(shared: &Arc<Shared>, id: &Value, params: &Value, end_method: &str) {
    let stream_id = params
        .get("stream_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut state = shared.lock();
    let removed = state.streams.remove(&stream_id);
    let already = state.closed_streams.contains(&stream_id);
    state.closed_streams.insert(stream_id.clone());
    drop(state);
    if let Some(stream) = removed {
        let mut end = json!({"ended": true, "outcome": "explicit_close", "stream_id": stream_id});
        if let StreamTarget::Session(sid) = &stream.target {
            end["session_id"] = json!(sid);
        }
        shared.out.notify(end_method, end);
    }
    shared.out.result(
        id,
        json!({"already_closed": already, "closed": true, "stream_id": stream_id}),
    );
}

/// `mob/stream_close` shares the session stream logic.
pub(crate) fn close_mob_stream(shared: &Arc<Shared>, id: &Value, params: &Value) {
    close_stream(shared, id, params, "mob/stream_end");
}

fn check_generation(shared: &Arc<Shared>, id: &Value, params: &Value) -> bool {
    let Some(expected) = params.get("expected_generation").and_then(Value::as_u64) else {
        return true;
    };
    let current = shared.lock().generation;
    if expected == current {
        return true;
    }
    shared.out.error(
        id,
        -32602,
        &format!("Generation conflict: expected {expected}, current {current}"),
    );
    false
}

fn config_envelope(shared: &Arc<Shared>, id: &Value) {
    let state = shared.lock();
    shared.out.result(id, json!({
        "config": state.config, "generation": state.generation, "realm_id": REALM,
        "instance_id": null, "backend": "sqlite",
        "resolved_paths": {"root": "/fake", "manifest_path": "/fake/realm_manifest.json", "config_path": "/fake/config.toml"},
    }));
}

/// JSON merge patch (RFC 7396).
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}
