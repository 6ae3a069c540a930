//! Rendering a [`Message`] as Anthropic Messages API output: Server-Sent
//! Events for `stream: true`, one JSON message otherwise.

use std::time::Duration;

use serde_json::{Value, json};

use super::plan::{Block, Message};

/// One SSE frame and the pause before it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub(crate) delay: Duration,
    pub(crate) bytes: Vec<u8>,
    /// `[[stall N]]`: no bytes; the stream stays open and silent from here.
    pub(crate) hold: bool,
}

fn frame(delay: Duration, event: &str, data: &Value) -> Frame {
    Frame {
        delay,
        bytes: format!("event: {event}\ndata: {data}\n\n").into_bytes(),
        hold: false,
    }
}

/// The SSE frames of `message`, exactly in the order the Anthropic API
/// sends them: `message_start`, `ping`, per block `content_block_start`,
/// deltas, `content_block_stop`, then `message_delta` (stop reason, usage)
/// and `message_stop` — or an `error` event after the deltas, or (`[[stall
/// N]]`) a hold after `N` text deltas.
pub(crate) fn sse_frames(
    message: &Message,
    id: &str,
    model: &str,
    input_tokens: u64,
) -> Vec<Frame> {
    let now = Duration::ZERO;
    let mut frames = vec![
        frame(
            now,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1}
            }}),
        ),
        frame(now, "ping", &json!({"type": "ping"})),
    ];
    let mut deltas = 0u64;
    let mut text_deltas = 0usize;
    for (index, block) in message.blocks.iter().enumerate() {
        let (start, pieces): (Value, Vec<Value>) = match block {
            Block::Text(chunks) => (
                json!({"type": "text", "text": ""}),
                chunks
                    .iter()
                    .map(|c| json!({"type": "text_delta", "text": c}))
                    .collect(),
            ),
            Block::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                json_pieces(input)
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect(),
            ),
        };
        frames.push(frame(
            now,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in pieces {
            if delta["type"] == "text_delta" {
                if message.stall == Some(text_deltas) {
                    frames.push(Frame {
                        delay: Duration::ZERO,
                        bytes: Vec::new(),
                        hold: true,
                    });
                    return frames;
                }
                text_deltas += 1;
            }
            deltas += 1;
            frames.push(frame(
                message.delay,
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        if let Some((kind, text)) = &message.stream_error {
            frames.push(frame(
                now,
                "error",
                &json!({"type": "error", "error": {"type": kind, "message": text}}),
            ));
            return frames;
        }
        frames.push(frame(
            now,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    frames.push(frame(
        now,
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": message.stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": deltas.max(1)}}),
    ));
    frames.push(frame(now, "message_stop", &json!({"type": "message_stop"})));
    frames
}

/// The non-streaming JSON form of `message`.
pub(crate) fn json_message(message: &Message, id: &str, model: &str, input_tokens: u64) -> Value {
    let content: Vec<Value> = message
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(chunks) => json!({"type": "text", "text": chunks.concat()}),
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect();
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": message.stop_reason, "stop_sequence": null,
        "usage": {"input_tokens": input_tokens, "output_tokens": content.len().max(1)}
    })
}

/// The tool input JSON in two pieces, so clients must accumulate deltas.
fn json_pieces(input: &Value) -> Vec<String> {
    let text = input.to_string();
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    if mid == 0 {
        vec![text]
    } else {
        vec![text[..mid].to_owned(), text[mid..].to_owned()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(frames: &[Frame]) -> Vec<Value> {
        frames
            .iter()
            .map(|f| {
                let text = String::from_utf8(f.bytes.clone()).unwrap();
                let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                serde_json::from_str(data).unwrap()
            })
            .collect()
    }

    #[test]
    fn text_and_tool_frames_in_api_order() {
        let message = Message {
            blocks: vec![
                Block::Text(vec!["a".into(), "b".into()]),
                Block::ToolUse {
                    id: "t1".into(),
                    name: "calc".into(),
                    input: json!({"x": 1}),
                },
            ],
            stop_reason: "tool_use".into(),
            ..Message::default()
        };
        let evs = events(&sse_frames(&message, "msg_1", "m", 5));
        let kinds: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let args: String = evs[7..9]
            .iter()
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(args, "{\"x\":1}");
        assert_eq!(evs[10]["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            json_message(&message, "msg_1", "m", 5)["content"][1]["input"],
            json!({"x": 1})
        );
    }

    #[test]
    fn stream_error_ends_after_deltas() {
        let message = Message {
            blocks: vec![Block::Text(vec!["a".into()])],
            stop_reason: "end_turn".into(),
            stream_error: Some(("overloaded_error".into(), "busy".into())),
            ..Message::default()
        };
        let evs = events(&sse_frames(&message, "msg_1", "m", 5));
        assert_eq!(evs.last().unwrap()["error"]["type"], "overloaded_error");
        assert_eq!(evs.len(), 5);
    }
}
