//! Starting the real `rkat-rpc` 0.5.2 against the [`ScriptedLlm`], isolated.
//!
//! [`RealServer`] prepares a temporary directory with its own `HOME` (and
//! XDG dirs), `--state-root`, `--realm`, `--context-root` and
//! `--user-config-root`, and writes the realm's `config.toml`
//! (`<state-root>/<realm>/config.toml`, read when the process starts) so
//! that the anthropic provider talks to the scripted LLM before the first
//! session. The child gets `ANTHROPIC_API_KEY=dummy` and `RUST_LOG=off`
//! (0.5.x logs to stdout otherwise). [`rkat_rpc_path`] finds the binary and
//! panics with install instructions when it is missing: tests never skip.
//!
//! ```no_run
//! use meerkat_tests::llm::ScriptedLlm;
//! use meerkat_tests::real::RealServer;
//! use serde_json::json;
//!
//! let llm = ScriptedLlm::start();
//! let server = RealServer::new(&llm);
//! let mut rpc = server.spawn_raw();
//! rpc.call("initialize", json!({})).unwrap();
//! let turn = rpc.turn("session/create", json!({"prompt": "Hi [[chunks 4]]"}));
//! assert_eq!(turn.result()["text"], "You said: Hi");
//! ```
//!
//! # What rkat-rpc 0.5.2 does (pinned by `tests/infra_real.rs`)
//!
//! 1. **Tool flags.** With `enable_builtins`, `enable_shell`,
//!    `enable_memory` and `enable_mob` all absent from `session/create`, the
//!    LLM gets the same tools as with all four `true`: builtins (`task_*`,
//!    `datetime`, `apply_patch`, `view_image`), shell (`shell`,
//!    `shell_job*`), skill tools (`browse_skills`, `load_skill`, ...), plus
//!    the always-present `meerkat_schedule_*` and `web_search`. With
//!    `enable_builtins: false, enable_shell: false` only the schedule tools
//!    and `web_search` remain. `enable_memory`/`enable_mob` add no tool in
//!    this build. So the SDK must write explicit `false` (DESIGN.md rule).
//! 2. **Model.** The realm default `agent.model` is `claude-opus-4-6`
//!    (anthropic); `model: "claude-sonnet-4-5"` also selects the anthropic
//!    provider (`session/read` says `provider: "anthropic"`). Both reach the
//!    scripted LLM; no `thinking` field is sent by default.
//! 3. **Skills.** Project skills live under `<context-root>/.rkat/skills`;
//!    `skills/list` reports a skill's id as its path there. A
//!    `SkillKey { source_uuid, skill_name }` is resolved by loading the path
//!    `<source_uuid>/<skill_name>`, so a skill is usable by key only when it
//!    sits at `.rkat/skills/<source uuid>/<name>/SKILL.md` with the project
//!    source UUID [`PROJECT_SKILL_SOURCE_UUID`] ([`RealServer::add_skill`]
//!    does that). A `skill_refs` entry on `session/create` or `turn/start`
//!    then prepends `<skill id="...">BODY</skill>\n\n` to the user prompt
//!    (visible in the scripted LLM's echo); no `skills_resolved` event is
//!    emitted. An unresolvable key is silently ignored (server log only).
//!    On 0.9.8 the project source has the fixed UUID
//!    [`PROJECT_SKILL_SOURCE_UUID_V09`] and a key loads
//!    `.rkat/skills/<skill_name>/SKILL.md`; `add_skill` writes there.
//! 4. **Comms.** Two plain `keep_alive` sessions with `comms_name` cannot
//!    talk: the per-session inproc runtime requires peer auth and nothing
//!    trusts plain sessions, so `comms/peers` is `[]` and a `peer_message`
//!    fails `-32603` with `data.code: "peer_not_found_or_not_trusted"`.
//!    0.5.2 requires `handling_mode` on `peer_message`/`peer_request`
//!    (`-32602`, `data.details: [{"field":"handling_mode","issue":
//!    "required_field"}]`). `kind: "input"` to the session itself works with
//!    `allow_self_session: true` (the LLM sees `[EVENT via rpc] <body>`).
//!    Keep-alive creates answer at once with an empty result (`turns: 0`).
//! 5. **Mobs.** `mob/create` with a `definition` works offline. `mob/spawn`
//!    needs the profile's `tools.comms = true`; `mob/member_send` needs
//!    `external_addressable: true` on the profile. Each spawned member runs a
//!    kickoff turn (`You have been spawned as '<id>' ...`), and `mob/wire`
//!    makes the wired members run turns of their own (`mob.peer_added` comms
//!    requests, tool-scope notices). Input (`member_send`, peer messages)
//!    racing such a turn was sometimes never run: wait until the scripted
//!    LLM is idle before sending.
//!    After `mob/wire`, members see each other as peers named
//!    `<mob>/<profile>/<id>` and `comms/send` `peer_message` between them
//!    works (`acked: false`; the receiver's LLM gets `[COMMS MESSAGE from
//!    <mob>/<profile>/<id>]\n<body>`): that is the way to test comms. System notices reach the LLM as user messages
//!    starting with `[SYSTEM NOTICE]` (the scripted LLM skips them when
//!    looking for markers).
//!    On 0.9.8 each member runs in the connection realm `mob.<mob id>`,
//!    which resolves its binding through the `global` realm (the harness
//!    configures both), and a `comms/send` `input` reaches the LLM as
//!    `<body>\nExternal event via rpc: <body>\nPayload: <json>`.
//!
//! Also: `RUST_LOG=off` keeps stdout clean; the realm `config.toml` written
//! before the first start is honoured (no `config/patch` needed, though
//! `config/patch` of `providers.base_urls.anthropic` also takes effect for
//! later sessions of the same process); an interrupted slow turn fails with
//! `-32603 "... Run was cancelled"` and needs `runtime/reset` like a failed
//! one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::llm::ScriptedLlm;
use crate::raw::RawRpc;

/// The `rkat-rpc` version the end-to-end suites run against.
pub const RKAT_RPC_VERSION: &str = "0.5.2";

/// Environment variable naming the `rkat-rpc` binary to use.
pub const RKAT_RPC_ENV: &str = "MEERKAT_RKAT_RPC";

/// The source UUID of project skills (`<context-root>/.rkat/skills`) in
/// rkat 0.5.2, for `SkillKey { source_uuid, skill_name }`.
pub const PROJECT_SKILL_SOURCE_UUID: &str = "00000000-0000-4000-8000-000000000101";

/// The source UUID of project skills in rkat 0.9.8: one fixed UUID for the
/// conventional `<context-root>/.rkat/skills` source, whose skills sit
/// directly at `.rkat/skills/<name>/SKILL.md` (0.9.8 lists nested
/// directories too but loads a key from `<root>/<skill_name>` only).
pub const PROJECT_SKILL_SOURCE_UUID_V09: &str = "00000000-0000-4b11-8111-000000000002";

/// The source UUID of user skills (`<user-config-root>/.rkat/skills`).
pub const USER_SKILL_SOURCE_UUID: &str = "00000000-0000-4000-8000-000000000102";

/// Where `scripts/install-rkat-rpc.sh` installs the binary:
/// `${MEERKAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs}/rkat-rpc-0.5.2/bin/rkat-rpc`.
pub fn default_install_path() -> PathBuf {
    let cache = std::env::var_os("MEERKAT_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("meerkat-rs")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/meerkat-rs")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache/meerkat-rs"));
    cache.join(format!("rkat-rpc-{RKAT_RPC_VERSION}/bin/rkat-rpc"))
}

/// The real `rkat-rpc` binary: `$MEERKAT_RKAT_RPC`, else
/// [`default_install_path`].
///
/// # Panics
///
/// When the binary is not there, with a message saying how to install it.
/// End-to-end tests must fail loudly rather than skip.
pub fn rkat_rpc_path() -> PathBuf {
    let (path, from) = match std::env::var_os(RKAT_RPC_ENV) {
        Some(path) => (PathBuf::from(path), format!("${RKAT_RPC_ENV}")),
        None => (
            default_install_path(),
            "the default install path".to_owned(),
        ),
    };
    assert!(
        path.is_file(),
        "rkat-rpc {RKAT_RPC_VERSION} not found at {} ({from}).\n\
         Install it with `scripts/install-rkat-rpc.sh` (builds the published \
         meerkat-rpc {RKAT_RPC_VERSION} into the cache; prints the path), or point \
         ${RKAT_RPC_ENV} at an rkat-rpc {RKAT_RPC_VERSION} binary.",
        path.display()
    );
    path
}

/// The version the real binary reports (`rkat-rpc --version`), asked once.
///
/// # Panics
///
/// When the binary is not installed (see [`rkat_rpc_path`]).
pub fn server_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let out = Command::new(rkat_rpc_path())
            .arg("--version")
            .output()
            .expect("invariant: rkat-rpc --version runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or("0.5.2")
            .to_owned()
    })
}

/// Whether the real binary is of the 0.9 contract line.
pub fn is_v09() -> bool {
    server_version().starts_with("0.9")
}

/// The realm config that points the server at the scripted LLM: the 0.5
/// `[providers.base_urls]` table, or on 0.9 a realm backend, auth and
/// binding (fixtures/rkat-rpc-0.9.8/README.md), plus fast provider retries
/// on 0.5 so `[[error 529 x1]]` tests stay quick.
///
/// On 0.9 the same binding is also written for the reserved `global` realm:
/// a mob member runs in a connection realm of its own (`mob.<mob id>`), not
/// in the server's realm, and an unconfigured realm resolves its provider
/// binding through its parent chain, which ends at `global`. Without it,
/// member turns fall back to the process environment's default endpoint
/// (the real Anthropic API) and never reach the scripted LLM.
fn llm_config(realm: &str, llm_url: &str) -> String {
    if is_v09() {
        let binding = |realm: &str| {
            format!(
                "[realm.{realm}]\ndefault_binding = \"fake\"\n\n\
                 [realm.{realm}.backend.fake_anthropic]\nprovider = \"anthropic\"\n\
                 backend_kind = \"anthropic_api\"\nbase_url = \"{llm_url}\"\n\n\
                 [realm.{realm}.auth.fake_key]\nprovider = \"anthropic\"\nauth_method = \"api_key\"\n\
                 source = {{ kind = \"env\", env = \"ANTHROPIC_API_KEY\" }}\n\n\
                 [realm.{realm}.binding.fake]\nbackend_profile = \"fake_anthropic\"\n\
                 auth_profile = \"fake_key\"\n"
            )
        };
        if realm == "global" {
            binding(realm)
        } else {
            format!("{}\n{}", binding(realm), binding("global"))
        }
    } else {
        format!(
            "[providers.base_urls]\nanthropic = \"{llm_url}\"\n\n[retry]\n\
             initial_delay = \"20ms\"\nmax_delay = \"200ms\"\n"
        )
    }
}

/// Builder of a [`RealServer`].
#[derive(Debug, Clone)]
pub struct RealServerBuilder {
    llm_url: String,
    realm: String,
    extra_config: String,
}

impl RealServerBuilder {
    /// The realm id (default `e2e`). Each server has its own state root, so
    /// the name only matters for `session_ref`s.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// TOML appended to the realm's `config.toml` (e.g. `[tools]
    /// builtins_enabled = true`). Tables already written by the harness
    /// (`[providers.base_urls]`, `[retry]`) must not be repeated.
    #[must_use]
    pub fn config_toml(mut self, toml: impl Into<String>) -> Self {
        self.extra_config.push('\n');
        self.extra_config.push_str(&toml.into());
        self
    }

    /// Creates the directories and the realm config.
    ///
    /// # Panics
    ///
    /// When the temporary directory cannot be set up.
    pub fn build(self) -> RealServer {
        let dir = tempfile::Builder::new()
            .prefix("meerkat-real-")
            .tempdir()
            .expect("invariant: a temporary directory can be created");
        let server = RealServer {
            dir,
            realm: self.realm,
            llm_url: self.llm_url,
        };
        for sub in [
            server.home(),
            server.context_root(),
            server.user_config_root(),
        ] {
            std::fs::create_dir_all(sub).expect("invariant: temp subdirectories can be created");
        }
        let config = server.config_path();
        if let Some(parent) = config.parent() {
            std::fs::create_dir_all(parent).expect("invariant: the realm directory can be created");
        }
        let toml = format!(
            "{}{}\n",
            llm_config(&server.realm, &server.llm_url),
            self.extra_config
        );
        std::fs::write(&config, toml).expect("invariant: the realm config can be written");
        server
    }
}

/// An isolated setup for running the real `rkat-rpc` against a scripted LLM.
///
/// Holds the temporary directory; everything is deleted when dropped. Any
/// number of processes may be started from one setup, one after the other
/// (they share the realm, so sessions persist across them).
#[derive(Debug)]
pub struct RealServer {
    dir: TempDir,
    realm: String,
    llm_url: String,
}

impl RealServer {
    /// A setup pointed at `llm`, with default options.
    pub fn new(llm: &ScriptedLlm) -> Self {
        Self::builder(&llm.url()).build()
    }

    /// A builder for a setup pointed at the LLM base URL `llm_url`.
    pub fn builder(llm_url: &str) -> RealServerBuilder {
        RealServerBuilder {
            llm_url: llm_url.to_owned(),
            realm: "e2e".into(),
            extra_config: String::new(),
        }
    }

    /// The binary (see [`rkat_rpc_path`]).
    ///
    /// # Panics
    ///
    /// When it is not installed.
    pub fn binary(&self) -> PathBuf {
        rkat_rpc_path()
    }

    /// The LLM base URL written into the realm config.
    pub fn llm_url(&self) -> &str {
        &self.llm_url
    }

    /// The realm id.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The root of the temporary directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The child's `HOME`.
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// The `--state-root`.
    pub fn state_root(&self) -> PathBuf {
        self.root().join("state")
    }

    /// The `--context-root` (project conventions: `.rkat/skills`, ...).
    pub fn context_root(&self) -> PathBuf {
        self.root().join("project")
    }

    /// The `--user-config-root`.
    pub fn user_config_root(&self) -> PathBuf {
        self.root().join("user")
    }

    /// The realm's `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.state_root().join(&self.realm).join("config.toml")
    }

    /// The command-line arguments (`--realm`, `--state-root`,
    /// `--context-root`, `--user-config-root`).
    pub fn args(&self) -> Vec<OsString> {
        vec![
            "--realm".into(),
            self.realm.clone().into(),
            "--state-root".into(),
            self.state_root().into(),
            "--context-root".into(),
            self.context_root().into(),
            "--user-config-root".into(),
            self.user_config_root().into(),
        ]
    }

    /// Environment variables to set on the child: isolated `HOME` and XDG
    /// dirs, `ANTHROPIC_API_KEY=dummy`, `RUST_LOG=off`.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let home = self.home();
        vec![
            ("HOME".into(), home.clone().into()),
            ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
            ("XDG_DATA_HOME".into(), home.join(".local/share").into()),
            ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
            ("ANTHROPIC_API_KEY".into(), "dummy".into()),
            ("RUST_LOG".into(), "off".into()),
        ]
    }

    /// Environment variables to remove from the child (real provider keys
    /// of the developer's shell must not leak into tests).
    pub fn env_removed() -> &'static [&'static str] {
        &[
            "RKAT_ANTHROPIC_API_KEY",
            "RKAT_OPENAI_API_KEY",
            "OPENAI_API_KEY",
            "RKAT_GEMINI_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
        ]
    }

    /// SDK connect options for this server: binary, realm, roots and the
    /// isolated environment (real provider keys of the developer's shell
    /// are blanked).
    pub fn connect_options(&self) -> meerkat_proto::ConnectOptions {
        let mut options = meerkat_proto::ConnectOptions::new()
            .rkat_path(self.binary())
            .realm_id(self.realm.clone())
            .state_root(self.state_root())
            .context_root(self.context_root())
            .user_config_root(self.user_config_root())
            .request_timeout(std::time::Duration::from_secs(60));
        for name in Self::env_removed() {
            options = options.env(*name, "");
        }
        for (key, value) in self.env() {
            options = options.env(key, value);
        }
        options
    }

    /// A ready [`Command`]: binary, [`args`](Self::args), [`env`](Self::env).
    ///
    /// # Panics
    ///
    /// When the binary is not installed.
    pub fn command(&self) -> Command {
        let mut command = Command::new(self.binary());
        command.args(self.args());
        for name in Self::env_removed() {
            command.env_remove(name);
        }
        command.envs(self.env());
        command
    }

    /// Spawns the binary under a [`RawRpc`] driver.
    ///
    /// # Panics
    ///
    /// When the binary is missing or cannot be started.
    pub fn spawn_raw(&self) -> RawRpc {
        match RawRpc::spawn(self.command()) {
            Ok(rpc) => rpc,
            Err(e) => panic!("could not start {}: {e}", self.binary().display()),
        }
    }

    /// Writes a project skill at
    /// `<context-root>/.rkat/skills/<PROJECT_SKILL_SOURCE_UUID>/<name>/SKILL.md`
    /// (the layout under which its `SkillKey` resolves on 0.5.2, see the
    /// module docs), or on 0.9 at `<context-root>/.rkat/skills/<name>/SKILL.md`
    /// with the key [`PROJECT_SKILL_SOURCE_UUID_V09`], and returns its key.
    /// Call it before spawning the server.
    ///
    /// `name` must be a slug (lower-case letters, digits, `-`); rkat checks
    /// the frontmatter `name` against the directory name.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    pub fn add_skill(&self, name: &str, description: &str, body: &str) -> SkillFile {
        let (source_uuid, dir) = if is_v09() {
            let dir = self.context_root().join(".rkat/skills").join(name);
            (PROJECT_SKILL_SOURCE_UUID_V09, dir)
        } else {
            let dir = self
                .context_root()
                .join(".rkat/skills")
                .join(PROJECT_SKILL_SOURCE_UUID)
                .join(name);
            (PROJECT_SKILL_SOURCE_UUID, dir)
        };
        std::fs::create_dir_all(&dir).expect("invariant: the skill directory can be created");
        let text = format!("---\nname: {name}\ndescription: \"{description}\"\n---\n\n{body}\n");
        std::fs::write(dir.join("SKILL.md"), text).expect("invariant: SKILL.md can be written");
        SkillFile {
            source_uuid: source_uuid.into(),
            skill_name: name.into(),
            id: format!("{source_uuid}/{name}"),
        }
    }
}

/// A skill written by [`RealServer::add_skill`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkillFile {
    /// The skill source's UUID ([`PROJECT_SKILL_SOURCE_UUID`], on 0.9
    /// [`PROJECT_SKILL_SOURCE_UUID_V09`]).
    pub source_uuid: String,
    /// The skill name (the directory name).
    pub skill_name: String,
    /// The id `skills/list` reports.
    pub id: String,
}
