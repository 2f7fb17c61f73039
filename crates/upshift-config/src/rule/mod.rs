//! The rule vocabulary: what a release changes in a configuration file.
//!
//! Rules are catalog data (`[[release.config_rules]]` tables with an `op`);
//! each can describe itself in one line for plans, diffs and warnings.

mod apply;
mod condition;
mod describe;

pub use apply::{apply, Outcome};
pub use condition::Condition;

use serde::Deserialize;

/// What to do when a `move` finds its target already set.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Keep the target, drop the source (with a warning).
    #[default]
    KeepTarget,
    /// Replace the target with the source.
    Overwrite,
    /// Add the source's keys the target lacks; the target's win.
    Merge,
    /// Stop with an error.
    Fail,
}

/// What a `move` leaves where the source was.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Leave {
    /// Nothing.
    #[default]
    Remove,
    /// The old key, commented out (formats without comments remove it).
    CommentOut,
}

/// Every `op` a rule may name, as [`Op`] spells them in catalogs (a test
/// checks this list against serde's own list of [`Op`]'s variants).
pub const OPS: &[&str] = &[
    "move",
    "rename",
    "set",
    "transform",
    "remove",
    "comment_out",
    "default_if_absent",
    "pin_changed_default",
    "to_secret_ref",
    "secret_to_file",
    "merge_from",
    "require",
    "warn",
];

/// The operation of a rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Move a key (and everything under it) elsewhere.
    Move {
        from: String,
        to: String,
        #[serde(default)]
        on_conflict: OnConflict,
        #[serde(default)]
        leave: Leave,
    },
    /// Rename the last key of `path` to `to`, in place.
    Rename { path: String, to: String },
    /// Write a value.
    Set { path: String, value: toml::Value },
    /// Rewrite a scalar with a regular expression (`mender-(.*)` → `v$1`).
    Transform {
        path: String,
        pattern: String,
        replacement: String,
    },
    /// Remove a key, with a warning saying why.
    Remove {
        path: String,
        #[serde(default)]
        warning: Option<String>,
    },
    /// Comment a key out, with a note above it.
    CommentOut { path: String, note: String },
    /// Write a value (or, for a mapping, each missing key of it) when absent.
    DefaultIfAbsent {
        #[serde(default)]
        path: String,
        value: toml::Value,
    },
    /// A release changed a default from `old` to `new`: when the file relied
    /// on the old default (the key is absent) and `when` holds, write `old`.
    PinChangedDefault {
        path: String,
        old: toml::Value,
        new: toml::Value,
    },
    /// Take cleartext registry credentials out, reference a secret instead
    /// and emit the command that creates it (never the values).
    ToSecretRef {
        /// Name of the secret to create.
        secret: String,
        username: String,
        password: String,
        #[serde(default)]
        email: Option<String>,
        /// Registry server; `server_from` (a path) wins when set in the file.
        #[serde(default)]
        server: Option<String>,
        #[serde(default)]
        server_from: Option<String>,
        /// The list of `{name = …}` references (e.g. `default.imagePullSecrets`).
        target: String,
        /// Environment variable names used in the emitted command.
        #[serde(default)]
        env_prefix: Option<String>,
    },
    /// Take a cleartext secret out of the file into its own file (mode 0600,
    /// written by the executor) and reference that file from `key`.
    SecretToFile {
        path: String,
        file: String,
        key: String,
    },
    /// Lay a source configuration over this one, keeping some keys of this one.
    MergeFrom { keep: Vec<String> },
    /// Stop with `message` when `when` holds.
    Require { message: String },
    /// Tell the operator `message` (when `when` holds).
    Warn { message: String },
}

/// A rule: an operation, an optional condition and why it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub op: Op,
    /// Apply only when this holds.
    pub when: Option<Condition>,
    /// Why the release needs it (shown after the description).
    pub why: Option<String>,
    /// The release that brought the rule.
    pub release: Option<semver::Version>,
    /// Which config files it is for (`role` of a manifest `[config]` entry);
    /// `None` means every file.
    pub role: Option<String>,
}

impl Rule {
    /// Reads a rule from a catalog table; the error says what is wrong.
    pub fn from_table(t: &toml::Table) -> Result<Rule, String> {
        let mut t = t.clone();
        let when = match t.remove("when") {
            Some(v) => Some(
                v.try_into::<Condition>()
                    .map_err(|e| format!("`when`: {}", e.message()))?,
            ),
            None => None,
        };
        let why = match t.remove("why") {
            Some(toml::Value::String(s)) => Some(s),
            Some(_) => return Err("`why` must be a string".into()),
            None => None,
        };
        let role = match t.remove("role") {
            Some(toml::Value::String(s)) => Some(s),
            Some(_) => return Err("`role` must be a string".into()),
            None => None,
        };
        // Where upstream documents the rule: for readers and `catalog lint`.
        match t.remove("source") {
            Some(toml::Value::String(_)) | None => {}
            Some(_) => return Err("`source` must be a string (a URL)".into()),
        }
        if !t.contains_key("op") {
            return Err(format!("missing `op` (one of {})", OPS.join(", ")));
        }
        let op: Op = toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        let rule = Rule {
            op,
            when,
            why,
            release: None,
            role,
        };
        rule.validate()?;
        Ok(rule)
    }

    /// Whether the rule is meant for a file of `role`.
    pub fn applies_to(&self, role: &str) -> bool {
        self.role.as_deref().is_none_or(|r| r == role)
    }

    /// Notes which release brought the rule.
    pub fn with_release(mut self, v: &semver::Version) -> Rule {
        self.release = Some(v.clone());
        self
    }

    /// Every path the rule names.
    pub fn paths(&self) -> Vec<&str> {
        match &self.op {
            Op::Move { from, to, .. } => vec![from, to],
            Op::Rename { path, .. }
            | Op::Set { path, .. }
            | Op::Transform { path, .. }
            | Op::Remove { path, .. }
            | Op::CommentOut { path, .. }
            | Op::DefaultIfAbsent { path, .. }
            | Op::PinChangedDefault { path, .. } => vec![path],
            Op::ToSecretRef {
                username,
                password,
                email,
                server_from,
                target,
                ..
            } => {
                let mut v = vec![username.as_str(), password.as_str(), target.as_str()];
                v.extend(email.as_deref());
                v.extend(server_from.as_deref());
                v
            }
            Op::SecretToFile { path, key, .. } => vec![path, key],
            Op::MergeFrom { keep } => keep.iter().map(String::as_str).collect(),
            Op::Require { .. } | Op::Warn { .. } => vec![],
        }
    }

    fn validate(&self) -> Result<(), String> {
        for p in self.paths() {
            crate::path::Path::parse(p).map_err(|e| e.to_string())?;
        }
        if let Some(c) = &self.when {
            c.validate()?;
        }
        match &self.op {
            Op::Transform { pattern, .. } => {
                regex::Regex::new(pattern).map_err(|e| format!("bad pattern `{pattern}`: {e}"))?;
            }
            Op::Move { from, to, .. } => {
                let (f, t) = (
                    crate::path::Path::parse(from).map_err(|e| e.to_string())?,
                    crate::path::Path::parse(to).map_err(|e| e.to_string())?,
                );
                if f.starts_with(&t) || t.starts_with(&f) {
                    return Err(format!(
                        "cannot move `{from}` into or out of itself (`{to}`)"
                    ));
                }
            }
            Op::Rename { to, .. } if to.is_empty() || to.contains('.') => {
                return Err(format!("`to` is the new key name, not a path (got `{to}`); use `move` to change levels"));
            }
            Op::Require { .. } if self.when.is_none() => {
                return Err("`require` needs a `when`".into())
            }
            Op::Set { path, .. }
            | Op::PinChangedDefault { path, .. }
            | Op::CommentOut { path, .. }
            | Op::Remove { path, .. }
                if path.is_empty() =>
            {
                return Err("`path` must not be empty".into());
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod ops_tests {
    use super::*;

    /// serde's error for an unknown variant lists every variant it accepts:
    /// that list and [`OPS`] must be the same.
    #[test]
    fn ops_are_the_variants_serde_accepts() {
        let mut t = toml::Table::new();
        t.insert("op".into(), toml::Value::String("no-such-op".into()));
        let e = toml::Value::Table(t)
            .try_into::<Op>()
            .unwrap_err()
            .to_string();
        let listed = e
            .split("expected one of")
            .nth(1)
            .and_then(|l| l.lines().next())
            .unwrap_or_else(|| panic!("{e}"));
        let names: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
        assert_eq!(names, OPS, "{e}");
    }
}
