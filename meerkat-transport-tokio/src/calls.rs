//! The client's calls that are not about sessions or mobs: config, skills,
//! callback tools.

use std::fmt;
use std::future::Future;

use meerkat_proto::sdk::ops;
use meerkat_proto::{ConfigEnvelope, SkillInfo, ToolDef, ToolOutput};
use serde_json::Value;

use crate::client::MeerkatClient;
use crate::io::{CallGuard, erase};
use meerkat_proto::Error;

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
        self.run(ops::get_config()).await
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
        self.run(ops::set_config(config)).await
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
        self.run(ops::patch_config(patch)).await
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
        self.run(ops::list_skills()).await
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
        let shared = self.shared();
        let now = crate::io::now();
        let (id, decoder) = shared.with(|e| e.start_register_tool(def, erase(handler), now))?;
        let mut guard = CallGuard {
            shared,
            id: Some(id),
        };
        let raw = shared.wait(|e, waker| e.poll_call(id, waker)).await;
        guard.id = None;
        decoder.decode(raw, self.dialect())
    }
}
