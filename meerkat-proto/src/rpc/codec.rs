//! JSON Lines framing: the incremental [`FrameDecoder`] for what the peer
//! writes, and [`Transmit`], one encoded line for the peer to read.
//!
//! The decoder copies only what it must: a line that arrives whole inside one
//! `decode` call is handed out as a slice of the caller's bytes; only the
//! unfinished tail of a chunk is kept, and never more than the frame limit.

use serde::Serialize;
use std::fmt;

/// Capacity above which the line buffer is released after use, so that one
/// large line does not pin its memory for the life of the connection.
const KEEP_CAPACITY: usize = 1 << 20;

/// One line found by a [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// A complete line, without its `\n` and without a trailing `\r`. May be
    /// empty or whitespace only.
    Line(&'a [u8]),
    /// A line longer than the limit. Its bytes were (or will be) discarded up
    /// to the next `\n`; reported once, as soon as the line crosses the limit.
    TooLong {
        /// The configured limit.
        limit: usize,
    },
}

/// Splits a byte stream into lines, incrementally, under a length limit.
///
/// Accepts any chunking: one byte at a time, half a line, many lines at
/// once; the frames are the same. The length of a line counts every byte
/// before its `\n` (a `\r` included).
///
/// ```
/// # use meerkat_proto::rpc::{Frame, FrameDecoder};
/// let mut decoder = FrameDecoder::new(16);
/// let mut lines = Vec::new();
/// for chunk in [&b"{\"a\""[..], b":1}\r\n{}\n", b"this line is far too long\n[]"] {
///     decoder.decode(chunk, |frame| lines.push(format!("{frame:?}")));
/// }
/// decoder.finish(|frame| lines.push(format!("{frame:?}")));
/// assert_eq!(lines.len(), 4);
/// assert_eq!(lines[2], "TooLong { limit: 16 }");
/// ```
#[derive(Clone)]
pub struct FrameDecoder {
    /// The start of an unfinished line; never longer than `max_frame_len`.
    buf: Vec<u8>,
    max_frame_len: usize,
    /// True while skipping the rest of a line already reported too long.
    discarding: bool,
}

impl FrameDecoder {
    /// Creates a decoder that accepts lines of at most `max_frame_len` bytes.
    #[must_use]
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_frame_len,
            discarding: false,
        }
    }

    /// Returns the configured limit.
    #[must_use]
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Returns how many bytes of an unfinished line are buffered (at most
    /// [`FrameDecoder::max_frame_len`]).
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `bytes` and calls `on_frame` for every line they complete, in order.
    pub fn decode(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        let limit = self.max_frame_len;
        let mut rest = bytes;
        while !rest.is_empty() {
            let newline = find_newline(rest);
            if self.discarding {
                match newline {
                    Some(i) => {
                        self.discarding = false;
                        rest = &rest[i + 1..];
                        continue;
                    }
                    None => return,
                }
            }
            let Some(i) = newline else {
                // NB: the check comes before buffering, so `buf` never holds
                // more than `limit` bytes, whatever the peer sends.
                if self.buf.len() + rest.len() > limit {
                    self.release_buf();
                    self.discarding = true;
                    on_frame(Frame::TooLong { limit });
                } else {
                    self.buf.extend_from_slice(rest);
                }
                return;
            };
            let head = &rest[..i];
            rest = &rest[i + 1..];
            if self.buf.len() + head.len() > limit {
                self.release_buf();
                on_frame(Frame::TooLong { limit });
            } else if self.buf.is_empty() {
                on_frame(Frame::Line(strip_cr(head)));
            } else {
                self.buf.extend_from_slice(head);
                on_frame(Frame::Line(strip_cr(&self.buf)));
                self.release_buf();
            }
        }
    }

    /// Ends the stream: an unfinished last line (no `\n`) is handed out as a
    /// line, and the decoder is reset.
    pub fn finish(&mut self, mut on_frame: impl FnMut(Frame<'_>)) {
        self.discarding = false;
        if !self.buf.is_empty() {
            on_frame(Frame::Line(strip_cr(&self.buf)));
        }
        self.release_buf();
    }

    fn release_buf(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }
}

/// Shows sizes only: the buffer holds peer payload (logged at trace only).
impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max_frame_len", &self.max_frame_len)
            .field("buffered_len", &self.buf.len())
            .field("discarding", &self.discarding)
            .finish()
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Finds the first `\n`, a word at a time (the `memchr` idea, in safe code).
pub(crate) fn find_newline(hay: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', hay)
}

/// One encoded JSON-RPC message for the peer: a JSON line, `\n` included.
///
/// Write it with a single write call: 0.5.x servers may tear a line that
/// arrives in pieces while they are busy writing (PROTOCOL 1.2).
#[must_use]
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    bytes: Vec<u8>,
}

impl Transmit {
    /// Encodes `message` as compact JSON followed by `\n`.
    ///
    /// Raw payloads are written verbatim, so a pretty-printed one would bring
    /// its newlines along and break the line. In valid JSON a raw `\n` can
    /// only be insignificant whitespace (inside strings it is escaped), so
    /// each one is replaced by a space: the same JSON, on one line.
    pub(crate) fn encode(message: &impl Serialize, size_hint: usize) -> serde_json::Result<Self> {
        let mut bytes = Vec::with_capacity(size_hint + 1);
        serde_json::to_writer(&mut bytes, message)?;
        let mut from = 0;
        while let Some(i) = find_newline(&bytes[from..]) {
            bytes[from + i] = b' ';
            from += i + 1;
        }
        bytes.push(b'\n');
        Ok(Self { bytes })
    }

    /// Returns the bytes to write, `\n` included.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Returns the JSON text without its trailing `\n`.
    #[must_use]
    pub fn json(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - 1]
    }

    /// Returns the bytes to write, `\n` included, as an owned buffer.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Returns the length in bytes, `\n` included (never zero).
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Returns `false`: a transmit always holds at least `\n`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl AsRef<[u8]> for Transmit {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Transmit> for Vec<u8> {
    fn from(transmit: Transmit) -> Self {
        transmit.bytes
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Transmit")
            .field(&String::from_utf8_lossy(self.json()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(decoder: &mut FrameDecoder, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |frame: Frame<'_>| {
            out.push(match frame {
                Frame::Line(line) => String::from_utf8_lossy(line).into_owned(),
                Frame::TooLong { limit } => format!("<too long: {limit}>"),
            });
        };
        for chunk in chunks {
            decoder.decode(chunk, &mut push);
        }
        decoder.finish(&mut push);
        out
    }

    #[test]
    fn find_newline_agrees_with_a_naive_scan() {
        let mut hay = vec![b'a'; 40];
        assert_eq!(find_newline(&hay), None);
        for pos in 0..hay.len() {
            hay[pos] = b'\n';
            for start in 0..=pos {
                assert_eq!(find_newline(&hay[start..]), Some(pos - start));
            }
            hay[pos] = b'a';
        }
        // Bytes around '\n' (0x0a) must not trigger false positives.
        let near: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
        assert_eq!(find_newline(&near), None);
        let mut with = near.clone();
        with.push(b'\n');
        assert_eq!(find_newline(&with), Some(near.len()));
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let mut d = FrameDecoder::new(100);
        let out = frames(&mut d, &[b"a\r\nb\n\n  \nc"]);
        assert_eq!(out, ["a", "b", "", "  ", "c"]);
    }

    #[test]
    fn any_chunking_gives_the_same_lines() {
        let input = b"{\"x\":1}\n\r\nlong line here\nzz\nend";
        let mut whole = FrameDecoder::new(10);
        let expected = frames(&mut whole, &[input]);
        assert_eq!(expected, ["{\"x\":1}", "", "<too long: 10>", "zz", "end"]);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                frames(&mut FrameDecoder::new(10), &[a, b]),
                expected,
                "split {split}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frames(&mut FrameDecoder::new(10), &bytes), expected);
    }

    #[test]
    fn limit_is_inclusive_and_counts_cr() {
        let mut d = FrameDecoder::new(3);
        assert_eq!(frames(&mut d, &[b"abc\n"]), ["abc"]);
        assert_eq!(frames(&mut d, &[b"ab", b"c", b"\n"]), ["abc"]);
        assert_eq!(frames(&mut d, &[b"abcd\n"]), ["<too long: 3>"]);
        assert_eq!(frames(&mut d, &[b"abc\r\n"]), ["<too long: 3>"]);
        assert_eq!(frames(&mut d, &[b"ab\r\n"]), ["ab"]);
    }

    #[test]
    fn oversized_line_is_never_buffered_and_reported_once() {
        let mut d = FrameDecoder::new(8);
        let mut out = Vec::new();
        for _ in 0..1000 {
            d.decode(b"xxxxxxx", |f| out.push(format!("{f:?}")));
            assert!(d.buffered_len() <= 8);
        }
        assert_eq!(out, ["TooLong { limit: 8 }"]);
        d.decode(b"x\nok\n", |f| out.push(format!("{f:?}")));
        assert_eq!(out[1..], [format!("{:?}", Frame::Line(b"ok"))]);
    }

    #[test]
    fn finish_after_discarding_yields_nothing() {
        let mut d = FrameDecoder::new(2);
        assert_eq!(frames(&mut d, &[b"abcdef"]), ["<too long: 2>"]);
        assert_eq!(d.buffered_len(), 0);
        assert_eq!(frames(&mut d, &[b"ok\n"]), ["ok"]);
    }

    #[test]
    fn large_buffer_is_released() {
        let mut d = FrameDecoder::new(usize::MAX);
        let big = vec![b'x'; KEEP_CAPACITY * 2];
        d.decode(&big, |_| {});
        d.decode(b"\n", |_| {});
        assert_eq!(d.buffered_len(), 0);
        assert!(d.buf.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn transmit_puts_a_pretty_payload_on_one_line() {
        #[derive(Serialize)]
        struct Holder {
            p: Box<serde_json::value::RawValue>,
        }
        let pretty = serde_json::to_string_pretty(&serde_json::json!({"a": [1, "x\ny"]})).unwrap();
        assert!(pretty.contains('\n'));
        let p = serde_json::value::RawValue::from_string(pretty).unwrap();
        let t = Transmit::encode(&Holder { p }, 0).unwrap();
        assert_eq!(t.as_bytes().iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(t.as_bytes().last(), Some(&b'\n'));
        let back: serde_json::Value = serde_json::from_slice(t.json()).unwrap();
        assert_eq!(back, serde_json::json!({"p": {"a": [1, "x\ny"]}}));
    }

    #[test]
    fn transmit_ends_with_one_newline() {
        let t = Transmit::encode(&serde_json::json!({"a": "b\nc"}), 0).unwrap();
        assert_eq!(t.as_bytes(), b"{\"a\":\"b\\nc\"}\n");
        assert_eq!(t.json(), b"{\"a\":\"b\\nc\"}");
        assert_eq!(t.len(), t.as_ref().len());
        assert!(!t.is_empty());
        assert_eq!(format!("{t:?}"), r#"Transmit("{\"a\":\"b\\nc\"}")"#);
        assert_eq!(Vec::from(t.clone()), t.into_bytes());
    }
}
