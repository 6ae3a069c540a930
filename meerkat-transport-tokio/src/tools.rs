//! Callback tools: the handlers, and running them off the driver.
//!
//! A `tool/execute` call becomes a task of its own: the driver never waits
//! for a handler, a handler may call the client, and a panicking handler
//! (caught as the task's panic) answers with an error result.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use meerkat_proto::{IncomingId, ToolCall, ToolOutput};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tracing::Instrument as _;

use crate::driver::Input;

/// A handler's future, type-erased.
type BoxFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, String>> + Send>>;

/// A type-erased handler.
pub(crate) type Handler = Arc<dyn Fn(Value) -> BoxFuture + Send + Sync>;

/// Erases a user handler's future and error types.
pub(crate) fn erase<F, Fut, E>(handler: F) -> Handler
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ToolOutput, E>> + Send + 'static,
    E: fmt::Display + 'static,
{
    let handler = Arc::new(handler);
    Arc::new(move |args| {
        let handler = Arc::clone(&handler);
        Box::pin(async move { handler(args).await.map_err(|e| e.to_string()) })
    })
}

/// The registered handlers, owned by the driver.
pub(crate) struct Tools {
    handlers: HashMap<String, Handler>,
    /// The driver's own channel, for the answers of tool tasks.
    tx: UnboundedSender<Input>,
}

impl Tools {
    /// No tools yet; answers go back through `tx`.
    pub(crate) fn new(tx: UnboundedSender<Input>) -> Self {
        Self {
            handlers: HashMap::new(),
            tx,
        }
    }

    /// Adds or replaces a handler.
    pub(crate) fn insert(&mut self, name: String, handler: Handler) {
        self.handlers.insert(name, handler);
    }

    /// Removes every handler (on close: they may hold client handles).
    pub(crate) fn clear(&mut self) {
        self.handlers.clear();
    }

    /// Runs the handler of `call` on a task; its answer comes back to the
    /// driver as a command.
    pub(crate) fn dispatch(&self, call: ToolCall) {
        let ToolCall {
            id,
            name,
            arguments,
            ..
        } = call;
        let Some(handler) = self.handlers.get(&name).cloned() else {
            tracing::debug!(tool = %name, "tool/execute for an unknown tool");
            let message = format!("no handler registered for tool {name:?}");
            let _ = self.tx.send(respond(id, Err(message)));
            return;
        };
        let tx = self.tx.clone();
        let span = tracing::debug_span!("meerkat_tool", tool = %name);
        tokio::spawn(
            async move {
                let output = run(handler, arguments).await;
                // The driver may be gone (client closed): nobody to tell.
                let _ = tx.send(respond(id, output));
            }
            .instrument(span),
        );
    }
}

/// Runs a handler on a task of its own, so its panic is caught.
async fn run(handler: Handler, arguments: Value) -> Result<ToolOutput, String> {
    match tokio::spawn(async move { handler(arguments).await }).await {
        Ok(output) => output,
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            tracing::warn!(%message, "tool handler panicked");
            Err(format!("tool handler panicked: {message}"))
        }
        Err(e) => Err(format!("tool handler did not finish: {e}")),
    }
}

fn respond(id: IncomingId, output: Result<ToolOutput, String>) -> Input {
    Input::Command(Box::new(move |core| core.conn.respond_tool(id, output)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_result() {
        let handler = erase(|_: Value| async move {
            if true {
                panic!("boom");
            }
            Ok::<_, String>(ToolOutput::text("never"))
        });
        let out = run(handler, Value::Null).await;
        assert_eq!(out, Err("tool handler panicked: boom".to_owned()));
    }

    #[tokio::test]
    async fn a_failure_keeps_its_message() {
        let handler = erase(|args: Value| async move {
            Err::<ToolOutput, _>(std::io::Error::other(format!("bad {args}")))
        });
        assert_eq!(run(handler, Value::from(1)).await, Err("bad 1".to_owned()));
    }
}
