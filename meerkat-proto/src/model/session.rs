//! Session listings and history.

use super::content::Prompt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
}

/// One message of a transcript, tagged by `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HistoryMessage {
    /// A system message.
    System {
        /// Its text.
        #[serde(default)]
        content: String,
    },
    /// A user message.
    User {
        /// Text or blocks.
        #[serde(default)]
        content: Prompt,
    },
    /// An assistant message (plain form).
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
    },
    /// An assistant message made of blocks.
    BlockAssistant {
        /// The blocks.
        #[serde(default)]
        blocks: Vec<AssistantBlock>,
        /// Why the LLM stopped.
        #[serde(default)]
        stop_reason: Option<String>,
    },
    /// Tool results fed back to the LLM.
    ToolResults {
        /// `{tool_use_id, content, is_error}` each.
        #[serde(default)]
        results: Vec<Value>,
    },
    /// A role this SDK does not know.
    #[serde(other)]
    Unknown,
}

/// A block of a `block_assistant` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AssistantBlock {
    /// `text`, `reasoning`, `tool_use` or `unknown`.
    pub block_type: String,
    /// The block's data (`{text}`, `{id, name, args}`, ...).
    pub data: Value,
}

impl AssistantBlock {
    /// The text of a `text` or `reasoning` block.
    pub fn text(&self) -> Option<&str> {
        self.data.get("text").and_then(Value::as_str)
    }
}
