//! Record and replay, sans-IO: a [`Recorder`] that turns every line of a
//! connection into a cassette record, and a [`Player`] that stands in for
//! the server by playing a [`Cassette`] back.
//!
//! A cassette is JSON lines in the shape of the real-server captures under
//! `tests/fixtures/`, so every capture is a cassette and every recording
//! is a capture:
//!
//! ```text
//! {"seq":1,"t_ms":0.4,"dir":"send","msg":{"jsonrpc":"2.0","id":1,"method":"initialize",...}}
//! {"seq":2,"t_ms":51.2,"dir":"recv","msg":{"jsonrpc":"2.0","id":1,"result":{...}}}
//! {"seq":3,"t_ms":51.3,"dir":"recv-raw","line":"2025-01-01 INFO a log line on stdout"}
//! ```
//!
//! `send` is a line the client wrote, `recv` a line the server wrote,
//! `recv-raw` a server line that was not JSON. Other kinds (`step` labels,
//! `send-raw`, stderr or log lines) are kept in a file but play no part in
//! a replay.
//!
//! Neither type does I/O or reads a clock: the engine feeds the recorder
//! with the bytes it reads and writes and the time it is given
//! ([`ConnectOptions::record`]); a transport's replay peer feeds the
//! player with what the client writes and hands what it plays back to the
//! engine as if the server had written it ([`ConnectOptions::replay`]).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use meerkat_proto::cassette::{Cassette, Player, Recorder, Replay};
//!
//! // Record one exchange...
//! let start = Instant::now();
//! let mut recorder = Recorder::new(start);
//! recorder.sent(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"session/list\",\"params\":{}}\n", start);
//! recorder.received(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"sessions\":[]}}\n",
//!     start + Duration::from_millis(3));
//! let text = String::from_utf8(recorder.take()).unwrap();
//! assert!(text.lines().nth(1).unwrap().contains("\"t_ms\":3.0"));
//!
//! // ...and play it back to a client whose ids differ.
//! let now = std::time::Instant::now();
//! let mut player = Player::new(Cassette::parse(&text).unwrap(), &Replay::new("unused"), now);
//! player.handle_client_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session/list\",\"params\":{}}\n", now);
//! let answer: serde_json::Value = serde_json::from_slice(&player.take_output(now)).unwrap();
//! assert_eq!(answer, serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {"sessions": []}}));
//! assert!(player.progress().finished);
//! ```
//!
//! [`ConnectOptions::record`]: crate::ConnectOptions::record
//! [`ConnectOptions::replay`]: crate::ConnectOptions::replay

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::launch::ConnectOptions;
use crate::sdk_error::Error;

/// The longest partial line the recorder or the player holds before it
/// gives up on finding its end (the frame cap of `rkat-rpc` 0.9).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

// ---- options ---------------------------------------------------------------

/// How to replay a cassette instead of starting a server
/// ([`ConnectOptions::replay`]).
///
/// The client's requests must come in the recorded order, each with the
/// recorded method and params; fields named with [`ignore`](Self::ignore)
/// are left out of the comparison. `initialize`'s params (the SDK's own
/// name and version) are never compared.
///
/// ```
/// use meerkat_proto::ConnectOptions;
/// use meerkat_proto::cassette::Replay;
///
/// let options = ConnectOptions::new().replay(
///     Replay::new("tests/cassettes/demo.jsonl").ignore("params.idempotency_key"),
/// );
/// assert!(options.replay.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// The cassette file.
    pub cassette: PathBuf,
    /// Dotted paths into a message (`params.created_at`, `result`,
    /// `params.items.*.id`; `*` is any key or index) that are not
    /// compared.
    pub ignore: Vec<String>,
    /// Play the server's lines at the recorded pace (each after the
    /// recorded gap since the client message before it) instead of at
    /// once.
    pub paced: bool,
}

impl Replay {
    /// Replays the cassette at `path`, comparing every field, at full
    /// speed.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            cassette: path.into(),
            ignore: Vec::new(),
            paced: false,
        }
    }

    /// Plays the server's lines at the recorded pace: each one after the
    /// gap the recording shows since the client's message before it (a
    /// slow tool, a streamed answer's rhythm), not at once.
    ///
    /// ```
    /// use meerkat_proto::cassette::Replay;
    /// assert!(Replay::new("demo.jsonl").paced().paced);
    /// ```
    #[must_use]
    pub fn paced(mut self) -> Self {
        self.paced = true;
        self
    }

    /// Leaves the field at the dotted `path` out of the comparison of the
    /// client's messages with the recorded ones: a timestamp, a generated
    /// id, or `result`/`error` to accept any answer to a server request.
    #[must_use]
    pub fn ignore(mut self, path: impl Into<String>) -> Self {
        self.ignore.push(path.into());
        self
    }
}

impl From<PathBuf> for Replay {
    fn from(path: PathBuf) -> Self {
        Self::new(path)
    }
}

impl From<&Path> for Replay {
    fn from(path: &Path) -> Self {
        Self::new(path)
    }
}

impl From<&str> for Replay {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

impl ConnectOptions {
    /// Records every line of the connection, both ways, with its time
    /// since the connect, to the JSON-lines cassette at `path` (created or
    /// truncated at connect). Recording changes nothing the client does.
    ///
    /// ```
    /// use meerkat_proto::ConnectOptions;
    /// let options = ConnectOptions::new().record("target/demo.jsonl");
    /// assert_eq!(options.record.as_deref(), Some(std::path::Path::new("target/demo.jsonl")));
    /// ```
    #[must_use]
    pub fn record(mut self, path: impl Into<PathBuf>) -> Self {
        self.record = Some(path.into());
        self
    }

    /// Plays a cassette back instead of starting or reaching a server: no
    /// child process, no socket. See [`Replay`].
    ///
    /// ```
    /// use meerkat_proto::ConnectOptions;
    /// let options = ConnectOptions::new().replay("tests/cassettes/demo.jsonl");
    /// assert_eq!(options.replay.unwrap().cassette.to_str(), Some("tests/cassettes/demo.jsonl"));
    /// ```
    #[must_use]
    pub fn replay(mut self, replay: impl Into<Replay>) -> Self {
        self.replay = Some(replay.into());
        self
    }
}

// ---- recording -------------------------------------------------------------

/// Turns the bytes a connection reads and writes into cassette records.
///
/// Lines are split on `\n` per direction (a chunk may hold several lines
/// or part of one); each whole line becomes one record, numbered in the
/// order the lines were complete, timed from `start` in milliseconds.
/// [`take`](Self::take) hands out the records made so far, so the memory
/// held is what was not yet taken plus at most one partial line per
/// direction.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    seq: u64,
    sending: Vec<u8>,
    receiving: Vec<u8>,
    out: Vec<u8>,
}

impl Recorder {
    /// A recorder whose times count from `start`.
    #[must_use]
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            seq: 0,
            sending: Vec::new(),
            receiving: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Bytes the client wrote at `now`.
    pub fn sent(&mut self, bytes: &[u8], now: Instant) {
        let mut partial = std::mem::take(&mut self.sending);
        self.lines(&mut partial, bytes, "send", now);
        self.sending = partial;
    }

    /// Bytes the server wrote, read at `now`.
    pub fn received(&mut self, bytes: &[u8], now: Instant) {
        let mut partial = std::mem::take(&mut self.receiving);
        self.lines(&mut partial, bytes, "recv", now);
        self.receiving = partial;
    }

    /// The records made since the last call, one JSON object a line.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn lines(&mut self, partial: &mut Vec<u8>, bytes: &[u8], dir: &str, now: Instant) {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            partial.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            let line = std::mem::take(partial);
            self.record(&line, dir, now);
        }
        partial.extend_from_slice(rest);
        if partial.len() > MAX_LINE {
            // NB: bounded memory: a line this long is recorded in pieces.
            let line = std::mem::take(partial);
            self.record(&line, dir, now);
        }
    }

    fn record(&mut self, line: &[u8], dir: &str, now: Instant) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.seq += 1;
        let t_ms = now.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        let text = String::from_utf8_lossy(line);
        let record = match serde_json::from_str::<&RawValue>(text.trim()) {
            Ok(msg) => format!(
                "{{\"seq\":{},\"t_ms\":{t_ms:.1},\"dir\":\"{dir}\",\"msg\":{}}}\n",
                self.seq,
                msg.get()
            ),
            Err(_) => format!(
                "{{\"seq\":{},\"t_ms\":{t_ms:.1},\"dir\":\"{dir}-raw\",\"line\":{}}}\n",
                self.seq,
                Value::String(text.into_owned())
            ),
        };
        self.out.extend_from_slice(record.as_bytes());
    }
}

// ---- cassettes -------------------------------------------------------------

/// A cassette, parsed: the lines a replay plays, in order.
///
/// ```
/// use meerkat_proto::cassette::{Cassette, EntryKind};
///
/// let cassette = Cassette::parse(concat!(
///     "{\"seq\":1,\"t_ms\":0,\"dir\":\"step\",\"step\":\"list\"}\n",
///     "{\"seq\":2,\"t_ms\":1,\"dir\":\"send\",\"msg\":{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session/list\"}}\n",
///     "{\"seq\":3,\"t_ms\":2,\"dir\":\"recv\",\"msg\":{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}}\n",
/// )).unwrap();
/// assert_eq!(cassette.entries().len(), 2); // the step label plays no part
/// assert!(matches!(cassette.entries()[0].kind, EntryKind::Send(_)));
/// assert_eq!(cassette.entries()[1].line, 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cassette {
    entries: Vec<Entry>,
}

/// One line of a [`Cassette`] that a replay plays.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// Its line number in the file (1-based; 0 for an entry made in code).
    pub line: usize,
    /// Its time in milliseconds, when recorded.
    pub t_ms: Option<f64>,
    /// What it is.
    pub kind: EntryKind,
}

/// What a cassette line is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EntryKind {
    /// A message the client wrote.
    Send(Value),
    /// A message the server wrote.
    Recv(Value),
    /// A line the server wrote that was not JSON (0.5.x logs on stdout).
    RecvRaw(String),
}

impl Entry {
    /// An entry made in code (line 0, no time).
    #[must_use]
    pub fn new(kind: EntryKind) -> Self {
        Self {
            line: 0,
            t_ms: None,
            kind,
        }
    }
}

/// A cassette line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cassette line {line}: {message}")]
#[non_exhaustive]
pub struct CassetteError {
    /// The line number (1-based).
    pub line: usize,
    /// What was wrong with it.
    pub message: String,
}

impl Cassette {
    /// Parses a cassette's text. Blank lines and records of kinds other
    /// than `send`, `recv` and `recv-raw` are skipped.
    ///
    /// # Errors
    ///
    /// A line that is not a JSON object, or a `send`/`recv` without `msg`.
    pub fn parse(text: &str) -> Result<Self, CassetteError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fail = |message: String| CassetteError {
                line: line_no,
                message,
            };
            let mut record: serde_json::Map<String, Value> =
                serde_json::from_str(line).map_err(|e| fail(e.to_string()))?;
            let dir = record
                .get("dir")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let kind = match dir.as_str() {
                "send" | "recv" => {
                    let msg = record
                        .remove("msg")
                        .ok_or_else(|| fail(format!("a {dir} record without msg")))?;
                    if dir == "send" {
                        EntryKind::Send(msg)
                    } else {
                        EntryKind::Recv(msg)
                    }
                }
                "recv-raw" => EntryKind::RecvRaw(
                    record
                        .get("line")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                ),
                _ => continue,
            };
            entries.push(Entry {
                line: line_no,
                t_ms: record.get("t_ms").and_then(Value::as_f64),
                kind,
            });
        }
        Ok(Self { entries })
    }

    /// A cassette of these entries.
    #[must_use]
    pub fn from_entries(entries: Vec<Entry>) -> Self {
        Self { entries }
    }

    /// The entries, in order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries, to change them (a test adapting a capture).
    pub fn entries_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.entries
    }
}

// ---- replay ----------------------------------------------------------------

/// The client wrote something other than what the cassette recorded next.
///
/// Every pending call of the client fails with it
/// ([`Error::ReplayMismatch`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReplayMismatch {
    /// The cassette line of the recorded message (1-based).
    pub line: usize,
    /// The recorded message.
    pub expected: Value,
    /// What the client wrote.
    pub actual: Value,
    /// Where they differ, one difference a line
    /// (`params.prompt: expected "a", got "b"`).
    pub diff: String,
}

impl std::fmt::Display for ReplayMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replay mismatch at cassette line {}: recorded {}, the client sent {}\n{}",
            self.line,
            describe(&self.expected),
            describe(&self.actual),
            self.diff
        )
    }
}

/// Why a replay ended the connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReplayEnd {
    /// The client's message differs from the recorded one.
    Mismatch(Box<ReplayMismatch>),
    /// The cassette ended before the client did: it sent a message after
    /// the last recorded one, or waits for an answer that was not recorded.
    Exhausted(String),
}

impl ReplayEnd {
    /// The error every pending call gets: [`Error::ReplayMismatch`], or
    /// [`Error::ConnectionClosed`] whose reason says the cassette ended.
    #[must_use]
    pub fn to_error(&self) -> Error {
        match self {
            Self::Mismatch(m) => Error::ReplayMismatch(m.clone()),
            Self::Exhausted(reason) => Error::ConnectionClosed {
                reason: reason.clone(),
                exit_status: None,
                stderr_tail: String::new(),
            },
        }
    }
}

/// How far a replay got ([`Player::progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayProgress {
    /// The client messages matched so far.
    pub matched: usize,
    /// The client messages the cassette recorded.
    pub expected: usize,
    /// Whether every line of the cassette was played.
    pub finished: bool,
    /// Whether the replay ended the connection ([`Player::end`]).
    pub ended: bool,
}

/// Plays a [`Cassette`] to a client, as a pure state machine: the client's
/// bytes in ([`handle_client_bytes`](Self::handle_client_bytes)), the
/// server's bytes out ([`take_output`](Self::take_output)).
///
/// The server's lines are played in their recorded order: those before
/// the first recorded client message at once, then, each time the client
/// writes the next recorded message, those up to the one after it. A
/// client request must have the recorded method and params (less the
/// ignored fields; a missing, `null` or `{}` params are the same); its id
/// may differ, and the recorded answer is given the client's id. Server
/// generated values in the answers (session ids) stay as recorded, so the
/// client's later requests that use them match. A client answer to a
/// server request (`tool/execute`) must match the recorded answer too.
///
/// The replay ends ([`end`](Self::end)) at the first difference, when the
/// client writes after the cassette's last message, or when every line was
/// played while a client request had no recorded answer: the client then
/// gets an error instead of waiting forever.
#[derive(Debug)]
pub struct Player {
    entries: Vec<Entry>,
    pos: usize,
    ignore: Vec<Vec<String>>,
    /// Recorded request id (as JSON text) -> the client's id.
    ids: HashMap<String, Value>,
    /// Recorded request id -> its method, until its answer is played.
    pending: BTreeMap<String, String>,
    partial: Vec<u8>,
    out: Vec<u8>,
    /// Paced: lines played but not due yet, with when they are due.
    held: VecDeque<(Instant, Vec<u8>)>,
    /// Paced: the time and the recorded `t_ms` that the next lines' gaps
    /// count from (the last client message matched, or the start).
    anchor: Option<(Instant, f64)>,
    end: Option<ReplayEnd>,
    matched: usize,
    expected: usize,
}

impl Player {
    /// A player of `cassette` with the comparison rules of `replay`; the
    /// server lines recorded before the first client message are ready at
    /// once.
    #[must_use]
    pub fn new(cassette: Cassette, replay: &Replay, now: Instant) -> Self {
        let expected = cassette
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Send(_)))
            .count();
        let mut player = Self {
            entries: cassette.entries,
            pos: 0,
            ignore: replay
                .ignore
                .iter()
                .map(|p| p.split('.').map(str::to_owned).collect())
                .collect(),
            ids: HashMap::new(),
            pending: BTreeMap::new(),
            partial: Vec::new(),
            out: Vec::new(),
            held: VecDeque::new(),
            anchor: None,
            end: None,
            matched: 0,
            expected,
        };
        if replay.paced {
            let first = player.entries.first().and_then(|e| e.t_ms).unwrap_or(0.0);
            player.anchor = Some((now, first));
        }
        player.advance();
        player
    }

    /// Bytes the client wrote at `now`.
    pub fn handle_client_bytes(&mut self, bytes: &[u8], now: Instant) {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            let line = std::mem::take(&mut self.partial);
            self.handle_line(&line, now);
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_LINE {
            let line = std::mem::take(&mut self.partial);
            self.handle_line(&line, now);
        }
    }

    /// The server's bytes to hand to the client at `now` (paced: those
    /// due by then).
    pub fn take_output(&mut self, now: Instant) -> Vec<u8> {
        while let Some((due, _)) = self.held.front()
            && *due <= now
        {
            if let Some((_, bytes)) = self.held.pop_front() {
                self.out.extend_from_slice(&bytes);
            }
        }
        std::mem::take(&mut self.out)
    }

    /// When the next held line is due (paced replays only).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.front().map(|(due, _)| *due)
    }

    /// Why the replay ended, once it did and every line played before the
    /// end was handed out: the connection then ends with
    /// [`ReplayEnd::to_error`].
    #[must_use]
    pub fn end(&self) -> Option<&ReplayEnd> {
        self.end.as_ref().filter(|_| self.held.is_empty())
    }

    /// How far the replay got.
    #[must_use]
    pub fn progress(&self) -> ReplayProgress {
        ReplayProgress {
            matched: self.matched,
            expected: self.expected,
            finished: self.pos >= self.entries.len(),
            ended: self.end.is_some(),
        }
    }

    fn handle_line(&mut self, line: &[u8], now: Instant) {
        if self.end.is_some() || line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let actual: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(line).into_owned()),
        };
        let Some(entry) = self.entries.get(self.pos) else {
            self.end = Some(ReplayEnd::Exhausted(format!(
                "replay: the cassette ended, but the client sent {}",
                describe(&actual)
            )));
            return;
        };
        let EntryKind::Send(expected) = &entry.kind else {
            // NB: advance() stops at a Send or at the end only.
            return;
        };
        let left = comparable(expected, &self.ignore);
        let right = comparable(&actual, &self.ignore);
        if left != right {
            let mut diff = String::new();
            diff_values("", &left, &right, &mut diff, &mut 0);
            self.end = Some(ReplayEnd::Mismatch(Box::new(ReplayMismatch {
                line: entry.line,
                expected: expected.clone(),
                actual,
                diff,
            })));
            return;
        }
        if expected.get("method").is_some()
            && let (Some(rid), Some(cid)) = (expected.get("id"), actual.get("id"))
            && !rid.is_null()
        {
            let key = rid.to_string();
            let method = expected["method"].as_str().unwrap_or("").to_owned();
            self.ids.insert(key.clone(), cid.clone());
            self.pending.insert(key, method);
        }
        if let Some((_, t)) = self.anchor {
            self.anchor = Some((now, entry.t_ms.unwrap_or(t)));
        }
        self.matched += 1;
        self.pos += 1;
        self.advance();
    }

    /// Hands out `line` (with its newline): at once, or paced, when its
    /// recorded gap since the anchor has passed (never before a line
    /// played earlier).
    fn play(&mut self, line: &[u8], t_ms: Option<f64>) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        let Some((at, from)) = self.anchor else {
            self.out.extend_from_slice(&bytes);
            return;
        };
        let gap = t_ms.map_or(0.0, |t| (t - from).max(0.0));
        let mut due = at + Duration::from_secs_f64(gap / 1000.0);
        if let Some((last, _)) = self.held.back() {
            due = due.max(*last);
        }
        self.held.push_back((due, bytes));
    }

    /// Plays the server lines up to the next client message.
    fn advance(&mut self) {
        while let Some(entry) = self.entries.get(self.pos) {
            match &entry.kind {
                EntryKind::Send(_) => return,
                EntryKind::Recv(msg) => {
                    let mut msg = msg.clone();
                    let is_answer = msg.get("method").is_none();
                    if is_answer && let Some(id) = msg.get_mut("id") {
                        let key = id.to_string();
                        if let Some(client_id) = self.ids.get(&key) {
                            *id = client_id.clone();
                        }
                        self.pending.remove(&key);
                    }
                    let t_ms = entry.t_ms;
                    self.play(msg.to_string().as_bytes(), t_ms);
                }
                EntryKind::RecvRaw(line) => {
                    let (line, t_ms) = (line.clone(), entry.t_ms);
                    self.play(line.as_bytes(), t_ms);
                }
            }
            self.pos += 1;
        }
        if !self.pending.is_empty() && self.end.is_none() {
            let waiting: Vec<String> = self
                .pending
                .iter()
                .map(|(id, method)| format!("{method} (recorded id {id})"))
                .collect();
            self.end = Some(ReplayEnd::Exhausted(format!(
                "replay: the cassette ended early, with no recorded answer to {}",
                waiting.join(", ")
            )));
        }
    }
}

/// The part of a message a replay compares: the method and params of a
/// request or notification, the result or error of an answer; less the
/// ignored paths.
fn comparable(msg: &Value, ignore: &[Vec<String>]) -> Value {
    let mut out = serde_json::Map::new();
    let Some(obj) = msg.as_object() else {
        return msg.clone();
    };
    if let Some(method) = obj.get("method") {
        out.insert("method".into(), method.clone());
        let params = match obj.get("params") {
            // `initialize` carries the SDK's own name and version.
            _ if method == "initialize" => Value::Null,
            None | Some(Value::Null) => Value::Null,
            Some(Value::Object(m)) if m.is_empty() => Value::Null,
            Some(p) => p.clone(),
        };
        out.insert("params".into(), params);
        out.insert("request".into(), Value::Bool(obj.contains_key("id")));
    } else {
        for key in ["result", "error"] {
            if let Some(v) = obj.get(key) {
                out.insert(key.into(), v.clone());
            }
        }
    }
    let mut out = Value::Object(out);
    for path in ignore {
        remove_path(&mut out, path);
    }
    out
}

fn remove_path(value: &mut Value, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Object(map) if rest.is_empty() => {
            if head == "*" {
                map.clear();
            } else {
                map.remove(head);
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if head == "*" || key == head {
                    remove_path(child, rest);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                if head == "*" || head.parse() == Ok(i) {
                    if rest.is_empty() {
                        *child = Value::Null;
                    } else {
                        remove_path(child, rest);
                    }
                }
            }
        }
        _ => {}
    }
}

const MAX_DIFF_LINES: usize = 20;

fn diff_values(path: &str, left: &Value, right: &Value, out: &mut String, lines: &mut usize) {
    if left == right || *lines > MAX_DIFF_LINES {
        return;
    }
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (key, lv) in l {
                match r.get(key) {
                    Some(rv) => diff_values(&at(key), lv, rv, out, lines),
                    None => line(out, lines, format!("- {}: {}", at(key), short(lv))),
                }
            }
            for (key, rv) in r {
                if !l.contains_key(key) {
                    line(out, lines, format!("+ {}: {}", at(key), short(rv)));
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (i, (lv, rv)) in l.iter().zip(r).enumerate() {
                diff_values(&at(&i.to_string()), lv, rv, out, lines);
            }
        }
        _ => line(
            out,
            lines,
            format!(
                "  {}: expected {}, got {}",
                if path.is_empty() { "(message)" } else { path },
                short(left),
                short(right)
            ),
        ),
    }
}

fn line(out: &mut String, lines: &mut usize, text: String) {
    *lines += 1;
    if *lines > MAX_DIFF_LINES {
        out.push_str("  ...\n");
    } else {
        let _ = writeln!(out, "{text}");
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 200 {
        return text;
    }
    let mut end = 200;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// `session/list {..}` (a request), `an answer to id 3 {..}`, or the line.
fn describe(msg: &Value) -> String {
    match msg.get("method").and_then(Value::as_str) {
        Some(method) => format!(
            "{method} {}",
            short(msg.get("params").unwrap_or(&Value::Null))
        ),
        None => match msg.get("id") {
            Some(id) => format!(
                "an answer to id {id} {}",
                short(
                    msg.get("result")
                        .or_else(|| msg.get("error"))
                        .unwrap_or(&Value::Null)
                )
            ),
            None => short(msg),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A time for replays at full speed, where it does not matter.
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_paced_replay_keeps_the_recorded_gaps_after_each_client_message() {
        let c = cassette(&[
            ("send", json!({"jsonrpc":"2.0","id":1,"method":"a"})),
            ("recv", json!({"jsonrpc":"2.0","id":1,"result":"ra"})),
            ("recv", json!({"jsonrpc":"2.0","method":"note"})),
            ("send", json!({"jsonrpc":"2.0","id":2,"method":"b"})),
            ("recv", json!({"jsonrpc":"2.0","id":2,"result":"rb"})),
        ]);
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let mut p = Player::new(c, &Replay::new("x").paced(), start);
        assert_eq!(p.poll_timeout(), None, "nothing before the first request");
        let req = |id: u64, m: &str| {
            format!("{}\n", json!({"jsonrpc":"2.0","id":id,"method":m})).into_bytes()
        };
        // The client asks 10 ms in; the answer was recorded 1 ms after
        // the request, the notification 2 ms after.
        p.handle_client_bytes(&req(7, "a"), ms(10));
        assert!(p.take_output(ms(10)).is_empty());
        assert_eq!(p.poll_timeout(), Some(ms(11)));
        let answer = String::from_utf8(p.take_output(ms(11))).unwrap();
        assert!(
            answer.contains("\"ra\"") && answer.contains("\"id\":7"),
            "{answer}"
        );
        assert_eq!(p.poll_timeout(), Some(ms(12)));
        assert!(
            String::from_utf8(p.take_output(ms(12)))
                .unwrap()
                .contains("note")
        );
        assert_eq!(p.poll_timeout(), None);
        // The gaps count from each client message, whenever it comes.
        p.handle_client_bytes(&req(8, "b"), ms(50));
        assert_eq!(p.poll_timeout(), Some(ms(51)));
        assert!(p.end().is_none());
        assert!(
            String::from_utf8(p.take_output(ms(60)))
                .unwrap()
                .contains("\"rb\"")
        );
        assert!(p.progress().finished);

        // At full speed everything after a request is there at once.
        let c = cassette(&[
            ("send", json!({"jsonrpc":"2.0","id":1,"method":"a"})),
            ("recv", json!({"jsonrpc":"2.0","id":1,"result":"ra"})),
            ("recv", json!({"jsonrpc":"2.0","method":"note"})),
        ]);
        let mut p = Player::new(c, &Replay::new("x"), start);
        p.handle_client_bytes(&req(1, "a"), start);
        let both = String::from_utf8(p.take_output(start)).unwrap();
        assert_eq!(both.lines().count(), 2, "{both}");
        assert_eq!(p.poll_timeout(), None);
    }

    fn cassette(lines: &[(&str, Value)]) -> Cassette {
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, (dir, msg))| {
                format!(
                    "{}\n",
                    json!({"seq": i + 1, "t_ms": i, "dir": dir, "msg": msg})
                )
            })
            .collect();
        Cassette::parse(&text).unwrap()
    }

    fn line(v: Value) -> Vec<u8> {
        let mut b = v.to_string().into_bytes();
        b.push(b'\n');
        b
    }

    #[test]
    fn a_mismatch_names_the_difference() {
        let c = cassette(&[
            (
                "send",
                json!({"jsonrpc":"2.0","id":1,"method":"turn/start","params":{"session_id":"s","prompt":"a"}}),
            ),
            ("recv", json!({"jsonrpc":"2.0","id":1,"result":{}})),
        ]);
        let mut p = Player::new(c, &Replay::new("x"), t0());
        p.handle_client_bytes(&line(
            json!({"jsonrpc":"2.0","id":5,"method":"turn/start","params":{"session_id":"s","prompt":"b","x":1}}),
        ), t0());
        let Some(ReplayEnd::Mismatch(m)) = p.end().cloned() else {
            panic!("{:?}", p.end())
        };
        assert_eq!(m.line, 1);
        assert!(
            m.diff.contains("params.prompt: expected \"a\", got \"b\""),
            "{}",
            m.diff
        );
        assert!(m.diff.contains("+ params.x: 1"), "{}", m.diff);
        assert!(p.take_output(t0()).is_empty());
        assert_eq!(Error::ReplayMismatch(m).code(), "REPLAY_MISMATCH");
    }

    #[test]
    fn ignored_fields_and_ids_and_early_ends() {
        let c = cassette(&[
            ("recv", json!({"jsonrpc":"2.0","method":"hello"})),
            (
                "send",
                json!({"jsonrpc":"2.0","id":1,"method":"a","params":{"t":1,"k":2}}),
            ),
            (
                "recv",
                json!({"jsonrpc":"2.0","id":1,"result":{"session_id":"S"}}),
            ),
            (
                "send",
                json!({"jsonrpc":"2.0","id":2,"method":"b","params":{}}),
            ),
        ]);
        let mut p = Player::new(c, &Replay::new("x").ignore("params.t"), t0());
        assert_eq!(
            p.take_output(t0()),
            line(json!({"jsonrpc":"2.0","method":"hello"}))
        );
        p.handle_client_bytes(
            &line(json!({"jsonrpc":"2.0","id":"c1","method":"a","params":{"t":9,"k":2}})),
            t0(),
        );
        assert_eq!(
            p.take_output(t0()),
            line(json!({"jsonrpc":"2.0","id":"c1","result":{"session_id":"S"}}))
        );
        assert!(p.end().is_none());
        // The last request has no recorded answer: the replay ends rather
        // than leave the client waiting.
        p.handle_client_bytes(&line(json!({"jsonrpc":"2.0","id":"c2","method":"b"})), t0());
        let Some(ReplayEnd::Exhausted(reason)) = p.end() else {
            panic!("{:?}", p.end())
        };
        assert!(reason.contains("no recorded answer to b"), "{reason}");
        assert_eq!(p.end().unwrap().to_error().code(), "CONNECTION_CLOSED");
    }

    #[test]
    fn a_message_after_the_last_line_ends_the_replay() {
        let mut p = Player::new(Cassette::default(), &Replay::new("x"), t0());
        assert!(p.end().is_none());
        p.handle_client_bytes(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session/list\"}\n",
            t0(),
        );
        assert!(matches!(p.end(), Some(ReplayEnd::Exhausted(r)) if r.contains("session/list")));
    }

    #[test]
    fn the_recorder_splits_lines_and_keeps_raw_ones() {
        let t0 = Instant::now();
        let mut r = Recorder::new(t0);
        r.received(b"{\"a\":", t0);
        r.received(b"1}\nnot json\n", t0);
        r.sent(b"{\"b\":2}\n", t0);
        let text = String::from_utf8(r.take()).unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            records[0],
            json!({"seq":1,"t_ms":0.0,"dir":"recv","msg":{"a":1}})
        );
        assert_eq!(
            records[1],
            json!({"seq":2,"t_ms":0.0,"dir":"recv-raw","line":"not json"})
        );
        assert_eq!(records[2]["dir"], "send");
        let c = Cassette::parse(&text).unwrap();
        assert_eq!(c.entries().len(), 3);
    }
}
