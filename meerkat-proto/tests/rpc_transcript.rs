//! A small scripted exchange, snapshotted as a wire transcript (`>` what we
//! write, `<` what the peer writes) and the `Debug` output of every event.

use meerkat_proto::rpc::{Client, Config, ErrorCode, ErrorObject, Event};
use serde_json::value::RawValue;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Records both directions and every event, in order.
struct Transcript {
    client: Client,
    log: String,
}

impl Transcript {
    fn new(client: Client) -> Self {
        Self {
            client,
            log: String::new(),
        }
    }

    /// Writes the client's queued frames to the log.
    fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            let text = std::str::from_utf8(t.as_bytes()).unwrap();
            assert!(text.ends_with('\n'));
            writeln!(self.log, "> {}", text.trim_end_matches('\n')).unwrap();
        }
    }

    /// Feeds what the peer writes (one `handle_bytes` call) and logs it.
    fn peer(&mut self, bytes: &str) {
        // One `<` line per peer line, `\n` implied; control characters are
        // spelled out, and an unfinished line is marked.
        for line in bytes.split_inclusive('\n') {
            let (text, unfinished) = match line.strip_suffix('\n') {
                Some(text) => (text, ""),
                None => (line, "  (no newline yet)"),
            };
            let text = text.replace('\r', "\\r").replace('\u{1b}', "\\e");
            writeln!(self.log, "< {text}{unfinished}").unwrap();
        }
        self.client.handle_bytes(bytes.as_bytes());
        self.events();
    }

    fn note(&mut self, what: &str) {
        writeln!(self.log, "# {what}").unwrap();
    }

    /// Logs every queued event; returns the peer requests among them.
    fn events(&mut self) -> Vec<Event> {
        let mut requests = Vec::new();
        while let Some(event) = self.client.poll_event() {
            writeln!(self.log, "  {event:?}").unwrap();
            if matches!(event, Event::Request(_)) {
                requests.push(event);
            }
        }
        requests
    }
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

#[test]
fn scripted_exchange() {
    let t0 = Instant::now();
    let mut t = Transcript::new(Client::new(Config::default().max_frame_len(128)));

    t.note("handshake");
    let init = t
        .client
        .send_request(
            "initialize",
            Some(raw(
                r#"{"client_info":{"name":"meerkat-rs","version":"0.1.0"}}"#,
            )),
            None,
        )
        .unwrap();
    t.flush();
    t.peer(r#"{"jsonrpc":"2.0","id":1,"result":{"server_info":{"name":"meerkat-rpc","version":"0.5.0"},"contract_version":"0.5.0"}}"#);
    t.peer("\n");
    t.client.notify("initialized", None).unwrap();
    t.flush();
    assert_eq!(init.get(), 1);

    t.note("a turn with events, a log line and a callback tool");
    let turn = t
        .client
        .send_request(
            "turn/start",
            Some(raw(r#"{"session_id":"s1","prompt":"hi"}"#)),
            Some(t0 + Duration::from_secs(30)),
        )
        .unwrap();
    t.flush();
    t.peer(concat!(
        r#"{"jsonrpc":"2.0","method":"session/event","params":{"event":{"payload":{"type":"run_started"}},"session_id":"s1"}}"#,
        "\n\u{1b}[2m2026-11-25T01:40:45Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m meerkat_client: overloaded\r\n",
        r#"{"jsonrpc":"2.0","id":"srv-0","method":"tool/execute","params":{"arguments":{"q":"x"},"name":"search","tool_use_id":"toolu_1"}}"#,
        "\n",
    ));
    t.client
        .respond(
            "srv-0".into(),
            Ok(raw(r#"{"content":"3 results","is_error":false}"#)),
        )
        .unwrap();
    t.flush();
    t.peer(concat!(
        r#"{"jsonrpc":"2.0","id":2,"result":{"text":"done"}}"#,
        "\n",
        r#"{"jsonrpc":"2.0","id":2,"result":{"text":"duplicate"}}"#,
        "\n",
    ));
    assert_eq!(turn.get(), 2);

    t.note("a server request we do not support");
    t.peer("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/create\"}\n");
    t.client
        .respond(
            7.into(),
            Err(ErrorObject::new(
                ErrorCode::METHOD_NOT_FOUND,
                "Method not supported: sampling/create",
            )),
        )
        .unwrap();
    t.flush();

    t.note("an id:null error, an oversized line, then a timeout");
    let lost = t
        .client
        .send_request("comms/peers", None, Some(t0 + Duration::from_secs(5)))
        .unwrap();
    t.flush();
    t.peer("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32602,\"message\":\"Invalid params\"}}\n");
    t.peer(&format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"big\",\"params\":\"{}\"}}\n",
        "x".repeat(200)
    ));
    assert_eq!(t.client.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    t.note("handle_timeout(t0 + 5s)");
    t.client.handle_timeout(t0 + Duration::from_secs(5));
    t.events();
    assert_eq!(lost.get(), 3);

    t.note("a request left pending at EOF");
    let _open = t.client.send_request("session/list", None, None).unwrap();
    t.flush();
    t.peer("{\"jsonrpc\":\"2.0\",\"id\":4,\"res");
    t.note("EOF");
    t.client.handle_eof();
    t.events();

    insta::assert_snapshot!(t.log);
}
