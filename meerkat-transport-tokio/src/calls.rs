//! The client's calls that are not about sessions or mobs: config, skills,
//! callback tools.

use std::fmt;
use std::future::Future;
use std::time::Instant;

use meerkat_proto::{ConfigEnvelope, RequestOptions, SkillInfo, ToolDef, ToolOutput, methods};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::tools;
use meerkat_proto::Error;
use tokio::sync::oneshot;

impl MeerkatClient {
    /// Reads the runtime configuration.
    ///
    /// # Errors
    ///
    /// The connection errors of every call.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let cfg = client.get_config().await?;
    /// println!("generation {}: {}", cfg.generation, cfg.config);
    /// # Ok(()) }
    /// ```
    pub async fn get_config(&self) -> Result<ConfigEnvelope, Error> {
        self.request::<methods::ConfigGet, _>(()).await
    }

    /// Replaces the runtime configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server rejects the config.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// let mut cfg = client.get_config().await?.config;
    /// cfg["max_tokens"] = serde_json::json!(2048);
    /// client.set_config(cfg).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_config(&self, config: Value) -> Result<ConfigEnvelope, Error> {
        self.request::<methods::ConfigSet, _>(methods::ConfigSetParams::new(config))
            .await
    }

    /// Merge-patches the runtime configuration (RFC 7396).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server rejects the patch.
    ///
    /// ```no_run
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient};
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    ///
    /// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// client.patch_config(serde_json::json!({"max_tokens": 2048})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn patch_config(&self, patch: Value) -> Result<ConfigEnvelope, Error> {
        self.request::<methods::ConfigPatch, _>(methods::ConfigPatchParams::new(patch))
            .await
    }

    /// Lists the skills the server knows.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`] without the `skills` capability.
    ///
    /// ```no_run
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// # use meerkat_transport_tokio::*;
    /// # let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// for skill in client.list_skills().await? {
    ///     println!("{}: {}", skill.id, skill.description);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_skills(&self) -> Result<Vec<SkillInfo>, Error> {
        self.require_capability("skills")?;
        self.request::<methods::SkillsList, _>(()).await
    }

    /// Registers a callback tool: the model may call it, and `handler`
    /// answers.
    ///
    /// Each call runs on a task of its own, so a handler may take its time
    /// and may use this client (a clone of it) itself. An `Err` or a panic
    /// answers the model with an error result. The handler lives as long as
    /// the connection; a handler that holds a clone of its own client keeps
    /// the child alive until [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// [`Error::Rpc`] when the server refuses the definition.
    ///
    /// ```no_run
    /// use meerkat_transport_tokio::{ConnectOptions, MeerkatClient, ToolDef, ToolOutput};
    ///
    /// # async fn doc() -> Result<(), meerkat_transport_tokio::Error> {
    /// let client = MeerkatClient::connect(ConnectOptions::default()).await?;
    /// client
    ///     .register_tool(
    ///         ToolDef::new("search", "Search the docs"),
    ///         |args: serde_json::Value| async move {
    ///             Ok::<_, String>(ToolOutput::text(format!("found {args}")))
    ///         },
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn register_tool<F, Fut, E>(&self, def: ToolDef, handler: F) -> Result<(), Error>
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let handler = tools::erase(handler);
        let name = def.name.clone();
        let (reply, answer) = oneshot::channel();
        let timeout = self.request_timeout();
        self.command(move |core| {
            // NB: the handler is in place before the server can call it.
            core.tools.insert(name, handler);
            let now = Instant::now();
            let mut opts = RequestOptions::new(now);
            if let Some(t) = timeout {
                opts = opts.deadline(now + t);
            }
            let params = [def];
            let reply = Box::new(move |result| {
                let _ = reply.send(result);
            });
            core.dispatch
                .call::<methods::ToolsRegister>(&mut core.conn, &params[..], opts, reply);
        })?;
        answer.await.unwrap_or(Err(Error::NotConnected)).map(drop)
    }
}
