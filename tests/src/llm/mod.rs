//! A scripted Anthropic-compatible LLM server on loopback.
//!
//! [`ScriptedLlm::start`] binds `127.0.0.1:0` and serves `POST /v1/messages`
//! on its own thread and runtime, so both sync and async tests can use it.
//! It speaks the Anthropic Messages API the way `rkat-rpc` 0.5.2's client
//! (`meerkat-client` 0.5.2) reads it: with `stream: true` (what rkat always
//! sends) it answers Server-Sent Events `message_start`, `ping`,
//! `content_block_start` / `content_block_delta` (`text_delta`,
//! `input_json_delta`) / `content_block_stop`, `message_delta` (stop reason,
//! usage) and `message_stop`; otherwise one JSON message. Errors are HTTP
//! statuses with Anthropic error bodies, or a mid-stream `event: error`.
//!
//! What it answers: the next queued [`Reply`] if any ([`ScriptedLlm::push`]),
//! else the default behaviour, steered by markers in the last real user
//! prompt of the request (see the table below and [`Markers`]): `"You said: <text>"`
//! in three deltas, a tool call and its follow-up, the answer of a
//! structured-output extraction call (rkat 0.5 makes one extra call with
//! `output_config.format` after the agentic turn), errors, slow streams.
//!
//! Markers (written in prompts, removed from the echoed text):
//!
//! | marker | effect |
//! | --- | --- |
//! | `[[chunks N]]` | final text in `N` deltas (default 3; padded with `.` when shorter) |
//! | `[[slow MS]]` | wait `MS` ms before every delta |
//! | `[[stall N]]` | `N` text deltas, then the response stays open and silent until the client goes away (for interrupts: the turn cannot end by itself) |
//! | `[[error CODE]]` | HTTP `CODE` with an Anthropic error body, every time |
//! | `[[error CODE xN]]` | fail `N` times (per identical `messages` array), then answer |
//! | `[[stream_error TYPE]]` | some deltas, then `event: error` of `TYPE` |
//! | `[[json {...}]]` | the extraction call answers this JSON text verbatim |
//! | `[[badjson xN]]` | the extraction call answers non-JSON `N` times, then a sample of the schema |
//! | `[[tool NAME {json}]]` | a `tool_use` (also `[[tool:NAME {json}]]`); the follow-up answers `Tool NAME returned: <result>` |
//! | `[[hang]]` | never answer |
//!
//! Without a `[[json]]` marker the extraction call answers a value built
//! from the schema (`"example"`, `1`, `1.5`, `true`, one array item).
//!
//! ```
//! use meerkat_tests::llm::{Reply, ScriptedLlm};
//!
//! let llm = ScriptedLlm::start();
//! llm.push(Reply::text("scripted"));
//! assert!(llm.url().starts_with("http://127.0.0.1:"));
//! assert!(llm.requests().is_empty());
//! ```

mod markers;
mod plan;
mod render;
mod reply;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

pub use markers::Markers;
pub use plan::sample as schema_sample;
pub use reply::Reply;

use plan::{Memory, Plan};

/// One request the scripted LLM received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Recorded {
    /// The request path, e.g. `/v1/messages`.
    pub path: String,
    /// The request headers (names lower-case), in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::String` of the raw text when not JSON).
    pub body: Value,
}

impl Recorded {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Shared {
    recorded: Vec<Recorded>,
    script: VecDeque<Reply>,
    memory: Memory,
    served: u64,
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(state: &SharedState) -> MutexGuard<'_, Shared> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running scripted LLM server; stops when dropped.
#[derive(Debug)]
pub struct ScriptedLlm {
    addr: SocketAddr,
    state: SharedState,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedLlm {
    /// Starts the server on `127.0.0.1:0` on its own thread.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound or no thread started (the test
    /// environment is broken; there is nothing to recover).
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("invariant: a loopback port can be bound for the scripted LLM");
        let addr = listener
            .local_addr()
            .expect("invariant: a bound listener has an address");
        listener
            .set_nonblocking(true)
            .expect("invariant: a listener can be made non-blocking");
        let state = SharedState::default();
        let (stop, stopped) = oneshot::channel();
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .fallback(not_found)
            .with_state(Arc::clone(&state));
        let thread = std::thread::Builder::new()
            .name("scripted-llm".into())
            .spawn(move || serve(listener, app, stopped))
            .expect("invariant: the scripted LLM thread can be spawned");
        Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41681` (no trailing slash), as
    /// rkat's `providers.base_urls.anthropic` wants it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `reply` for a later request (replies are used in order).
    pub fn push(&self, reply: Reply) {
        lock(&self.state).script.push_back(reply);
    }

    /// Every request body received so far, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.state)
            .recorded
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Every request received so far, with path and headers.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.state).recorded.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state).recorded.len()
    }

    /// Forgets the requests received so far (the script stays).
    pub fn clear_requests(&self) {
        lock(&self.state).recorded.clear();
    }

    /// Waits until at least `n` requests arrived; `false` on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while self.request_count() < n {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl ScriptedLlm {
    /// Waits until a received request body matches `pred`; returns the
    /// first that does, or `None` on timeout.
    pub fn wait_for_request(
        &self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(found) = lock(&self.state).recorded.iter().find(|r| pred(&r.body)) {
                return Some(found.body.clone());
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for a request whose last message is a user message with
    /// exactly this text content; returns it, or `None` on timeout.
    pub fn wait_for_user_text(&self, timeout: Duration, text: &str) -> Option<Value> {
        self.wait_for_request(timeout, |body| {
            body.get("messages")
                .and_then(Value::as_array)
                .and_then(|m| m.last())
                .is_some_and(|m| m["role"] == "user" && m["content"] == text)
        })
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: runs until `stopped`, then drops every connection
/// (hanging and slow responses included) by dropping the runtime.
fn serve(listener: std::net::TcpListener, app: Router, stopped: oneshot::Receiver<()>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        tokio::select! {
            _ = axum::serve(listener, app) => {}
            _ = stopped => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
}

async fn not_found() -> Response {
    error_response(&plan::http_error(
        404,
        None,
        "scripted LLM serves only POST /v1/messages",
    ))
}

async fn messages(State(state): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let recorded = Recorded {
        path: "/v1/messages".into(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
    };
    let (plan, serial) = {
        let mut shared = lock(&state);
        shared.recorded.push(recorded);
        shared.served += 1;
        let serial = shared.served;
        let plan = match &parsed {
            None => plan::http_error(400, None, "request body is not JSON"),
            Some(body) => {
                let scripted = shared.script.pop_front();
                let shared = &mut *shared;
                scripted
                    .and_then(|reply| plan::from_reply(reply, &mut shared.memory))
                    .unwrap_or_else(|| plan::default_plan(body, &mut shared.memory))
            }
        };
        (plan, serial)
    };
    let body = parsed.unwrap_or(Value::Null);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("claude-scripted");
    let id = format!("msg_fake_{serial:08}");
    let input_tokens = body
        .get("messages")
        .map_or(1, |m| (m.to_string().len() as u64 / 4).max(1));
    match plan {
        Plan::Http { .. } => error_response(&plan),
        Plan::Hang => std::future::pending().await,
        Plan::Message(message) => {
            if body.get("stream").and_then(Value::as_bool) == Some(true) {
                let frames = render::sse_frames(&message, &id, model, input_tokens);
                stream_response(frames)
            } else if message.stall.is_some() {
                std::future::pending().await
            } else if let Some((kind, text)) = &message.stream_error {
                error_response(&plan::http_error(500, Some(kind), text))
            } else {
                let json = render::json_message(&message, &id, model, input_tokens);
                response(
                    StatusCode::OK,
                    "application/json",
                    Body::from(json.to_string()),
                )
            }
        }
    }
}

fn stream_response(frames: Vec<render::Frame>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        for frame in frames {
            if frame.hold {
                // `[[stall N]]`: silent until the client goes away.
                tx.closed().await;
                return;
            }
            if !frame.delay.is_zero() {
                tokio::time::sleep(frame.delay).await;
            }
            if tx.send(Ok(Bytes::from(frame.bytes))).await.is_err() {
                return; // the client went away (e.g. an interrupted turn)
            }
        }
    });
    response(
        StatusCode::OK,
        "text/event-stream",
        Body::from_stream(ReceiverStream::new(rx)),
    )
}

fn error_response(plan: &Plan) -> Response {
    match plan {
        Plan::Http {
            status,
            content_type,
            body,
        } => response(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type,
            Body::from(body.clone()),
        ),
        _ => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            Body::empty(),
        ),
    }
}

fn response(status: StatusCode, content_type: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
