//! Decoding realistic `session/event` lines: meerkat-proto's full path next
//! to serde_json parsing the same lines into `Value` and into `IgnoredAny`
//! (the floor: JSON syntax checking and nothing else).
//!
//! Run: `cargo bench -p meerkat-proto --bench decode`. The corpus is one long
//! streamed turn shaped like the 0.5.2 fixtures (envelope, payload, ids,
//! timestamps): mostly `text_delta`, with `tool_call_requested`,
//! `turn_completed` every 50 events, one `run_started`, one `run_completed`.
//!
//! Rows:
//! - `Connection + decode (one thread)`: bytes in 64 KiB chunks into a
//!   `Connection` with the turn registered as a stream; every event comes
//!   out as `Output::StreamItem` and is decoded to a typed `Event` (framing,
//!   JSON-RPC classification, routing on a minimal parse, `seq` tracking,
//!   then envelope and payload), all on one thread. A transport splits the
//!   last step off to the consumer's thread.
//! - `Connection, routing only`: the same without the decode: the driver's
//!   share of the work in a transport.
//! - `rpc::Client (RawValue)`: the engine alone (framing and
//!   classification; params stay raw).
//! - `serde_json Value`, `serde_json IgnoredAny`: per line, lines split
//!   beforehand (their framing is not even counted).

use std::hint::black_box;
use std::time::{Duration, Instant};

use meerkat_proto::methods::{TurnParams, TurnStart};
use meerkat_proto::{
    Connection, ConnectionConfig, Output, RequestOptions, StreamItem, TurnOptions, rpc,
};

const EVENTS: usize = 200_000;
const CHUNK: usize = 64 * 1024;
const ROUNDS: usize = 5;
const SESSION: &str = "01a21068-1d9c-77f3-af2b-4c7736cbd1f7";

const WORDS: [&str; 12] = [
    "The ",
    "meerkat ",
    "stands ",
    "guard ",
    "while ",
    "the ",
    "colony ",
    "forages, ",
    "scanning ",
    "the ",
    "horizon ",
    "for hawks. ",
];

fn envelope(seq: usize, payload: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"session/event","params":{{"event":{{"event_id":"01a21068-1dcd-7ad1-8002-{seq:012x}","payload":{payload},"seq":{seq},"source_id":"session:{SESSION}","timestamp_ms":{}}},"session_id":"{SESSION}"}}}}"#,
        1_795_571_588_557 + seq
    )
}

fn corpus() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..EVENTS {
        let seq = i + 1;
        let payload = if i == 0 {
            format!(
                r#"{{"prompt":"Tell me about meerkats","session_id":"{SESSION}","type":"run_started"}}"#
            )
        } else if i == EVENTS - 1 {
            format!(
                r#"{{"result":"...","session_id":"{SESSION}","type":"run_completed","usage":{{"cache_creation_tokens":null,"cache_read_tokens":null,"input_tokens":1300,"output_tokens":{EVENTS}}}}}"#
            )
        } else if i % 50 == 0 {
            r#"{"stop_reason":"end_turn","type":"turn_completed","usage":{"cache_creation_tokens":null,"cache_read_tokens":null,"input_tokens":13,"output_tokens":3}}"#.to_owned()
        } else if i % 50 == 25 {
            r#"{"args":{"q":"meerkat"},"id":"toolu_fake_f949d77edf244d3f","name":"search","type":"tool_call_requested"}"#.to_owned()
        } else {
            format!(
                r#"{{"delta":"{}","type":"text_delta"}}"#,
                WORDS[i % WORDS.len()]
            )
        };
        out.push_str(&envelope(seq, &payload));
        out.push('\n');
    }
    out.into_bytes()
}

/// Events through a `Connection`, typed (`decode`) or only routed.
fn connection(bytes: &[u8], decode: bool) -> usize {
    let mut conn = Connection::new(ConnectionConfig::default());
    let params = TurnParams::new(SESSION, "Tell me about meerkats", TurnOptions::default());
    let Ok(turn) =
        conn.request::<TurnStart>(&params, RequestOptions::new(Instant::now()).stream(true))
    else {
        return 0;
    };
    while conn.poll_transmit().is_some() {}
    let mut events = 0;
    for chunk in bytes.chunks(CHUNK) {
        conn.handle_bytes(chunk);
        while let Some(out) = conn.poll_output() {
            if let Output::StreamItem {
                id,
                item: StreamItem::Event(event),
            } = out
                && id == turn
            {
                // Routing happens in the Connection; decoding is the
                // consumer's share (a transport runs it on another thread).
                if decode {
                    black_box(event.into_envelope());
                } else {
                    black_box(event);
                }
                events += 1;
            }
        }
    }
    events
}

/// Frames through the engine alone.
fn engine(bytes: &[u8]) -> usize {
    let mut client = rpc::Client::new(rpc::Config::default());
    let mut events = 0;
    for chunk in bytes.chunks(CHUNK) {
        client.handle_bytes(chunk);
        while let Some(event) = client.poll_event() {
            if let rpc::Event::Notification(n) = event {
                black_box(&n);
                events += 1;
            }
        }
    }
    events
}

fn value(lines: &[&[u8]]) -> usize {
    lines
        .iter()
        .filter(|l| {
            serde_json::from_slice::<serde_json::Value>(l)
                .map(black_box)
                .is_ok()
        })
        .count()
}

fn ignored(lines: &[&[u8]]) -> usize {
    lines
        .iter()
        .filter(|l| {
            serde_json::from_slice::<serde::de::IgnoredAny>(l)
                .map(black_box)
                .is_ok()
        })
        .count()
}

/// The best of [`ROUNDS`] runs.
fn best(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        count = f();
        best = best.min(t0.elapsed());
    }
    (best, count)
}

fn main() {
    let bytes = corpus();
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "decoding {EVENTS} session/event lines ({mb:.1} MB, {:.0} bytes/line), best of {ROUNDS}",
        bytes.len() as f64 / EVENTS as f64
    );
    if std::env::var_os("DECODE_PROFILE_CONNECTION").is_some() {
        // Only our path, for a profiler.
        for _ in 0..ROUNDS * 4 {
            black_box(connection(&bytes, true));
        }
        return;
    }
    if std::env::var_os("DECODE_PROFILE_ROUTING").is_some() {
        // Only the driver's share (no typed decode), for a profiler.
        for _ in 0..ROUNDS * 4 {
            black_box(connection(&bytes, false));
        }
        return;
    }
    let rows = [
        (
            "Connection + decode (one thread)",
            best(|| connection(&bytes, true)),
        ),
        (
            "Connection, routing only",
            best(|| connection(&bytes, false)),
        ),
        ("rpc::Client (RawValue)", best(|| engine(&bytes))),
        ("serde_json Value", best(|| value(&lines))),
        ("serde_json IgnoredAny (floor)", best(|| ignored(&lines))),
    ];
    let floor = rows[4].1.0.as_secs_f64();
    println!(
        "{:<31} {:>12} {:>10} {:>14}",
        "path", "events/s", "MB/s", "time vs floor"
    );
    for (name, (time, count)) in rows {
        assert_eq!(count, EVENTS, "{name} saw every event");
        let secs = time.as_secs_f64();
        println!(
            "{name:<31} {:>12.0} {:>10.1} {:>13.2}x",
            count as f64 / secs,
            mb / secs,
            secs / floor
        );
    }
}
