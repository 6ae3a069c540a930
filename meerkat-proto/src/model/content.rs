//! Prompts and content blocks.

use serde::{Deserialize, Serialize};

/// One block of a multimodal prompt.
///
/// ```
/// use meerkat_proto::ContentBlock;
/// let blocks = vec![
///     ContentBlock::text("What is in this picture?"),
///     ContentBlock::image_bytes("image/png", &[0x89, b'P', b'N', b'G']),
/// ];
/// let json = serde_json::to_value(&blocks).unwrap();
/// assert_eq!(json[1]["source"], "inline");
/// assert_eq!(json[1]["data"], "iVBORw==");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentBlock {
    /// Plain text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// An image, inline as base64 (`source: "inline"`) or a stored blob.
    Image {
        /// The MIME type, such as `image/png`.
        #[serde(default)]
        media_type: String,
        /// `inline` (with `data`) or `blob` (with `blob_id`). 0.5.x requires it.
        #[serde(default = "inline")]
        source: String,
        /// Base64 data without a `data:` prefix.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<String>,
        /// The blob id when `source` is `blob`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blob_id: Option<String>,
    },
    /// A block this SDK does not know (0.9.x `video`, `structured`,
    /// `skill_context`, ...), or one that does not fit its type, kept as
    /// received (and written back as it came).
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

fn inline() -> String {
    "inline".to_owned()
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// An inline image from base64 data (no `data:` prefix).
    pub fn image(media_type: impl Into<String>, base64: impl Into<String>) -> Self {
        Self::Image {
            media_type: media_type.into(),
            source: inline(),
            data: Some(base64.into()),
            blob_id: None,
        }
    }

    /// An inline image from raw bytes, base64-encoded here.
    pub fn image_bytes(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self::image(media_type, base64_encode(bytes))
    }
}

/// Standard base64 with padding (RFC 4648 §4). Tiny; not worth a dependency.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A prompt: text, or a list of content blocks.
///
/// ```
/// use meerkat_proto::{ContentBlock, Prompt};
/// let p: Prompt = "hello".into();
/// assert_eq!(serde_json::to_string(&p).unwrap(), "\"hello\"");
/// let p: Prompt = vec![ContentBlock::text("hi")].into();
/// assert_eq!(serde_json::to_string(&p).unwrap(), r#"[{"type":"text","text":"hi"}]"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Prompt {
    /// Plain text.
    Text(String),
    /// Content blocks (text, images).
    Blocks(Vec<ContentBlock>),
}

impl Prompt {
    /// The text projection: the text, or the text blocks joined by newlines.
    pub fn text_projection(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

impl Default for Prompt {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl From<&str> for Prompt {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Prompt {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<&String> for Prompt {
    fn from(s: &String) -> Self {
        Self::Text(s.clone())
    }
}

impl From<Vec<ContentBlock>> for Prompt {
    fn from(blocks: Vec<ContentBlock>) -> Self {
        Self::Blocks(blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn unknown_block_types_decode() {
        let b: ContentBlock = serde_json::from_str(r#"{"type":"video","x":1}"#).unwrap();
        assert_eq!(
            b,
            ContentBlock::Unknown(serde_json::json!({"type":"video","x":1}))
        );
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"type":"video","x":1}"#
        );
    }
}
