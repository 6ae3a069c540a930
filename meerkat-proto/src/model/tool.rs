//! Callback tools: definitions, calls from the server, and answers.

use crate::rpc::IncomingId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A callback tool the client serves (`tools/register`).
///
/// ```
/// use meerkat_proto::ToolDef;
/// let def = ToolDef::new("search", "Search the docs")
///     .input_schema(serde_json::json!({"type":"object","properties":{"q":{"type":"string"}}}));
/// assert_eq!(def.name, "search");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolDef {
    /// The tool's name.
    pub name: String,
    /// What it does (shown to the model).
    pub description: String,
    /// A JSON Schema of its arguments (default: any object).
    pub input_schema: Value,
}

impl ToolDef {
    /// A tool taking any object.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            input_schema: json!({"type": "object"}),
        }
    }

    /// Sets the argument schema.
    #[must_use]
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = schema;
        self
    }
}

/// What a tool handler answers: text for the model, possibly marked as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolOutput {
    /// The text given to the model (0.5.x accepts only a string).
    pub content: String,
    /// Whether the result is an error for the model.
    #[serde(default)]
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful result.
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }

    /// A result marked as an error for the model.
    pub fn error(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
        }
    }
}

/// The server asks the client to run a callback tool (`tool/execute`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolCall {
    /// The request id to answer.
    pub id: IncomingId,
    /// The tool's name.
    pub name: String,
    /// The model's arguments.
    pub arguments: Value,
    /// The provider's tool-call id.
    pub tool_use_id: String,
    /// 0.9.x: what identifies this call across retries of the server
    /// (`{run_id, round, call_id, call_digest}`): a handler with side
    /// effects can use it to run a call once.
    pub dedupe_key: Option<Value>,
}

impl ToolCall {
    /// Decodes `tool/execute` params (missing fields default).
    pub fn from_params(id: IncomingId, params: Option<&Value>) -> Self {
        let get = |k: &str| params.and_then(|p| p.get(k));
        Self {
            id,
            name: get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            arguments: get("arguments").cloned().unwrap_or(Value::Null),
            tool_use_id: get("tool_use_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            dedupe_key: get("dedupe_key").filter(|v| !v.is_null()).cloned(),
        }
    }
}
