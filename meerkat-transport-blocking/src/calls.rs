//! The client's calls that are not about sessions or mobs: config, skills,
//! callback tools.

use std::fmt;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use meerkat_proto::{ConfigEnvelope, RequestOptions, SkillInfo, ToolDef, ToolOutput, methods};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::tools;
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
        self.request::<methods::ConfigGet, _>(())
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
        self.request::<methods::ConfigSet, _>(methods::ConfigSetParams::new(config))
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
        self.request::<methods::ConfigPatch, _>(methods::ConfigPatchParams::new(patch))
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
        self.require_capability("skills")?;
        self.request::<methods::SkillsList, _>(())
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
        let handler = tools::erase(handler);
        let name = def.name.clone();
        let (reply, answer) = mpsc::sync_channel(1);
        let timeout = self.request_timeout();
        let registered = Arc::clone(&handler);
        self.command(move |core| {
            // NB: the handler is in place before the server can call it.
            core.tools.insert(name, registered);
            let now = Instant::now();
            let mut opts = RequestOptions::new(now);
            if let Some(t) = timeout {
                opts = opts.deadline(now + t);
            }
            let params = [def];
            let reply = Box::new(move |result| {
                let _ = reply.try_send(result);
            });
            core.dispatch
                .call::<methods::ToolsRegister>(&mut core.conn, &params[..], opts, reply);
        })?;
        let result = answer.recv().unwrap_or_else(|_| Err(self.gone()));
        if result.is_err() {
            // The server does not know the tool: forget the handler (unless
            // a later registration replaced it already).
            let _ = self.command(move |core| core.tools.remove_if_same(&handler));
        }
        result.map(drop)
    }
}
