//! Request identifiers: ours ([`RequestId`]) and the peer's ([`IncomingId`]).
//!
//! They are different types on purpose: [`Client::respond`](super::Client::respond)
//! takes only an [`IncomingId`], so nobody can answer one of our own requests,
//! and a response is matched to a [`RequestId`] only when its `id` is exactly
//! the JSON integer we sent (the string `"7"` does not match the number `7`).

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Identifier of a request this client sent.
///
/// Allocated monotonically from 1 by [`Client::send_request`](super::Client::send_request)
/// and written on the wire as a JSON integer. Opaque otherwise.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// Returns the numeric value put on the wire.
    ///
    /// ```
    /// # use meerkat_proto::rpc::{Client, Config};
    /// let mut client = Client::new(Config::default());
    /// let id = client.send_request("ping", None, None).unwrap();
    /// assert_eq!(id.get(), 1);
    /// ```
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifier of a request the peer sent to us (such as `tool/execute`).
///
/// Kept verbatim, number or string, and echoed with the same JSON type in the
/// answer. `Display` quotes strings, so `7` and `"7"` read differently.
///
/// ```
/// # use meerkat_proto::rpc::IncomingId;
/// assert_eq!(IncomingId::from("srv-0").to_string(), "\"srv-0\"");
/// assert_eq!(IncomingId::from(7).to_string(), "7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IncomingId {
    /// A numeric id (a JSON integer that fits an `i64`).
    Number(i64),
    /// A string id, such as `"srv-0"`.
    String(String),
}

impl From<i64> for IncomingId {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl From<&str> for IncomingId {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for IncomingId {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl fmt::Display for IncomingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for IncomingId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => serializer.serialize_i64(*n),
            Self::String(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IncomingId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = IncomingId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string request id")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(IncomingId::Number(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(IncomingId::Number)
                    .map_err(|_| E::custom("integer id does not fit an i64"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IncomingId::String(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(IncomingId::String(v))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_id_keeps_its_json_type() {
        let n: IncomingId = serde_json::from_str("7").unwrap();
        let s: IncomingId = serde_json::from_str("\"7\"").unwrap();
        assert_eq!(n, IncomingId::Number(7));
        assert_eq!(s, IncomingId::String("7".into()));
        assert_ne!(n, s);
        assert_eq!(serde_json::to_string(&n).unwrap(), "7");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"7\"");
        assert_eq!(n.to_string(), "7");
        assert_eq!(s.to_string(), "\"7\"");
    }

    #[test]
    fn incoming_id_accepts_the_i64_range_and_rejects_other_types() {
        let min: IncomingId = serde_json::from_str("-9223372036854775808").unwrap();
        assert_eq!(min, IncomingId::Number(i64::MIN));
        let max: IncomingId = serde_json::from_str("9223372036854775807").unwrap();
        assert_eq!(max, IncomingId::Number(i64::MAX));
        for bad in [
            "9223372036854775808",
            "1.5",
            "1.0",
            "true",
            "null",
            "[]",
            "{}",
        ] {
            assert!(
                serde_json::from_str::<IncomingId>(bad).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn incoming_id_string_escapes_round_trip() {
        let id = IncomingId::from("a\"b\\c\n");
        let text = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<IncomingId>(&text).unwrap(), id);
    }
}
