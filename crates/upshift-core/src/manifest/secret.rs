//! References to secrets. A manifest names where a secret is (`env:NAME`,
//! `file:PATH`), never the secret itself, and nothing upshift prints shows it.

/// Every error about a secret field ends with this; diagnostics that carry
/// it omit the source line, which could hold the secret.
pub const VALUE_HIDDEN: &str = "(the value is not shown here)";

use std::fmt;

use serde::{Deserialize, Serialize};

/// `env:NAME` or `file:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(String),
}

impl SecretRef {
    /// Parses a reference. The error never repeats the input: it may be the secret.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if let Some(name) = s.strip_prefix("env:") {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err("`env:` must be followed by an environment variable name, like `env:PGPASSWORD` (the value is not shown here)");
            }
            Ok(SecretRef::Env(name.to_string()))
        } else if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` must be followed by a path, like `file:/etc/upshift/db-password` (the value is not shown here)");
            }
            Ok(SecretRef::File(path.to_string()))
        } else {
            Err("secrets are written as references, never as values: use `env:NAME` or `file:PATH` (the value is not shown here)")
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{p}"),
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SecretRef::parse(&s).map_err(serde::de::Error::custom)
    }
}
