//! The scripted LLM at the HTTP level, without rkat: what it answers for
//! scripted replies and markers, streaming or not.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use meerkat_tests::llm::{Reply, ScriptedLlm};
use serde_json::{Value, json};

/// A minimal HTTP/1.1 exchange (`Connection: close`): status and body.
fn post(llm: &ScriptedLlm, path: &str, body: &str) -> (u16, String) {
    let addr = llm.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nx-api-key: k\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The `data:` payloads of an SSE body (chunked framing lines skipped).
fn sse(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
        .collect()
}

fn messages(prompt: &str, stream: bool) -> String {
    json!({"model": "m", "max_tokens": 10, "stream": stream, "messages": [{"role": "user", "content": prompt}]}).to_string()
}

#[test]
fn default_answer_streamed_and_as_json() {
    let llm = ScriptedLlm::start();
    let (status, body) = post(&llm, "/v1/messages", &messages("Hi you [[chunks 2]]", true));
    assert_eq!(status, 200);
    let events = sse(&body);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = events
        .iter()
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "You said: Hi you");
    assert_eq!(events[6]["delta"]["stop_reason"], "end_turn");

    let (status, body) = post(&llm, "/v1/messages", &messages("Plain", false));
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(message["content"][0]["text"], "You said: Plain");
    assert_eq!(llm.requests().len(), 2);
    assert_eq!(llm.recorded()[1].header("x-api-key"), Some("k"));
}

#[test]
fn scripted_replies_come_first_in_order() {
    let llm = ScriptedLlm::start();
    llm.push(Reply::http_error(529));
    llm.push(Reply::tool("calc", json!({"x": 1})));
    llm.push(Reply::StreamError {
        partial: vec!["par".into()],
        error_type: "overloaded_error".into(),
        message: "busy".into(),
    });
    let (status, body) = post(&llm, "/v1/messages", &messages("a", true));
    assert_eq!(status, 529);
    let error: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        error,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "scripted error 529"}})
    );

    let (_, body) = post(&llm, "/v1/messages", &messages("b", true));
    let events = sse(&body);
    let tool = events
        .iter()
        .find(|e| e["content_block"]["type"] == "tool_use")
        .expect("tool_use block");
    assert_eq!(tool["content_block"]["name"], "calc");
    let args: String = events
        .iter()
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).expect("args"),
        json!({"x": 1})
    );

    let (_, body) = post(&llm, "/v1/messages", &messages("c", true));
    let events = sse(&body);
    assert_eq!(
        events.last().expect("events")["error"]["type"],
        "overloaded_error"
    );

    let (_, body) = post(&llm, "/v1/messages", &messages("d", true));
    assert!(
        sse(&body).iter().any(|e| e["delta"]["text"].is_string()),
        "queue empty: default again"
    );
}

#[test]
fn errors_markers_and_bad_requests() {
    let llm = ScriptedLlm::start();
    for _ in 0..2 {
        assert_eq!(
            post(&llm, "/v1/messages", &messages("x [[error 429 x2]]", true)).0,
            429
        );
    }
    assert_eq!(
        post(&llm, "/v1/messages", &messages("x [[error 429 x2]]", true)).0,
        200
    );
    assert_eq!(
        post(&llm, "/v1/messages", &messages("y [[error 401]]", false)).0,
        401
    );
    assert_eq!(post(&llm, "/v1/messages", "not json").0, 400);
    assert_eq!(llm.requests().last(), Some(&json!("not json")));
    assert_eq!(post(&llm, "/v1/other", "{}").0, 404);
}

#[test]
fn hang_never_answers() {
    let llm = ScriptedLlm::start();
    llm.push(Reply::Hang);
    let addr = llm.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let body = messages("x", true);
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut buf = [0u8; 16];
    let read = stream.read(&mut buf);
    assert!(read.is_err(), "no byte within 300 ms: {read:?}");
    assert!(llm.wait_for_requests(1, Duration::from_secs(60)));
}

#[test]
fn stall_sends_some_deltas_then_holds_the_stream_open() {
    let llm = ScriptedLlm::start();
    let addr = llm.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    let body = messages("[[stall 2]] [[chunks 5]] held", true);
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    // Read until two text deltas came (a 60 s watchdog per read).
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches("\"text_delta\"").count() < 2 {
        let n = stream.read(&mut buf).expect("the first deltas");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // Then nothing: no third delta, no end (a window can only miss a byte
    // that would break the stall, never invent one).
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let read = stream.read(&mut buf);
    assert!(
        read.is_err(),
        "silent after the stall: {:?}",
        read.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
    assert!(!seen.contains("message_stop"), "{seen}");
}
