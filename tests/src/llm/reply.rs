//! Scripted replies: what the LLM answers to the next request.

use std::time::Duration;

use serde_json::Value;

/// One scripted answer of the [`ScriptedLlm`](super::ScriptedLlm).
///
/// Queued replies are consumed one per request, in order, before the
/// default marker-driven behaviour (see the [`llm`](super) module docs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// Answer with the markers of the request, as if nothing was queued.
    Default,
    /// Stream this text in three deltas, stop reason `end_turn`.
    Text(String),
    /// Stream exactly these text deltas, stop reason `end_turn`.
    Chunks(Vec<String>),
    /// Stream a `tool_use` block (after a short text block), stop reason
    /// `tool_use`.
    ToolUse {
        /// The tool name.
        name: String,
        /// The tool arguments.
        input: Value,
    },
    /// Answer with an HTTP error and an Anthropic error body
    /// `{"type":"error","error":{"type":..,"message":..}}`.
    HttpError {
        /// HTTP status code.
        status: u16,
        /// The Anthropic error type; `None` picks the one of the status.
        error_type: Option<String>,
        /// The error message.
        message: String,
    },
    /// Stream these text deltas, then an `event: error` of this type.
    StreamError {
        /// Text deltas sent before the error.
        partial: Vec<String>,
        /// Anthropic error type, e.g. `overloaded_error`.
        error_type: String,
        /// The error message.
        message: String,
    },
    /// Play `reply` with a pause before every streamed delta.
    Slow {
        /// The pause before each delta.
        per_chunk: Duration,
        /// The reply to play slowly.
        reply: Box<Self>,
    },
    /// Answer with exactly this status, content type and body.
    Raw {
        /// HTTP status code.
        status: u16,
        /// The `content-type` header.
        content_type: String,
        /// The body, verbatim.
        body: String,
    },
    /// Never answer: the request stays open until the server stops.
    Hang,
}

impl Reply {
    /// A text answer streamed in three deltas.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A `tool_use` of `name` with `input`.
    pub fn tool(name: impl Into<String>, input: Value) -> Self {
        Self::ToolUse {
            name: name.into(),
            input,
        }
    }

    /// An HTTP error with the default error type of `status`.
    pub fn http_error(status: u16) -> Self {
        Self::HttpError {
            status,
            error_type: None,
            message: format!("scripted error {status}"),
        }
    }

    /// This reply played with `per_chunk` before each delta.
    #[must_use]
    pub fn slow(self, per_chunk: Duration) -> Self {
        Self::Slow {
            per_chunk,
            reply: Box::new(self),
        }
    }
}

/// The Anthropic error type used for an HTTP status.
pub(crate) fn error_type_for(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}
