//! Framing against real server output: any split of a byte stream gives the
//! same events, and every line of a recorded transcript is accounted for.
//!
//! The recorded lines come from the `rkat-rpc` transcripts (`recv` lines
//! re-serialised, `recv-raw` log lines verbatim), found in
//! `$MEERKAT_FIXTURES`, `tests/fixtures` of the workspace or
//! `/work/shared/fixtures`; a built-in set of tricky lines is always added.

use meerkat_proto::rpc::{Client, Config, Diagnostic, Event};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One line of server output and what kind of event it must produce.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    /// `false` for `recv-raw` (a log line).
    json: bool,
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("MEERKAT_FIXTURES") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures"));
    dirs.push(PathBuf::from("/work/shared/fixtures"));
    dirs
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            jsonl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

/// The transcripts: one `Vec<Line>` per file (empty if none is found).
fn transcripts() -> &'static Vec<(PathBuf, Vec<Line>)> {
    static CELL: OnceLock<Vec<(PathBuf, Vec<Line>)>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut files = Vec::new();
        if let Some(dir) = fixture_dirs().into_iter().find(|d| d.is_dir()) {
            jsonl_files(&dir, &mut files);
        }
        files
            .into_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                let lines = text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter_map(|record| match record["dir"].as_str()? {
                        "recv" => Some(Line {
                            text: serde_json::to_string(&record["msg"]).ok()?,
                            json: true,
                        }),
                        "recv-raw" => Some(Line {
                            text: record["line"].as_str()?.to_owned(),
                            json: false,
                        }),
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                (!lines.is_empty()).then_some((path, lines))
            })
            .collect()
    })
}

/// Lines worth having in every stream, whatever the fixtures hold.
fn builtin_lines() -> Vec<Line> {
    let json = |t: &str| Line {
        text: t.to_owned(),
        json: true,
    };
    vec![
        json(r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#),
        json(
            r#"{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"Session not found: x"}}"#,
        ),
        json(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#),
        json(
            r#"{"jsonrpc":"2.0","id":"srv-0","method":"tool/execute","params":{"name":"t","arguments":{}}}"#,
        ),
        json(
            r#"{"jsonrpc":"2.0","method":"session/event","params":{"event":{"payload":{"type":"text_delta","delta":"é\n"}}}}"#,
        ),
        json(r#"{"jsonrpc":"2.0","id":3,"result":1}glued trailing text"#),
        json(r#"{"jsonrpc":"2.0","id":"4","result":"string id"}"#),
        json(&format!(
            r#"{{"jsonrpc":"2.0","method":"big","params":"{}"}}"#,
            "x".repeat(5000)
        )),
        Line {
            text: "\u{1b}[2m2026-11-25T01:40:45Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m meerkat: boom"
                .into(),
            json: false,
        },
        Line {
            text: "{torn line".into(),
            json: false,
        },
        padded(LIMIT - 1),
        padded(LIMIT),
        padded(LIMIT + 1),
    ]
}

/// The frame limit of the split property: below some recorded lines, so
/// oversized lines are part of the property too.
const LIMIT: usize = 2048;

/// A notification of exactly `len` bytes.
fn padded(len: usize) -> Line {
    let head = r#"{"jsonrpc":"2.0","method":"pad","params":""#;
    let tail = r#""}"#;
    let text = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(text.len(), len);
    Line { text, json: true }
}

/// Every line from the fixtures plus the built-in ones.
fn all_lines() -> &'static Vec<Line> {
    static CELL: OnceLock<Vec<Line>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut lines = builtin_lines();
        for (_, t) in transcripts() {
            lines.extend(t.iter().cloned());
        }
        lines
    })
}

/// A client with requests 1..=100 pending, so that recorded responses match.
fn client(max_frame_len: usize) -> Client {
    let mut c = Client::new(Config::default().max_frame_len(max_frame_len));
    for _ in 0..100 {
        let _ = c.send_request("x", None, None).unwrap();
    }
    while c.poll_transmit().is_some() {}
    c
}

/// Feeds `chunks` then EOF; returns every event, `Debug`-formatted.
fn run(max_frame_len: usize, chunks: &[&[u8]]) -> Vec<String> {
    let mut c = client(max_frame_len);
    let mut out = Vec::new();
    for chunk in chunks {
        c.handle_bytes(chunk);
        out.extend(std::iter::from_fn(|| c.poll_event()).map(|e| format!("{e:?}")));
    }
    c.handle_eof();
    out.extend(std::iter::from_fn(|| c.poll_event()).map(|e| format!("{e:?}")));
    out
}

/// Cuts `bytes` at the given (unsorted, possibly repeated) points.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts {
        chunks.push(&bytes[from..cut]);
        from = cut;
    }
    chunks.push(&bytes[from..]);
    chunks
}

#[derive(Debug, Clone)]
struct Stream {
    bytes: Vec<u8>,
    cuts: Vec<usize>,
}

fn stream() -> impl Strategy<Value = Stream> {
    let n = all_lines().len();
    (
        prop::collection::vec(
            (
                0..n,
                prop::sample::select(vec!["\n", "\r\n", "\n\n", "\n  \n"]),
            ),
            1..30,
        ),
        any::<bool>(),
        prop::collection::vec(any::<usize>(), 0..40),
    )
        .prop_map(|(picks, final_newline, cuts)| {
            let mut bytes = Vec::new();
            for (i, (line, end)) in picks.iter().enumerate() {
                bytes.extend_from_slice(all_lines()[*line].text.as_bytes());
                if final_newline || i + 1 < picks.len() {
                    bytes.extend_from_slice(end.as_bytes());
                }
            }
            Stream { bytes, cuts }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_gives_the_same_events(s in stream()) {
        let whole = run(LIMIT, &[&s.bytes]);
        let chunks = split(&s.bytes, &s.cuts);
        prop_assert_eq!(run(LIMIT, &chunks), whole);
    }
}

#[test]
fn byte_at_a_time_equals_whole_for_every_transcript() {
    for (path, lines) in transcripts() {
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(line.text.as_bytes());
            bytes.push(b'\n');
        }
        let whole = run(1 << 20, &[&bytes]);
        for size in [1, 7, 4096] {
            let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(
                run(1 << 20, &chunks),
                whole,
                "{} in chunks of {size}",
                path.display()
            );
        }
    }
}

/// Each `recv` line gives exactly one event that is not a skipped line, and
/// each `recv-raw` line exactly one `SkippedLine`; nothing else happens.
#[test]
fn every_recorded_line_is_accounted_for() {
    for (path, lines) in transcripts() {
        let mut c = client(usize::MAX);
        for line in lines {
            c.handle_bytes(line.text.as_bytes());
            c.handle_bytes(b"\n");
            let events: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
            assert_eq!(
                events.len(),
                1,
                "{}: {} -> {events:?}",
                path.display(),
                line.text
            );
            let skipped = matches!(events[0], Event::Diagnostic(Diagnostic::SkippedLine { .. }));
            assert_eq!(
                skipped,
                !line.json,
                "{}: {} -> {events:?}",
                path.display(),
                line.text
            );
            assert!(
                !matches!(
                    events[0],
                    Event::Diagnostic(Diagnostic::InvalidEnvelope { .. })
                ),
                "{}: {} -> {events:?}",
                path.display(),
                line.text
            );
        }
    }
}

#[test]
fn the_builtin_lines_give_the_expected_kinds() {
    let mut bytes = Vec::new();
    for line in builtin_lines() {
        bytes.extend_from_slice(line.text.as_bytes());
        bytes.push(b'\n');
    }
    let kinds: Vec<String> = run(LIMIT, &[&bytes])
        .into_iter()
        .map(|e| {
            e.split(['(', ')', ' '])
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut expected = vec![
        "Response Response",
        "Response Response",
        "Diagnostic NullIdError",
        "Request IncomingRequest",
        "Notification Notification",
        "Response Response",
        "Diagnostic UnmatchedResponse",
        "Diagnostic FrameTooLong",
        "Diagnostic SkippedLine",
        "Diagnostic SkippedLine",
        "Notification Notification",
        "Notification Notification",
        "Diagnostic FrameTooLong",
    ];
    // Requests 4..=100 are still pending at EOF.
    expected.extend(std::iter::repeat_n("Response Response", 97));
    expected.push("Closed Eof");
    assert_eq!(kinds, expected);
}
