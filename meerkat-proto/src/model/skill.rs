//! Skill keys and references, and how each contract line writes them.

use super::dialect::{ContractLine, Dialect};
use super::error::UsageError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use std::str::FromStr;

/// Identifies a skill: the source it comes from and its name.
///
/// ```
/// use meerkat_proto::SkillKey;
/// let key: SkillKey = "0f8e3c2a-1b2c-4d5e-8f90-123456789abc/code-review".parse().unwrap();
/// assert_eq!(key.skill_name, "code-review");
/// assert_eq!(key.to_string(), "0f8e3c2a-1b2c-4d5e-8f90-123456789abc/code-review");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkillKey {
    /// The skill source's UUID.
    #[serde(default)]
    pub source_uuid: String,
    /// The skill's name (slug).
    #[serde(default)]
    pub skill_name: String,
}

impl SkillKey {
    /// Builds a key.
    pub fn new(source_uuid: impl Into<String>, skill_name: impl Into<String>) -> Self {
        Self {
            source_uuid: source_uuid.into(),
            skill_name: skill_name.into(),
        }
    }
}

impl fmt::Display for SkillKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.source_uuid, self.skill_name)
    }
}

/// The legacy `"<source_uuid>/<skill_name>"` string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid skill reference {0:?}: expected \"<source_uuid>/<skill_name>\"")]
pub struct InvalidSkillRef(pub String);

impl FromStr for SkillKey {
    type Err = InvalidSkillRef;

    /// Parses the legacy `"<source_uuid>/<skill_name>"` form (split at the first `/`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((uuid, name)) if !uuid.is_empty() && !name.is_empty() => Ok(Self::new(uuid, name)),
            _ => Err(InvalidSkillRef(s.to_owned())),
        }
    }
}

/// A skill reference for `skill_refs`: a structured key or a legacy string.
///
/// Contract 0.5 writes a key as `{"source_uuid", "skill_name"}` and a legacy
/// string as it is; contract 0.9 takes only keys, tagged
/// `{"kind": "structured", "source_uuid", "skill_name"}` (a legacy string is
/// refused before sending there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SkillRef {
    /// `{"source_uuid", "skill_name"}`.
    Key(SkillKey),
    /// A legacy string reference, sent verbatim.
    Legacy(String),
}

impl From<SkillKey> for SkillRef {
    fn from(k: SkillKey) -> Self {
        Self::Key(k)
    }
}

impl From<&str> for SkillRef {
    /// A `"<uuid>/<name>"` string becomes a key; anything else stays legacy.
    fn from(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| Self::Legacy(s.to_owned()), Self::Key)
    }
}

/// The `skill_refs` to write for `dialect` (0.9: tagged keys only).
pub(crate) fn skill_refs_for(refs: &[SkillRef], dialect: &Dialect) -> Result<Value, UsageError> {
    if dialect.line() == ContractLine::V0_5 {
        return Ok(json!(refs));
    }
    refs.iter()
        .map(|r| match r {
            SkillRef::Key(k) => Ok(json!({
                "kind": "structured",
                "source_uuid": k.source_uuid,
                "skill_name": k.skill_name,
            })),
            SkillRef::Legacy(s) => Err(dialect.refuse(
                format!("skill_refs entry {s:?}"),
                "skill_refs take structured keys: SkillKey::new(source_uuid, skill_name)",
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// The `preload_skills` to write for `dialect`: skill ids on 0.5, SkillKey
/// objects on 0.9 (each id must then be a `"<source_uuid>/<skill_name>"`
/// key).
pub(crate) fn preload_skills_for(ids: &[String], dialect: &Dialect) -> Result<Value, UsageError> {
    if dialect.line() == ContractLine::V0_5 {
        return Ok(json!(ids));
    }
    ids.iter()
        .map(|id| {
            id.parse::<SkillKey>().map(|k| json!(k)).map_err(|_| {
                dialect.refuse(
                    format!("preload_skills entry {id:?}"),
                    "preload_skills are SkillKeys: \"<source_uuid>/<skill_name>\"",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_parsing() {
        assert!("nouuid".parse::<SkillKey>().is_err());
        assert!("/name".parse::<SkillKey>().is_err());
        assert!("uuid/".parse::<SkillKey>().is_err());
        let k: SkillKey = "u/a/b".parse().unwrap();
        assert_eq!(
            (k.source_uuid.as_str(), k.skill_name.as_str()),
            ("u", "a/b")
        );
        assert_eq!(SkillRef::from("plain"), SkillRef::Legacy("plain".into()));
        assert_eq!(
            SkillRef::from("u/n"),
            SkillRef::Key(SkillKey::new("u", "n"))
        );
    }
}
