//! The rules of `rpc::Client`, one scenario each, through the public API.

use meerkat_proto::rpc::{
    CallError, Client, CloseReason, Config, Diagnostic, EncodeError, ErrorCode, ErrorObject, Event,
    IncomingId, RequestId,
};
use serde_json::value::RawValue;
use std::time::{Duration, Instant};

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap()
}

fn drain(client: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn sent(client: &mut Client) -> Vec<String> {
    std::iter::from_fn(|| client.poll_transmit())
        .map(|t| String::from_utf8(t.into_bytes()).unwrap())
        .collect()
}

fn ok_result(event: &Event) -> Option<(u64, String)> {
    match event {
        Event::Response(r) => r
            .result
            .as_ref()
            .ok()
            .map(|raw| (r.id.get(), raw.get().to_owned())),
        _ => None,
    }
}

fn err_result(event: &Event) -> Option<(u64, CallError)> {
    match event {
        Event::Response(r) => r.result.as_ref().err().map(|e| (r.id.get(), e.clone())),
        _ => None,
    }
}

fn diagnostic(event: &Event) -> Option<&Diagnostic> {
    match event {
        Event::Diagnostic(d) => Some(d),
        _ => None,
    }
}

#[test]
fn requests_are_numbered_from_one_and_written_as_one_line_each() {
    let mut c = Client::default();
    let a = c
        .send_request(
            "initialize",
            Some(raw(r#"{"client_info":{"name":"x"}}"#)),
            None,
        )
        .unwrap();
    let b = c.send_request("capabilities/get", None, None).unwrap();
    assert_eq!((a.get(), b.get()), (1, 2));
    c.notify("initialized", None).unwrap();
    assert_eq!(
        sent(&mut c),
        [
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"client_info\":{\"name\":\"x\"}}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"capabilities/get\"}\n",
            "{\"jsonrpc\":\"2.0\",\"method\":\"initialized\"}\n",
        ]
    );
    assert_eq!(c.pending_len(), 2);
}

#[test]
fn responses_match_on_id_in_any_order() {
    let mut c = Client::default();
    let a = c.send_request("a", None, None).unwrap();
    let b = c.send_request("b", None, None).unwrap();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"B\"}\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n");
    let events = drain(&mut c);
    assert_eq!(events.len(), 2);
    assert_eq!(ok_result(&events[0]), Some((b.get(), "\"B\"".into())));
    assert_eq!(ok_result(&events[1]), Some((a.get(), "null".into())));
    assert_eq!(c.pending_len(), 0);
}

#[test]
fn an_rpc_error_resolves_the_request() {
    let mut c = Client::default();
    let id = c.send_request("session/read", None, None).unwrap();
    c.handle_bytes(br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"Session not found: x","data":{"k":1}}}"#);
    assert!(drain(&mut c).is_empty(), "no event before the newline");
    c.handle_bytes(b"\n");
    let events = drain(&mut c);
    let Some((got, CallError::Rpc(error))) = err_result(&events[0]) else {
        panic!("{events:?}")
    };
    assert_eq!(got, id.get());
    assert_eq!(error.code, ErrorCode(-32001));
    assert_eq!(error.message, "Session not found: x");
    assert_eq!(error.data, Some(serde_json::json!({"k": 1})));
}

#[test]
fn a_string_id_that_looks_like_ours_does_not_match() {
    let mut c = Client::default();
    let _id = c.send_request("a", None, None).unwrap();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":1}\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1.0,\"result\":1}\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":-1,\"result\":1}\n");
    let events = drain(&mut c);
    let ids: Vec<_> = events.iter().filter_map(diagnostic).cloned().collect();
    assert_eq!(
        ids,
        [
            Diagnostic::UnmatchedResponse { id: "\"1\"".into() },
            Diagnostic::UnmatchedResponse { id: "1.0".into() },
            Diagnostic::UnmatchedResponse { id: "-1".into() },
        ]
    );
    assert_eq!(c.pending_len(), 1);
    // Whitespace around the id does not matter.
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\" :  1 ,\"result\":1}\n");
    assert_eq!(ok_result(&drain(&mut c)[0]), Some((1, "1".into())));
}

#[test]
fn duplicate_unknown_and_late_responses_are_diagnostics() {
    let mut c = Client::default();
    let a = c.send_request("a", None, None).unwrap();
    let b = c.send_request("b", None, None).unwrap();
    assert!(c.cancel(b));
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":2}\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":3}\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":99,\"error\":{\"code\":1,\"message\":\"m\"}}\n");
    let events = drain(&mut c);
    assert_eq!(events.len(), 4);
    assert_eq!(ok_result(&events[0]), Some((a.get(), "1".into())));
    for (event, id) in events[1..].iter().zip(["1", "2", "99"]) {
        assert_eq!(
            diagnostic(event),
            Some(&Diagnostic::UnmatchedResponse { id: id.into() })
        );
    }
}

#[test]
fn a_null_id_error_is_a_diagnostic_and_the_request_waits_for_its_deadline() {
    let t0 = Instant::now();
    let mut c = Client::default();
    let id = c
        .send_request("comms/send", None, Some(t0 + Duration::from_secs(5)))
        .unwrap();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32602,\"message\":\"Invalid params\"}}\n");
    c.handle_bytes(
        b"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}\n",
    );
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}\n");
    let events = drain(&mut c);
    assert_eq!(
        events
            .iter()
            .filter_map(diagnostic)
            .cloned()
            .collect::<Vec<_>>(),
        [
            Diagnostic::NullIdError(ErrorObject::new(
                ErrorCode::INVALID_PARAMS,
                "Invalid params"
            )),
            Diagnostic::NullIdError(ErrorObject::new(ErrorCode::PARSE_ERROR, "Parse error")),
            Diagnostic::UnmatchedResponse { id: "null".into() },
        ]
    );
    assert_eq!(c.pending_len(), 1);
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    c.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(
        err_result(&drain(&mut c)[0]),
        Some((id.get(), CallError::TimedOut))
    );
}

#[test]
fn timeouts_fire_at_or_after_the_deadline_earliest_first_and_once() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = Client::default();
    let late = c.send_request("late", None, Some(t0 + s(10))).unwrap();
    let none = c.send_request("none", None, None).unwrap();
    let early = c.send_request("early", None, Some(t0 + s(2))).unwrap();
    assert_eq!(c.poll_timeout(), Some(t0 + s(2)));
    c.handle_timeout(t0 + s(1));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(t0 + s(10));
    let events = drain(&mut c);
    let got: Vec<_> = events.iter().filter_map(err_result).collect();
    assert_eq!(
        got,
        [
            (early.get(), CallError::TimedOut),
            (late.get(), CallError::TimedOut)
        ]
    );
    c.handle_timeout(t0 + s(20));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.pending_len(), 1);
    // A late answer after the timeout is only a diagnostic.
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":1}\n");
    assert!(matches!(
        &drain(&mut c)[..],
        [Event::Diagnostic(Diagnostic::UnmatchedResponse { .. })]
    ));
    assert!(c.set_deadline(none, t0 + s(30)));
    assert!(!c.set_deadline(early, t0 + s(30)));
    assert_eq!(c.poll_timeout(), Some(t0 + s(30)));
}

#[test]
fn set_deadline_moves_a_deadline_both_ways() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut c = Client::default();
    let id = c.send_request("x", None, Some(t0 + s(1))).unwrap();
    assert!(c.set_deadline(id, t0 + s(9)));
    c.handle_timeout(t0 + s(5));
    assert!(drain(&mut c).is_empty());
    assert!(c.set_deadline(id, t0 + s(3)));
    c.handle_timeout(t0 + s(5));
    assert_eq!(drain(&mut c).len(), 1);
}

#[test]
fn cancel_forgets_without_an_event() {
    let t0 = Instant::now();
    let mut c = Client::default();
    let id = c.send_request("x", None, Some(t0)).unwrap();
    assert!(c.cancel(id));
    assert!(!c.cancel(id));
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(t0);
    c.close();
    let events = drain(&mut c);
    assert!(
        matches!(&events[..], [Event::Closed(CloseReason::Local)]),
        "{events:?}"
    );
}

#[test]
fn eof_resolves_every_pending_request_then_reports_closed_once() {
    let mut c = Client::default();
    let ids: Vec<RequestId> = (0..3)
        .map(|_| c.send_request("x", None, None).unwrap())
        .collect();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":1}\n");
    c.handle_eof();
    c.handle_eof();
    c.close();
    let events = drain(&mut c);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(ok_result(&events[0]), Some((ids[1].get(), "1".into())));
    assert_eq!(
        err_result(&events[1]),
        Some((ids[0].get(), CallError::Closed(CloseReason::Eof)))
    );
    assert_eq!(
        err_result(&events[2]),
        Some((ids[2].get(), CallError::Closed(CloseReason::Eof)))
    );
    assert!(matches!(events[3], Event::Closed(CloseReason::Eof)));
    assert!(c.is_closed());
    assert_eq!(c.close_reason(), Some(&CloseReason::Eof));
    assert_eq!(c.pending_len(), 0);
}

#[test]
fn eof_handles_an_unterminated_last_line_first() {
    let mut c = Client::default();
    let id = c.send_request("x", None, None).unwrap();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":7}");
    c.handle_eof();
    let events = drain(&mut c);
    assert_eq!(ok_result(&events[0]), Some((id.get(), "7".into())));
    assert!(matches!(events[1], Event::Closed(CloseReason::Eof)));
}

#[test]
fn close_resolves_pending_with_local_and_keeps_queued_frames() {
    let mut c = Client::default();
    let id = c.send_request("x", None, None).unwrap();
    c.close();
    assert_eq!(
        sent(&mut c).len(),
        1,
        "the frame queued before close is still there"
    );
    let events = drain(&mut c);
    assert_eq!(
        err_result(&events[0]),
        Some((id.get(), CallError::Closed(CloseReason::Local)))
    );
    assert!(matches!(events[1], Event::Closed(CloseReason::Local)));
    assert_eq!(events.len(), 2);
}

#[test]
fn commands_after_close_fail_and_inputs_are_ignored() {
    let t0 = Instant::now();
    let mut c = Client::default();
    let id = c.send_request("x", None, Some(t0)).unwrap();
    c.close();
    drain(&mut c);
    sent(&mut c);
    assert!(matches!(
        c.send_request("y", None, None),
        Err(EncodeError::Closed)
    ));
    assert!(matches!(c.notify("n", None), Err(EncodeError::Closed)));
    assert!(matches!(
        c.respond(IncomingId::from(1), Ok(raw("1"))),
        Err(EncodeError::Closed)
    ));
    assert!(!c.cancel(id));
    assert!(!c.set_deadline(id, t0));
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n");
    c.handle_timeout(t0);
    c.handle_eof();
    assert!(drain(&mut c).is_empty());
    assert!(sent(&mut c).is_empty());
    assert_eq!(c.close_reason(), Some(&CloseReason::Local));
}

#[test]
fn notifications_and_peer_requests_are_events_and_answers_echo_the_id() {
    let mut c = Client::default();
    c.handle_bytes(
        br#"{"jsonrpc":"2.0","method":"session/event","params":{"session_id":"s","seq":1}}
{"jsonrpc":"2.0","id":"srv-0","method":"tool/execute","params":{"name":"search"}}
{"jsonrpc":"2.0","id":5,"method":"ping"}
"#,
    );
    let events = drain(&mut c);
    let Event::Notification(n) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(n.method, "session/event");
    assert_eq!(
        n.params.as_ref().unwrap().get(),
        r#"{"session_id":"s","seq":1}"#
    );
    let Event::Request(r) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (&r.id, r.method.as_str()),
        (&IncomingId::from("srv-0"), "tool/execute")
    );
    let Event::Request(p) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(p.id, IncomingId::from(5));
    assert!(p.params.is_none());
    c.respond(
        r.id.clone(),
        Ok(raw(r#"{"content":"ok","is_error":false}"#)),
    )
    .unwrap();
    c.respond(
        p.id.clone(),
        Err(ErrorObject::new(
            ErrorCode::METHOD_NOT_FOUND,
            "Method not supported: ping",
        )),
    )
    .unwrap();
    assert_eq!(
        sent(&mut c),
        [
            "{\"jsonrpc\":\"2.0\",\"id\":\"srv-0\",\"result\":{\"content\":\"ok\",\"is_error\":false}}\n",
            "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32601,\"message\":\"Method not supported: ping\"}}\n",
        ]
    );
}

#[test]
fn log_lines_oversized_lines_and_blank_lines_do_not_disturb_the_stream() {
    let mut c = Client::new(Config::default().max_frame_len(64));
    let id = c.send_request("x", None, None).unwrap();
    c.handle_bytes(b"\x1b[31m2026-11-25T01:40:45Z ERROR meerkat: boom\x1b[0m\r\n\r\n\n");
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"method\":\"big\",\"params\":\"");
    c.handle_bytes(&[b'x'; 1000]);
    c.handle_bytes(b"\"}\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":true}\r\n");
    let events = drain(&mut c);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(
        diagnostic(&events[0]),
        Some(&Diagnostic::SkippedLine {
            line: "2026-11-25T01:40:45Z ERROR meerkat: boom".into()
        })
    );
    assert_eq!(
        diagnostic(&events[1]),
        Some(&Diagnostic::FrameTooLong { limit: 64 })
    );
    assert_eq!(ok_result(&events[2]), Some((id.get(), "true".into())));
}

#[test]
fn invalid_envelopes_are_reported_and_leave_the_request_pending() {
    let mut c = Client::default();
    let _id = c.send_request("x", None, None).unwrap();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}\n{\"id\":1}\n");
    let events = drain(&mut c);
    assert!(
        events
            .iter()
            .all(|e| matches!(e, Event::Diagnostic(Diagnostic::InvalidEnvelope { .. }))),
        "{events:?}"
    );
    assert_eq!(events.len(), 2);
    assert_eq!(c.pending_len(), 1);
}

#[test]
fn max_pending_is_a_hard_limit_that_frees_up() {
    let mut c = Client::new(Config::default().max_pending(2));
    let a = c.send_request("a", None, None).unwrap();
    let _b = c.send_request("b", None, None).unwrap();
    assert!(matches!(
        c.send_request("c", None, None),
        Err(EncodeError::TooManyPending { limit: 2 })
    ));
    assert_eq!(sent(&mut c).len(), 2, "a refused request sends nothing");
    assert!(c.cancel(a));
    let c3 = c.send_request("c", None, None).unwrap();
    assert_eq!(c3.get(), 3, "a refused request uses no id");
}

#[test]
fn method_names_and_payloads_are_escaped_and_kept_verbatim() {
    let mut c = Client::default();
    let _id = c
        .send_request("we\"ird\nname", Some(raw("[1, 2.50, \"\\u00e9\"]")), None)
        .unwrap();
    let frame = c.poll_transmit().unwrap();
    assert_eq!(
        frame.as_bytes(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"we\\\"ird\\nname\",\"params\":[1, 2.50, \"\\u00e9\"]}\n"
    );
    assert_eq!(frame.as_bytes().iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn a_null_result_is_written_and_read_as_a_result() {
    let mut c = Client::default();
    c.handle_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"m\"}\n");
    let events = drain(&mut c);
    let Event::Request(r) = &events[0] else {
        panic!("{events:?}")
    };
    c.respond(r.id.clone(), Ok(raw("null"))).unwrap();
    assert_eq!(
        sent(&mut c),
        ["{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":null}\n"]
    );
}

#[test]
fn debug_output_shows_no_payload() {
    let mut c = Client::default();
    let _id = c
        .send_request("m", Some(raw(r#"{"secret":"s3cr3t"}"#)), None)
        .unwrap();
    c.handle_bytes(br#"{"jsonrpc":"2.0","method":"n","params":{"secret":"s3cr3t"}}"#);
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("pending: 1"), "{debug}");
}
