//! The contract dialect: which wire forms to use with this server.

use super::server::{ContractVersion, SDK_CONTRACT_VERSION};
use std::collections::HashSet;

/// What the handshake learnt that changes the wire: the contract line and
/// the advertised methods.
///
/// Within contract 0.5 the wire still moves (0.5.0 has `mob/send`, 0.5.2
/// `mob/member_send`): methods choose by what is advertised, never by
/// guessing. A later contract line (0.9: PROTOCOL.md §7) is added here, as a
/// new [`ContractLine`], and in the `Method` impls that differ; transports
/// never see the difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    contract: ContractVersion,
    methods: HashSet<String>,
}

/// A contract line this SDK speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContractLine {
    /// Contract 0.5.x.
    V0_5,
}

impl Default for Dialect {
    /// The 0.5.0 baseline used before the handshake.
    fn default() -> Self {
        Self {
            contract: SDK_CONTRACT_VERSION,
            methods: HashSet::new(),
        }
    }
}

impl Dialect {
    /// A dialect for `contract` with the advertised `methods`.
    pub fn new(contract: ContractVersion, methods: impl IntoIterator<Item = String>) -> Self {
        Self {
            contract,
            methods: methods.into_iter().collect(),
        }
    }

    /// The server's contract version.
    pub fn contract(&self) -> ContractVersion {
        self.contract
    }

    /// The contract line.
    pub fn line(&self) -> ContractLine {
        ContractLine::V0_5
    }

    /// Whether the server advertised `method`.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.contains(method)
    }

    /// `mob/send` where listed (0.5.0), else `mob/member_send` (0.5.2).
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
}
