//! Session and turn options, and the wire rules that turn them into params.

use super::content::Prompt;
use super::skill::SkillRef;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Everything `session/create` accepts, with the Python SDK's defaults.
///
/// What is left at its default is left off the wire, with one deliberate
/// exception: a session gets exactly the tools the user asked for. rkat-rpc
/// 0.5.x switches built-in and shell tools on when `enable_builtins` /
/// `enable_shell` are absent, so those two are always sent, `false` unless
/// turned on.
///
/// ```
/// use meerkat_proto::SessionOptions;
/// let opts = SessionOptions::new("Create hello.txt")
///     .model("claude-sonnet-4-5")
///     .enable_shell(true);
/// let params = opts.to_params(false);
/// assert_eq!(params["prompt"], "Create hello.txt");
/// assert_eq!(params["enable_shell"], true);
/// assert_eq!(params["enable_builtins"], false);
/// assert!(params.get("keep_alive").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The first prompt.
    pub prompt: Prompt,
    /// Model name (default: the realm's).
    pub model: Option<String>,
    /// Provider (`anthropic`, `openai`, `gemini`); usually inferred.
    pub provider: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Maximum output tokens per LLM call.
    pub max_tokens: Option<u32>,
    /// A JSON Schema: enables structured output.
    pub output_schema: Option<Value>,
    /// Extraction retries for structured output (default 2).
    pub structured_output_retries: u32,
    /// Hook overrides (`{"entries": [...], "disable": [...]}`).
    pub hooks_override: Option<Value>,
    /// Built-in tools (task list, datetime, apply_patch, ...). Default off.
    pub enable_builtins: bool,
    /// The shell tool. Default off.
    pub enable_shell: bool,
    /// Memory tools. Default: the server's.
    pub enable_memory: Option<bool>,
    /// Mob tools. Default: the server's.
    pub enable_mob: Option<bool>,
    /// Keep the session alive for comms (needs `comms_name`).
    pub keep_alive: bool,
    /// The agent's name on the comms network.
    pub comms_name: Option<String>,
    /// Peer metadata (`{"description", "labels"}`).
    pub peer_meta: Option<Value>,
    /// Budget limits (`{"max_tokens", "max_duration", "max_tool_calls"}`).
    pub budget_limits: Option<Value>,
    /// Free-form provider parameters.
    pub provider_params: Option<Value>,
    /// Skill ids injected into the system prompt.
    pub preload_skills: Vec<String>,
    /// Skills resolved for the first turn.
    pub skill_refs: Vec<SkillRef>,
    /// Legacy string skill references.
    pub skill_references: Vec<String>,
    /// Labels stored on the session (filterable in `session/list`).
    pub labels: BTreeMap<String, String>,
    /// Extra system-prompt sections.
    pub additional_instructions: Vec<String>,
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr; )*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: impl Into<$ty>) -> Self {
                let v: $ty = value.into();
                self.$name = $conv(v);
                self
            }
        )*
    };
}

impl SessionOptions {
    /// Options for a session whose first prompt is `prompt`.
    pub fn new(prompt: impl Into<Prompt>) -> Self {
        Self {
            prompt: prompt.into(),
            structured_output_retries: 2,
            ..Self::default()
        }
    }

    setters! {
        /// Sets the model.
        model: String => Some;
        /// Sets the provider.
        provider: String => Some;
        /// Sets the system prompt.
        system_prompt: String => Some;
        /// Sets an output schema (enables structured output).
        output_schema: Value => Some;
        /// Sets hook overrides.
        hooks_override: Value => Some;
        /// Turns built-in tools on or off.
        enable_builtins: bool => std::convert::identity;
        /// Turns the shell tool on or off.
        enable_shell: bool => std::convert::identity;
        /// Turns memory tools on or off.
        enable_memory: bool => Some;
        /// Turns mob tools on or off.
        enable_mob: bool => Some;
        /// Keeps the session alive for comms.
        keep_alive: bool => std::convert::identity;
        /// Sets the comms name.
        comms_name: String => Some;
        /// Sets peer metadata.
        peer_meta: Value => Some;
        /// Sets budget limits.
        budget_limits: Value => Some;
        /// Sets provider parameters.
        provider_params: Value => Some;
        /// Sets the skills to preload.
        preload_skills: Vec<String> => std::convert::identity;
        /// Sets the skill references for the first turn.
        skill_refs: Vec<SkillRef> => std::convert::identity;
        /// Sets legacy skill references.
        skill_references: Vec<String> => std::convert::identity;
        /// Sets additional instructions.
        additional_instructions: Vec<String> => std::convert::identity;
    }

    /// Sets the maximum output tokens per LLM call.
    #[must_use]
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }

    /// Sets the structured-output extraction retries (default 2).
    #[must_use]
    pub fn structured_output_retries(mut self, retries: u32) -> Self {
        self.structured_output_retries = retries;
        self
    }

    /// Adds a label.
    #[must_use]
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The `session/create` params (with `initial_turn: "deferred"` when asked).
    pub fn to_params(&self, deferred: bool) -> Value {
        let mut m = Map::new();
        m.insert("prompt".into(), json!(self.prompt));
        if deferred {
            m.insert("initial_turn".into(), json!("deferred"));
        }
        put(&mut m, "model", &self.model);
        put(&mut m, "provider", &self.provider);
        put(&mut m, "system_prompt", &self.system_prompt);
        put(&mut m, "max_tokens", &self.max_tokens);
        put(&mut m, "output_schema", &self.output_schema);
        // Never null (0.5.x rejects it); only when it can matter or differs.
        if self.output_schema.is_some() || self.structured_output_retries != 2 {
            m.insert(
                "structured_output_retries".into(),
                json!(self.structured_output_retries),
            );
        }
        put(&mut m, "hooks_override", &self.hooks_override);
        // The server turns these on when absent: always say what the user wants.
        m.insert("enable_builtins".into(), json!(self.enable_builtins));
        m.insert("enable_shell".into(), json!(self.enable_shell));
        put(&mut m, "enable_memory", &self.enable_memory);
        put(&mut m, "enable_mob", &self.enable_mob);
        if self.keep_alive {
            m.insert("keep_alive".into(), json!(true));
        }
        put(&mut m, "comms_name", &self.comms_name);
        put(&mut m, "peer_meta", &self.peer_meta);
        put(&mut m, "budget_limits", &self.budget_limits);
        put(&mut m, "provider_params", &self.provider_params);
        put_list(&mut m, "preload_skills", &self.preload_skills);
        put_list(&mut m, "skill_refs", &self.skill_refs);
        put_list(&mut m, "skill_references", &self.skill_references);
        if !self.labels.is_empty() {
            m.insert("labels".into(), json!(self.labels));
        }
        put_list(
            &mut m,
            "additional_instructions",
            &self.additional_instructions,
        );
        Value::Object(m)
    }
}

impl From<&str> for SessionOptions {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for SessionOptions {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<Prompt> for SessionOptions {
    fn from(p: Prompt) -> Self {
        Self::new(p)
    }
}

/// Per-turn options of `turn/start`.
///
/// 0.5.x rejects per-turn `max_tokens`, `system_prompt`, `output_schema` and
/// `structured_output_retries` on every session, so they are not offered.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TurnOptions {
    /// Skills resolved for this turn.
    pub skill_refs: Vec<SkillRef>,
    /// Legacy string skill references.
    pub skill_references: Vec<String>,
    /// Per-turn model override.
    pub model: Option<String>,
    /// Per-turn provider override.
    pub provider: Option<String>,
    /// Per-turn provider parameters.
    pub provider_params: Option<Value>,
    /// Per-turn system notices.
    pub additional_instructions: Vec<String>,
    /// Changes keep-alive for this and later turns.
    pub keep_alive: Option<bool>,
}

impl TurnOptions {
    /// Default per-turn options.
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// Sets the skill references for this turn.
        skill_refs: Vec<SkillRef> => std::convert::identity;
        /// Sets legacy skill references.
        skill_references: Vec<String> => std::convert::identity;
        /// Overrides the model.
        model: String => Some;
        /// Overrides the provider.
        provider: String => Some;
        /// Sets provider parameters.
        provider_params: Value => Some;
        /// Sets additional instructions.
        additional_instructions: Vec<String> => std::convert::identity;
        /// Changes keep-alive.
        keep_alive: bool => Some;
    }

    /// The `turn/start` params for `session_id` and `prompt`.
    pub fn to_params(&self, session_id: &str, prompt: &Prompt) -> Value {
        let mut m = Map::new();
        m.insert("session_id".into(), json!(session_id));
        m.insert("prompt".into(), json!(prompt));
        put_list(&mut m, "skill_refs", &self.skill_refs);
        put_list(&mut m, "skill_references", &self.skill_references);
        put(&mut m, "model", &self.model);
        put(&mut m, "provider", &self.provider);
        put(&mut m, "provider_params", &self.provider_params);
        put_list(
            &mut m,
            "additional_instructions",
            &self.additional_instructions,
        );
        put(&mut m, "keep_alive", &self.keep_alive);
        Value::Object(m)
    }
}

fn put<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: &Option<T>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

fn put_list<T: serde::Serialize>(m: &mut Map<String, Value>, key: &str, v: &[T]) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}
