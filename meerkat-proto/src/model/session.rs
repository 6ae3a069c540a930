//! Session listings and history.

use super::content::Prompt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A row of `session/list`, or the result of `session/read`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// `"<realm>:<session_id>"`.
    pub session_ref: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// Messages in the transcript (0 for a pending deferred session).
    pub message_count: u64,
    /// Tokens used (list rows only).
    pub total_tokens: u64,
    /// Whether a turn is running.
    pub is_active: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Model (`session/read` only).
    pub model: Option<String>,
    /// Provider (`session/read` only).
    pub provider: Option<String>,
    /// The last assistant text, when known (`session/read` only).
    pub last_assistant_text: Option<String>,
    /// 0.9.x `session/read`: what the session's model can do (`vision`,
    /// `image_input`, `web_search`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_capabilities: Option<BTreeMap<String, Value>>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A page of a session's transcript (`session/history`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionHistory {
    /// The session id.
    pub session_id: String,
    /// `"<realm>:<session_id>"`.
    pub session_ref: Option<String>,
    /// Messages in the whole transcript.
    pub message_count: u64,
    /// Offset of the first message of this page.
    pub offset: u64,
    /// The limit asked for, if any.
    pub limit: Option<u64>,
    /// Whether more messages follow.
    pub has_more: bool,
    /// The messages of this page.
    pub messages: Vec<HistoryMessage>,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of a transcript, tagged by `role`.
///
/// 0.9.x adds `created_at` (RFC 3339) to every message, the lineage of user
/// and assistant messages and the `system_notice` role; fields this SDK
/// does not type land in each variant's `extra`, and a role it does not
/// know (or a message that does not fit its role) is kept whole as
/// [`HistoryMessage::Unknown`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HistoryMessage {
    /// A system message.
    #[non_exhaustive]
    System {
        /// Its text.
        #[serde(default)]
        content: String,
        /// 0.9.x: when it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know (0.9.x `identity`, `prompt_version`, ...).
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// 0.9.x: a notice the runtime wrote into the transcript (comms, MCP,
    /// background jobs, ...).
    #[non_exhaustive]
    SystemNotice {
        /// `generic`, `comms`, `external_event`, `mcp`, `background_job`, ...
        #[serde(default)]
        kind: String,
        /// Its text, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        /// Its typed blocks, opaque.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocks: Vec<Value>,
        /// Where the runtime appended it from, opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runtime_origin: Option<Value>,
        /// When it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A user message.
    #[non_exhaustive]
    User {
        /// Text or blocks.
        #[serde(default)]
        content: Prompt,
        /// 0.9.x: `compaction_summary` or `injected_context` (absent for
        /// ordinary input).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transcript_role: Option<String>,
        /// 0.9.x: the interaction it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interaction_id: Option<String>,
        /// 0.9.x: the run it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// 0.9.x: when it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// An assistant message (plain form).
    #[non_exhaustive]
    Assistant {
        /// Its text.
        #[serde(default)]
        content: String,
        /// Tool calls (`{id, name, args}`).
        #[serde(default)]
        tool_calls: Vec<Value>,
        /// Why the LLM stopped.
        #[serde(default)]
        stop_reason: Option<String>,
        /// 0.9.x: when it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// An assistant message made of blocks.
    #[non_exhaustive]
    BlockAssistant {
        /// The blocks.
        #[serde(default)]
        blocks: Vec<AssistantBlock>,
        /// Why the LLM stopped (optional on 0.9.x).
        #[serde(default)]
        stop_reason: Option<String>,
        /// 0.9.x: the interaction it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interaction_id: Option<String>,
        /// 0.9.x: the run it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        /// 0.9.x: the id its live events carried (`turn_started`, `text_delta`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assistant_message_id: Option<String>,
        /// 0.9.x: realtime provenance, opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        realtime_origin: Option<Value>,
        /// 0.9.x: when it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// Tool results fed back to the LLM.
    #[non_exhaustive]
    ToolResults {
        /// `{tool_use_id, content, is_error}` each (0.9.x: `content` may be
        /// blocks, and `settlement_failures` may follow).
        #[serde(default)]
        results: Vec<Value>,
        /// 0.9.x: when it was written (RFC 3339).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created_at: Option<String>,
        /// Fields this SDK does not know.
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A role this SDK does not know, or a message that does not fit its
    /// role: the message as received.
    #[serde(untagged)]
    Unknown(Value),
}

impl HistoryMessage {
    /// The message's `role` (`"unknown"` when it has none).
    pub fn role(&self) -> &str {
        match self {
            Self::System { .. } => "system",
            Self::SystemNotice { .. } => "system_notice",
            Self::User { .. } => "user",
            Self::Assistant { .. } => "assistant",
            Self::BlockAssistant { .. } => "block_assistant",
            Self::ToolResults { .. } => "tool_results",
            Self::Unknown(v) => v.get("role").and_then(Value::as_str).unwrap_or("unknown"),
        }
    }

    /// When it was written (RFC 3339; 0.9.x).
    pub fn created_at(&self) -> Option<&str> {
        match self {
            Self::System { created_at, .. }
            | Self::SystemNotice { created_at, .. }
            | Self::User { created_at, .. }
            | Self::Assistant { created_at, .. }
            | Self::BlockAssistant { created_at, .. }
            | Self::ToolResults { created_at, .. } => created_at.as_deref(),
            Self::Unknown(v) => v.get("created_at").and_then(Value::as_str),
        }
    }
}

/// A block of a `block_assistant` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AssistantBlock {
    /// `text`, `reasoning`, `tool_use`, 0.9.x `transcript` and
    /// `server_tool_content`, or `unknown`.
    pub block_type: String,
    /// The block's data (`{text}`, `{id, name, args}`, ...).
    pub data: Value,
    /// Fields this SDK does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AssistantBlock {
    /// The text of a `text` or `reasoning` block.
    pub fn text(&self) -> Option<&str> {
        self.data.get("text").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nine_line_history_messages() {
        let wire = json!([
            {"role":"system_notice","kind":"background_job","body":"job done",
             "blocks":[{"type":"background_job","job_id":"j"}],"created_at":"t0"},
            {"role":"user","content":[{"type":"text","text":"hi"},{"type":"video","media_type":"video/mp4","duration_ms":5,"data":"AA=="}],
             "transcript_role":"injected_context","interaction_id":"i","run_id":"r","created_at":"t1"},
            {"role":"block_assistant","blocks":[{"block_type":"transcript","data":{"text":"x"}},
             {"block_type":"server_tool_content","data":{"kind":{"kind":"web_search"}}}],
             "assistant_message_id":"m","realtime_origin":{"provider_item_ids":["p"]},"created_at":"t2"},
            {"role":"tool_results","results":[{"tool_use_id":"t","content":[{"type":"text","text":"r"}],
             "is_error":false,"settlement_failures":[{"x":1}]}],"created_at":"t3"},
            {"role":"system","content":"sys","created_at":"t4","prompt_version":{"key":"k"}},
            {"role":"later","what":1},
            {"role":"user","content":5}
        ]);
        let messages: Vec<HistoryMessage> = serde_json::from_value(wire.clone()).unwrap();
        let roles: Vec<&str> = messages.iter().map(HistoryMessage::role).collect();
        assert_eq!(
            roles,
            [
                "system_notice",
                "user",
                "block_assistant",
                "tool_results",
                "system",
                "later",
                "user"
            ]
        );
        assert_eq!(messages[1].created_at(), Some("t1"));
        assert!(matches!(messages[5], HistoryMessage::Unknown(_)));
        // A message that does not fit its role is kept whole too.
        assert!(matches!(messages[6], HistoryMessage::Unknown(_)));
        assert!(
            matches!(&messages[4], HistoryMessage::System { extra, .. } if extra.contains_key("prompt_version"))
        );
        let back = serde_json::to_value(&messages).unwrap();
        // Written back as it came, but for `stop_reason: null` (absent).
        let mut expected = wire;
        expected[2]["stop_reason"] = Value::Null;
        assert_eq!(back, expected);
    }
}
