//! Output of the fake: one writer shared by every thread, message builders.

use std::io::{BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::scenario::Scenario;

/// The shared stdout writer. Every message is one line, flushed at once.
#[derive(Clone)]
pub(crate) struct Out {
    inner: Arc<Mutex<BufWriter<Stdout>>>,
    scenario: Arc<Scenario>,
    glue_counter: Arc<AtomicU64>,
}

impl Out {
    pub(crate) fn new(scenario: Arc<Scenario>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(BufWriter::with_capacity(
                1 << 20,
                std::io::stdout(),
            ))),
            scenario,
            glue_counter: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Writes `message` as one line (with `garbage-stdout` pollution).
    pub(crate) fn send(&self, message: &Value) {
        let mut line = message.to_string();
        let mut before = String::new();
        if matches!(*self.scenario, Scenario::GarbageStdout) {
            let n = self.glue_counter.fetch_add(1, Ordering::Relaxed);
            before = match n % 4 {
                0 => format!("2026-11-25T01:40:45.562627Z ERROR meerkat_rpc: fake log line {n}\n"),
                1 => format!(
                    "\u{1b}[2m2026-11-25T01:40:45Z\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m colored log {n}\n\n"
                ),
                2 => "   \r\n".to_owned(),
                _ => String::new(),
            };
            match n % 3 {
                0 => line.push_str(" trailing text after the JSON value"),
                1 => line.push_str("{\"glued\":true}"),
                _ => line.push('\r'),
            }
        }
        line.push('\n');
        self.write_raw(format!("{before}{line}").as_bytes());
    }

    /// Writes raw bytes and flushes.
    pub(crate) fn write_raw(&self, bytes: &[u8]) {
        let mut out = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // A client that went away ends the fake on its next stdin read.
        let _ = out.write_all(bytes).and_then(|()| out.flush());
    }

    /// Runs `f` with the locked writer (for big streamed writes), then flushes.
    pub(crate) fn with_locked(&self, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        let mut out = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = f(&mut *out).and_then(|()| out.flush());
    }

    pub(crate) fn result(&self, id: &Value, result: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    pub(crate) fn error(&self, id: &Value, code: i64, message: &str) {
        self.send(&error(id, code, message, None));
    }

    pub(crate) fn notify(&self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }
}

/// A JSON-RPC error response.
pub(crate) fn error(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh UUIDv7-shaped id, unique in this process.
pub(crate) fn uuid() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let ms = now_ms();
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        (ms >> 16) & 0xffff_ffff,
        ms & 0xffff,
        (n >> 12) & 0xfff,
        n & 0xfff,
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15) & 0xffff_ffff_ffff
    )
}
