//! Typed values of session and turn options whose wire shape is closed on
//! contract 0.9: provider parameters, tool filters, per-turn tool overlays
//! (PROTOCOL.md §7.3).

use super::dialect::{ContractLine, Dialect};
use super::error::UsageError;
use super::wire_enum::wire_enum;
use serde::Serialize;
use serde_json::Value;

/// Provider parameters as contract 0.9 types them: a closed object
/// `{temperature?, top_p?, max_output_tokens?, reasoning?,
/// thinking_budget_tokens?, provider_tag?}`.
///
/// It becomes the JSON object of
/// [`SessionOptions::provider_params`](super::SessionOptions::provider_params)
/// and [`TurnOptions::provider_params`](super::TurnOptions::provider_params),
/// which 0.5.x takes free-form: the same value is valid on both lines. A
/// free-form object with any other key is refused before sending on 0.9
/// (the server rejects unknown keys there); provider-specific knobs go in
/// [`provider_tag`](Self::provider_tag).
///
/// ```
/// use meerkat_proto::{ProviderParams, ReasoningMode, SessionOptions};
/// let params = ProviderParams::new()
///     .temperature(0.2)
///     .max_output_tokens(2048)
///     .reasoning(ReasoningMode::Silent);
/// let opts = SessionOptions::new("Summarise the report").provider_params(params);
/// let v = opts.provider_params.unwrap();
/// assert_eq!(v, serde_json::json!({"temperature": 0.2, "max_output_tokens": 2048, "reasoning": "silent"}));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProviderParams {
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Maximum output tokens of one provider call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Whether the model reasons, and whether its reasoning is emitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningMode>,
    /// The thinking budget in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget_tokens: Option<u32>,
    /// Provider-specific knobs, tagged by `provider`, e.g.
    /// `{"provider": "anthropic", "top_k": 40}` (sent as given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_tag: Option<Value>,
}

/// The keys of [`ProviderParams`]: all that contract 0.9 accepts.
const PROVIDER_PARAMS_KEYS: [&str; 6] = [
    "temperature",
    "top_p",
    "max_output_tokens",
    "reasoning",
    "thinking_budget_tokens",
    "provider_tag",
];

impl ProviderParams {
    /// No parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sampling temperature.
    ///
    /// ```
    /// let p = meerkat_proto::ProviderParams::new().temperature(0.0);
    /// assert_eq!(p.temperature, Some(0.0));
    /// ```
    #[must_use]
    pub fn temperature(mut self, value: f64) -> Self {
        self.temperature = Some(value);
        self
    }

    /// Sets nucleus sampling.
    ///
    /// ```
    /// let p = meerkat_proto::ProviderParams::new().top_p(0.9);
    /// assert_eq!(p.top_p, Some(0.9));
    /// ```
    #[must_use]
    pub fn top_p(mut self, value: f64) -> Self {
        self.top_p = Some(value);
        self
    }

    /// Sets the maximum output tokens of one provider call.
    ///
    /// ```
    /// let p = meerkat_proto::ProviderParams::new().max_output_tokens(1024);
    /// assert_eq!(p.max_output_tokens, Some(1024));
    /// ```
    #[must_use]
    pub fn max_output_tokens(mut self, tokens: u32) -> Self {
        self.max_output_tokens = Some(tokens);
        self
    }

    /// Sets the reasoning mode.
    ///
    /// ```
    /// use meerkat_proto::{ProviderParams, ReasoningMode};
    /// let p = ProviderParams::new().reasoning(ReasoningMode::Off);
    /// assert_eq!(p.reasoning, Some(ReasoningMode::Off));
    /// ```
    #[must_use]
    pub fn reasoning(mut self, mode: ReasoningMode) -> Self {
        self.reasoning = Some(mode);
        self
    }

    /// Sets the thinking budget in tokens.
    ///
    /// ```
    /// let p = meerkat_proto::ProviderParams::new().thinking_budget_tokens(4096);
    /// assert_eq!(p.thinking_budget_tokens, Some(4096));
    /// ```
    #[must_use]
    pub fn thinking_budget_tokens(mut self, tokens: u32) -> Self {
        self.thinking_budget_tokens = Some(tokens);
        self
    }

    /// Sets the provider-specific knobs (an object tagged by `provider`).
    ///
    /// ```
    /// use serde_json::json;
    /// let p = meerkat_proto::ProviderParams::new()
    ///     .provider_tag(json!({"provider": "anthropic", "top_k": 40}));
    /// assert_eq!(p.provider_tag.unwrap()["top_k"], 40);
    /// ```
    #[must_use]
    pub fn provider_tag(mut self, tag: Value) -> Self {
        self.provider_tag = Some(tag);
        self
    }
}

impl From<ProviderParams> for Value {
    fn from(p: ProviderParams) -> Self {
        serde_json::to_value(p).unwrap_or_default()
    }
}

wire_enum! {
    /// Whether the model reasons and whether its reasoning is emitted
    /// ([`ProviderParams::reasoning`]).
    pub enum ReasoningMode {
        /// Reasoning is emitted inline.
        Emit = "emit",
        /// Reasoning happens but is not emitted.
        Silent = "silent",
        /// No reasoning.
        Off = "off",
    }
}

/// The `provider_params` to write for `dialect`: free-form on 0.5; on 0.9
/// an object with only the keys of [`ProviderParams`], anything else is
/// refused naming the key.
pub(crate) fn provider_params_for(params: &Value, dialect: &Dialect) -> Result<Value, UsageError> {
    if dialect.line() == ContractLine::V0_5 {
        return Ok(params.clone());
    }
    let Some(object) = params.as_object() else {
        return Err(UsageError::InvalidArgs(format!(
            "provider_params must be an object, not {params}"
        )));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !PROVIDER_PARAMS_KEYS.contains(&k.as_str()))
    {
        return Err(dialect.refuse(
            format!("provider_params.{key}"),
            "provider_params is the typed object {temperature, top_p, max_output_tokens, \
             reasoning, thinking_budget_tokens, provider_tag}: see ProviderParams",
        ));
    }
    Ok(params.clone())
}

/// Which tools a session sees (contract 0.9 `tool_filter`).
///
/// ```
/// use meerkat_proto::ToolFilter;
/// let v = serde_json::to_value(ToolFilter::allow(["search", "lookup"])).unwrap();
/// assert_eq!(v, serde_json::json!({"Allow": ["search", "lookup"]}));
/// assert_eq!(serde_json::to_value(ToolFilter::All).unwrap(), "All");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ToolFilter {
    /// Every tool.
    All,
    /// Only these tools.
    Allow(Vec<String>),
    /// Every tool but these.
    Deny(Vec<String>),
}

impl ToolFilter {
    /// Only the tools named.
    pub fn allow<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self::Allow(names.into_iter().map(Into::into).collect())
    }

    /// Every tool but those named.
    pub fn deny<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self::Deny(names.into_iter().map(Into::into).collect())
    }
}

/// Which tools one turn may use, and how the model must pick them.
///
/// `turn_tool_overlay` on contract 0.9; 0.5.x has the allow and block lists
/// under the name `flow_tool_overlay` (so the overlay is written that way
/// there), but no tool-choice plan: a plan is refused on 0.5.
///
/// ```
/// use meerkat_proto::{ToolChoice, TurnToolOverlay};
/// let overlay = TurnToolOverlay::new()
///     .allow(["search"])
///     .tool_choice_plan(vec![ToolChoice::tool("search")]);
/// let v = serde_json::to_value(&overlay).unwrap();
/// assert_eq!(v, serde_json::json!({
///     "allowed_tools": ["search"],
///     "tool_choice_plan": [{"mode": "tool", "name": "search"}]
/// }));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TurnToolOverlay {
    /// Only these tools this turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
    /// Not these tools this turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_tools: Option<Vec<String>>,
    /// The tool choice of the turn's provider calls, in order (0.9 only):
    /// entry `k` applies to the `k`-th call, later calls are `auto`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_choice_plan: Vec<ToolChoice>,
}

impl TurnToolOverlay {
    /// No restriction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows only the tools named.
    ///
    /// ```
    /// let o = meerkat_proto::TurnToolOverlay::new().allow(["search"]);
    /// assert_eq!(o.allowed_tools, Some(vec!["search".to_owned()]));
    /// ```
    #[must_use]
    pub fn allow<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.allowed_tools = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Blocks the tools named.
    ///
    /// ```
    /// let o = meerkat_proto::TurnToolOverlay::new().block(["shell"]);
    /// assert_eq!(o.blocked_tools, Some(vec!["shell".to_owned()]));
    /// ```
    #[must_use]
    pub fn block<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.blocked_tools = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the tool-choice plan (contract 0.9 only).
    ///
    /// ```
    /// use meerkat_proto::{ToolChoice, TurnToolOverlay};
    /// let o = TurnToolOverlay::new().tool_choice_plan(vec![ToolChoice::Required, ToolChoice::None]);
    /// assert_eq!(o.tool_choice_plan.len(), 2);
    /// ```
    #[must_use]
    pub fn tool_choice_plan(mut self, plan: Vec<ToolChoice>) -> Self {
        self.tool_choice_plan = plan;
        self
    }
}

/// How the model must pick tools in one provider call
/// ([`TurnToolOverlay::tool_choice_plan`]).
///
/// ```
/// use meerkat_proto::ToolChoice;
/// assert_eq!(serde_json::to_value(ToolChoice::Required).unwrap(), serde_json::json!({"mode": "required"}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must call one of the offered tools.
    Required,
    /// The model must not call a tool.
    None,
    /// The model must call this tool.
    Tool {
        /// The tool.
        name: String,
    },
}

impl ToolChoice {
    /// The model must call tool `name`.
    pub fn tool(name: impl Into<String>) -> Self {
        Self::Tool { name: name.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::server::ContractVersion;
    use serde_json::json;

    #[test]
    fn provider_params_are_closed_on_0_9_only() {
        let d09 = Dialect::new(
            ContractVersion {
                major: 0,
                minor: 9,
                patch: 8,
            },
            [],
        );
        // The free-form 0.5 params the 0.9.8 server refused (probe.jsonl).
        let thinking = json!({"thinking": {"type": "enabled"}});
        assert_eq!(
            provider_params_for(&thinking, &Dialect::default()).unwrap(),
            thinking
        );
        let err = provider_params_for(&thinking, &d09).unwrap_err();
        assert!(
            matches!(&err, UsageError::Unsupported { method, reason }
                if method == "provider_params.thinking" && reason.starts_with("not on contract 0.9")),
            "{err:?}"
        );
        let typed = Value::from(
            ProviderParams::new()
                .temperature(0.5)
                .thinking_budget_tokens(10),
        );
        assert_eq!(provider_params_for(&typed, &d09).unwrap(), typed);
        assert!(matches!(
            provider_params_for(&json!(3), &d09),
            Err(UsageError::InvalidArgs(_))
        ));
    }
}
