//! What the handshake learns about the server.

use super::capability::Capability;
use super::dialect::Dialect;
use serde_json::Value;
use std::fmt;

/// A contract version `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContractVersion {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
}

/// The baseline contract, spoken before the handshake (a
/// [`Dialect::default`]). The SDK speaks the lines of
/// [`ContractLine`](super::ContractLine): 0.5.x and 0.9.x.
pub const SDK_CONTRACT_VERSION: ContractVersion = ContractVersion {
    major: 0,
    minor: 5,
    patch: 0,
};

impl ContractVersion {
    /// Parses `"0.5.2"` (a prerelease suffix such as `-rc.1` is ignored) or
    /// the object form `{"major":0,"minor":5,"patch":2}`.
    ///
    /// ```
    /// use meerkat_proto::ContractVersion;
    /// let v = ContractVersion::parse(&serde_json::json!("0.5.2")).unwrap();
    /// assert!(v.is_compatible_with(meerkat_proto::SDK_CONTRACT_VERSION));
    /// let v = ContractVersion::parse(&serde_json::json!("0.9.8-rc.1")).unwrap();
    /// assert!(!v.is_compatible_with(meerkat_proto::SDK_CONTRACT_VERSION));
    /// ```
    pub fn parse(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => {
                let core = s.split(['-', '+']).next().unwrap_or("");
                let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
                let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
                if parts.next().is_some() {
                    return None;
                }
                Some(Self {
                    major,
                    minor,
                    patch,
                })
            }
            Value::Object(m) => Some(Self {
                major: m.get("major")?.as_u64()?,
                minor: m.get("minor")?.as_u64()?,
                patch: m.get("patch").and_then(Value::as_u64).unwrap_or(0),
            }),
            _ => None,
        }
    }

    /// The official SDKs' rule: for 0.x the minors must match; otherwise the
    /// majors. This SDK accepts a server by
    /// [`ContractLine::of`](super::ContractLine::of) instead (two lines).
    pub fn is_compatible_with(self, other: Self) -> bool {
        if self.major == 0 && other.major == 0 {
            self.minor == other.minor
        } else {
            self.major == other.major
        }
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The server as the handshake found it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// `server_info.name` (`meerkat-rpc`).
    pub name: String,
    /// `server_info.version` (the crate version, e.g. `0.5.2`).
    pub version: String,
    /// The contract version from `initialize`.
    pub contract_version: ContractVersion,
    /// The advertised methods.
    pub methods: Vec<String>,
    /// The capabilities from `capabilities/get`.
    pub capabilities: Vec<Capability>,
}

impl ServerInfo {
    /// Decodes the `initialize` result (capabilities are added later).
    ///
    /// # Errors
    /// A message when `contract_version` is missing or malformed.
    pub fn from_initialize(result: &Value) -> Result<Self, String> {
        let raw = result
            .get("contract_version")
            .cloned()
            .unwrap_or(Value::Null);
        let contract_version = ContractVersion::parse(&raw)
            .ok_or_else(|| format!("unparsable contract_version {raw}"))?;
        let info = result.get("server_info");
        let text = |k: &str| {
            info.and_then(|i| i.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let methods = result
            .get("methods")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            name: text("name"),
            version: text("version"),
            contract_version,
            methods,
            capabilities: Vec::new(),
        })
    }

    /// Decodes and stores the `capabilities/get` result.
    pub fn set_capabilities(&mut self, result: &Value) {
        self.capabilities = result
            .get("capabilities")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Capability::from_value).collect())
            .unwrap_or_default();
    }

    /// The dialect to speak with this server.
    pub fn dialect(&self) -> Dialect {
        Dialect::new(self.contract_version, self.methods.iter().cloned())
    }

    /// Whether capability `id` is available. `"mob"` is not a capability id:
    /// it follows the method list (`mob/create` served).
    pub fn has_capability(&self, id: &str) -> bool {
        if id == "mob" {
            return self.methods.iter().any(|m| m == "mob/create");
        }
        self.capabilities
            .iter()
            .any(|c| c.id == id && c.is_available())
    }

    /// Fails unless capability `id` is available.
    ///
    /// # Errors
    ///
    /// [`Error::CapabilityUnavailable`](crate::Error::CapabilityUnavailable)
    /// naming `id`.
    pub fn require_capability(&self, id: &str) -> Result<(), crate::Error> {
        if self.has_capability(id) {
            Ok(())
        } else {
            Err(crate::Error::CapabilityUnavailable {
                capability: id.to_owned(),
            })
        }
    }
}
