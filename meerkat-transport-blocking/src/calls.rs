//! The client's calls that are not about sessions or mobs: config, skills,
//! callback tools.

use std::fmt;
use std::sync::Arc;

use meerkat_proto::sdk::{Call, Diagnostics, ops};
use meerkat_proto::{ConfigEnvelope, SkillInfo, ToolDef, ToolOutput};
use serde_json::Value;

use crate::client::{MeerkatClient, ToolContext};
use meerkat_proto::Error;

impl MeerkatClient {
    /// Reads the runtime configuration.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let cfg = client.get_config()?;
    /// println!("generation {}: {}", cfg.generation, cfg.config);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get_config(&self) -> Result<ConfigEnvelope, Error> {
        self.run(ops::get_config())
    }

    /// Replaces the runtime configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server rejects the config.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let mut cfg = client.get_config()?.config;
    /// cfg["max_tokens"] = serde_json::json!(2048);
    /// client.set_config(cfg)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_config(&self, config: Value) -> Result<ConfigEnvelope, Error> {
        self.run(ops::set_config(config))
    }

    /// Merge-patches the runtime configuration (RFC 7396).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server rejects the patch.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// client.patch_config(serde_json::json!({"max_tokens": 2048}))?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn patch_config(&self, patch: Value) -> Result<ConfigEnvelope, Error> {
        self.run(ops::patch_config(patch))
    }

    /// Lists the skills the server knows.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `skills` capability.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// for skill in client.list_skills()? {
    ///     println!("{}: {}", skill.id, skill.description);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn list_skills(&self) -> Result<Vec<SkillInfo>, Error> {
        self.run(ops::list_skills())
    }

    /// Calls any server method with `params` as they are, and gives its raw
    /// result: for the methods the typed API does not cover (0.9.x serves
    /// about 160). It gets every guarantee of a typed call (the request
    /// timeout, exactly-once resolution, typed errors) but no routing: a raw
    /// `turn/start` gets its answer, not its events, so use the typed
    /// methods for turns and streams. 0.9.x refuses unknown params.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] for server errors, [`Error::TimedOut`],
    /// [`Error::ConnectionClosed`], [`Error::InvalidResponse`] for a result
    /// that is not JSON.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let health = client.call_raw("runtime/health", serde_json::json!({}))?;
    /// println!("{health}");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn call_raw(&self, method: &str, params: Value) -> Result<Value, Error> {
        self.run(Call::raw(method, params))
    }

    /// Registers a callback tool: the model may call it, and `handler`
    /// answers.
    ///
    /// Each call runs on a thread of its own, so a handler may block and
    /// may use this client (a clone of it) itself. An `Err` or a panic
    /// answers the model with an error result. The handler lives as long as
    /// the connection; a handler that holds a clone of its own client keeps
    /// the child alive until [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the definition.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, ToolDef, ToolOutput};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// client.register_tool(
    ///     ToolDef::new("search", "Search the docs"),
    ///     |args: serde_json::Value| Ok::<_, String>(ToolOutput::text(format!("found {args}"))),
    /// )?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn register_tool<F, E>(&self, def: ToolDef, handler: F) -> Result<(), Error>
    where
        F: Fn(Value) -> Result<ToolOutput, E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        self.register_tool_with_context(def, move |args, _| handler(args))
    }

    /// [`register_tool`](Self::register_tool) with a [`ToolContext`] handed
    /// to every call: the handler reaches this client through it without
    /// holding a clone, so it does not keep the child alive.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the definition.
    ///
    /// ```no_run
    /// use meerkat_transport_blocking::{ConnectOptions, MeerkatClient, ToolDef, ToolOutput};
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// client.register_tool_with_context(
    ///     ToolDef::new("sessions", "Counts the sessions"),
    ///     |_args: serde_json::Value, ctx| {
    ///         let client = ctx.client().ok_or("the client is gone")?;
    ///         let n = client.list_sessions().map_err(|e| e.to_string())?.len();
    ///         Ok::<_, String>(ToolOutput::text(n.to_string()))
    ///     },
    /// )?;
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    pub fn register_tool_with_context<F, E>(&self, def: ToolDef, handler: F) -> Result<(), Error>
    where
        F: Fn(Value, ToolContext) -> Result<ToolOutput, E> + Send + Sync + 'static,
        E: fmt::Display,
    {
        let ctx = ToolContext(Arc::downgrade(&self.inner));
        let handler: crate::io::Handler =
            Arc::new(move |args| handler(args, ctx.clone()).map_err(|e| e.to_string()));
        self.run_with(|e, now| e.start_register_tool(def, handler, now))
    }

    /// What the connection recovered from so far, counted by kind with the
    /// last few samples: log lines on stdout, oversized lines, responses
    /// nobody waited for, events of sessions this client never asked about,
    /// undecodable events, requests refused because the server stopped
    /// reading (`WRITE_QUEUE_FULL`), and the bytes waiting for its stdin.
    /// The first of each kind is also a `tracing` warning.
    ///
    /// ```no_run
    /// # use meerkat_transport_blocking::*;
    /// let client = MeerkatClient::connect(ConnectOptions::default())?;
    /// let d = client.diagnostics();
    /// if d.count(DiagnosticKind::SkippedLine) > 0 {
    ///     eprintln!("the server logs to stdout: {:?}", d.samples.last());
    /// }
    /// # Ok::<(), meerkat_transport_blocking::Error>(())
    /// ```
    #[must_use]
    pub fn diagnostics(&self) -> Diagnostics {
        self.inner.shared.with(|e| e.diagnostics())
    }
}
