//! Session and turn options, and the wire rules that turn them into params
//! for each contract line.

use super::content::Prompt;
use super::dialect::{ContractLine, Dialect};
use super::error::UsageError;
use super::overrides::{ToolFilter, TurnToolOverlay, provider_params_for};
use super::skill::{SkillRef, preload_skills_for, skill_refs_for};
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
/// The params are written for the contract line spoken
/// ([`to_params`](Self::to_params)): options of one line only are refused on
/// the other before anything is sent (`legacy` skill references and
/// free-form provider params on 0.9; the options marked "contract 0.9" on
/// 0.5).
///
/// ```
/// use meerkat_proto::{Dialect, SessionOptions};
/// let opts = SessionOptions::new("Create hello.txt")
///     .model("claude-sonnet-4-5")
///     .enable_shell(true);
/// let params = opts.to_params(false, &Dialect::default())?;
/// assert_eq!(params["prompt"], "Create hello.txt");
/// assert_eq!(params["enable_shell"], true);
/// assert_eq!(params["enable_builtins"], false);
/// assert!(params.get("keep_alive").is_none());
/// # Ok::<(), meerkat_proto::UsageError>(())
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
    /// Contract 0.9: no system prompt at all (not the config's, not
    /// AGENTS.md, not the default one).
    pub disable_system_prompt: bool,
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
    /// Provider parameters: free-form on 0.5, the closed object of
    /// [`ProviderParams`](super::ProviderParams) on 0.9.
    pub provider_params: Option<Value>,
    /// Skills injected into the system prompt: skill ids on 0.5,
    /// `"<source_uuid>/<skill_name>"` keys on 0.9.
    pub preload_skills: Vec<String>,
    /// Skills resolved for the first turn.
    pub skill_refs: Vec<SkillRef>,
    /// Legacy string skill references (contract 0.5 only).
    pub skill_references: Vec<String>,
    /// Labels stored on the session (filterable in `session/list`).
    pub labels: BTreeMap<String, String>,
    /// Extra system-prompt sections.
    pub additional_instructions: Vec<String>,
    /// Contract 0.9: context messages placed before the first prompt.
    pub injected_context: Vec<Prompt>,
    /// Contract 0.9: host context for the first turn's provider requests
    /// only (never stored in the transcript).
    pub transient_turn_context: Option<String>,
    /// Contract 0.9 (0.9.5+): `false` keeps the first turn's events off
    /// `session/event`.
    pub session_events: Option<bool>,
    /// Contract 0.9: schedule tools. Default: the server's.
    pub enable_schedule: Option<bool>,
    /// Contract 0.9: Meerkat's fallback web search. Default: hidden.
    pub enable_web_search: Option<bool>,
    /// Contract 0.9: WorkGraph tools. Default: the server's.
    pub enable_workgraph: Option<bool>,
    /// Contract 0.9: which tools the session sees.
    pub tool_filter: Option<ToolFilter>,
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
        /// Sets provider parameters: a [`ProviderParams`](super::ProviderParams)
        /// (valid on both lines) or, on 0.5 only, any JSON object.
        provider_params: Value => Some;
        /// Sets the skills to preload.
        preload_skills: Vec<String> => std::convert::identity;
        /// Sets the skill references for the first turn.
        skill_refs: Vec<SkillRef> => std::convert::identity;
        /// Sets legacy skill references (contract 0.5 only).
        skill_references: Vec<String> => std::convert::identity;
        /// Sets additional instructions.
        additional_instructions: Vec<String> => std::convert::identity;
        /// Contract 0.9: runs the session with no system prompt at all (wire
        /// `"system_prompt": {"action": "disable"}`); refused on 0.5, and
        /// together with [`system_prompt`](Self::system_prompt).
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// let opts = SessionOptions::new("Reply with OK").disable_system_prompt(true);
        /// assert!(opts.disable_system_prompt);
        /// ```
        disable_system_prompt: bool => std::convert::identity;
        /// Contract 0.9: context messages placed, in order, before the first
        /// prompt (kept out of semantic memory).
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// let opts = SessionOptions::new("What changed?")
        ///     .injected_context(vec!["The diff: ...".into()]);
        /// assert_eq!(opts.injected_context.len(), 1);
        /// ```
        injected_context: Vec<Prompt> => std::convert::identity;
        /// Contract 0.9: host context sent with the first turn's provider
        /// requests only, never stored in the transcript. Must not be empty.
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// let opts = SessionOptions::new("Plan my day").transient_turn_context("Local time: 09:00");
        /// assert_eq!(opts.transient_turn_context.as_deref(), Some("Local time: 09:00"));
        /// ```
        transient_turn_context: String => Some;
        /// Contract 0.9 (0.9.5+): `false` keeps the first turn's events off
        /// `session/event`, so a streamed create sees none of them; read them
        /// from a session subscription instead.
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// let opts = SessionOptions::new("Hi").session_events(false);
        /// assert_eq!(opts.session_events, Some(false));
        /// ```
        session_events: bool => Some;
        /// Contract 0.9: turns schedule tools on or off.
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// assert_eq!(SessionOptions::new("Hi").enable_schedule(false).enable_schedule, Some(false));
        /// ```
        enable_schedule: bool => Some;
        /// Contract 0.9: turns Meerkat's fallback web search on or off.
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// assert_eq!(SessionOptions::new("Hi").enable_web_search(true).enable_web_search, Some(true));
        /// ```
        enable_web_search: bool => Some;
        /// Contract 0.9: turns WorkGraph tools on or off.
        ///
        /// ```
        /// use meerkat_proto::SessionOptions;
        /// assert_eq!(SessionOptions::new("Hi").enable_workgraph(false).enable_workgraph, Some(false));
        /// ```
        enable_workgraph: bool => Some;
        /// Contract 0.9: which tools the session sees.
        ///
        /// ```
        /// use meerkat_proto::{SessionOptions, ToolFilter};
        /// let opts = SessionOptions::new("Hi").tool_filter(ToolFilter::deny(["shell"]));
        /// assert_eq!(opts.tool_filter, Some(ToolFilter::Deny(vec!["shell".into()])));
        /// ```
        tool_filter: ToolFilter => Some;
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

    /// The `session/create` params for `dialect` (with `initial_turn:
    /// "deferred"` when asked).
    ///
    /// # Errors
    ///
    /// [`UsageError::Unsupported`] naming an option the line does not have;
    /// [`UsageError::InvalidArgs`] for options that exclude each other or an
    /// empty transient context.
    pub fn to_params(&self, deferred: bool, dialect: &Dialect) -> Result<Value, UsageError> {
        let only_0_9 = [
            ("system_prompt (disable)", self.disable_system_prompt),
            ("injected_context", !self.injected_context.is_empty()),
            (
                "transient_turn_context",
                self.transient_turn_context.is_some(),
            ),
            ("session_events", self.session_events.is_some()),
            ("enable_schedule", self.enable_schedule.is_some()),
            ("enable_web_search", self.enable_web_search.is_some()),
            ("enable_workgraph", self.enable_workgraph.is_some()),
            ("tool_filter", self.tool_filter.is_some()),
        ];
        for (option, set) in only_0_9 {
            dialect.require_0_9(option, set)?;
        }
        if self.disable_system_prompt && self.system_prompt.is_some() {
            return Err(UsageError::InvalidArgs(
                "system_prompt and disable_system_prompt exclude each other".into(),
            ));
        }
        let mut m = Map::new();
        m.insert("prompt".into(), json!(self.prompt));
        if deferred {
            m.insert("initial_turn".into(), json!("deferred"));
        }
        put(&mut m, "model", &self.model);
        put(&mut m, "provider", &self.provider);
        put(&mut m, "system_prompt", &self.system_prompt);
        if self.disable_system_prompt {
            m.insert("system_prompt".into(), json!({"action": "disable"}));
        }
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
        put(&mut m, "enable_schedule", &self.enable_schedule);
        put(&mut m, "enable_web_search", &self.enable_web_search);
        put(&mut m, "enable_workgraph", &self.enable_workgraph);
        put(&mut m, "tool_filter", &self.tool_filter);
        if self.keep_alive {
            m.insert("keep_alive".into(), json!(true));
        }
        put(&mut m, "comms_name", &self.comms_name);
        put(&mut m, "peer_meta", &self.peer_meta);
        put(&mut m, "budget_limits", &self.budget_limits);
        if let Some(p) = &self.provider_params {
            m.insert("provider_params".into(), provider_params_for(p, dialect)?);
        }
        if !self.preload_skills.is_empty() {
            let skills = preload_skills_for(&self.preload_skills, dialect)?;
            m.insert("preload_skills".into(), skills);
        }
        put_skills(&mut m, &self.skill_refs, &self.skill_references, dialect)?;
        if !self.labels.is_empty() {
            m.insert("labels".into(), json!(self.labels));
        }
        put_list(
            &mut m,
            "additional_instructions",
            &self.additional_instructions,
        );
        put_list(&mut m, "injected_context", &self.injected_context);
        put_transient(&mut m, &self.transient_turn_context)?;
        put(&mut m, "session_events", &self.session_events);
        Ok(Value::Object(m))
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
/// `structured_output_retries` on every session, and 0.9 refuses
/// `max_tokens`, `output_schema` and `structured_output_retries` (build
/// settings, fixed at `session/create`), so they are not offered. 0.9 also
/// rejects any key it does not know: the params are written for the line
/// spoken, and an option of the other line is refused before sending.
///
/// ```
/// use meerkat_proto::{ContractVersion, Dialect, Prompt, TurnOptions, TurnToolOverlay};
/// let opts = TurnOptions::new().turn_tool_overlay(TurnToolOverlay::new().block(["shell"]));
/// let prompt = Prompt::from("Tidy the README");
/// let v05 = opts.to_params("s1", &prompt, &Dialect::default())?;
/// assert_eq!(v05["flow_tool_overlay"]["blocked_tools"][0], "shell");
/// let v = ContractVersion::parse(&serde_json::json!("0.9.8")).unwrap();
/// let v09 = opts.to_params("s1", &prompt, &Dialect::new(v, []))?;
/// assert_eq!(v09["turn_tool_overlay"]["blocked_tools"][0], "shell");
/// # Ok::<(), meerkat_proto::UsageError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TurnOptions {
    /// Skills resolved for this turn.
    pub skill_refs: Vec<SkillRef>,
    /// Legacy string skill references (contract 0.5 only).
    pub skill_references: Vec<String>,
    /// Per-turn model override.
    pub model: Option<String>,
    /// Per-turn provider override.
    pub provider: Option<String>,
    /// Per-turn provider parameters: free-form on 0.5, the closed object of
    /// [`ProviderParams`](super::ProviderParams) on 0.9.
    pub provider_params: Option<Value>,
    /// Per-turn system notices.
    pub additional_instructions: Vec<String>,
    /// Changes keep-alive for this and later turns.
    pub keep_alive: Option<bool>,
    /// The tools of this turn (`turn_tool_overlay` on 0.9,
    /// `flow_tool_overlay` on 0.5, which has no tool-choice plan).
    pub turn_tool_overlay: Option<TurnToolOverlay>,
    /// Contract 0.9: context messages placed before this turn's prompt.
    pub injected_context: Vec<Prompt>,
    /// Contract 0.9: host context for this turn's provider requests only.
    pub transient_turn_context: Option<String>,
    /// Contract 0.9 (0.9.5+): `false` keeps this turn's events off
    /// `session/event`.
    pub session_events: Option<bool>,
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
        /// Sets provider parameters: a [`ProviderParams`](super::ProviderParams)
        /// (valid on both lines) or, on 0.5 only, any JSON object.
        provider_params: Value => Some;
        /// Sets additional instructions.
        additional_instructions: Vec<String> => std::convert::identity;
        /// Changes keep-alive.
        keep_alive: bool => Some;
        /// Restricts the tools of this turn (a tool-choice plan is contract 0.9
        /// only).
        ///
        /// ```
        /// use meerkat_proto::{ToolChoice, TurnOptions, TurnToolOverlay};
        /// let opts = TurnOptions::new().turn_tool_overlay(
        ///     TurnToolOverlay::new().allow(["search"]).tool_choice_plan(vec![ToolChoice::Required]),
        /// );
        /// assert!(opts.turn_tool_overlay.is_some());
        /// ```
        turn_tool_overlay: TurnToolOverlay => Some;
        /// Contract 0.9: context messages placed, in order, before this turn's
        /// prompt (kept out of semantic memory).
        ///
        /// ```
        /// use meerkat_proto::TurnOptions;
        /// let opts = TurnOptions::new().injected_context(vec!["Ticket #12: ...".into()]);
        /// assert_eq!(opts.injected_context.len(), 1);
        /// ```
        injected_context: Vec<Prompt> => std::convert::identity;
        /// Contract 0.9: host context sent with this turn's provider requests
        /// only, never stored in the transcript. Must not be empty.
        ///
        /// ```
        /// use meerkat_proto::TurnOptions;
        /// let opts = TurnOptions::new().transient_turn_context("User is on mobile");
        /// assert_eq!(opts.transient_turn_context.as_deref(), Some("User is on mobile"));
        /// ```
        transient_turn_context: String => Some;
        /// Contract 0.9 (0.9.5+): `false` keeps this turn's events off
        /// `session/event`, so a streamed turn sees none of them; read them from
        /// a session subscription instead.
        ///
        /// ```
        /// use meerkat_proto::TurnOptions;
        /// assert_eq!(TurnOptions::new().session_events(false).session_events, Some(false));
        /// ```
        session_events: bool => Some;
    }

    /// The `turn/start` params for `session_id` and `prompt`, written for
    /// `dialect`.
    ///
    /// # Errors
    ///
    /// [`UsageError::Unsupported`] naming an option the line does not have;
    /// [`UsageError::InvalidArgs`] for an empty transient context.
    pub fn to_params(
        &self,
        session_id: &str,
        prompt: &Prompt,
        dialect: &Dialect,
    ) -> Result<Value, UsageError> {
        let plan = self
            .turn_tool_overlay
            .as_ref()
            .is_some_and(|o| !o.tool_choice_plan.is_empty());
        let only_0_9 = [
            ("turn_tool_overlay.tool_choice_plan", plan),
            ("injected_context", !self.injected_context.is_empty()),
            (
                "transient_turn_context",
                self.transient_turn_context.is_some(),
            ),
            ("session_events", self.session_events.is_some()),
        ];
        for (option, set) in only_0_9 {
            dialect.require_0_9(option, set)?;
        }
        let mut m = Map::new();
        m.insert("session_id".into(), json!(session_id));
        m.insert("prompt".into(), json!(prompt));
        put_skills(&mut m, &self.skill_refs, &self.skill_references, dialect)?;
        put(&mut m, "model", &self.model);
        put(&mut m, "provider", &self.provider);
        if let Some(p) = &self.provider_params {
            m.insert("provider_params".into(), provider_params_for(p, dialect)?);
        }
        put_list(
            &mut m,
            "additional_instructions",
            &self.additional_instructions,
        );
        put(&mut m, "keep_alive", &self.keep_alive);
        let overlay = match dialect.line() {
            ContractLine::V0_5 => "flow_tool_overlay",
            ContractLine::V0_9 => "turn_tool_overlay",
        };
        put(&mut m, overlay, &self.turn_tool_overlay);
        put_list(&mut m, "injected_context", &self.injected_context);
        put_transient(&mut m, &self.transient_turn_context)?;
        put(&mut m, "session_events", &self.session_events);
        Ok(Value::Object(m))
    }
}

/// Writes `skill_refs` and `skill_references` for `dialect`: the legacy
/// string list does not exist on 0.9 (its server refuses the key even
/// empty).
fn put_skills(
    m: &mut Map<String, Value>,
    refs: &[SkillRef],
    legacy: &[String],
    dialect: &Dialect,
) -> Result<(), UsageError> {
    if !refs.is_empty() {
        m.insert("skill_refs".into(), skill_refs_for(refs, dialect)?);
    }
    if !legacy.is_empty() {
        if dialect.line() == ContractLine::V0_9 {
            return Err(dialect.refuse(
                "skill_references",
                "retired: use skill_refs with a SkillKey",
            ));
        }
        m.insert("skill_references".into(), json!(legacy));
    }
    Ok(())
}

/// Writes a transient turn context, which the server refuses empty.
fn put_transient(m: &mut Map<String, Value>, context: &Option<String>) -> Result<(), UsageError> {
    match context.as_deref() {
        Some("") => Err(UsageError::InvalidArgs(
            "transient_turn_context must not be empty".into(),
        )),
        Some(c) => {
            m.insert("transient_turn_context".into(), json!(c));
            Ok(())
        }
        None => Ok(()),
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
