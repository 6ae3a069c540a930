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
/// `last_result`, `client`), with `Session` itself and its constructor
/// `Session::new(client, result)`. Needs `Arc`, `Mutex`, `MutexGuard` and
/// `PoisonError` in scope; `DeferredSession` a field
/// `created: DeferredCreated`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_session_accessors {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_session_accessors);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        /// A session on the server, with the result of its last turn.
        ///
        #[doc = concat!("```no_run\n", $($pre,)*
            "let session = client.create_session(\"What is the capital of France?\")", $aw, "?;\n",
            "let result = session.turn(\"And of Germany?\")", $aw, "?;\n",
            "assert_eq!(result.text, session.text());\n",
            "session.archive()", $aw, "?;\n", $end, "\n```")]
        #[derive(Clone)]
        pub struct Session {
            client: MeerkatClient,
            id: String,
            reference: Option<String>,
            /// The last turn's result, shared by clones and updated by streams.
            last: Arc<Mutex<$crate::RunResult>>,
        }

        impl Session {
            pub(crate) fn new(client: MeerkatClient, last: $crate::RunResult) -> Self {
                Self {
                    client,
                    id: last.session_id.clone(),
                    reference: last.session_ref.clone(),
                    last: Arc::new(Mutex::new(last)),
                }
            }

            fn last(&self) -> MutexGuard<'_, $crate::RunResult> {
                self.last.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }

        impl ::std::fmt::Debug for Session {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Session")
                    .field("id", &self.id)
                    .field("reference", &self.reference)
                    .finish_non_exhaustive()
            }
        }

        impl ::std::fmt::Debug for DeferredSession {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("DeferredSession")
                    .field("id", &self.created.session_id)
                    .finish_non_exhaustive()
            }
        }

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

/// `MeerkatClient`'s `Debug` and accessors (`server_info`, `capabilities`,
/// `has_capability`, `require_capability`, `pid`), and `ToolContext`.
/// Needs `MeerkatClient { inner: Arc<Inner> }` where `Inner` has the fields
/// `server: ServerInfo` and `process: Option<P>` (`P` derefs to something
/// with `pid() -> u32`), and `Weak` in scope.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_client_accessors {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_client_accessors);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        /// A connection to one `rkat-rpc`: a child process over stdio (the
        /// default), or a server already listening on TCP
        /// ([`ConnectOptions::tcp`](crate::ConnectOptions::tcp)).
        ///
        /// Cheap to clone (`Arc` inside), `Send + Sync`: many tasks or
        /// threads may run turns on different sessions at once over one
        /// child. The child lives until [`close`](Self::close) is called or
        /// the last clone (including those held by sessions, streams and
        /// mobs) is dropped; dropping kills and reaps it, so nothing is left
        /// behind.
        ///
        #[doc = concat!("```no_run\n", $($pre,)*
            "let session = client.create_session(\"What is the capital of France?\")", $aw, "?;\n",
            "println!(\"{}\", session.text());\n",
            "client.close()", $aw, "?;\n", $end, "\n```")]
        #[derive(Clone)]
        pub struct MeerkatClient {
            pub(crate) inner: Arc<Inner>,
        }

        impl ::std::fmt::Debug for MeerkatClient {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("MeerkatClient")
                    .field("pid", &self.pid())
                    .field("server", &self.inner.server.version)
                    .finish_non_exhaustive()
            }
        }

        /// What a tool handler gets with each call: a way back to its client that
        /// does not keep the client (and its child) alive.
        #[derive(Clone, Debug)]
        pub struct ToolContext(pub(crate) Weak<Inner>);

        impl ToolContext {
            /// The client, while any other handle keeps it alive.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let ctx: ToolContext = todo!();\n",
                "if let Some(client) = ctx.client() {\n",
                "    println!(\"rkat-rpc {}\", client.server_info().version);\n}\n", $end, "\n```")]
            #[must_use]
            pub fn client(&self) -> Option<MeerkatClient> {
                self.0.upgrade().map(|inner| MeerkatClient { inner })
            }
        }

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

            /// How far the replay got, for a client connected with
            /// [`ConnectOptions::replay`](crate::ConnectOptions::replay)
            /// (`None` otherwise): a test asserts with it that every recorded
            /// request was made.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "client.list_sessions()", $aw, "?;\n",
                "let progress = client.replay_progress().expect(\"a replay\");\n",
                "assert_eq!(progress.matched, progress.expected);\n", $end, "\n```")]
            #[must_use]
            pub fn replay_progress(&self) -> Option<$crate::cassette::ReplayProgress> {
                let player = self.inner.replay.as_ref()?;
                Some(player.lock().unwrap_or_else(PoisonError::into_inner).progress())
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

/// `EventStream`'s accessors (`session_id`, `result`, `is_finished`,
/// `into_session`) and `EventSubscription`'s (`Debug`, `stream_id`,
/// `outcome`). Needs the fields `turn: TurnStream`, `sub: Subscription` and
/// `client`, a `client.shared().with(..)` running a closure on the engine,
/// and `Session::new(client, result)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_event_stream_accessors {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_event_stream_accessors);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        /// The events of one turn, in order: a `Stream` in the tokio
        /// transport (with an inherent `next`), an `Iterator` in the blocking
        /// one, of `Result<Event, Error>`.
        ///
        /// The stream ends after the turn's `run_completed`/`run_failed` and
        /// its response, even when 0.5.x wrote the response first; then
        /// [`result`](Self::result) holds the turn's result, and the
        /// session's last result is updated. Events the server dropped show up
        /// as [`Event::EventsLost`](crate::Event::EventsLost); if this
        /// consumer falls more than the stream budget behind,
        /// [`Event::Lagged`](crate::Event::Lagged) says how many were dropped
        /// here. `result().text` is authoritative either way.
        ///
        /// A failed turn ends the stream with one `Err`; where the server
        /// replays a failed input (0.5.x), the session's runtime is reset
        /// before it is handed out. Dropping the stream early discards the
        /// rest of its events; the turn itself goes on (use
        /// [`Session::interrupt`] to stop it), and the reset still happens
        /// if it then fails (crate docs, "Recovery").
        ///
        #[doc = concat!("```no_run\n", $($pre,)*
            "let session = client.create_session(\"Hello\")", $aw, "?;\n",
            "let mut events = session.stream(\"Tell me a story\")", $aw, "?;\n", $each, "\n",
            "    if let Event::TextDelta { delta, .. } = event? {\n        print!(\"{delta}\");\n    }\n}\n",
            "println!(\"\\n{} output tokens\", events.result().map_or(0, |r| r.usage.output_tokens));\n",
            $end, "\n```")]
        pub struct EventStream {
            client: MeerkatClient,
            turn: $crate::sdk::TurnStream,
            /// The session whose last result the completed turn becomes.
            last: Option<Arc<Mutex<$crate::RunResult>>>,
        }

        impl ::std::fmt::Debug for EventStream {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.turn, f)
            }
        }

        impl EventStream {
            /// The session this turn runs on: known from the start for
            /// [`Session::stream`], from its first event on for
            /// [`MeerkatClient::create_session_streaming`].
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let events = session.stream(\"Go on\")", $aw, "?;\n",
                "assert_eq!(events.session_id(), Some(session.id()));\n", $end, "\n```")]
            #[must_use]
            pub fn session_id(&self) -> Option<&str> {
                self.turn.session_id()
            }

            /// The turn's result, once the stream has ended successfully.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let mut events = session.stream(\"Go on\")", $aw, "?;\n", $each, "\n    event?;\n}\n",
                "println!(\"{}\", events.result().expect(\"finished\").text);\n", $end, "\n```")]
            #[must_use]
            pub fn result(&self) -> Option<&$crate::RunResult> {
                self.turn.result()
            }

            /// Whether the stream has ended.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let mut events = session.stream(\"Go on\")", $aw, "?;\n", $each, "\n    event?;\n}\n",
                "assert!(events.is_finished());\n", $end, "\n```")]
            #[must_use]
            pub fn is_finished(&self) -> bool {
                self.turn.is_finished()
            }

            /// The session the turn ran on, with this turn as its last
            /// result, once the stream has ended successfully (for
            /// [`MeerkatClient::create_session_streaming`]).
            ///
            #[doc = concat!("```no_run\n", $($pre,)*
                "let mut events = client.create_session_streaming(\"Hello\")", $aw, "?;\n", $each, "\n    event?;\n}\n",
                "let session = events.into_session().expect(\"finished\");\n",
                "println!(\"{}: {}\", session.id(), session.text());\n", $end, "\n```")]
            #[must_use]
            pub fn into_session(self) -> Option<Session> {
                let result = self.turn.result()?.clone();
                Some(Session::new(self.client.clone(), result))
            }
        }

        impl ::std::fmt::Debug for EventSubscription {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.sub, f)
            }
        }

        impl EventSubscription {
            /// The server's id of this stream.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let events = session.subscribe_events()", $aw, "?;\n",
                "println!(\"stream {}\", events.stream_id());\n", $end, "\n```")]
            #[must_use]
            pub fn stream_id(&self) -> &str {
                self.sub.stream_id()
            }

            /// How the server ended the stream (`remote_end`, `explicit_close`,
            /// `terminal_error`), once it did.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let session = client.create_session(\"Hello\")", $aw, "?;\n",
                "let mut events = session.subscribe_events()", $aw, "?;\n", $each, "\n    event?;\n}\n",
                "println!(\"ended: {:?}\", events.outcome());\n", $end, "\n```")]
            #[must_use]
            pub fn outcome(&self) -> Option<$crate::StreamOutcome> {
                self.client
                    .shared()
                    .with(|e| e.subscription_outcome(&self.sub))
            }
        }
    };
}

/// `Mob`'s and `Member`'s handles: `MeerkatClient::mob`, `Mob::member`,
/// both `id`s and both `Debug`s. Needs `Mob { client, id }` and
/// `Member { mob, id }`.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_mob_handles {
    ($flavour:ident $krate:tt) => {
        $crate::__meerkat_flavour!($flavour $krate, __meerkat_mob_handles);
    };
    (@ $aw:tt, $end:tt, $each:tt, [$($pre:tt),*]) => {
        impl MeerkatClient {
            /// A handle on an existing mob (no call is made).
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "let mob = client.mob(\"m1\");\n",
                "println!(\"{}\", mob.status()", $aw, "?.status);\n", $end, "\n```")]
            #[must_use]
            pub fn mob(&self, mob_id: impl Into<String>) -> Mob {
                Mob {
                    client: self.clone(),
                    id: mob_id.into(),
                }
            }
        }

        impl ::std::fmt::Debug for Mob {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Mob")
                    .field("id", &self.id)
                    .finish_non_exhaustive()
            }
        }

        impl Mob {
            /// The mob's id.
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "let mob = client.mob(\"m1\");\n",
                "assert_eq!(mob.id(), \"m1\");\n", $end, "\n```")]
            #[must_use]
            pub fn id(&self) -> &str {
                &self.id
            }

            /// A handle on one member (no call is made).
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let mob = client.mob(\"m1\");\n",
                "mob.member(\"w1\").send(\"start\", HandlingMode::Queue)", $aw, "?;\n", $end, "\n```")]
            #[must_use]
            pub fn member(&self, meerkat_id: impl Into<String>) -> Member {
                Member {
                    mob: self.clone(),
                    id: meerkat_id.into(),
                }
            }
        }

        impl ::std::fmt::Debug for Member {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Member")
                    .field("mob", &self.mob.id)
                    .field("id", &self.id)
                    .finish()
            }
        }

        impl Member {
            /// The member's id (`meerkat_id`).
            ///
            #[doc = concat!("```no_run\n", $($pre,)* "# let mob = client.mob(\"m1\");\n",
                "assert_eq!(mob.member(\"w1\").id(), \"w1\");\n", $end, "\n```")]
            #[must_use]
            pub fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

/// A transport's public surface: its modules, the handles it defines, the
/// user types of [`prelude`](crate::prelude) and the core as `proto`. The
/// list of what a user sees is written once, so both transports show the
/// same names.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_surface {
    () => {
        mod calls;
        mod client;
        mod events;
        mod io;
        mod launch;
        mod mob;
        mod process;
        mod replay;
        mod session;

        pub use client::{MeerkatClient, ToolContext};
        pub use events::{EventStream, EventSubscription};
        pub use mob::{Member, Mob};
        pub use session::{DeferredSession, Session};

        // The user's types, by name; the engine underneath stays at
        // `proto::`, so a change there is not a change of the transport's
        // surface.
        #[doc(no_inline)]
        pub use $crate::prelude::*;

        /// The protocol core this crate is built on (`meerkat-proto`): the
        /// JSON-RPC engine, the connection state machine and the shared SDK
        /// engine, for those who need them.
        pub use $crate as proto;
    };
}

/// `Shared::with`, the one way a transport touches its engine: lock, run
/// `f`, take the engine's effects, unlock, then apply them (write what is
/// to be written now through `direct`, wake consumers, signal the writer
/// and the timer with `$notify`, start tool calls with `$tool`);
/// `Shared::write_directly`, which gives the engine's direct writes a
/// pipe; `Shared::flush_records`, and `Shared::read_into_engine`, what a
/// reader does with each read. Needs `Shared { engine:
/// Mutex<Engine<Handler>>, writer, timer, direct: OnceLock<DirectWrite>,
/// records: Option<meerkat_host::RecordFile> }` and `PoisonError` in
/// scope.
#[doc(hidden)]
#[macro_export]
macro_rules! __meerkat_shared_with {
    (notify: $notify:ident, tool: |$shared:ident, $call:ident, $handler:ident| $tool:expr) => {
        impl Shared {
            /// Appends the engine's new cassette records to the file (when
            /// recording). The file's lock is taken before the records, so
            /// the reader's and the writer's appends keep their order. The
            /// records are small and the file local: a blocking write, as a
            /// log line would be.
            pub(crate) fn flush_records(self: &Arc<Self>) {
                if let Some(file) = &self.records {
                    file.append(|| self.with($crate::sdk::Engine::take_records));
                }
            }

            /// A reader read `n` bytes into `ingest`'s buffer: stdout's are
            /// framed and scanned before the lock (under it, only routing),
            /// stderr's are taken as they came.
            pub(crate) fn read_into_engine(
                self: &Arc<Self>,
                ingest: &mut $crate::sdk::Ingest,
                n: usize,
                stderr: bool,
                now: std::time::Instant,
            ) {
                if stderr {
                    let bytes = &ingest.buffer()[..n];
                    self.with(|e| e.handle_stderr(bytes));
                } else {
                    let batch = ingest.filled(n);
                    self.with(|e| e.handle_ingested(batch, now));
                    self.flush_records();
                }
            }

            /// From now on, whoever touches the engine while the writer
            /// sleeps writes its output with `write` (the pipe's non-blocking
            /// write: the bytes it took, 0 when it took none or failed)
            /// instead of waking the writer (`Engine::set_direct_writes`).
            #[cfg_attr(not(unix), allow(dead_code))] // a child's pipe only
            pub(crate) fn write_directly(
                self: &Arc<Self>,
                write: impl Fn(&[u8]) -> usize + Send + Sync + 'static,
            ) {
                if self.direct.set(Box::new(write)).is_ok() {
                    self.with(|e| e.set_direct_writes(true));
                }
            }

            /// Writes `bytes` (the engine's `Effects::write_now`) right here,
            /// as much as the pipe takes without waiting (never an `.await`),
            /// and tells the engine how much that was.
            fn write_now(self: &Arc<Self>, bytes: Vec<u8>) {
                let written = self.direct.get().map_or(0, |write| write(&bytes));
                self.with(|e| e.caller_wrote(bytes, written));
            }

            /// Runs `f` on the engine under the lock, then does what it asks
            /// for (wakeups, writer, timer, tool calls) with the lock released.
            pub(crate) fn with<R>(
                self: &Arc<Self>,
                f: impl FnOnce(&mut $crate::sdk::Engine<Handler>) -> R,
            ) -> R {
                let (out, effects) = {
                    let mut engine = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
                    let out = f(&mut engine);
                    (out, engine.effects())
                };
                let $shared = self;
                effects.apply(
                    |bytes| $shared.write_now(bytes),
                    || $shared.writer.$notify(),
                    || $shared.timer.$notify(),
                    |$call, $handler| $tool,
                );
                out
            }
        }
    };
}
