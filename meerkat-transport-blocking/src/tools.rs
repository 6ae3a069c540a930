//! Callback tools: handlers the server calls through `tool/execute`.
//!
//! Each call runs on its own thread, never on the driver: a handler may take
//! as long as it likes and may call the client itself (the driver keeps
//! running the turn that asked for the tool). A handler that panics or fails
//! answers the server with an error result; it never takes the client down.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread;

use meerkat_proto::{ToolCall, ToolOutput};
use serde_json::Value;

use crate::driver::Input;

/// A type-erased handler.
pub(crate) type Handler = Arc<dyn Fn(Value) -> Result<ToolOutput, String> + Send + Sync>;

/// Erases a user handler's error type.
pub(crate) fn erase<F, E>(handler: F) -> Handler
where
    F: Fn(Value) -> Result<ToolOutput, E> + Send + Sync + 'static,
    E: fmt::Display,
{
    Arc::new(move |args| handler(args).map_err(|e| e.to_string()))
}

/// The registered handlers, owned by the driver.
pub(crate) struct Tools {
    handlers: HashMap<String, Handler>,
    /// The driver's own channel, for the answers of tool threads.
    tx: Sender<Input>,
}

impl Tools {
    /// No tools yet; answers go back through `tx`.
    pub(crate) fn new(tx: Sender<Input>) -> Self {
        Self {
            handlers: HashMap::new(),
            tx,
        }
    }

    /// Adds or replaces a handler.
    pub(crate) fn insert(&mut self, name: String, handler: Handler) {
        self.handlers.insert(name, handler);
    }

    /// Removes `handler` if it is still registered (a failed registration).
    pub(crate) fn remove_if_same(&mut self, handler: &Handler) {
        self.handlers.retain(|_, h| !Arc::ptr_eq(h, handler));
    }

    /// Removes every handler (on close: they may hold client handles).
    pub(crate) fn clear(&mut self) {
        self.handlers.clear();
    }

    /// Runs the handler of `call` on a thread of its own; its answer comes
    /// back to the driver as a command.
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
        let spawned = thread::Builder::new()
            .name(format!("meerkat-tool-{name}"))
            .spawn({
                let id = id.clone();
                move || {
                    let _span = span.entered();
                    let output = run(&handler, arguments);
                    // The driver may be gone (client closed): nobody to tell.
                    let _ = tx.send(respond(id, output));
                }
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(respond(
                id,
                Err(format!("could not start a tool thread: {e}")),
            ));
        }
    }
}

/// Runs a handler, turning a panic into an error result.
fn run(handler: &Handler, arguments: Value) -> Result<ToolOutput, String> {
    panic::catch_unwind(AssertUnwindSafe(|| handler(arguments))).unwrap_or_else(|payload| {
        let message = panic_message(payload.as_ref());
        tracing::warn!(%message, "tool handler panicked");
        Err(format!("tool handler panicked: {message}"))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned())
}

fn respond(id: meerkat_proto::IncomingId, output: Result<ToolOutput, String>) -> Input {
    Input::Command(Box::new(move |core| core.conn.respond_tool(id, output)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_result() {
        let handler = erase(|_: Value| -> Result<ToolOutput, String> { panic!("boom") });
        let out = run(&handler, Value::Null);
        assert_eq!(out, Err("tool handler panicked: boom".to_owned()));
    }

    #[test]
    fn a_failure_keeps_its_message() {
        let handler = erase(|args: Value| -> Result<ToolOutput, std::io::Error> {
            Err(std::io::Error::other(format!("bad {args}")))
        });
        assert_eq!(run(&handler, Value::from(1)), Err("bad 1".to_owned()));
    }
}
