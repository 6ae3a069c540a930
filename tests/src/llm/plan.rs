//! From a request (and the script) to a plan of what to answer.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::markers::Markers;
use super::reply::{Reply, error_type_for};

/// The prefix of rkat 0.5's structured-output extraction prompt.
const EXTRACTION_PREFIX: &str = "Provide the final output as valid JSON";
/// The prefix of rkat 0.5's extraction retry prompt.
const RETRY_PREFIX: &str = "The previous output was invalid";
/// The prefix of rkat 0.5's system notices (rendered as user messages).
const NOTICE_PREFIX: &str = "[SYSTEM NOTICE]";
/// Default number of text deltas.
const DEFAULT_CHUNKS: usize = 3;

/// What to answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// A complete HTTP response.
    Http {
        status: u16,
        content_type: String,
        body: String,
    },
    /// An assistant message, streamed or as JSON.
    Message(Message),
    /// Never answer.
    Hang,
}

/// An assistant message to play.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Message {
    pub(crate) blocks: Vec<Block>,
    pub(crate) stop_reason: String,
    /// Pause before each delta.
    pub(crate) delay: Duration,
    /// `[[stall N]]`: text deltas sent before the response goes silent.
    pub(crate) stall: Option<usize>,
    /// `(type, message)` of an `event: error` sent after the deltas.
    pub(crate) stream_error: Option<(String, String)>,
}

/// One content block of a [`Message`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// Text, as its deltas.
    Text(Vec<String>),
    /// A tool call.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// Mutable state the default behaviour needs across requests.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Failures already served, per `messages` array (for `[[error C xN]]`).
    error_counts: HashMap<String, u32>,
    next_tool: u64,
}

impl Memory {
    fn tool_id(&mut self) -> String {
        self.next_tool += 1;
        format!(
            "toolu_fake_{:016x}",
            self.next_tool.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        )
    }
}

/// Turns a scripted reply into a plan (`None` for [`Reply::Default`]).
pub(crate) fn from_reply(reply: Reply, memory: &mut Memory) -> Option<Plan> {
    Some(match reply {
        Reply::Default => return None,
        Reply::Text(text) => text_message(split(&text, DEFAULT_CHUNKS)),
        Reply::Chunks(chunks) => text_message(chunks),
        Reply::ToolUse { name, input } => tool_message(&name, input, memory),
        Reply::HttpError {
            status,
            error_type,
            message,
        } => http_error(status, error_type.as_deref(), &message),
        Reply::StreamError {
            partial,
            error_type,
            message,
        } => Plan::Message(Message {
            blocks: vec![Block::Text(partial)],
            stop_reason: "end_turn".into(),
            stream_error: Some((error_type, message)),
            ..Message::default()
        }),
        Reply::Slow { per_chunk, reply } => match from_reply(*reply, memory) {
            Some(Plan::Message(mut message)) => {
                message.delay = per_chunk;
                Plan::Message(message)
            }
            other => return other,
        },
        Reply::Raw {
            status,
            content_type,
            body,
        } => Plan::Http {
            status,
            content_type,
            body,
        },
        Reply::Hang => Plan::Hang,
    })
}

/// The default, marker-driven behaviour.
pub(crate) fn default_plan(body: &Value, memory: &mut Memory) -> Plan {
    let convo = Conversation::analyse(body);
    let markers = Markers::parse(&convo.prompt);
    let delay = Duration::from_millis(markers.slow_ms.unwrap_or(0));
    let first_call = convo.first_call;

    if markers.hang {
        return Plan::Hang;
    }
    if first_call && let Some((status, times)) = markers.error {
        let fail = match times {
            None => true,
            Some(times) => {
                let key = body
                    .get("messages")
                    .map(Value::to_string)
                    .unwrap_or_default();
                let served = memory.error_counts.entry(key).or_insert(0);
                *served += 1;
                *served <= times
            }
        };
        if fail {
            return http_error(status, None, &format!("scripted error {status}"));
        }
    }
    let mut plan = if convo.schema.is_some() {
        let text = if markers.badjson.is_some_and(|n| convo.retries < n as usize) {
            "this is not json".to_owned()
        } else if let Some(raw) = &markers.json {
            raw.clone()
        } else {
            sample(convo.schema.as_ref().unwrap_or(&Value::Null)).to_string()
        };
        text_message(split(&text, markers.chunks.unwrap_or(DEFAULT_CHUNKS)))
    } else if convo.tool_results.len() < markers.tools.len() {
        let (name, input) = markers.tools[convo.tool_results.len()].clone();
        tool_message(&name, input, memory)
    } else if !markers.tools.is_empty() {
        let text = markers
            .tools
            .iter()
            .zip(&convo.tool_results)
            .map(|((name, _), result)| format!("Tool {name} returned: {result}"))
            .collect::<Vec<_>>()
            .join("\n");
        text_message(split(&text, markers.chunks.unwrap_or(DEFAULT_CHUNKS)))
    } else {
        let text = format!("You said: {}", markers.stripped);
        text_message(split(&text, markers.chunks.unwrap_or(DEFAULT_CHUNKS)))
    };
    if let Plan::Message(message) = &mut plan {
        message.delay = delay;
        message.stall = markers.stall;
        if first_call && let Some(kind) = markers.stream_error {
            message.stream_error = Some((kind, "scripted stream error".into()));
        }
    }
    plan
}

/// An HTTP error with an Anthropic error body.
pub(crate) fn http_error(status: u16, error_type: Option<&str>, message: &str) -> Plan {
    let kind = error_type.unwrap_or_else(|| error_type_for(status));
    Plan::Http {
        status,
        content_type: "application/json".into(),
        body: json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
    }
}

fn text_message(chunks: Vec<String>) -> Plan {
    Plan::Message(Message {
        blocks: vec![Block::Text(chunks)],
        stop_reason: "end_turn".into(),
        ..Message::default()
    })
}

fn tool_message(name: &str, input: Value, memory: &mut Memory) -> Plan {
    Plan::Message(Message {
        blocks: vec![
            Block::Text(vec![format!("Calling {name}.")]),
            Block::ToolUse {
                id: memory.tool_id(),
                name: name.to_owned(),
                input,
            },
        ],
        stop_reason: "tool_use".into(),
        ..Message::default()
    })
}

/// Splits `text` into `n` non-empty pieces of nearly equal length (by
/// chars), padding with `.` when the text is shorter than `n`.
pub(crate) fn split(text: &str, n: usize) -> Vec<String> {
    let n = n.max(1);
    let mut chars: Vec<char> = text.chars().collect();
    while chars.len() < n {
        chars.push('.');
    }
    let (base, extra) = (chars.len() / n, chars.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let len = base + usize::from(i < extra);
        out.push(chars[at..at + len].iter().collect());
        at += len;
    }
    out
}

/// A value that satisfies simple JSON schemas: `"example"` for strings,
/// `1`, `1.5`, `true`, one item for arrays, every property for objects,
/// the first of `enum`/`anyOf`/`oneOf`/`allOf`, `const` as is.
pub fn sample(schema: &Value) -> Value {
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return sample(first);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut object = serde_json::Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), sample(property));
                }
            }
            Value::Object(object)
        }
        "array" => Value::Array(vec![sample(schema.get("items").unwrap_or(&Value::Null))]),
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("example"),
    }
}

/// What the request says about where the conversation stands.
#[derive(Debug, Default)]
struct Conversation {
    /// The text of the last real user prompt (not a tool result, not an
    /// extraction prompt).
    prompt: String,
    /// Tool results that came after that prompt, in order.
    tool_results: Vec<String>,
    /// Extraction retry prompts after that prompt.
    retries: usize,
    /// The output schema of an extraction call.
    schema: Option<Value>,
    /// Whether the prompt is the last message (the first call for it).
    first_call: bool,
}

impl Conversation {
    fn analyse(body: &Value) -> Self {
        let mut convo = Self {
            schema: body
                .pointer("/output_config/format/schema")
                .cloned()
                .or_else(|| body.pointer("/output_config/format").map(|_| json!({}))),
            ..Self::default()
        };
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        // Whether everything after the current message is a system notice.
        let mut only_notices_after = true;
        for message in messages.iter().rev() {
            if message.get("role").and_then(Value::as_str) != Some("user") {
                only_notices_after = false;
                continue;
            }
            let content = message.get("content").unwrap_or(&Value::Null);
            let blocks = content.as_array().map_or(&[][..], Vec::as_slice);
            let results: Vec<String> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .map(|b| text_of(b.get("content").unwrap_or(&Value::Null)))
                .collect();
            if !results.is_empty() {
                convo.tool_results.splice(0..0, results);
                only_notices_after = false;
                continue;
            }
            let text = text_of(content);
            if text.starts_with(NOTICE_PREFIX) {
                continue;
            }
            if text.starts_with(EXTRACTION_PREFIX) {
                only_notices_after = false;
                continue;
            }
            if text.starts_with(RETRY_PREFIX) {
                convo.retries += 1;
                only_notices_after = false;
                continue;
            }
            convo.prompt = text;
            convo.first_call = only_notices_after;
            break;
        }
        convo
    }
}

/// The text of message content: a string, or the text blocks joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(content: Value) -> Value {
        json!({"role": "user", "content": content})
    }

    fn text_of_plan(plan: &Plan) -> String {
        match plan {
            Plan::Message(m) => m
                .blocks
                .iter()
                .map(|b| match b {
                    Block::Text(chunks) => chunks.concat(),
                    Block::ToolUse { name, .. } => format!("<tool {name}>"),
                })
                .collect(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn split_is_even_and_padded() {
        assert_eq!(split("abcdefg", 3), ["abc", "de", "fg"]);
        assert_eq!(split("ab", 4), ["a", "b", ".", "."]);
        assert_eq!(split("", 0), ["."]);
    }

    #[test]
    fn echo_in_chunks() {
        let mut memory = Memory::default();
        let body = json!({"messages": [user(json!("Hello [[chunks 5]] you"))]});
        let Plan::Message(m) = default_plan(&body, &mut memory) else {
            panic!()
        };
        assert_eq!(m.blocks, vec![Block::Text(split("You said: Hello you", 5))]);
    }

    #[test]
    fn tool_then_result() {
        let mut memory = Memory::default();
        let prompt = user(json!("Time? [[tool datetime {}]]"));
        let first = default_plan(&json!({"messages": [prompt]}), &mut memory);
        assert_eq!(text_of_plan(&first), "Calling datetime.<tool datetime>");
        let follow = json!({"messages": [
            prompt,
            {"role": "assistant", "content": []},
            user(json!([{"type": "tool_result", "tool_use_id": "t", "content": "noon"}])),
        ]});
        assert_eq!(
            text_of_plan(&default_plan(&follow, &mut memory)),
            "Tool datetime returned: noon"
        );
    }

    #[test]
    fn system_notices_are_not_prompts() {
        let mut memory = Memory::default();
        let body = json!({"messages": [
            user(json!("Boom [[error 503]]")),
            user(json!("[SYSTEM NOTICE][TOOL_SCOPE] Tool configuration changed")),
        ]});
        assert!(matches!(
            default_plan(&body, &mut memory),
            Plan::Http { status: 503, .. }
        ));
        let body = json!({"messages": [user(json!("[SYSTEM NOTICE] only a notice"))]});
        assert_eq!(
            text_of_plan(&default_plan(&body, &mut memory)),
            "You said: "
        );
    }

    #[test]
    fn error_times_then_success() {
        let mut memory = Memory::default();
        let body = json!({"messages": [user(json!("x [[error 529 x2]]"))]});
        for _ in 0..2 {
            assert!(matches!(
                default_plan(&body, &mut memory),
                Plan::Http { status: 529, .. }
            ));
        }
        assert_eq!(
            text_of_plan(&default_plan(&body, &mut memory)),
            "You said: x"
        );
    }

    #[test]
    fn extraction_uses_json_marker_then_schema_sample() {
        let mut memory = Memory::default();
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}});
        let body = |prompt: &str, retries: usize| {
            let mut messages = vec![
                user(json!(prompt)),
                json!({"role": "assistant", "content": "x"}),
            ];
            messages.push(user(json!(
                "Provide the final output as valid JSON matching the schema."
            )));
            for _ in 0..retries {
                messages.push(user(json!("The previous output was invalid: nope.")));
            }
            json!({"messages": messages, "output_config": {"format": {"type": "json_schema", "schema": schema}}})
        };
        assert_eq!(
            text_of_plan(&default_plan(
                &body("a [[json {\"n\": 7}]]", 0),
                &mut memory
            )),
            "{\"n\": 7}"
        );
        assert_eq!(
            text_of_plan(&default_plan(&body("b [[badjson x1]]", 0), &mut memory)),
            "this is not json"
        );
        assert_eq!(
            text_of_plan(&default_plan(&body("b [[badjson x1]]", 1), &mut memory)),
            "{\"n\":1,\"s\":\"example\"}"
        );
    }
}
