//! Markers written into prompts to steer the scripted LLM's default behaviour.
//!
//! A marker is `[[keyword args]]` anywhere in the text of a user message:
//!
//! | marker | effect |
//! | --- | --- |
//! | `[[chunks N]]` | stream the final text in `N` text deltas (default 3; padded with `.` when shorter than `N`) |
//! | `[[slow MS]]` | wait `MS` milliseconds before every streamed delta |
//! | `[[stall N]]` | stream `N` text deltas, then hold the response open, sending nothing more, until the client goes away |
//! | `[[error CODE]]` | answer HTTP `CODE` with an Anthropic error body, every time |
//! | `[[error CODE xN]]` | fail `N` times (counted per identical `messages` array), then answer normally |
//! | `[[stream_error TYPE]]` | start streaming, then send an `event: error` of that error type |
//! | `[[json {...}]]` | answer the structured-output extraction call with this JSON text |
//! | `[[badjson xN]]` | answer the extraction call `N` times with text that is not JSON, then valid JSON |
//! | `[[tool NAME {json}]]` | emit a `tool_use` of `NAME` (also `[[tool:NAME {json}]]`; args default `{}`); on the follow-up carrying the `tool_result`, answer `Tool NAME returned: <result>` (several tool markers run one after the other) |
//! | `[[hang]]` | never answer (the request stays open until the server stops) |
//!
//! Markers are removed from the echoed text: the default answer to
//! `"Hi there [[chunks 5]]"` is `"You said: Hi there"` in five deltas.

use serde_json::Value;

/// The markers found in one prompt, and the prompt without them.
///
/// ```
/// use meerkat_tests::llm::Markers;
///
/// let m = Markers::parse("Hi [[chunks 5]] there");
/// assert_eq!(m.chunks, Some(5));
/// assert_eq!(m.stripped, "Hi there");
/// ```
#[derive(Debug, Default, Clone, PartialEq)]
#[non_exhaustive]
pub struct Markers {
    /// `[[chunks N]]`.
    pub chunks: Option<usize>,
    /// `[[slow MS]]`.
    pub slow_ms: Option<u64>,
    /// `[[stall N]]`.
    pub stall: Option<usize>,
    /// `[[error CODE]]` / `[[error CODE xN]]`: status and times to fail.
    pub error: Option<(u16, Option<u32>)>,
    /// `[[stream_error TYPE]]`.
    pub stream_error: Option<String>,
    /// `[[json ...]]`: the raw JSON text, verbatim.
    pub json: Option<String>,
    /// `[[badjson xN]]` (`N` defaults to 1).
    pub badjson: Option<u32>,
    /// Every `[[tool NAME {args}]]`, in order.
    pub tools: Vec<(String, Value)>,
    /// `[[hang]]`.
    pub hang: bool,
    /// The prompt text without markers, whitespace collapsed to single spaces.
    pub stripped: String,
}

impl Markers {
    /// Finds every marker of `text`. Unparsable `[[...` sequences stay text.
    pub fn parse(text: &str) -> Self {
        let mut markers = Self::default();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("[[") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(consumed) = markers.parse_one(after) {
                rest = &after[consumed..];
                out.push(' ');
            } else {
                out.push_str("[[");
                rest = after;
            }
        }
        out.push_str(rest);
        markers.stripped = out.split_whitespace().collect::<Vec<_>>().join(" ");
        markers
    }

    /// Parses one marker body (after `[[`); returns the bytes consumed,
    /// including the closing `]]`, or `None` when it is not a marker.
    fn parse_one(&mut self, s: &str) -> Option<usize> {
        let mut cur = Cursor { s, pos: 0 };
        let keyword = cur.word_until(|c| c == ':' || c.is_whitespace() || c == ']');
        match keyword {
            "chunks" => {
                let n = cur.word()?.parse().ok()?;
                cur.close()?;
                self.chunks = Some(n);
            }
            "slow" => {
                let ms = cur.word()?.parse().ok()?;
                cur.close()?;
                self.slow_ms = Some(ms);
            }
            "stall" => {
                let n = cur.word()?.parse().ok()?;
                cur.close()?;
                self.stall = Some(n);
            }
            "error" => {
                let code = cur.word()?.parse().ok()?;
                let times = cur.times()?;
                cur.close()?;
                self.error = Some((code, times));
            }
            "stream_error" => {
                let kind = cur.word()?.to_owned();
                cur.close()?;
                self.stream_error = Some(kind);
            }
            "json" => {
                let raw = cur.json()?;
                cur.close()?;
                self.json = Some(raw.to_owned());
            }
            "badjson" => {
                let times = cur.times()?.unwrap_or(1);
                cur.close()?;
                self.badjson = Some(times);
            }
            "tool" => {
                if cur.rest().starts_with(':') {
                    cur.pos += 1;
                }
                let name = cur.word()?.to_owned();
                cur.skip_ws();
                let args = if cur.rest().starts_with("]]") {
                    Value::Object(serde_json::Map::new())
                } else {
                    serde_json::from_str(cur.json()?).ok()?
                };
                cur.close()?;
                self.tools.push((name, args));
            }
            "hang" => {
                cur.close()?;
                self.hang = true;
            }
            _ => return None,
        }
        Some(cur.pos)
    }
}

/// A tiny scanner over the text of one marker.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn word_until(&mut self, stop: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let end = rest.find(stop).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    /// The next whitespace-separated word, stopping at `]`.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let word = self.word_until(|c| c.is_whitespace() || c == ']');
        (!word.is_empty()).then_some(word)
    }

    /// An optional `xN` repetition count.
    fn times(&mut self) -> Option<Option<u32>> {
        self.skip_ws();
        if !self.rest().starts_with('x') {
            return Some(None);
        }
        let word = self.word()?;
        word[1..].parse().ok().map(Some)
    }

    /// One JSON value, returned as its raw text.
    fn json(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        stream.next()?.ok()?;
        let end = stream.byte_offset();
        self.pos += end;
        Some(&rest[..end])
    }

    fn close(&mut self) -> Option<()> {
        self.skip_ws();
        if self.rest().starts_with("]]") {
            self.pos += 2;
            Some(())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Markers;
    use serde_json::json;

    #[test]
    fn parses_every_marker_and_strips_them() {
        let m = Markers::parse(
            "Hi [[chunks 6]] there [[slow 30]][[stall 2]][[error 529 x2]] [[json {\"a\": [[1]]}]] \
             [[badjson x3]] [[tool datetime {}]] [[tool:lookup {\"k\": \"v\"}]] [[hang]] \
             [[stream_error overloaded_error]] end",
        );
        assert_eq!(m.chunks, Some(6));
        assert_eq!(m.slow_ms, Some(30));
        assert_eq!(m.stall, Some(2));
        assert_eq!(m.error, Some((529, Some(2))));
        assert_eq!(m.json.as_deref(), Some("{\"a\": [[1]]}"));
        assert_eq!(m.badjson, Some(3));
        assert_eq!(
            m.tools,
            vec![
                ("datetime".into(), json!({})),
                ("lookup".into(), json!({"k": "v"}))
            ]
        );
        assert!(m.hang);
        assert_eq!(m.stream_error.as_deref(), Some("overloaded_error"));
        assert_eq!(m.stripped, "Hi there end");
    }

    #[test]
    fn plain_error_and_tool_without_args() {
        let m = Markers::parse("x [[error 400]] [[tool datetime]] [[badjson]]");
        assert_eq!(m.error, Some((400, None)));
        assert_eq!(m.tools, vec![("datetime".into(), json!({}))]);
        assert_eq!(m.badjson, Some(1));
        assert_eq!(m.stripped, "x");
    }

    #[test]
    fn malformed_markers_stay_text() {
        let m = Markers::parse("a [[chunks many]] b [[unknown]] c [[ d");
        assert_eq!(
            m,
            Markers {
                stripped: "a [[chunks many]] b [[unknown]] c [[ d".into(),
                ..Markers::default()
            }
        );
    }
}
