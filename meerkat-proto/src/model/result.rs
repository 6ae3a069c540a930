//! Results of turns and session creation.

use super::report::{ExtractionError, TerminalCause, TokenAccounting};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Token usage. Decodes both the result form (`total_tokens`, cache counters
/// omitted when unknown) and the event form (no `total_tokens`, cache
/// counters `null` when unknown); missing or malformed means zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Usage {
    /// Input tokens.
    #[serde(deserialize_with = "lenient_u64")]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(deserialize_with = "lenient_u64")]
    pub output_tokens: u64,
    /// Input plus output (0 in events, which do not carry it).
    #[serde(deserialize_with = "lenient_u64")]
    pub total_tokens: u64,
    /// Tokens written to the provider's cache, when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u64"
    )]
    pub cache_creation_tokens: Option<u64>,
    /// Tokens read from the provider's cache, when known.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u64"
    )]
    pub cache_read_tokens: Option<u64>,
    /// 0.9.x: reasoning (thinking) tokens, a part of `output_tokens`, when
    /// the provider reports them.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_opt_u64"
    )]
    pub reasoning_tokens: Option<u64>,
    /// 0.9.x: the provider's accounting of this request (per-request rows:
    /// `request_usage`, `turn_completed.usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Box<TokenAccounting>>,
    /// 0.9.x: the same accounting when the server carries it inside a
    /// usage (`provider_accounting`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_accounting: Option<Box<TokenAccounting>>,
}

pub(crate) fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    // NB: a visitor, not a `Value` round trip: envelopes carry two of these
    // per event, on the hot path.
    d.deserialize_any(LenientU64)
}

/// Accepts any JSON; a non-negative integer is itself, anything else 0.
struct LenientU64;

impl<'de> serde::de::Visitor<'de> for LenientU64 {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E>(self, v: i64) -> Result<u64, E> {
        Ok(u64::try_from(v).unwrap_or(0))
    }

    fn visit_f64<E>(self, _: f64) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_bool<E>(self, _: bool) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_str<E>(self, _: &str) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_none<E>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(0)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(0)
    }
}

fn lenient_opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Value::deserialize(d)?.as_u64())
}

/// Decodes a `Usage` from any JSON (non-objects give zero usage).
pub(crate) fn lenient_usage<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Usage, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// A warning produced while lowering an output schema for a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SchemaWarning {
    /// The provider (`anthropic`, `gemini`, `open_a_i`, `other`).
    pub provider: String,
    /// The JSON path concerned.
    pub path: String,
    /// What was changed or dropped.
    pub message: String,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Diagnostics of the skill runtime, when it reports any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SkillDiagnostics {
    /// Health of the skill sources.
    pub source_health: SourceHealth,
    /// Skills quarantined for errors (kept raw: many fields, rarely used).
    pub quarantined: Vec<Value>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Health of the skill sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SourceHealth {
    /// `healthy`, `degraded` or `unhealthy`.
    pub state: String,
    /// Share of invalid skills.
    pub invalid_ratio: f64,
    /// Invalid skills.
    pub invalid_count: u64,
    /// All skills.
    pub total_count: u64,
    /// Consecutive failures.
    pub failure_streak: u64,
    /// Whether the source handshake failed.
    pub handshake_failed: bool,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of a turn (`turn/start`, run-immediately `session/create`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RunResult {
    /// The session the turn ran on.
    pub session_id: String,
    /// `"<realm>:<session_id>"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ref: Option<String>,
    /// The final assistant text (raw JSON text with an output schema).
    pub text: String,
    /// LLM calls made.
    pub turns: u32,
    /// Tool calls made.
    pub tool_calls: u32,
    /// Token usage (0.9.x: of the whole session so far; see `run_usage`).
    #[serde(deserialize_with = "lenient_usage")]
    pub usage: Usage,
    /// 0.9.x: the usage of this run alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_usage: Option<Usage>,
    /// 0.9.x: one row per provider request of this run, in order, each with
    /// its [`accounting`](Usage::accounting).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_usage: Vec<Usage>,
    /// 0.9.x: what ended the run's last turn, when it was not a plain success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_cause_kind: Option<TerminalCause>,
    /// The extracted structured output, when a schema was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_output: Option<Value>,
    /// 0.9.x: why structured-output extraction failed (the run's text stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extraction_error: Option<ExtractionError>,
    /// Schema lowering warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema_warnings: Vec<SchemaWarning>,
    /// Skill runtime diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_diagnostics: Option<SkillDiagnostics>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of a deferred `session/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeferredCreated {
    /// The new session's id.
    pub session_id: String,
    /// `"<realm>:<session_id>"`.
    pub session_ref: Option<String>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_event_and_result_forms() {
        let u: Usage = serde_json::from_str(
            r#"{"cache_creation_tokens":null,"cache_read_tokens":7,"input_tokens":13,"output_tokens":3}"#,
        )
        .unwrap();
        assert_eq!(
            (u.input_tokens, u.total_tokens, u.cache_read_tokens),
            (13, 0, Some(7))
        );
        let r: RunResult = serde_json::from_str(r#"{"session_id":"s","usage":"bogus"}"#).unwrap();
        assert_eq!(r.usage, Usage::default());
        assert_eq!(r.text, "");
    }
}
