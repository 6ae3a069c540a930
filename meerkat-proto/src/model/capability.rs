//! Capabilities reported by `capabilities/get`.

use super::wire_enum::wire_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;

wire_enum! {
    /// A capability's status, normalised from Rust's externally tagged form
    /// (`"Available"` or `{"DisabledByPolicy": {...}}`) to its tag.
    pub enum CapabilityStatus {
        /// Usable.
        Available = "Available",
        /// Compiled in but switched off by config.
        DisabledByPolicy = "DisabledByPolicy",
        /// Not compiled into this server.
        NotCompiled = "NotCompiled",
        /// Not offered over this protocol.
        NotSupportedByProtocol = "NotSupportedByProtocol",
    }
}

/// One capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capability {
    /// Its id (`sessions`, `skills`, `comms`, ...).
    #[serde(default)]
    pub id: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// Its status.
    #[serde(deserialize_with = "status_tag", default = "available")]
    pub status: CapabilityStatus,
    /// The status's detail object, if any (`{"description": ...}`).
    #[serde(skip)]
    pub status_detail: Option<Value>,
}

fn available() -> CapabilityStatus {
    CapabilityStatus::Available
}

fn status_tag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CapabilityStatus, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => CapabilityStatus::from_wire(&s),
        Value::Object(m) if m.len() == 1 => {
            CapabilityStatus::from_wire(m.keys().next().map_or("", String::as_str))
        }
        _ => CapabilityStatus::Other(String::new()),
    })
}

impl Capability {
    /// Whether the status is `Available`.
    pub fn is_available(&self) -> bool {
        self.status == CapabilityStatus::Available
    }

    /// Decodes a `capabilities/get` entry, keeping the status detail.
    pub(crate) fn from_value(v: &Value) -> Option<Self> {
        let mut cap: Self = serde_json::from_value(v.clone()).ok()?;
        cap.status_detail = v
            .get("status")
            .and_then(Value::as_object)
            .and_then(|m| m.values().next().cloned());
        Some(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn externally_tagged_statuses_normalise() {
        let c = Capability::from_value(&json!({"id":"builtins","description":"d",
            "status":{"DisabledByPolicy":{"description":"tools.builtins_enabled = false"}}}))
        .unwrap();
        assert_eq!(c.status, CapabilityStatus::DisabledByPolicy);
        assert!(!c.is_available());
        assert_eq!(
            c.status_detail.unwrap()["description"],
            "tools.builtins_enabled = false"
        );
        let c = Capability::from_value(&json!({"id":"sessions","status":"Available"})).unwrap();
        assert!(c.is_available());
        let c = Capability::from_value(&json!({"id":"x","status":{"Weird":{}}})).unwrap();
        assert_eq!(c.status, CapabilityStatus::Other("Weird".into()));
    }
}
