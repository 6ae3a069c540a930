//! The scenario the fake plays, from `FAKE_RKAT_SCENARIO` (see the binary's
//! header for what each one does).

/// One scenario and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scenario {
    Normal,
    V050,
    WrongVersion(String),
    ExitDuringHandshake,
    CrashMidStream,
    GarbageStdout,
    OversizedLine(usize),
    ResponseBeforeEvents(u64),
    DropEvents,
    UnknownIds,
    StderrFlood(usize),
    NeverAnswer(String),
    Burst { deltas: usize, size: usize },
    ToolCallback(Option<String>),
    Deaf,
    ToolFlood(usize),
    Strangers(usize),
    BadUtf8,
    HugeLine(usize),
    DeepNest(usize),
    OddIds,
    UnknownTools(usize),
}

impl Scenario {
    /// Parses `name args...`; an unknown name is an error message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or("normal");
        let arg = words.next();
        let arg2 = words.next();
        let num = |arg: Option<&str>, default: usize| -> Result<usize, String> {
            arg.map_or(Ok(default), |a| {
                a.parse()
                    .map_err(|_| format!("bad number {a:?} in {text:?}"))
            })
        };
        Ok(match name {
            "normal" => Self::Normal,
            "v050" => Self::V050,
            "wrong-version" => Self::WrongVersion(arg.unwrap_or("0.4.0").to_owned()),
            "exit-during-handshake" => Self::ExitDuringHandshake,
            "crash-mid-stream" => Self::CrashMidStream,
            "garbage-stdout" => Self::GarbageStdout,
            "oversized-line" => Self::OversizedLine(num(arg, 70 << 20)?),
            "response-before-events" => Self::ResponseBeforeEvents(num(arg, 100)? as u64),
            "drop-events" => Self::DropEvents,
            "unknown-ids" => Self::UnknownIds,
            "stderr-flood" => Self::StderrFlood(num(arg, 8)?),
            "never-answer" => Self::NeverAnswer(arg.unwrap_or("session/list").to_owned()),
            "burst" => Self::Burst {
                deltas: num(arg, 10_000)?,
                size: num(arg2, 8)?,
            },
            "slow-consumer" => Self::Burst {
                deltas: num(arg, 2_000)?,
                size: num(arg2, 4096)?,
            },
            "tool-callback" => Self::ToolCallback(arg.map(str::to_owned)),
            "deaf" => Self::Deaf,
            "tool-flood" => Self::ToolFlood(num(arg, 300_000)?),
            "strangers" => Self::Strangers(num(arg, 100_000)?),
            "bad-utf8" => Self::BadUtf8,
            "huge-line" => Self::HugeLine(num(arg, 70 << 20)?),
            "deep-nest" => Self::DeepNest(num(arg, 100_000)?),
            "odd-ids" => Self::OddIds,
            "unknown-tools" => Self::UnknownTools(num(arg, 10_000)?),
            other => return Err(format!("unknown FAKE_RKAT_SCENARIO {other:?}")),
        })
    }

    /// The contract version `initialize` reports.
    pub(crate) fn contract(&self) -> &str {
        match self {
            Self::V050 => "0.5.0",
            Self::WrongVersion(version) => version,
            _ => "0.5.2",
        }
    }

    /// Whether this is the 0.5.0 dialect (`mob/send`, prefabs).
    pub(crate) fn is_v050(&self) -> bool {
        matches!(self, Self::V050)
    }
}

/// The `initialize.methods` of 0.5.0 (default features, in order).
pub(crate) const METHODS_050: &[&str] = &[
    "initialized",
    "initialize",
    "session/create",
    "session/list",
    "session/read",
    "session/history",
    "blob/get",
    "session/archive",
    "session/external_event",
    "session/inject_context",
    "session/stream_open",
    "session/stream_close",
    "turn/start",
    "turn/interrupt",
    "config/get",
    "config/set",
    "config/patch",
    "capabilities/get",
    "models/catalog",
    "skills/list",
    "skills/inspect",
    "tools/register",
    "runtime/state",
    "runtime/accept",
    "runtime/retire",
    "runtime/reset",
    "input/state",
    "input/list",
    "mob/prefabs",
    "mob/create",
    "mob/list",
    "mob/status",
    "mob/lifecycle",
    "mob/spawn",
    "mob/spawn_many",
    "mob/retire",
    "mob/respawn",
    "mob/wire",
    "mob/unwire",
    "mob/members",
    "mob/send",
    "mob/events",
    "mob/append_system_context",
    "mob/flows",
    "mob/flow_run",
    "mob/flow_status",
    "mob/flow_cancel",
    "mob/spawn_helper",
    "mob/fork_helper",
    "mob/force_cancel",
    "mob/member_status",
    "mob/tools",
    "mob/call",
    "mob/stream_open",
    "mob/stream_close",
    "mcp/add",
    "mcp/remove",
    "mcp/reload",
    "comms/send",
    "comms/peers",
];

/// The `initialize.methods` of 0.5.2 (as the real server lists them).
pub(crate) const METHODS_052: &[&str] = &[
    "initialized",
    "initialize",
    "session/create",
    "session/list",
    "session/read",
    "session/history",
    "blob/get",
    "session/archive",
    "session/external_event",
    "session/inject_context",
    "session/stream_open",
    "session/stream_close",
    "schedule/create",
    "schedule/get",
    "schedule/list",
    "schedule/update",
    "schedule/pause",
    "schedule/resume",
    "schedule/delete",
    "schedule/occurrences",
    "schedule/tools",
    "schedule/call",
    "turn/start",
    "turn/interrupt",
    "config/get",
    "config/set",
    "config/patch",
    "capabilities/get",
    "models/catalog",
    "skills/list",
    "skills/inspect",
    "runtime/state",
    "runtime/accept",
    "runtime/retire",
    "runtime/reset",
    "input/state",
    "input/list",
    "mob/create",
    "mob/list",
    "mob/status",
    "mob/lifecycle",
    "mob/spawn",
    "mob/spawn_many",
    "mob/retire",
    "mob/respawn",
    "mob/wire",
    "mob/unwire",
    "mob/members",
    "mob/events",
    "mob/member_send",
    "mob/append_system_context",
    "mob/flows",
    "mob/flow_run",
    "mob/flow_status",
    "mob/flow_cancel",
    "mob/spawn_helper",
    "mob/fork_helper",
    "mob/force_cancel",
    "mob/member_status",
    "mob/wait_kickoff",
    "mob/profile/create",
    "mob/profile/get",
    "mob/profile/list",
    "mob/profile/update",
    "mob/profile/delete",
    "mob/stream_open",
    "mob/stream_close",
    "mcp/add",
    "mcp/remove",
    "mcp/reload",
    "comms/send",
    "comms/peers",
];
