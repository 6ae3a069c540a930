//! Replaying the real-server captures (`tests/fixtures/**/*.jsonl`) as
//! cassettes: which files, the handshake adaptation they need, and the
//! requests a generic driver sends with the answers it must get.
//!
//! The captures were made by a probe, not by this SDK: some skip
//! `initialized` or `capabilities/get`, which the SDK's handshake always
//! sends. [`prepare`] adds those two (with an empty capability list as
//! the recorded answer) where missing and writes the adapted cassette to a
//! temporary file; every server line of the capture is kept and played.

use std::path::{Path, PathBuf};

use meerkat_proto::cassette::{Cassette, Entry, EntryKind};
use serde_json::{Value, json};

/// The fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every capture under `tests/fixtures` (sorted): the `.jsonl` files whose
/// records have a `dir` (not the decoder's example list,
/// `examples-0.5.jsonl`, whose records are `{_case, message}`).
pub fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![fixtures_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("invariant: fixtures readable") {
            let path = entry.expect("invariant: a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                let text = std::fs::read_to_string(&path).expect("invariant: readable");
                let first: Value = serde_json::from_str(text.lines().next().unwrap_or("{}"))
                    .expect("invariant: JSON lines");
                if first.get("dir").is_some() {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

/// One request of a capture the driver sends, with the answer recorded.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its position among the cassette's client messages (0-based): the
    /// replay has matched it once `progress().matched > send_index`.
    pub send_index: usize,
    /// The cassette line.
    pub line: usize,
    /// The method.
    pub method: String,
    /// The params (`null` when there were none).
    pub params: Value,
    /// The recorded answer: `{"result": ..}` or `{"error": ..}`; `None`
    /// when the server never answered it with its id (`id: null` errors).
    pub answer: Option<Value>,
}

/// A capture made ready to replay: the adapted cassette's path and the
/// requests to drive it with.
#[derive(Debug)]
pub struct Prepared {
    /// The adapted cassette (in `dir`).
    pub cassette: PathBuf,
    /// The requests after the handshake, in recorded order.
    pub requests: Vec<Request>,
    /// The number of client messages of the adapted cassette.
    pub sends: usize,
    /// The number of server lines of the capture.
    pub server_lines: usize,
    _dir: tempfile::TempDir,
}

fn send(msg: Value) -> Entry {
    Entry::new(EntryKind::Send(msg))
}

fn method(entry: &Entry) -> Option<&str> {
    match &entry.kind {
        EntryKind::Send(m) => m.get("method").and_then(Value::as_str),
        _ => None,
    }
}

/// Reads `capture`, adds the handshake steps the SDK sends and the capture
/// lacks, and collects the requests to drive it with.
///
/// # Panics
///
/// On a capture that does not parse or has no `initialize`.
pub fn prepare(capture: &Path) -> Prepared {
    let text = std::fs::read_to_string(capture).expect("invariant: readable capture");
    let mut cassette = Cassette::parse(&text).expect("invariant: a capture parses");
    let entries = cassette.entries_mut();
    let init = entries
        .iter()
        .position(|e| method(e) == Some("initialize"))
        .expect("invariant: a capture starts with initialize");
    let init_id = match &entries[init].kind {
        EntryKind::Send(m) => m["id"].clone(),
        _ => Value::Null,
    };
    let answered = init
        + entries[init..]
            .iter()
            .position(|e| matches!(&e.kind, EntryKind::Recv(m) if m.get("id") == Some(&init_id)))
            .expect("invariant: initialize was answered");
    // The SDK sends `initialized` then `capabilities/get` after the answer.
    let next_send = |entries: &[Entry], from: usize| {
        entries[from..]
            .iter()
            .position(|e| matches!(e.kind, EntryKind::Send(_)))
            .map(|i| from + i)
    };
    let mut at = answered + 1;
    match next_send(entries, at) {
        Some(i) if method(&entries[i]) == Some("initialized") => at = i + 1,
        _ => {
            entries.insert(at, send(json!({"jsonrpc": "2.0", "method": "initialized"})));
            at += 1;
        }
    }
    if next_send(entries, at).is_none_or(|i| method(&entries[i]) != Some("capabilities/get")) {
        let id = "replay-capabilities";
        entries.insert(
            at,
            send(json!({"jsonrpc": "2.0", "id": id, "method": "capabilities/get", "params": {}})),
        );
        entries.insert(
            at + 1,
            Entry::new(EntryKind::Recv(
                json!({"jsonrpc": "2.0", "id": id, "result": {"capabilities": []}}),
            )),
        );
    }
    let mut requests = Vec::new();
    let mut sends = 0;
    let mut server_lines = 0;
    for (i, entry) in entries.iter().enumerate() {
        match &entry.kind {
            EntryKind::Send(msg) => {
                let m = msg.get("method").and_then(Value::as_str);
                let handshake =
                    matches!(m, Some("initialize" | "initialized" | "capabilities/get"))
                        && i <= at + 1;
                if let (Some(m), Some(id), false) = (m, msg.get("id"), handshake) {
                    let answer = entries[i..].iter().find_map(|e| match &e.kind {
                        EntryKind::Recv(r)
                            if r.get("method").is_none() && r.get("id") == Some(id) =>
                        {
                            let mut a = r.as_object().cloned().unwrap_or_default();
                            a.retain(|k, _| k == "result" || k == "error");
                            Some(Value::Object(a))
                        }
                        _ => None,
                    });
                    requests.push(Request {
                        send_index: sends,
                        line: entry.line,
                        method: m.to_owned(),
                        params: msg.get("params").cloned().unwrap_or(Value::Null),
                        answer,
                    });
                }
                sends += 1;
            }
            _ => server_lines += 1,
        }
    }
    let dir = tempfile::tempdir().expect("invariant: a temp dir");
    let path = dir.path().join("cassette.jsonl");
    let mut out = String::new();
    for (i, entry) in cassette.entries().iter().enumerate() {
        let record = match &entry.kind {
            EntryKind::Send(m) => json!({"seq": i + 1, "dir": "send", "msg": m}),
            EntryKind::Recv(m) => json!({"seq": i + 1, "dir": "recv", "msg": m}),
            EntryKind::RecvRaw(l) => json!({"seq": i + 1, "dir": "recv-raw", "line": l}),
            _ => continue,
        };
        out.push_str(&record.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).expect("invariant: the temp dir is writable");
    Prepared {
        cassette: path,
        requests,
        sends,
        server_lines,
        _dir: dir,
    }
}

/// A call's outcome as the cassette writes it: `{"result": ..}` or
/// `{"error": {code, message}}` (the error's `data` is compared by the
/// replay itself, which played it), or the SDK error's code for anything
/// else.
pub fn outcome(result: &Result<Value, meerkat_proto::Error>) -> Value {
    match result {
        Ok(v) => json!({"result": v}),
        Err(meerkat_proto::Error::Rpc(e)) => json!({"error": {"code": e.code.0, "data": e.data}}),
        Err(e) => json!({"sdk_error": e.code()}),
    }
}

/// The recorded answer in the shape of [`outcome`].
pub fn expected(answer: Option<&Value>) -> Value {
    match answer {
        Some(a) if a.get("error").is_some() => {
            let e = &a["error"];
            json!({"error": {"code": e["code"], "data": e.get("data").cloned().unwrap_or(Value::Null)}})
        }
        Some(a) => json!({"result": a.get("result").cloned().unwrap_or(Value::Null)}),
        // Never answered with its id: the replay ends it when the cassette
        // runs out.
        None => json!({"sdk_error": "CONNECTION_CLOSED"}),
    }
}

/// Writes `lines` as the cassette `dir/c.jsonl`.
pub fn cassette(dir: &Path, lines: &[Value]) -> PathBuf {
    let path = dir.join("c.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).expect("invariant: the dir is writable");
    path
}

/// A 0.5.2 handshake as a cassette records it.
pub fn handshake() -> Vec<Value> {
    vec![
        json!({"dir":"send","msg":{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}}),
        json!({"dir":"recv","msg":{"jsonrpc":"2.0","id":1,"result":{"server_info":{"name":"meerkat-rpc","version":"0.5.2"},"contract_version":"0.5.2","methods":["initialize","session/list"]}}}),
        json!({"dir":"send","msg":{"jsonrpc":"2.0","method":"initialized"}}),
        json!({"dir":"send","msg":{"jsonrpc":"2.0","id":2,"method":"capabilities/get","params":{}}}),
        json!({"dir":"recv","msg":{"jsonrpc":"2.0","id":2,"result":{"capabilities":[]}}}),
    ]
}
