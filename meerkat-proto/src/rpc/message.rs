//! The JSON-RPC 2.0 envelope on the wire: what we write (strict) and how we
//! classify what we read (lenient).
//!
//! Payloads (`params`, `result`) stay raw JSON text: they are borrowed from
//! the line while it is classified and copied once into the owned event.

use super::error::{Diagnostic, ErrorObject};
use super::id::IncomingId;
use crate::model::{LightParams, RunMark, route_light};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// How many bytes of a skipped line a [`Diagnostic::SkippedLine`] keeps.
const SKIPPED_LINE_KEEP: usize = 256;

/// The `jsonrpc` member: always `"2.0"` when we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Version {
    /// JSON-RPC 2.0.
    #[serde(rename = "2.0")]
    V2,
}

/// A request we send.
#[derive(Debug, Serialize)]
pub(crate) struct OutRequest<'a> {
    pub(crate) jsonrpc: Version,
    pub(crate) id: u64,
    pub(crate) method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<&'a RawValue>,
}

/// A notification we send.
#[derive(Debug, Serialize)]
pub(crate) struct OutNotification<'a> {
    pub(crate) jsonrpc: Version,
    pub(crate) method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) params: Option<&'a RawValue>,
}

/// Our answer to a request of the peer: exactly one of `result` and `error`.
#[derive(Debug, Serialize)]
pub(crate) struct OutResponse<'a> {
    pub(crate) jsonrpc: Version,
    pub(crate) id: &'a IncomingId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<&'a ErrorObject>,
}

/// Every member we look at, borrowed; unknown members are ignored and
/// `jsonrpc` is not checked (0.5.x always writes `"2.0"`; be lenient).
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    /// `null` and absent both read as `None`.
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    /// `null` reads as `None`: no params.
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    /// `null` is a result (`Some("null")`); only absence is `None`.
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    /// `null` reads as `None`: no error.
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

fn present<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<&'a RawValue>, D::Error> {
    <&'a RawValue>::deserialize(d).map(Some)
}

/// The routing facts of a `session/event` notification, found while the
/// line was classified (see [`classify_routed`]).
#[derive(Debug)]
pub(crate) struct RouteFacts<'a> {
    /// The session the event belongs to.
    pub(crate) session: Cow<'a, str>,
    /// The envelope's `seq` (0 when absent).
    pub(crate) seq: u64,
    /// Whether a run starts or ends.
    pub(crate) mark: RunMark,
    /// Where a text or reasoning delta's members are, when the
    /// hand-written scan is sure of them (the consumer builds the event
    /// from them).
    pub(crate) delta: Option<super::route_scan::DeltaSpans>,
}

/// What [`classify_routed`] made of a line.
#[derive(Debug)]
pub(crate) enum Scanned<'a> {
    /// A `session/event` notification of the usual shape, with its routing
    /// facts: its params were never captured on their own.
    Routed(RouteFacts<'a>),
    /// Anything else, exactly as [`classify`] has it.
    Other(Incoming<'a>),
}

/// A top-level member of a message.
enum Key {
    Method,
    Id,
    Params,
    Result,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "method" => Key::Method,
                    "id" => Key::Id,
                    "params" => Key::Params,
                    "result" => Key::Result,
                    "error" => Key::Error,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// `params` as the one-pass scan met them.
enum ScannedParams<'a> {
    /// Absent or `null`.
    None,
    /// Kept raw: not a `session/event`, or `params` came before `method`.
    Raw(&'a RawValue),
    /// `session/event` params, scanned for their routing facts only;
    /// `None` when routing finds them odd. (The facts, not the scanned
    /// struct, are kept: less to move around.)
    Routing(Option<RouteFacts<'a>>),
}

/// [`RawMessage`] with `params` scanned for routing when `method` (read
/// first) is `session/event`. Any surprise (a duplicate member, a type
/// error anywhere) is an error: the caller then classifies the line the
/// general way, which reports it as before.
struct LineScan<'a> {
    method: Option<Cow<'a, str>>,
    id: Option<&'a RawValue>,
    params: ScannedParams<'a>,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
}

/// A `Cow<str>` that borrows when the text has no escapes (serde's own
/// `Cow` impl always copies).
struct BorrowedStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for BorrowedStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> serde::de::Visitor<'de> for StrVisitor {
            type Value = BorrowedStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

impl<'de> Deserialize<'de> for LineScan<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScanVisitor;
        impl<'de> serde::de::Visitor<'de> for ScanVisitor {
            type Value = LineScan<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON-RPC message")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error as _;
                let mut scan = LineScan {
                    method: None,
                    id: None,
                    params: ScannedParams::None,
                    result: None,
                    error: None,
                };
                let (mut method, mut id, mut params) = (false, false, false);
                let (mut result, mut error) = (false, false);
                let seen = |flag: &mut bool, name: &'static str| {
                    if std::mem::replace(flag, true) {
                        return Err(A::Error::duplicate_field(name));
                    }
                    Ok(())
                };
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Method => {
                            seen(&mut method, "method")?;
                            scan.method =
                                map.next_value::<Option<BorrowedStr<'de>>>()?.map(|m| m.0);
                        }
                        Key::Id => {
                            seen(&mut id, "id")?;
                            scan.id = map.next_value()?;
                        }
                        Key::Params => {
                            seen(&mut params, "params")?;
                            scan.params = if scan.method.as_deref() == Some("session/event") {
                                match map.next_value::<Option<LightParams<'de>>>()? {
                                    Some(light) => ScannedParams::Routing(route_light(light).map(
                                        |(session, seq, mark)| RouteFacts {
                                            session,
                                            seq,
                                            mark,
                                            delta: None,
                                        },
                                    )),
                                    None => ScannedParams::None,
                                }
                            } else {
                                match map.next_value::<Option<&'de RawValue>>()? {
                                    Some(raw) => ScannedParams::Raw(raw),
                                    None => ScannedParams::None,
                                }
                            };
                        }
                        Key::Result => {
                            seen(&mut result, "result")?;
                            scan.result = Some(map.next_value()?);
                        }
                        Key::Error => {
                            seen(&mut error, "error")?;
                            scan.error = map.next_value()?;
                        }
                        Key::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(scan)
            }
        }
        d.deserialize_map(ScanVisitor)
    }
}

/// [`classify`] in one pass for the driver: a `session/event`
/// notification's routing facts (session, `seq`, run start or end) are
/// read in the same scan that frames and classifies the line, without
/// capturing its params or building a `Value`. Every other line, and every
/// odd one (a `session/event` whose facts are not where routing expects
/// them, invalid UTF-8, a malformed envelope), gives what [`classify`]
/// gives, by calling it.
pub(crate) fn classify_routed(line: &[u8]) -> Scanned<'_> {
    let Some(first) = line.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Scanned::Other(Incoming::Blank);
    };
    if line[first] != b'{' {
        return Scanned::Other(skipped(line));
    }
    // NB: the whole line is checked once here, so the scan below reads
    // strings without checking them again; a bad byte anywhere (even in a
    // member the scan skips) goes the general way, to its lossy repair.
    let Ok(text) = std::str::from_utf8(line) else {
        return Scanned::Other(classify(line));
    };
    // The usual event line: read by hand (it gives up on anything odd).
    if let Some(facts) = super::route_scan::route(text) {
        return Scanned::Routed(facts);
    }
    classify_routed_text(line, text)
}

/// [`classify_routed`] without the hand-written scan: the serde way alone
/// (what [`route_scan`](super::route_scan) must agree with).
#[cfg(any(test, fuzzing))]
pub(crate) fn classify_routed_serde(line: &[u8]) -> Scanned<'_> {
    let Some(first) = line.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Scanned::Other(Incoming::Blank);
    };
    if line[first] != b'{' {
        return Scanned::Other(skipped(line));
    }
    match std::str::from_utf8(line) {
        Ok(text) => classify_routed_text(line, text),
        Err(_) => Scanned::Other(classify(line)),
    }
}

fn classify_routed_text<'a>(line: &'a [u8], text: &'a str) -> Scanned<'a> {
    // NB: no `end()`: text glued after the leading object is ignored, as
    // `classify` ignores it (and a plain deserializer moves less than the
    // stream one).
    let mut de = serde_json::Deserializer::from_str(text);
    let Ok(scan) = LineScan::deserialize(&mut de) else {
        return Scanned::Other(classify(line));
    };
    let params = match scan.params {
        ScannedParams::Routing(facts) => {
            return match facts {
                // NB: an id makes it a request named `session/event`: not
                // ours to route.
                Some(facts) if scan.id.is_none() => Scanned::Routed(facts),
                _ => Scanned::Other(classify(line)),
            };
        }
        ScannedParams::Raw(raw) => Some(raw),
        ScannedParams::None => None,
    };
    Scanned::Other(incoming(RawMessage {
        method: scan.method,
        id: scan.id,
        params,
        result: scan.result,
        error: scan.error,
    }))
}

/// What one line turned out to be.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    /// An empty or whitespace-only line: nothing to report.
    Blank,
    /// A request of the peer (`method` and a non-null `id`).
    Request {
        id: IncomingId,
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A notification (`method`, no id or `id: null`).
    Notification {
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A response; `id` is `None` when absent or `null`.
    Response {
        id: Option<&'a RawValue>,
        outcome: Result<&'a RawValue, ErrorObject>,
    },
    /// Something to report and otherwise ignore.
    Diagnostic(Diagnostic),
}

/// Classifies one line (PROTOCOL 1.5): `method` and `id` make a request,
/// `method` alone a notification, anything else is a response matched on
/// `id`. When both `error` and `result` are present, `error` wins.
///
/// Only the leading JSON value counts: text glued after it is ignored.
pub(crate) fn classify(line: &[u8]) -> Incoming<'_> {
    let Some(first) = line.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Incoming::Blank;
    };
    if line[first] != b'{' {
        return skipped(line);
    }
    let mut values = serde_json::Deserializer::from_slice(line).into_iter::<RawMessage<'_>>();
    let message = match values.next() {
        Some(Ok(message)) => message,
        Some(Err(e)) if e.is_data() => {
            return invalid(format!("not a JSON-RPC message: {e}"));
        }
        // A syntax error or a torn line: not JSON, skip it like a log line.
        Some(Err(_)) | None => return skipped(line),
    };
    incoming(message)
}

/// The classification of a parsed message (see [`classify`]).
fn incoming(message: RawMessage<'_>) -> Incoming<'_> {
    if let Some(method) = message.method {
        return match message.id {
            None => Incoming::Notification {
                method,
                params: message.params,
            },
            Some(id) => match serde_json::from_str::<IncomingId>(id.get()) {
                Ok(id) => Incoming::Request {
                    id,
                    method,
                    params: message.params,
                },
                Err(_) => invalid(format!(
                    "request {method:?} has an id that is neither an integer nor a string: {}",
                    truncate(id.get())
                )),
            },
        };
    }
    let outcome = match (message.error, message.result) {
        (Some(error), _) => match serde_json::from_str::<ErrorObject>(error.get()) {
            Ok(error) => Err(error),
            Err(e) => {
                let id = message.id.map_or("null", RawValue::get);
                return invalid(format!(
                    "response to id {} has an invalid error object: {e}",
                    truncate(id)
                ));
            }
        },
        (None, Some(result)) => Ok(result),
        (None, None) => return invalid("neither method, result nor error".to_owned()),
    };
    Incoming::Response {
        id: message.id,
        outcome,
    }
}

/// The line to classify again, lossily decoded, when `first` (what
/// [`classify`] made of it) was skipped as not JSON only because of invalid
/// UTF-8 inside it: a JSON-RPC message whose strings carry a bad byte must
/// still reach its request.
pub(crate) fn lossy_retry(line: &[u8], first: &Incoming<'_>) -> Option<String> {
    if !matches!(first, Incoming::Diagnostic(Diagnostic::SkippedLine { .. })) {
        return None;
    }
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    if line[start] != b'{' || std::str::from_utf8(line).is_ok() {
        return None;
    }
    Some(String::from_utf8_lossy(line).into_owned())
}

/// The diagnostic reported for a line [`lossy_retry`] repaired.
pub(crate) fn lossy_diagnostic(line: &[u8]) -> Diagnostic {
    Diagnostic::LossyUtf8 {
        line: printable_start(line),
    }
}

fn invalid(reason: String) -> Incoming<'static> {
    Incoming::Diagnostic(Diagnostic::InvalidEnvelope { reason })
}

fn skipped(line: &[u8]) -> Incoming<'static> {
    Incoming::Diagnostic(Diagnostic::SkippedLine {
        line: printable_start(line),
    })
}

pub(crate) fn truncate(text: &str) -> &str {
    if text.len() <= SKIPPED_LINE_KEEP {
        return text;
    }
    let mut end = SKIPPED_LINE_KEEP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The start of a line for display: ANSI escape sequences removed (0.5.x logs
/// may be coloured), at most [`SKIPPED_LINE_KEEP`] bytes, lossily decoded.
fn printable_start(line: &[u8]) -> String {
    let mut out = Vec::with_capacity(line.len().min(SKIPPED_LINE_KEEP));
    let mut bytes = line.iter().copied();
    while out.len() < SKIPPED_LINE_KEEP {
        let Some(b) = bytes.next() else { break };
        if b != 0x1b {
            out.push(b);
            continue;
        }
        // ESC '[' parameters... final byte (0x40..=0x7e), or ESC + one byte.
        if bytes.next() == Some(b'[') {
            for b in bytes.by_ref() {
                if (0x40..=0x7e).contains(&b) {
                    break;
                }
            }
        }
    }
    if let Err(e) = std::str::from_utf8(&out)
        && e.error_len().is_none()
    {
        // The cut fell inside a character: drop the partial character.
        out.truncate(e.valid_up_to());
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::ErrorCode;

    fn kind(line: &str) -> String {
        match classify(line.as_bytes()) {
            Incoming::Blank => "blank".into(),
            Incoming::Request { id, method, params } => {
                format!(
                    "request {id} {method} {}",
                    params.map_or("-", RawValue::get)
                )
            }
            Incoming::Notification { method, params } => {
                format!(
                    "notification {method} {}",
                    params.map_or("-", RawValue::get)
                )
            }
            Incoming::Response { id, outcome } => format!(
                "response {} {}",
                id.map_or("-", RawValue::get),
                match outcome {
                    Ok(raw) => raw.get().to_owned(),
                    Err(e) => format!("error {} {}", e.code, e.message),
                }
            ),
            Incoming::Diagnostic(d) => format!("{d:?}"),
        }
    }

    #[test]
    fn classifies_by_method_and_id() {
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"srv-0","method":"tool/execute","params":{"a":1}}"#),
            r#"request "srv-0" tool/execute {"a":1}"#
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":3,"method":"m"}"#),
            "request 3 m -"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"session/event","params":{"x":[1]}}"#),
            r#"notification session/event {"x":[1]}"#
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"n","id":null}"#),
            "notification n -"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","method":"n","params":null}"#),
            "notification n -"
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1,"result":{"ok":true}}"#),
            r#"response 1 {"ok":true}"#
        );
        assert_eq!(kind(r#"{"id":"1","result":null}"#), r#"response "1" null"#);
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#),
            "response - error -32700 Parse error"
        );
    }

    #[test]
    fn error_wins_over_result_and_null_error_is_absent() {
        assert_eq!(
            kind(r#"{"id":1,"result":1,"error":{"code":-32000,"message":"m"}}"#),
            "response 1 error -32000 m"
        );
        assert_eq!(kind(r#"{"id":1,"result":1,"error":null}"#), "response 1 1");
    }

    #[test]
    fn the_method_name_may_contain_escapes() {
        assert_eq!(kind(r#"{"method":"a\/b\u0041"}"#), "notification a/bA -");
    }

    #[test]
    fn is_lenient_on_jsonrpc_and_unknown_members() {
        assert_eq!(
            kind(r#"{"jsonrpc":"1.0","id":2,"result":3,"extra":[]}"#),
            "response 2 3"
        );
        assert_eq!(kind(r#"{"id":2,"result":3}"#), "response 2 3");
    }

    #[test]
    fn leading_value_wins_over_glued_text() {
        assert_eq!(
            kind(r#"  {"id":2,"result":3}{"id":3,"result":4}"#),
            "response 2 3"
        );
        assert_eq!(
            kind(r#"{"id":2,"result":3} trailing log text"#),
            "response 2 3"
        );
        assert_eq!(kind(r#"{"method":"m"}garbage"#), "notification m -");
    }

    #[test]
    fn blank_lines_are_silent() {
        assert_eq!(kind(""), "blank");
        assert_eq!(kind(" \t "), "blank");
    }

    #[test]
    fn non_object_lines_are_skipped() {
        for line in [
            "2026-11-25T01:40:45Z ERROR x",
            "2026 ERROR",
            "[1,2]",
            "\"s\"",
            "null",
            "{not json",
            "{\"id\":1,",
        ] {
            assert!(
                matches!(
                    classify(line.as_bytes()),
                    Incoming::Diagnostic(Diagnostic::SkippedLine { .. })
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn skipped_lines_lose_ansi_codes_and_are_truncated() {
        let line = "\u{1b}[2m2026-11-25T01:40:45Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m meerkat: boom";
        assert_eq!(
            kind(line),
            r#"SkippedLine { line: "2026-11-25T01:40:45Z ERROR meerkat: boom" }"#
        );
        let long = "é".repeat(1000);
        let Incoming::Diagnostic(Diagnostic::SkippedLine { line }) = classify(long.as_bytes())
        else {
            panic!("not skipped");
        };
        assert_eq!(line, "é".repeat(SKIPPED_LINE_KEEP / 2));
        let invalid_utf8 = b"\xff\xfe log";
        assert!(matches!(
            classify(invalid_utf8),
            Incoming::Diagnostic(Diagnostic::SkippedLine { line }) if line == "\u{fffd}\u{fffd} log"
        ));
    }

    #[test]
    fn malformed_envelopes_are_reported() {
        for line in [
            r#"{"method":5}"#,
            r#"{"id":1.5,"method":"m"}"#,
            r#"{"id":true,"method":"m"}"#,
            r#"{"id":1,"error":"boom"}"#,
            r#"{"id":1,"error":{"message":"no code"}}"#,
            r#"{"id":1}"#,
            r#"{"id":1,"id":2,"result":1}"#,
            r#"{}"#,
        ] {
            assert!(
                matches!(
                    classify(line.as_bytes()),
                    Incoming::Diagnostic(Diagnostic::InvalidEnvelope { .. })
                ),
                "{line}: {}",
                kind(line)
            );
        }
    }

    #[test]
    fn invalid_utf8_inside_json_is_not_fatal() {
        let line = b"{\"method\":\"a\xffb\"}";
        let first = classify(line);
        assert!(matches!(first, Incoming::Diagnostic(_)));
        let repaired = lossy_retry(line, &first).expect("retried lossily");
        assert_eq!(kind(&repaired), "notification a\u{fffd}b -");
    }

    #[test]
    fn only_json_like_lines_with_bad_utf8_are_retried() {
        let log = b"\xff not json";
        assert_eq!(lossy_retry(log, &classify(log)), None);
        let valid = br#"{"id":1,"#;
        assert_eq!(lossy_retry(valid, &classify(valid)), None);
        let response = b"{\"id\":3,\"result\":\"\xc3\"}";
        let repaired = lossy_retry(response, &classify(response)).unwrap();
        assert_eq!(kind(&repaired), "response 3 \"\u{fffd}\"");
    }

    /// `classify_routed` is `classify` for every line it does not route;
    /// what it routes is a `session/event` notification whose facts are
    /// those `route_session_event` reads from the params.
    #[test]
    fn the_one_pass_scan_agrees_with_classify_and_routing() {
        let ev = |params: &str| {
            format!(r#"{{"jsonrpc":"2.0","method":"session/event","params":{params}}}"#)
        };
        let delta = r#"{"event":{"event_id":"e","payload":{"delta":"hi","type":"text_delta"},"seq":3,"source_id":"session:s1","timestamp_ms":1},"session_id":"s1"}"#;
        let routed = [
            ev(delta),
            ev(
                r#"{"session_id":"s\u0031","event":{"seq":"4","payload":{"type":"run_started","prompt":"p"}}}"#,
            ),
            ev(
                r#"{"event":{"seq":5,"source":{"type":"session","session_id":"s2"},"payload":{"type":"run_completed","extraction_required":true}}}"#,
            ),
            ev(r#"{"event":{"source_id":"session:s3","payload":{"type":"run_failed"}}}"#),
            format!(r#"  {} trailing"#, ev(delta)),
            // `seq` is read leniently (0 when it is not a number).
            ev(r#"{"session_id":"s1","event":{"payload":{"type":"x"},"seq":{"a":1}}}"#),
        ];
        for line in &routed {
            let Scanned::Routed(facts) = classify_routed(line.as_bytes()) else {
                panic!("not routed: {line}");
            };
            let Incoming::Notification {
                method,
                params: Some(params),
            } = classify(line.as_bytes())
            else {
                panic!("not a notification: {line}");
            };
            assert_eq!(method, "session/event");
            let (session, seq, mark) = crate::model::route_session_event(params).unwrap();
            assert_eq!(
                (facts.session, facts.seq, facts.mark),
                (session, seq, mark),
                "{line}"
            );
        }
        let other = [
            String::new(),
            "  ".into(),
            "log line".into(),
            "{not json".into(),
            r#"{"id":1,"result":{"a":1}}"#.into(),
            r#"{"id":1,"result":null,"error":null}"#.into(),
            r#"{"id":1,"error":{"code":-1,"message":"m"}}"#.into(),
            r#"{"id":"srv-0","method":"tool/execute","params":{"a":1}}"#.into(),
            r#"{"method":"session/stream_event","params":{"stream_id":"x"}}"#.into(),
            // `params` before `method`: kept raw, routed the general way.
            r#"{"params":{"session_id":"s1","event":{"payload":{"type":"x"}}},"method":"session/event"}"#.into(),
            // A request named session/event, duplicates, odd shapes.
            r#"{"id":4,"method":"session/event","params":{"session_id":"s1","event":{"payload":{}}}}"#.into(),
            r#"{"id":4,"id":5,"result":1}"#.into(),
            r#"{"method":"session/event","method":"session/event","params":{}}"#.into(),
            ev(r#"{"session_id":5,"event":{"payload":{}}}"#),
            ev(r#"{"session_id":"s1","session_id":"s2","event":{"payload":{}}}"#),
            ev(r#"{"session_id":"s1"}"#),
            ev(r#"{"event":{"payload":{"type":"x"}}}"#),
            ev(r#"{"event":{"source_id":"run:1","payload":{"type":"x"}}}"#),
            ev("null"),
            ev("[1]"),
            r#"{"method":5}"#.into(),
            "{}".into(),
        ];
        for line in &other {
            let Scanned::Other(incoming) = classify_routed(line.as_bytes()) else {
                panic!("routed: {line}");
            };
            assert_eq!(
                format!("{incoming:?}"),
                format!("{:?}", classify(line.as_bytes())),
                "{line}"
            );
        }
        // Bad UTF-8 anywhere, even in a member the scan skips: the
        // general way, to the lossy repair.
        let bad = ev(delta).replace("hi", "h\u{e9}").into_bytes();
        assert!(matches!(classify_routed(&bad), Scanned::Routed(_)));
        let mut bad = ev(delta).into_bytes();
        let at = bad.windows(2).position(|w| w == b"hi").unwrap();
        bad[at] = 0xff;
        let Scanned::Other(first) = classify_routed(&bad) else {
            panic!("routed a line with a bad byte");
        };
        assert!(lossy_retry(&bad, &first).is_some());
    }

    #[test]
    fn writes_the_strict_envelope() {
        let params = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
        let request = OutRequest {
            jsonrpc: Version::V2,
            id: 7,
            method: "m/x",
            params: Some(&params),
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"jsonrpc":"2.0","id":7,"method":"m/x","params":{"a":1}}"#
        );
        let note = OutNotification {
            jsonrpc: Version::V2,
            method: "initialized",
            params: None,
        };
        assert_eq!(
            serde_json::to_string(&note).unwrap(),
            r#"{"jsonrpc":"2.0","method":"initialized"}"#
        );
        let id = IncomingId::from("srv-0");
        let error = ErrorObject::new(ErrorCode::METHOD_NOT_FOUND, "Method not supported: x");
        let answer = OutResponse {
            jsonrpc: Version::V2,
            id: &id,
            result: None,
            error: Some(&error),
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"jsonrpc":"2.0","id":"srv-0","error":{"code":-32601,"message":"Method not supported: x"}}"#
        );
    }
}
