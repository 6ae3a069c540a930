//! The synchronous accessors of the transports' handles, written once.
//!
//! Both transports declare the same `Session`, `DeferredSession`,
//! `MeerkatClient`, `EventStream`, `Mob` and `Member` accessors: they read
//! a field and make no call. These macros expand to those `impl` blocks in
//! the calling crate (whose private fields they read), with the doc
//! comments and examples of that crate: `async "crate_name"` for examples
//! inside an `async fn` with `.await`, `blocking "crate_name"` for plain
//! ones. They are an implementation detail of the two transports and not
//! part of this crate's API.

/// Calls `$m!(@ ...)` with the doc-example pieces of one flavour: the
/// `.await` suffix, the hidden lines that open an example up to `client`,
/// the hidden line that closes it and the head of a loop over `events`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_flavour {
    (async $krate:tt, $m:ident) => {
        $crate::$m! { @ ".await", "# Ok(()) }", "while let Some(event) = events.next().await {",
        ["# async fn doc() -> Result<(), ", $krate, "::Error> {\n# use ", $krate,
         "::*;\n# let client = MeerkatClient::connect(ConnectOptions::default()).await?;\n"] }
    };
    (blocking $krate:tt, $m:ident) => {
        $crate::$m! { @ "", "# Ok::<(), Error>(())", "for event in &mut events {",
        ["# use ", $krate,
         "::*;\n# let client = MeerkatClient::connect(ConnectOptions::default())?;\n"] }
    };
}

/// `Session`'s and `DeferredSession`'s accessors (`id`, `reference`,
/// `text`, `usage`, `turns`, `tool_calls`, `structured_output`,
/// `last_result`, `client`). `Session` needs the fields `client`, `id`,
/// `reference` and a method `last()` giving the last `RunResult`;
/// `DeferredSession` a field `created: DeferredCreated`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_session_accessors {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_session_accessors);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        impl Session {
            /// The session's id (a UUID).
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{}\", session.id());\n", $end, "\n```")]
            #[must_use]
            pub fn id(&self) -> &str {
                &self.id
            }

            /// The session's reference (`"<realm>:<id>"`), when the server gave one.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "if let Some(reference) = session.reference() {\n    println!(\"{reference}\");\n}\n", $end, "\n```")]
            #[must_use]
            pub fn reference(&self) -> Option<&str> {
                self.reference.as_deref()
            }

            /// The assistant's text of the last turn.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{}\", session.text());\n", $end, "\n```")]
            #[must_use]
            pub fn text(&self) -> String {
                self.last().text.clone()
            }

            /// The token usage of the last turn.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let usage = session.usage();\n",
                "println!(\"{} in / {} out\", usage.input_tokens, usage.output_tokens);\n", $end, "\n```")]
            #[must_use]
            pub fn usage(&self) -> $crate::Usage {
                self.last().usage.clone()
            }

            /// The number of model turns of the last run.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{} model turns\", session.turns());\n", $end, "\n```")]
            #[must_use]
            pub fn turns(&self) -> u32 {
                self.last().turns
            }

            /// The number of tool calls of the last run.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{} tool calls\", session.tool_calls());\n", $end, "\n```")]
            #[must_use]
            pub fn tool_calls(&self) -> u32 {
                self.last().tool_calls
            }

            /// The structured output of the last turn, if an output schema was set.
            ///
            #[doc = concat!("```no_run\n", $($pre,)*
                "let schema = serde_json::json!({\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}});\n",
                "let session = client.create_session(SessionOptions::new(\"Capital of France?\").output_schema(schema))", $aw, "?;\n",
                "println!(\"{:?}\", session.structured_output());\n", $end, "\n```")]
            #[must_use]
            pub fn structured_output(&self) -> Option<::serde_json::Value> {
                self.last().structured_output.clone()
            }

            /// The full result of the last turn.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let result = session.last_result();\n",
                "println!(\"{} ({:?})\", result.text, result.schema_warnings);\n", $end, "\n```")]
            #[must_use]
            pub fn last_result(&self) -> $crate::RunResult {
                self.last().clone()
            }

            /// The client this session belongs to.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let other = session.client().create_session(\"Another one\")", $aw, "?;\n",
                "println!(\"{}\", other.id());\n", $end, "\n```")]
            #[must_use]
            pub fn client(&self) -> &MeerkatClient {
                &self.client
            }
        }

        impl DeferredSession {
            /// The session's id.
            ///
            #[doc = concat!("```no_run\n", $($pre,)*
                "let deferred = client.create_deferred_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{}\", deferred.id());\n", $end, "\n```")]
            #[must_use]
            pub fn id(&self) -> &str {
                &self.created.session_id
            }

            /// The session's reference, when the server gave one.
            ///
            #[doc = concat!("```no_run\n", $($pre,)*
                "let deferred = client.create_deferred_session(\"Hello\")", $aw, "?;\n",
                "println!(\"{:?}\", deferred.reference());\n", $end, "\n```")]
            #[must_use]
            pub fn reference(&self) -> Option<&str> {
                self.created.session_ref.as_deref()
            }
        }
    };
}

/// `MeerkatClient`'s accessors (`server_info`, `capabilities`,
/// `has_capability`, `require_capability`, `pid`). Needs `self.inner`
/// with the fields `server: ServerInfo` and `process: Option<P>` where
/// `P` (or what it derefs to) has `pid() -> u32`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_client_accessors {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_client_accessors);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        impl MeerkatClient {
            /// What the server said about itself in the handshake.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "let info = client.server_info();\n",
                "println!(\"{} {} (contract {})\", info.name, info.version, info.contract_version);\n",
                $end, "\n```")]
            #[must_use]
            pub fn server_info(&self) -> &$crate::ServerInfo {
                &self.inner.server
            }

            /// The server's capabilities, as fetched during `connect`.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "for cap in client.capabilities() {\n",
                "    println!(\"{} {:?}\", cap.id, cap.status);\n}\n", $end, "\n```")]
            #[must_use]
            pub fn capabilities(&self) -> &[$crate::Capability] {
                &self.inner.server.capabilities
            }

            /// Whether the server offers capability `id` (`"mob"` follows the
            /// server's method list).
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "if client.has_capability(\"skills\") {\n",
                "    println!(\"{} skills\", client.list_skills()", $aw, "?.len());\n}\n", $end, "\n```")]
            #[must_use]
            pub fn has_capability(&self, id: &str) -> bool {
                self.inner.server.has_capability(id)
            }

            /// Fails unless the server offers capability `id`.
            ///
            /// # Errors
            ///
            /// [`Error::CapabilityUnavailable`] naming `id`.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "match client.require_capability(\"comms\") {\n",
                "    Ok(()) => println!(\"comms available\"),\n",
                "    Err(e) => assert_eq!(e.code(), \"CAPABILITY_UNAVAILABLE\"),\n}\n", $end, "\n```")]
            pub fn require_capability(&self, id: &str) -> Result<(), $crate::Error> {
                self.inner.server.require_capability(id)
            }

            /// The child's process id (`None` over TCP, where there is no child).
            ///
            #[doc = concat!("```no_run\n", $($pre,)*
                "println!(\"rkat-rpc runs as pid {:?}\", client.pid());\n", $end, "\n```")]
            #[must_use]
            pub fn pid(&self) -> Option<u32> {
                self.inner.process.as_ref().map(|p| p.pid())
            }
        }
    };
}
