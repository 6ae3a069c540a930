//! The contract dialect: which wire forms to use with this server.

use super::error::UsageError;
use super::server::{ContractVersion, SDK_CONTRACT_VERSION};
use std::collections::HashSet;
use std::fmt;

/// What the handshake learnt that changes the wire: the contract line and
/// the advertised methods.
///
/// The line (0.5 or 0.9, from `contract_version`) decides the shape of every
/// params type: each `Method` writes its params for [`Dialect::line`], and
/// refuses, before anything is sent, an option the line does not have
/// ([`UsageError::Unsupported`] naming the option and the line). Within a
/// line the wire still moves (0.5.0 has `mob/send`, 0.5.2
/// `mob/member_send`): those finer choices follow what is advertised, never
/// a guess. Transports never see the difference.
///
/// ```
/// use meerkat_proto::{ContractLine, ContractVersion, Dialect};
/// let v = ContractVersion::parse(&serde_json::json!("0.9.8")).unwrap();
/// let d = Dialect::new(v, ["mob/member_send".to_owned()]);
/// assert_eq!(d.line(), ContractLine::V0_9);
/// assert_eq!(d.member_send_method(), "mob/member_send");
/// assert_eq!(Dialect::default().line(), ContractLine::V0_5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    contract: ContractVersion,
    line: ContractLine,
    methods: HashSet<String>,
}

/// A contract line this SDK speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContractLine {
    /// Contract 0.5.x (PROTOCOL.md §3-§6).
    V0_5,
    /// Contract 0.9.x (PROTOCOL.md §7).
    V0_9,
}

impl ContractLine {
    /// Every line this SDK speaks, for messages: `"0.5.x or 0.9.x"`.
    pub const SUPPORTED: &'static str = "0.5.x or 0.9.x";

    /// The line of `version`, if this SDK speaks it: 0.5.x and 0.9.x, and
    /// nothing else (not 0.6, not 1.0).
    ///
    /// ```
    /// use meerkat_proto::{ContractLine, ContractVersion};
    /// let v = |s: &str| ContractVersion::parse(&serde_json::json!(s)).unwrap();
    /// assert_eq!(ContractLine::of(v("0.5.2")), Some(ContractLine::V0_5));
    /// assert_eq!(ContractLine::of(v("0.9.8-rc.1")), Some(ContractLine::V0_9));
    /// assert_eq!(ContractLine::of(v("0.7.0")), None);
    /// assert_eq!(ContractLine::of(v("1.0.0")), None);
    /// ```
    pub fn of(version: ContractVersion) -> Option<Self> {
        match (version.major, version.minor) {
            (0, 5) => Some(Self::V0_5),
            (0, 9) => Some(Self::V0_9),
            _ => None,
        }
    }

    /// `"0.5"` or `"0.9"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_5 => "0.5",
            Self::V0_9 => "0.9",
        }
    }
}

impl fmt::Display for ContractLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Default for Dialect {
    /// The 0.5.0 baseline used before the handshake.
    fn default() -> Self {
        Self::new(SDK_CONTRACT_VERSION, [])
    }
}

impl Dialect {
    /// A dialect for `contract` with the advertised `methods`.
    ///
    /// The line is [`ContractLine::of`] `contract`; a contract of no line
    /// this SDK speaks is written as 0.5 (the handshake refuses such a
    /// server before it gets a dialect).
    pub fn new(contract: ContractVersion, methods: impl IntoIterator<Item = String>) -> Self {
        Self {
            contract,
            line: ContractLine::of(contract).unwrap_or(ContractLine::V0_5),
            methods: methods.into_iter().collect(),
        }
    }

    /// The server's contract version.
    pub fn contract(&self) -> ContractVersion {
        self.contract
    }

    /// The contract line: the shape of every params type.
    pub fn line(&self) -> ContractLine {
        self.line
    }

    /// Whether the server advertised `method`.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.contains(method)
    }

    /// `mob/send` where listed (0.5.0), else `mob/member_send` (0.5.2, 0.9).
    pub fn member_send_method(&self) -> &'static str {
        if self.has_method("mob/send") {
            "mob/send"
        } else {
            "mob/member_send"
        }
    }

    /// Whether `mob/create` accepts a prefab (0.5.0 only: `mob/prefabs` listed).
    pub fn supports_mob_prefabs(&self) -> bool {
        self.has_method("mob/prefabs")
    }

    /// The refusal of `option`, which this line does not have: `why` says
    /// what to do instead, or where the option exists.
    pub(crate) fn refuse(&self, option: impl Into<String>, why: &str) -> UsageError {
        UsageError::Unsupported {
            method: option.into(),
            reason: format!("not on contract {} ({why})", self.line),
        }
    }

    /// Refuses `option` unless the line is 0.9 (`set` says whether the
    /// caller set it).
    pub(crate) fn require_0_9(&self, option: &str, set: bool) -> Result<(), UsageError> {
        if set && self.line == ContractLine::V0_5 {
            return Err(self.refuse(option, "a contract 0.9 option"));
        }
        Ok(())
    }
}
