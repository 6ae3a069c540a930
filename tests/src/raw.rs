//! A raw JSON-lines driver for `rkat-rpc` (real or fake), independent of the
//! SDK: spawn the child, write JSON lines, read lines.
//!
//! It is deliberately dumb (one reader thread, everything kept) so it can
//! check the other components instead of sharing their bugs. Every wait has
//! a deadline and panics with the transcript tail when it passes: a test
//! using it can fail but never hang.
//!
//! ```no_run
//! use std::process::Command;
//! use meerkat_tests::raw::RawRpc;
//! use serde_json::json;
//!
//! let mut rpc = RawRpc::spawn(Command::new("rkat-rpc")).unwrap();
//! let init = rpc.call("initialize", json!({})).unwrap();
//! assert_eq!(init["contract_version"], "0.5.2");
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Default deadline of [`RawRpc::call`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One line read from the child's stdout.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Line {
    /// A line that parsed as JSON (its first JSON value).
    Json(Value),
    /// A line that did not.
    Raw(String),
}

/// A running child spoken to in raw JSON lines. Killed when dropped.
#[derive(Debug)]
pub struct RawRpc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    next_id: u64,
    /// Every JSON message read and not yet taken by a wait, in order.
    backlog: Vec<Value>,
    /// Every non-JSON line read.
    raw_lines: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The thread draining stderr; joined once the child exited, so
    /// `stderr()` then holds its last words.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl RawRpc {
    /// Spawns `command` with piped stdio.
    ///
    /// # Errors
    ///
    /// When the process cannot be started.
    pub fn spawn(mut command: Command) -> std::io::Result<Self> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let (tx, lines) = channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&buf);
                            let text = text.trim_end_matches(['\n', '\r']);
                            let first = serde_json::Deserializer::from_str(text)
                                .into_iter::<Value>()
                                .next();
                            let line = match first {
                                Some(Ok(value)) => Line::Json(value),
                                _ => Line::Raw(text.to_owned()),
                            };
                            if tx.send(line).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut stderr_reader = None;
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            stderr_reader = Some(std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    // Keep the last 1 MiB only: floods must not eat memory.
                    if sink.len() > 1 << 20 {
                        let cut = sink.len() - (1 << 19);
                        sink.drain(..cut);
                    }
                    sink.extend_from_slice(&chunk[..n]);
                }
            }));
        }
        Ok(Self {
            child,
            stdin,
            lines,
            next_id: 0,
            backlog: Vec::new(),
            raw_lines: Vec::new(),
            stderr,
            stderr_reader,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin (EOF on its side) and leaves it running.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Writes one message as a JSON line.
    ///
    /// # Errors
    ///
    /// When stdin is closed or the write fails.
    pub fn send(&mut self, message: &Value) -> std::io::Result<()> {
        self.send_raw(format!("{message}\n").as_bytes())
    }

    /// Writes raw bytes to the child's stdin (one `write_all`).
    ///
    /// # Errors
    ///
    /// When stdin is closed or the write fails.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    /// Sends a request with the next integer id; returns that id.
    ///
    /// # Panics
    ///
    /// When the write fails (the child died; the test cannot go on).
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if let Err(e) = self.send(&message) {
            panic!("writing {method} failed: {e}\n{}", self.transcript_tail());
        }
        id
    }

    /// Sends a notification.
    ///
    /// # Panics
    ///
    /// When the write fails.
    pub fn notify(&mut self, method: &str, params: Value) {
        if let Err(e) = self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params})) {
            panic!("writing {method} failed: {e}\n{}", self.transcript_tail());
        }
    }

    /// Sends a request and waits for its response: `Ok(result)` or
    /// `Err(error object)`.
    ///
    /// # Errors
    ///
    /// The server's error object.
    ///
    /// # Panics
    ///
    /// When no response arrives within [`DEFAULT_TIMEOUT`].
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.request(method, params);
        self.response(id, DEFAULT_TIMEOUT)
    }

    /// Waits for the response to request `id`, keeping every other message
    /// in the backlog.
    ///
    /// # Errors
    ///
    /// The server's error object.
    ///
    /// # Panics
    ///
    /// When no response arrives within `timeout` (or the child exits).
    pub fn response(&mut self, id: u64, timeout: Duration) -> Result<Value, Value> {
        let found = self.wait_for(timeout, |m| {
            m.get("method").is_none() && m.get("id") == Some(&json!(id))
        });
        let Some(message) = found else {
            panic!(
                "no response to request {id} within {timeout:?}\n{}",
                self.transcript_tail()
            );
        };
        match message.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Waits for the first message (in arrival order, the backlog first) that
    /// matches `pred`, removes it from the backlog and returns it; `None` on
    /// timeout or when the child closed stdout.
    pub fn wait_for(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(at) = self.backlog.iter().position(&pred) {
            return Some(self.backlog.remove(at));
        }
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Json(value)) if pred(&value) => return Some(value),
                Ok(Line::Json(value)) => self.backlog.push(value),
                Ok(Line::Raw(text)) => self.raw_lines.push(text),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Reads whatever arrives for `period` into the backlog.
    pub fn drain_for(&mut self, period: Duration) {
        let _ = self.wait_for(period, |_| false);
    }

    /// Removes and returns every backlog message matching `pred`.
    pub fn take(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let (taken, kept) = std::mem::take(&mut self.backlog)
            .into_iter()
            .partition(|m| pred(m));
        self.backlog = kept;
        taken
    }

    /// The backlog: messages read and not yet taken.
    pub fn backlog(&self) -> &[Value] {
        &self.backlog
    }

    /// The non-JSON lines read so far.
    pub fn raw_lines(&self) -> &[String] {
        &self.raw_lines
    }

    /// Everything the child wrote on stderr (its last MiB), lossily decoded.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// Runs a turn-like request (`session/create`, `turn/start`) to the end:
    /// waits for its response, then for the session's terminal event
    /// (`run_completed`/`run_failed`, which 0.5.x may send after the
    /// response). Returns the response and the `session/event` payloads of
    /// that session, in order, taken out of the backlog.
    ///
    /// # Panics
    ///
    /// When no response or no terminal event arrives within
    /// [`DEFAULT_TIMEOUT`].
    pub fn turn(&mut self, method: &str, params: Value) -> TurnOutcome {
        let id = self.request(method, params);
        let response = self.response(id, DEFAULT_TIMEOUT);
        let session = match &response {
            Ok(result) => result
                .get("session_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Err(_) => None,
        };
        let session = session.or_else(|| {
            self.backlog
                .iter()
                .rev()
                .find(|m| m["method"] == "session/event")
                .and_then(|m| m["params"]["session_id"].as_str().map(str::to_owned))
        });
        let Some(session) = session else {
            return TurnOutcome {
                response,
                events: Vec::new(),
                envelopes: Vec::new(),
            };
        };
        let is_terminal = |m: &Value, session: &str| {
            m["method"] == "session/event"
                && m["params"]["session_id"] == session
                && matches!(
                    m["params"]["event"]["payload"]["type"].as_str(),
                    Some("run_completed" | "run_failed")
                )
        };
        if !self.backlog.iter().any(|m| is_terminal(m, &session)) {
            let Some(last) = self.wait_for(DEFAULT_TIMEOUT, |m| is_terminal(m, &session)) else {
                panic!(
                    "no run_completed or run_failed within {DEFAULT_TIMEOUT:?}\n{}",
                    self.transcript_tail()
                );
            };
            self.backlog.push(last);
        }
        let envelopes: Vec<Value> = self
            .take(|m| m["method"] == "session/event" && m["params"]["session_id"] == session)
            .into_iter()
            .map(|m| m["params"]["event"].clone())
            .collect();
        let events = envelopes.iter().map(|e| e["payload"].clone()).collect();
        TurnOutcome {
            response,
            events,
            envelopes,
        }
    }

    /// Calls `runtime/reset` for `session_id` until it succeeds, retrying
    /// every 50 ms while the server answers `-32602 "Runtime not ready:
    /// ..."` (a failed input is being replayed), for [`DEFAULT_TIMEOUT`] at
    /// most. Returns the result.
    ///
    /// # Errors
    ///
    /// The last error object when the reset never succeeded.
    pub fn reset_runtime(&mut self, session_id: &str) -> Result<Value, Value> {
        let mut last = Value::Null;
        let watchdog = Instant::now() + DEFAULT_TIMEOUT;
        while Instant::now() < watchdog {
            match self.call("runtime/reset", json!({"session_id": session_id})) {
                Ok(result) => return Ok(result),
                Err(error) => {
                    let not_ready = error["code"] == -32602
                        && error["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("Runtime not ready"));
                    if !not_ready {
                        return Err(error);
                    }
                    last = error;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(last)
    }

    /// Waits up to `timeout` for the child to exit by itself, stdin left
    /// open; `None` when it is still running.
    ///
    /// # Errors
    ///
    /// When waiting on the child fails.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= end {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Closes stdin and waits up to `grace` for the child to exit, then
    /// kills it. Returns the exit status.
    ///
    /// # Errors
    ///
    /// When waiting on the child fails.
    pub fn shutdown(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        self.stdin = None;
        let end = Instant::now() + grace;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The child is gone: its stderr reaches EOF (unless a grandchild
        // still holds it: wait 2 s at most); keep all of it.
        if let Some(reader) = self.stderr_reader.take() {
            let end = Instant::now() + Duration::from_secs(2);
            while !reader.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        Ok(status)
    }

    /// A printable tail of what was read, for panic messages.
    pub fn transcript_tail(&self) -> String {
        let tail: Vec<String> = self
            .backlog
            .iter()
            .rev()
            .take(8)
            .map(|m| m.to_string())
            .collect();
        let raw: Vec<&String> = self.raw_lines.iter().rev().take(4).collect();
        let stderr = self.stderr();
        let stderr_tail: String = stderr
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(
            "last messages (newest first): {tail:#?}\nlast raw lines: {raw:?}\nstderr tail: {stderr_tail}"
        )
    }
}

impl Drop for RawRpc {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`RawRpc::turn`] collected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TurnOutcome {
    /// The response: result or error object.
    pub response: Result<Value, Value>,
    /// The agent event payloads (`params.event.payload`) of the session.
    pub events: Vec<Value>,
    /// The full event envelopes (`params.event`), same order.
    pub envelopes: Vec<Value>,
}

impl TurnOutcome {
    /// The payloads of type `kind`.
    pub fn events_of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == kind).collect()
    }

    /// Whether the envelopes' `seq` values are consecutive.
    pub fn seq_contiguous(&self) -> bool {
        let seqs: Vec<u64> = self
            .envelopes
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .collect();
        seqs.windows(2).all(|w| w[1] == w[0] + 1)
    }

    /// The result, or a panic naming the error.
    ///
    /// # Panics
    ///
    /// When the response is an error.
    pub fn result(&self) -> &Value {
        match &self.response {
            Ok(result) => result,
            Err(error) => panic!("expected a result, got error {error}"),
        }
    }
}
