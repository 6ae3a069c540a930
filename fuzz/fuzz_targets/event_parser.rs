//! Arbitrary bytes into the event decoders: `session/event`,
//! `session/stream_event` and `*_stream_end` params, bare envelopes and
//! payloads, and the whole path through a `Connection` with a streamed turn
//! and an unbound create waiting. Decoding never panics, and whatever the
//! input, every request still resolves exactly once at close.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_proto::methods::{SessionCreate, TurnParams, TurnStart};
use meerkat_proto::{
    Connection, ConnectionConfig, Event, EventEnvelope, Output, RequestOptions, SessionOptions,
    TurnOptions, decode_session_event, decode_stream_end, decode_stream_event,
};
use serde_json::value::RawValue;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Event::from_payload(text);
    if let Ok(raw) = RawValue::from_string(text.to_owned()) {
        let _ = decode_session_event(&raw);
        let _ = decode_stream_event(&raw);
        let _ = decode_stream_end(&raw);
        let _ = EventEnvelope::from_raw(&raw);
        if let Ok(value) = serde_json::from_str(text) {
            let _ = Event::from_value(value);
        }
    }

    // Through a Connection: the input as the params of every notification.
    let now = Instant::now();
    let mut conn = Connection::new(ConnectionConfig::default().max_unbound_events(16));
    let params = TurnParams::new("s1", "hi", TurnOptions::default());
    let turn = conn.request::<TurnStart>(&params, RequestOptions::new(now).stream(true));
    let create = conn.request::<SessionCreate>(
        &SessionOptions::new("hi"),
        RequestOptions::new(now).stream(true),
    );
    for method in [
        "session/event",
        "session/stream_event",
        "session/stream_end",
        "mob/stream_event",
        "mob/stream_end",
    ] {
        let line = format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{text}}}"#);
        conn.handle_bytes(line.as_bytes());
        conn.handle_bytes(b"\n");
    }
    conn.handle_timeout(now);
    conn.close();
    let mut ends = 0;
    while let Some(out) = conn.poll_output() {
        if let Output::StreamEnd { .. } | Output::Response { .. } = out {
            ends += 1;
        }
    }
    assert_eq!(
        ends,
        [turn.is_ok(), create.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count()
    );
});
