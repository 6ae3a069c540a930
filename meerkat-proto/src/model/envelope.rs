//! The event envelope and the decoders of the event notifications.
//!
//! Both lines decode: 0.5.x envelopes name their source with a string
//! `source_id` (`"session:<uuid>"`), 0.9.x ones with a typed `source`
//! object; mob-wide streams attribute events with `{source, profile}` on
//! 0.5.x and `{source: {identity, generation}, source_fence_token, role}`
//! on 0.9.x. `Serialize` writes each back in the shape it came in.

use super::error::DecodeError;
use super::event::{Event, ScopeFrame};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where an event comes from: the 0.9.x envelope's `source` (tag `type`).
///
/// ```
/// use meerkat_proto::EventSource;
/// let s: EventSource = serde_json::from_str(r#"{"type":"session","session_id":"s1"}"#).unwrap();
/// assert_eq!(s.session_id(), Some("s1"));
/// assert_eq!(s.canonical_id(), "session:s1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventSource {
    /// A session.
    Session {
        /// The session.
        session_id: String,
    },
    /// A runtime.
    Runtime {
        /// The runtime.
        runtime_id: String,
    },
    /// An interaction.
    Interaction {
        /// The interaction.
        interaction_id: String,
    },
    /// A callback.
    Callback,
    /// An external source.
    External {
        /// Its id.
        source_id: String,
    },
    /// A source type this SDK does not know (or a known one with unknown
    /// fields), kept whole.
    Unknown {
        /// Its `type`.
        source_type: String,
        /// The whole object.
        data: Value,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDe<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    runtime_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    interaction_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source_id: Option<Cow<'a, str>>,
}

impl EventSource {
    /// Decodes a `source` object. `None` for anything but an object.
    pub fn from_raw(raw: &RawValue) -> Option<Self> {
        if let Ok(de) = serde_json::from_str::<SourceDe<'_>>(raw.get()) {
            let own = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned);
            let known = match (
                de.ty.as_ref(),
                own(de.session_id),
                own(de.runtime_id),
                own(de.interaction_id),
                own(de.source_id),
            ) {
                ("session", Some(session_id), None, None, None) => {
                    Some(Self::Session { session_id })
                }
                ("runtime", None, Some(runtime_id), None, None) => {
                    Some(Self::Runtime { runtime_id })
                }
                ("interaction", None, None, Some(interaction_id), None) => {
                    Some(Self::Interaction { interaction_id })
                }
                ("callback", None, None, None, None) => Some(Self::Callback),
                ("external", None, None, None, Some(source_id)) => {
                    Some(Self::External { source_id })
                }
                _ => None,
            };
            if known.is_some() {
                return known;
            }
        }
        let data: Value = serde_json::from_str(raw.get()).ok()?;
        let source_type = data.get("type")?.as_str().unwrap_or_default().to_owned();
        Some(Self::Unknown { source_type, data })
    }

    /// The session, for a session source.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Self::Session { session_id } => Some(session_id),
            _ => None,
        }
    }

    /// The string the 0.5.x `source_id` gave (and the server sorts by):
    /// `session:<id>`, `runtime:<id>`, `interaction:<id>`, `callback`,
    /// `external:<id>` (`<type>` for an unknown source).
    pub fn canonical_id(&self) -> String {
        match self {
            Self::Session { session_id } => format!("session:{session_id}"),
            Self::Runtime { runtime_id } => format!("runtime:{runtime_id}"),
            Self::Interaction { interaction_id } => format!("interaction:{interaction_id}"),
            Self::Callback => "callback".to_owned(),
            Self::External { source_id } => format!("external:{source_id}"),
            Self::Unknown { source_type, .. } => source_type.clone(),
        }
    }
}

impl Serialize for EventSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (ty, key, value) = match self {
            Self::Session { session_id } => ("session", "session_id", session_id),
            Self::Runtime { runtime_id } => ("runtime", "runtime_id", runtime_id),
            Self::Interaction { interaction_id } => {
                ("interaction", "interaction_id", interaction_id)
            }
            Self::External { source_id } => ("external", "source_id", source_id),
            Self::Callback => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("type", "callback")?;
                return m.end();
            }
            Self::Unknown { data, .. } => return data.serialize(s),
        };
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", ty)?;
        m.serialize_entry(key, value)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for EventSource {
    /// Lenient: an object of an unknown type becomes [`EventSource::Unknown`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Self::from_raw(&raw).ok_or_else(|| serde::de::Error::custom("expected a source object"))
    }
}

/// Who in a mob an event of a mob-wide stream comes from.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Attribution {
    /// The member: 0.5.x `source`, 0.9.x `source.identity`.
    pub member_id: String,
    /// Its profile: 0.5.x `profile`, 0.9.x `role`.
    pub profile: String,
    /// 0.9.x `source.generation` (a respawn starts a new generation).
    pub generation: Option<u64>,
    /// 0.9.x `source_fence_token`.
    pub fence_token: Option<u64>,
    /// Fields this SDK does not know, of the attributed event (`extra`) ...
    pub extra: Map<String, Value>,
    /// ... and of its 0.9.x `source` object.
    pub source_extra: Map<String, Value>,
    /// Whether it came in the 0.9.x shape (written back in it).
    v09: bool,
}

impl Attribution {
    /// Decodes an attributed event (`{"envelope", ...}`); `None` when `raw`
    /// is not one.
    fn from_raw(raw: &RawValue) -> Option<(Self, &RawValue)> {
        let fields: BTreeMap<String, &RawValue> = serde_json::from_str(raw.get()).ok()?;
        let envelope = *fields.get("envelope")?;
        let mut out = Self::default();
        for (key, value) in fields {
            if key == "envelope" {
                continue;
            }
            let value: Value = serde_json::from_str(value.get()).unwrap_or(Value::Null);
            match (key.as_str(), value) {
                ("source", Value::String(s)) => out.member_id = s,
                ("source", Value::Object(mut m)) => {
                    out.v09 = true;
                    if let Some(Value::String(s)) = m.get("identity") {
                        out.member_id.clone_from(s);
                        m.remove("identity");
                    }
                    if let Some(n) = m.get("generation").and_then(Value::as_u64) {
                        out.generation = Some(n);
                        m.remove("generation");
                    }
                    out.source_extra = m;
                }
                ("profile", Value::String(s)) => out.profile = s,
                ("role", Value::String(s)) => {
                    out.v09 = true;
                    out.profile = s;
                }
                ("source_fence_token", Value::Number(n)) if n.is_u64() => {
                    out.v09 = true;
                    out.fence_token = n.as_u64();
                }
                (_, value) => {
                    out.extra.insert(key, value);
                }
            }
        }
        Some((out, envelope))
    }
}

/// An event with its envelope (`event_id`, `source_id` or `source`, `seq`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EventEnvelope {
    /// UUIDv7 of the event.
    pub event_id: String,
    /// `"session:<uuid>"` for session events. 0.5.x sends it; on 0.9.x it
    /// is made from `source` in the same form ([`EventSource::canonical_id`]).
    pub source_id: String,
    /// 0.9.x: the typed source (`None` on 0.5.x).
    pub source: Option<EventSource>,
    /// Per-source sequence number, from 1 (0 when absent).
    pub seq: u64,
    /// The mob the event is attributed to, if any.
    pub mob_id: Option<String>,
    /// Unix milliseconds.
    pub timestamp_ms: u64,
    /// For mob-wide streams: the member the event comes from.
    pub member: Option<Box<Attribution>>,
    /// The event itself.
    pub event: Event,
}

impl Default for Event {
    fn default() -> Self {
        Self::Unknown {
            event_type: String::new(),
            data: Value::Null,
            reason: None,
        }
    }
}

impl Serialize for EventEnvelope {
    /// The envelope as it travels (without the mob attribution, which wraps
    /// it: see [`StreamEventParams`]): `source` when it came with one, else
    /// `source_id`; the payload as [`Event::to_wire_value`] gives it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("event_id", &self.event_id)?;
        match &self.source {
            Some(source) => m.serialize_entry("source", source)?,
            None => m.serialize_entry("source_id", &self.source_id)?,
        }
        m.serialize_entry("seq", &self.seq)?;
        if let Some(mob_id) = &self.mob_id {
            m.serialize_entry("mob_id", mob_id)?;
        }
        m.serialize_entry("timestamp_ms", &self.timestamp_ms)?;
        m.serialize_entry("payload", &self.event.to_wire_value())?;
        m.end()
    }
}

#[derive(Deserialize)]
struct EnvelopeDe<'a> {
    #[serde(default)]
    event_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(default, borrow)]
    source: Option<&'a RawValue>,
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

impl EnvelopeDe<'_> {
    /// The envelope around `event`: the typed source, and `source_id` made
    /// from it when the wire had none.
    fn into_envelope(self, event: Event) -> EventEnvelope {
        let source = self.source.and_then(EventSource::from_raw);
        let source_id = match (&source, self.source_id.is_empty()) {
            (Some(s), true) => s.canonical_id(),
            _ => self.source_id,
        };
        EventEnvelope {
            event_id: self.event_id,
            source_id,
            source,
            seq: self.seq,
            mob_id: self.mob_id,
            timestamp_ms: self.timestamp_ms,
            member: None,
            event,
        }
    }
}

impl EventEnvelope {
    /// Decodes an envelope object (`{"event_id", ..., "payload": {...}}`), or a
    /// bare event (an object with `type` and no `payload`). Never fails: a
    /// value that is neither gives an envelope around [`Event::Unknown`].
    pub fn from_raw(raw: &RawValue) -> Self {
        match serde_json::from_str::<EnvelopeDe<'_>>(raw.get()) {
            Ok(de) => {
                let event = match (de.payload, &de.bare_type) {
                    (Some(p), _) => Event::from_payload(p.get()),
                    (None, Some(_)) => Event::from_payload(raw.get()),
                    (None, None) => {
                        Event::from_value(serde_json::from_str(raw.get()).unwrap_or(Value::Null))
                    }
                };
                de.into_envelope(event)
            }
            Err(_) => Self {
                event: Event::from_value(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
                ..Self::default()
            },
        }
    }

    /// The session the event comes from: `source.session_id` (0.9.x) or
    /// the id in `source_id` (`"session:<uuid>"`, 0.5.x).
    pub fn source_session_id(&self) -> Option<&str> {
        match &self.source {
            Some(source) => source.session_id(),
            None => self.source_id.strip_prefix("session:"),
        }
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
/// assert!(matches!(env.event, meerkat_proto::Event::TextDelta { ref delta, .. } if delta == "Hi"));
/// // 0.9.x names the source with an object:
/// let params = serde_json::value::RawValue::from_string(
///     r#"{"event":{"event_id":"e1","payload":{"delta":"Hi","type":"text_delta"},"seq":4,"source":{"type":"session","session_id":"s1"},"timestamp_ms":1},"session_id":"s1"}"#.into()).unwrap();
/// let (_, env) = meerkat_proto::decode_session_event(&params).unwrap();
/// assert_eq!((env.source_id.as_str(), env.source_session_id()), ("session:s1", Some("s1")));
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
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    event: Option<EnvelopeDe<'a>>,
}

/// [`decode_session_event`] in one pass over the params (the hot path of
/// every stream), borrowing the session id. Falls back to the general
/// path for bare events and odd shapes.
pub(crate) fn decode_session_event_fast(
    params: &RawValue,
) -> Result<(Cow<'_, str>, EventEnvelope), DecodeError> {
    if let Ok(SessionEventOnePass {
        session_id,
        event: Some(de),
    }) = serde_json::from_str::<SessionEventOnePass<'_>>(params.get())
        && let Some(payload) = de.payload
    {
        let envelope = de.into_envelope(Event::from_payload(payload.get()));
        let session_id = if session_id.is_empty() {
            Cow::Owned(envelope.source_session_id().unwrap_or_default().to_owned())
        } else {
            session_id
        };
        return Ok((session_id, envelope));
    }
    decode_session_event(params).map(|(s, e)| (Cow::Owned(s), e))
}

/// The routing facts of `session/event` params: what
/// [`route_session_event`] reads, also scanned straight out of the line by
/// the engine's one-pass classification (`rpc::message::classify_routed`).
#[derive(Deserialize)]
pub(crate) struct LightParams<'a> {
    #[serde(default, borrow)]
    session_id: Cow<'a, str>,
    #[serde(borrow)]
    event: Option<LightEnvelope<'a>>,
}

#[derive(Deserialize)]
struct LightEnvelope<'a> {
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    seq: u64,
    #[serde(default, borrow)]
    source_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source: Option<LightSource<'a>>,
    #[serde(default, borrow)]
    payload: Option<LightPayload<'a>>,
}

#[derive(Deserialize)]
struct LightSource<'a> {
    #[serde(default, borrow)]
    session_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct LightPayload<'a> {
    #[serde(rename = "type", default, borrow)]
    ty: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    prompt: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default)]
    extraction_required: Option<bool>,
}

/// What routing needs of a `session/event`, parsed without decoding the
/// event: the session, `seq`, and whether a run starts or ends. `None` for
/// bare events and odd shapes (the caller then decodes fully).
pub(crate) fn route_session_event(params: &RawValue) -> Option<(Cow<'_, str>, u64, RunMark)> {
    route_light(serde_json::from_str(params.get()).ok()?)
}

/// [`route_session_event`] of params already scanned.
pub(crate) fn route_light(light: LightParams<'_>) -> Option<(Cow<'_, str>, u64, RunMark)> {
    let event = light.event?;
    let payload = event.payload?;
    let mark = match payload.ty.as_deref() {
        Some("run_started") => RunMark::Start(match (payload.prompt, payload.input) {
            (Some(prompt), _) => Some(prompt.into_owned()),
            // 0.9.x: the text projection of `input`.
            (None, Some(input)) => serde_json::from_str::<super::report::RunInput>(input.get())
                .ok()
                .and_then(|i| i.prompt_text()),
            (None, None) => None,
        }),
        // 0.9.x: a run that needs structured-output extraction ends with
        // its extraction event, after `run_completed`.
        Some("run_completed") if payload.extraction_required == Some(true) => RunMark::Other,
        Some("run_completed" | "run_failed" | "extraction_succeeded" | "extraction_failed") => {
            RunMark::End
        }
        _ => RunMark::Other,
    };
    let session = if light.session_id.is_empty() {
        match (event.source_id, event.source) {
            (Some(source), _) => Cow::Owned(source.strip_prefix("session:")?.to_owned()),
            (None, Some(LightSource { session_id })) => session_id?,
            (None, None) => return None,
        }
    } else {
        light.session_id
    };
    Some((session, event.seq, mark))
}

/// A `text_delta` or `reasoning_delta` envelope as the reader's scan read
/// it (`rpc::route_scan`): made into the envelope the serde decode makes
/// of the same members, by the same rules ([`EnvelopeDe::into_envelope`]).
pub(crate) struct ScannedDelta<'a> {
    pub(crate) event_id: String,
    pub(crate) source_id: String,
    /// The `source` object's text, when there was one.
    pub(crate) source: Option<&'a str>,
    pub(crate) seq: u64,
    pub(crate) mob_id: Option<String>,
    pub(crate) timestamp_ms: u64,
    pub(crate) reasoning: bool,
    pub(crate) delta: String,
    pub(crate) assistant_message_id: Option<String>,
}

impl ScannedDelta<'_> {
    pub(crate) fn into_envelope(self) -> Option<EventEnvelope> {
        let source = match self.source {
            Some(text) => Some(serde_json::from_str::<&RawValue>(text).ok()?),
            None => None,
        };
        let (delta, assistant_message_id) = (self.delta, self.assistant_message_id);
        let event = if self.reasoning {
            Event::ReasoningDelta {
                delta,
                assistant_message_id,
            }
        } else {
            Event::TextDelta {
                delta,
                assistant_message_id,
            }
        };
        let de = EnvelopeDe {
            event_id: self.event_id,
            source_id: self.source_id,
            source,
            seq: self.seq,
            mob_id: self.mob_id,
            timestamp_ms: self.timestamp_ms,
            payload: None,
            bare_type: None,
        };
        Some(de.into_envelope(event))
    }
}

/// A whole `session/event` line (`{"jsonrpc", "method", "params"}`) for
/// [`decode_session_event_line`]: the params decoded in the same pass.
#[derive(Deserialize)]
struct SessionEventLine<'a> {
    #[serde(borrow)]
    params: SessionEventOnePass<'a>,
}

/// The envelope of a whole `session/event` line, in one pass, when it has
/// the usual shape (an `event` object with a `payload`); `None` otherwise
/// (the caller then decodes the params the general way). Text after the
/// leading JSON value is ignored, as the engine ignores it.
pub(crate) fn decode_session_event_line(line: &str) -> Option<EventEnvelope> {
    let mut de = serde_json::Deserializer::from_str(line);
    let SessionEventLine {
        params: SessionEventOnePass {
            event: Some(envelope),
            ..
        },
    } = SessionEventLine::deserialize(&mut de).ok()?
    else {
        return None;
    };
    let payload = envelope.payload?;
    Some(envelope.into_envelope(Event::from_payload(payload.get())))
}

/// Where an event stands in its run, for routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunMark {
    /// `run_started`, with its prompt.
    Start(Option<String>),
    /// The last event of a run: [`Event::is_terminal`].
    End,
    /// Anything else.
    Other,
}

impl RunMark {
    /// The mark of a decoded event.
    pub(crate) fn of(event: &Event) -> Self {
        match event {
            Event::RunStarted { prompt, .. } => Self::Start(Some(prompt.clone())),
            e if e.is_terminal() => Self::End,
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
    /// The session (`session/stream_event` only).
    pub session_id: Option<String>,
    /// The event (wrapped as [`Event::Scoped`] when scope fields are
    /// present; [`EventEnvelope::member`] set on mob-wide streams).
    pub envelope: EventEnvelope,
}

impl Serialize for StreamEventParams {
    /// The params as they travel: scope fields next to `event`, and a
    /// mob-wide event wrapped in its attribution, in the shape it came in.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("stream_id", &self.stream_id)?;
        m.serialize_entry("sequence", &self.sequence)?;
        if let Some(session_id) = &self.session_id {
            m.serialize_entry("session_id", session_id)?;
        }
        if let Event::Scoped {
            scope_id,
            scope_path,
            ..
        } = &self.envelope.event
        {
            m.serialize_entry("scope_id", scope_id)?;
            m.serialize_entry("scope_path", scope_path)?;
        }
        match &self.envelope.member {
            None => m.serialize_entry("event", &self.envelope)?,
            Some(a) => {
                let mut event = a.extra.clone();
                event.insert(
                    "envelope".into(),
                    serde_json::to_value(&self.envelope).map_err(serde::ser::Error::custom)?,
                );
                if a.v09 {
                    let mut source = a.source_extra.clone();
                    source.insert("identity".into(), a.member_id.clone().into());
                    if let Some(g) = a.generation {
                        source.insert("generation".into(), g.into());
                    }
                    event.insert("source".into(), source.into());
                    event.insert("role".into(), a.profile.clone().into());
                    if let Some(t) = a.fence_token {
                        event.insert("source_fence_token".into(), t.into());
                    }
                } else {
                    event.insert("source".into(), a.member_id.clone().into());
                    event.insert("profile".into(), a.profile.clone().into());
                }
                m.serialize_entry("event", &event)?;
            }
        }
        m.end()
    }
}

#[derive(Deserialize)]
struct StreamEventDe<'a> {
    #[serde(default)]
    stream_id: String,
    #[serde(default, deserialize_with = "super::result::lenient_u64")]
    sequence: u64,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(default)]
    scope_id: Option<String>,
    #[serde(default)]
    scope_path: Option<Vec<ScopeFrame>>,
}

/// Decodes `session/stream_event` or `mob/stream_event` params. Mob-wide
/// streams carry an attributed event (0.5.x `{source, profile, envelope}`,
/// 0.9.x `{source: {identity, generation}, source_fence_token, role,
/// envelope}`); the attribution lands in [`EventEnvelope::member`].
///
/// ```
/// let params = serde_json::value::RawValue::from_string(
///     r#"{"stream_id":"x","sequence":1,"event":{"envelope":{"event_id":"e","payload":{"type":"turn_started","turn_number":0},"seq":2,"source":{"session_id":"s","type":"session"},"timestamp_ms":1},"role":"worker","source":{"generation":0,"identity":"w2"},"source_fence_token":2}}"#.into()).unwrap();
/// let p = meerkat_proto::decode_stream_event(&params).unwrap();
/// let member = p.envelope.member.unwrap();
/// assert_eq!((member.member_id.as_str(), member.profile.as_str()), ("w2", "worker"));
/// assert_eq!((member.generation, member.fence_token), (Some(0), Some(2)));
/// ```
///
/// # Errors
/// [`DecodeError`] when the params are not an object with an `event`.
pub fn decode_stream_event(params: &RawValue) -> Result<StreamEventParams, DecodeError> {
    let de: StreamEventDe<'_> =
        serde_json::from_str(params.get()).map_err(|e| DecodeError::new("stream_event", e))?;
    let raw = de
        .event
        .ok_or_else(|| DecodeError::new("stream_event", "missing event"))?;
    let mut envelope = match Attribution::from_raw(raw) {
        Some((member, inner)) => {
            let mut env = EventEnvelope::from_raw(inner);
            env.member = Some(Box::new(member));
            env
        }
        None => EventEnvelope::from_raw(raw),
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
        session_id: de.session_id,
        envelope,
    })
}

/// A decoded `session/stream_end` or `mob/stream_end` notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamEndParams {
    /// The subscription.
    pub stream_id: String,
    /// The session (`session/stream_end` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Always `true`.
    pub ended: bool,
    /// `remote_end`, `explicit_close` or `terminal_error`.
    pub outcome: String,
    /// `{code, message}` for `terminal_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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
        assert_eq!(
            env.event,
            Event::TextDelta {
                delta: "x".into(),
                assistant_message_id: None
            }
        );
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
            matches!(p.envelope.event, Event::Scoped { ref event, .. } if matches!(**event, Event::TurnStarted { turn_number: 1, .. }))
        );
        let p = decode_stream_event(&raw(r#"{"stream_id":"x","sequence":1,"event":{"envelope":{"payload":{"type":"text_delta","delta":"d"},"seq":18},"profile":"reviewer","source":"r1"}}"#)).unwrap();
        let member = p.envelope.member.as_ref().unwrap();
        assert_eq!(
            (member.member_id.as_str(), member.profile.as_str()),
            ("r1", "reviewer")
        );
        assert_eq!(p.envelope.seq, 18);
        // Written back in the shape it came in.
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["event"]["source"], "r1");
        assert_eq!(back["event"]["profile"], "reviewer");
        assert_eq!(back["scope_id"], Value::Null);
    }

    #[test]
    fn nine_line_envelopes_and_attributions() {
        let params = r#"{"session_id":"s","event":{"event_id":"e","source":{"type":"session","session_id":"s"},"seq":3,"timestamp_ms":9,"payload":{"type":"text_delta","delta":"d","assistant_message_id":"m1"}}}"#;
        let (sid, env) = decode_session_event(&raw(params)).unwrap();
        assert_eq!(sid, "s");
        assert_eq!(env.source_id, "session:s");
        assert_eq!(env.source_session_id(), Some("s"));
        assert_eq!(
            env.event,
            Event::TextDelta {
                delta: "d".into(),
                assistant_message_id: Some("m1".into())
            }
        );
        let params_raw = raw(params);
        let (fast_sid, fast) = decode_session_event_fast(&params_raw).unwrap();
        assert_eq!((fast_sid.as_ref(), &fast), ("s", &env));
        let back = serde_json::to_value(&env).unwrap();
        assert_eq!(back["source"]["session_id"], "s");
        assert!(back.get("source_id").is_none());
        // Sources of other types, and unknown ones, are kept.
        for (src, canonical) in [
            (r#"{"type":"runtime","runtime_id":"r"}"#, "runtime:r"),
            (r#"{"type":"callback"}"#, "callback"),
            (r#"{"type":"external","source_id":"x"}"#, "external:x"),
            (r#"{"type":"later","a":1}"#, "later"),
            (
                r#"{"type":"session","session_id":"s","extra":1}"#,
                "session",
            ),
        ] {
            let s = EventSource::from_raw(&raw(src)).unwrap();
            assert_eq!(s.canonical_id(), canonical, "{src}");
            let v: Value = serde_json::from_str(src).unwrap();
            assert_eq!(serde_json::to_value(&s).unwrap(), v, "{src}");
        }
        // Routing reads the 0.9.x source and the prompt of `input`.
        let run = r#"{"event":{"seq":1,"source":{"type":"session","session_id":"s9"},"payload":{"type":"run_started","input":{"kind":"content","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}}}"#;
        let run_raw = raw(run);
        let (session, seq, mark) = route_session_event(&run_raw).unwrap();
        assert_eq!((session.as_ref(), seq), ("s9", 1));
        assert_eq!(mark, RunMark::Start(Some("a\nb".into())));
        let full = decode_session_event(&raw(run)).unwrap().1;
        assert_eq!(RunMark::of(&full.event), mark);
        // A run that needs extraction ends with its extraction event.
        for (payload, want) in [
            (
                r#"{"type":"run_completed","extraction_required":true}"#,
                RunMark::Other,
            ),
            (
                r#"{"type":"run_completed","extraction_required":false}"#,
                RunMark::End,
            ),
            (
                r#"{"type":"extraction_succeeded","structured_output":{}}"#,
                RunMark::End,
            ),
            (r#"{"type":"extraction_failed","reason":"x"}"#, RunMark::End),
        ] {
            let params = raw(&format!(
                r#"{{"session_id":"s","event":{{"seq":1,"payload":{payload}}}}}"#
            ));
            assert_eq!(route_session_event(&params).unwrap().2, want, "{payload}");
            let full = decode_session_event(&params).unwrap().1;
            assert_eq!(RunMark::of(&full.event), want, "{payload}");
        }

        let mob = r#"{"stream_id":"x","sequence":1,"event":{"envelope":{"event_id":"e","payload":{"type":"turn_started","turn_number":0},"seq":2,"source":{"session_id":"s","type":"session"},"timestamp_ms":1},"role":"worker","source":{"generation":0,"identity":"w2"},"source_fence_token":2}}"#;
        let p = decode_stream_event(&raw(mob)).unwrap();
        let member = p.envelope.member.as_ref().unwrap();
        assert_eq!(
            (member.member_id.as_str(), member.profile.as_str()),
            ("w2", "worker")
        );
        assert_eq!((member.generation, member.fence_token), (Some(0), Some(2)));
        // Written back exactly as it came.
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::from_str::<Value>(mob).unwrap()
        );
    }
}
