//! The event envelope and the decoders of the event notifications.

use super::error::DecodeError;
use super::event::{Event, ScopeFrame};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// An event with its envelope (`event_id`, `source_id`, `seq`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventEnvelope {
    /// UUIDv7 of the event.
    pub event_id: String,
    /// `"session:<uuid>"` for session events.
    pub source_id: String,
    /// Per-source sequence number, from 1 (0 when absent).
    pub seq: u64,
    /// The mob the event is attributed to, if any.
    pub mob_id: Option<String>,
    /// Unix milliseconds.
    pub timestamp_ms: u64,
    /// For mob-wide streams: the member (`source`) and its profile.
    pub member: Option<(String, String)>,
    /// The event itself.
    pub event: Event,
}

impl Default for Event {
    fn default() -> Self {
        Self::Unknown {
            event_type: String::new(),
            data: Value::Null,
        }
    }
}

#[derive(Deserialize)]
struct EnvelopeDe<'a> {
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    seq: u64,
    #[serde(default)]
    mob_id: Option<String>,
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    timestamp_ms: u64,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
    #[serde(default, rename = "type")]
    bare_type: Option<serde::de::IgnoredAny>,
}

impl EventEnvelope {
    /// Decodes an envelope object (`{"event_id", ..., "payload": {...}}`), or a
    /// bare event (an object with `type` and no `payload`). Never fails: a
    /// value that is neither gives an envelope around [`Event::Unknown`].
    pub fn from_raw(raw: &RawValue) -> Self {
        match serde_json::from_str::<EnvelopeDe<'_>>(raw.get()) {
            Ok(de) => {
                let event = match (de.payload, de.bare_type) {
                    (Some(p), _) => Event::from_payload(p.get()),
                    (None, Some(_)) => Event::from_payload(raw.get()),
                    (None, None) => {
                        Event::from_value(serde_json::from_str(raw.get()).unwrap_or(Value::Null))
                    }
                };
                Self {
                    event_id: de.event_id,
                    source_id: de.source_id,
                    seq: de.seq,
                    mob_id: de.mob_id,
                    timestamp_ms: de.timestamp_ms,
                    member: None,
                    event,
                }
            }
            Err(_) => Self {
                event: Event::from_value(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
                ..Self::default()
            },
        }
    }

    /// The session id named by `source_id` (`"session:<uuid>"`), if any.
    pub fn source_session_id(&self) -> Option<&str> {
        self.source_id.strip_prefix("session:")
    }
}

#[derive(Deserialize)]
struct SessionEventDe<'a> {
    #[serde(default)]
    session_id: String,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
}

/// Decodes `session/event` params: `(session_id, envelope)`.
///
/// ```
/// let params = serde_json::value::RawValue::from_string(
///     r#"{"event":{"event_id":"e1","payload":{"delta":"Hi","type":"text_delta"},"seq":4,"source_id":"session:s1","timestamp_ms":1},"session_id":"s1"}"#.into()).unwrap();
/// let (sid, env) = meerkat_proto::decode_session_event(&params).unwrap();
/// assert_eq!((sid.as_str(), env.seq), ("s1", 4));
/// assert_eq!(env.event, meerkat_proto::Event::TextDelta { delta: "Hi".into() });
/// ```
///
/// # Errors
/// [`DecodeError`] when the params are not an object with an `event`.
pub fn decode_session_event(params: &RawValue) -> Result<(String, EventEnvelope), DecodeError> {
    let de: SessionEventDe<'_> =
        serde_json::from_str(params.get()).map_err(|e| DecodeError::new("session/event", e))?;
    let raw = de
        .event
        .ok_or_else(|| DecodeError::new("session/event", "missing event"))?;
    let env = EventEnvelope::from_raw(raw);
    let session_id = if de.session_id.is_empty() {
        env.source_session_id().unwrap_or_default().to_owned()
    } else {
        de.session_id
    };
    Ok((session_id, env))
}

#[derive(Deserialize)]
struct SessionEventOnePass<'a> {
    #[serde(default, borrow)]
    session_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event: Option<EnvelopeDe<'a>>,
}

/// [`decode_session_event`] in one pass over the params (the hot path of
/// every stream), borrowing the session id. Falls back to the general
/// path for bare events and odd shapes.
pub(crate) fn decode_session_event_fast(
    params: &RawValue,
) -> Result<(std::borrow::Cow<'_, str>, EventEnvelope), DecodeError> {
    if let Ok(SessionEventOnePass {
        session_id,
        event:
            Some(EnvelopeDe {
                event_id,
                source_id,
                seq,
                mob_id,
                timestamp_ms,
                payload: Some(payload),
                ..
            }),
    }) = serde_json::from_str::<SessionEventOnePass<'_>>(params.get())
    {
        let envelope = EventEnvelope {
            event_id,
            source_id,
            seq,
            mob_id,
            timestamp_ms,
            member: None,
            event: Event::from_payload(payload.get()),
        };
        let session_id = if session_id.is_empty() {
            std::borrow::Cow::Owned(envelope.source_session_id().unwrap_or_default().to_owned())
        } else {
            session_id
        };
        return Ok((session_id, envelope));
    }
    decode_session_event(params).map(|(s, e)| (std::borrow::Cow::Owned(s), e))
}

#[derive(Deserialize)]
struct LightParams<'a> {
    #[serde(default, borrow)]
    session_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event: Option<LightEnvelope<'a>>,
}

#[derive(Deserialize)]
struct LightEnvelope<'a> {
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    seq: u64,
    #[serde(default, borrow)]
    source_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    payload: Option<LightPayload<'a>>,
}

#[derive(Deserialize)]
struct LightPayload<'a> {
    #[serde(rename = "type", default, borrow)]
    ty: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    prompt: Option<std::borrow::Cow<'a, str>>,
}

/// What routing needs of a `session/event`, parsed without decoding the
/// event: the session, `seq`, and whether a run starts or ends. `None` for
/// bare events and odd shapes (the caller then decodes fully).
pub(crate) fn route_session_event(
    params: &RawValue,
) -> Option<(std::borrow::Cow<'_, str>, u64, RunMark)> {
    let light: LightParams<'_> = serde_json::from_str(params.get()).ok()?;
    let event = light.event?;
    let payload = event.payload?;
    let mark = match payload.ty.as_deref() {
        Some("run_started") => RunMark::Start(payload.prompt.map(std::borrow::Cow::into_owned)),
        Some("run_completed" | "run_failed") => RunMark::End,
        _ => RunMark::Other,
    };
    let session = if light.session_id.is_empty() {
        let source = event.source_id?;
        std::borrow::Cow::Owned(source.strip_prefix("session:")?.to_owned())
    } else {
        light.session_id
    };
    Some((session, event.seq, mark))
}

/// Where an event stands in its run, for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunMark {
    /// `run_started`, with its prompt.
    Start(Option<String>),
    /// `run_completed` or `run_failed`.
    End,
    /// Anything else.
    Other,
}

impl RunMark {
    /// The mark of a decoded event.
    pub(crate) fn of(event: &Event) -> Self {
        match event {
            Event::RunStarted { prompt, .. } => Self::Start(Some(prompt.clone())),
            Event::RunCompleted { .. } | Event::RunFailed { .. } => Self::End,
            _ => Self::Other,
        }
    }
}

/// A decoded `session/stream_event` or `mob/stream_event` notification.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamEventParams {
    /// The subscription.
    pub stream_id: String,
    /// Per-stream counter from 1.
    pub sequence: u64,
    /// The event (wrapped as [`Event::Scoped`] when scope fields are present).
    pub envelope: EventEnvelope,
}

#[derive(Deserialize)]
struct StreamEventDe<'a> {
    #[serde(default)]
    stream_id: String,
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    sequence: u64,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(default)]
    scope_id: Option<String>,
    #[serde(default)]
    scope_path: Option<Vec<ScopeFrame>>,
}

#[derive(Deserialize)]
struct AttributedDe<'a> {
    #[serde(borrow)]
    envelope: &'a RawValue,
    #[serde(default)]
    source: String,
    #[serde(default)]
    profile: String,
}

/// Decodes `session/stream_event` or `mob/stream_event` params. Mob-wide
/// streams carry an attributed event (`{source, profile, envelope}`); its
/// member and profile land in [`EventEnvelope::member`].
///
/// # Errors
/// [`DecodeError`] when the params are not an object with an `event`.
pub fn decode_stream_event(params: &RawValue) -> Result<StreamEventParams, DecodeError> {
    let de: StreamEventDe<'_> =
        serde_json::from_str(params.get()).map_err(|e| DecodeError::new("stream_event", e))?;
    let raw = de
        .event
        .ok_or_else(|| DecodeError::new("stream_event", "missing event"))?;
    let mut envelope = match serde_json::from_str::<AttributedDe<'_>>(raw.get()) {
        Ok(a) => {
            let mut env = EventEnvelope::from_raw(a.envelope);
            env.member = Some((a.source, a.profile));
            env
        }
        Err(_) => EventEnvelope::from_raw(raw),
    };
    if let Some(scope_id) = de.scope_id {
        let inner = std::mem::take(&mut envelope.event);
        envelope.event = Event::Scoped {
            scope_id,
            scope_path: de.scope_path.unwrap_or_default(),
            event: Box::new(inner),
        };
    }
    Ok(StreamEventParams {
        stream_id: de.stream_id,
        sequence: de.sequence,
        envelope,
    })
}

/// A decoded `session/stream_end` or `mob/stream_end` notification.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamEndParams {
    /// The subscription.
    pub stream_id: String,
    /// `remote_end`, `explicit_close` or `terminal_error`.
    pub outcome: String,
    /// `{code, message}` for `terminal_error`.
    pub error: Option<Value>,
}

/// Decodes `session/stream_end` or `mob/stream_end` params.
///
/// # Errors
/// [`DecodeError`] when the params are not an object.
pub fn decode_stream_end(params: &RawValue) -> Result<StreamEndParams, DecodeError> {
    serde_json::from_str(params.get()).map_err(|e| DecodeError::new("stream_end", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    /// The one-pass path decodes exactly as the general one.
    #[test]
    fn fast_path_agrees_with_the_general_path() {
        let cases = [
            r#"{"event":{"event_id":"e1","payload":{"delta":"Hi","type":"text_delta"},"seq":4,"source_id":"session:s1","timestamp_ms":1},"session_id":"s1"}"#,
            r#"{"event":{"event_id":"e\u0031","payload":{"delta":"a \"quoted\" \u00e9\n","type":"text_delta"},"seq":5,"source_id":"session:s\u0031","timestamp_ms":2,"mob_id":"m"},"session_id":"s\u0031"}"#,
            r#"{"event":{"payload":{"type":"turn_completed","stop_reason":"end_turn","usage":{"input_tokens":3}},"seq":"7","source_id":"session:s2"}}"#,
            r#"{"event":{"type":"text_delta","delta":"bare"},"session_id":"s3"}"#,
            r#"{"event":{"payload":{"type":"text_delta","delta":5},"seq":-1},"session_id":"s4"}"#,
            r#"{"event":{"payload":"not an object","seq":1.5},"session_id":"s5"}"#,
            r#"{"event":{"payload":{"type":"reasoning_delta","delta":"hmm","extra":[1,{"a":null}]},"seq":9},"session_id":"s6"}"#,
            r#"{"event":[1,2],"session_id":"s7"}"#,
            r#"{"session_id":"s8"}"#,
            r#"[]"#,
        ];
        for case in cases {
            let raw = raw(case);
            let slow = decode_session_event(&raw);
            let fast = decode_session_event_fast(&raw).map(|(s, e)| (s.into_owned(), e));
            assert_eq!(fast, slow, "{case}");
        }
    }

    #[test]
    fn bare_events_and_garbage_decode() {
        let (_, env) = decode_session_event(&raw(
            r#"{"session_id":"s","event":{"type":"text_delta","delta":"x"}}"#,
        ))
        .unwrap();
        assert_eq!(env.event, Event::TextDelta { delta: "x".into() });
        let (_, env) = decode_session_event(&raw(
            r#"{"session_id":"s","event":{"payload":{"type":"text_delta","delta":5},"seq":"x"}}"#,
        ))
        .unwrap();
        assert!(
            matches!(env.event, Event::Unknown { ref event_type, .. } if event_type == "text_delta")
        );
        assert_eq!(env.seq, 0);
        let (_, env) = decode_session_event(&raw(r#"{"session_id":"s","event":[1,2]}"#)).unwrap();
        assert!(matches!(env.event, Event::Unknown { .. }));
        assert!(decode_session_event(&raw("[]")).is_err());
    }

    #[test]
    fn scoped_and_attributed_stream_events() {
        let p = decode_stream_event(&raw(r#"{"stream_id":"x","sequence":2,"scope_id":"primary/mob:w1","scope_path":[{"scope":"primary","session_id":"s"}],"event":{"payload":{"type":"turn_started","turn_number":1},"seq":3}}"#)).unwrap();
        assert!(
            matches!(p.envelope.event, Event::Scoped { ref event, .. } if **event == Event::TurnStarted { turn_number: 1 })
        );
        let p = decode_stream_event(&raw(r#"{"stream_id":"x","sequence":1,"event":{"envelope":{"payload":{"type":"text_delta","delta":"d"},"seq":18},"profile":"reviewer","source":"r1"}}"#)).unwrap();
        assert_eq!(p.envelope.member, Some(("r1".into(), "reviewer".into())));
        assert_eq!(p.envelope.seq, 18);
    }
}
