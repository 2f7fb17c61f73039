//! One-line descriptions of rules.

use std::fmt;

use serde_json::Value;

use super::{Leave, OnConflict, Op, Rule};
use crate::value::show;

fn v(t: &toml::Value) -> String {
    show(&serde_json::to_value(t).unwrap_or(Value::Null))
}

/// The top-level keys of a defaults fragment, for its description.
fn fragment_keys(t: &toml::Value) -> String {
    fn leaves(prefix: &str, t: &toml::Value, out: &mut Vec<String>) {
        match t {
            toml::Value::Table(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&p, x, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    leaves("", t, &mut out);
    let n = out.len();
    let mut s = out
        .iter()
        .take(4)
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if n > 4 {
        s.push_str(&format!(" and {} more", n - 4));
    }
    s
}

impl Rule {
    /// What the rule does, in one line (without its condition).
    pub fn action(&self) -> String {
        match &self.op {
            Op::Move {
                from,
                to,
                on_conflict,
                leave,
            } => {
                let conflict = match on_conflict {
                    OnConflict::KeepTarget => "keeping it if already set",
                    OnConflict::Overwrite => "replacing it if already set",
                    OnConflict::Merge => "merged into it if already set, its keys win",
                    OnConflict::Fail => "stopping if it is already set",
                };
                let left = match leave {
                    Leave::Remove => "",
                    Leave::CommentOut => "; the old key is commented out",
                };
                format!("move `{from}` to `{to}` ({conflict}){left}")
            }
            Op::Rename { path, to } => format!("rename `{path}` to `{to}`"),
            Op::Set { path, value } => format!("set `{path}` to {}", v(value)),
            Op::Transform {
                path,
                pattern,
                replacement,
            } => format!("rewrite `{path}` from /{pattern}/ to `{replacement}`"),
            Op::Remove { path, .. } => format!("remove `{path}`"),
            Op::CommentOut { path, .. } => format!("comment out `{path}`"),
            Op::DefaultIfAbsent { path, value } => match value {
                toml::Value::Table(_) if path.is_empty() => {
                    format!("add missing defaults {}", fragment_keys(value))
                }
                toml::Value::Table(_) => format!(
                    "add missing defaults under `{path}`: {}",
                    fragment_keys(value)
                ),
                _ => format!("set `{path}` to {} when absent", v(value)),
            },
            Op::PinChangedDefault { path, old, new } => {
                format!(
                    "pin `{path}` to {} when not set (the default changed from {} to {})",
                    v(old),
                    v(old),
                    v(new)
                )
            }
            Op::ToSecretRef {
                secret,
                username,
                password,
                target,
                ..
            } => {
                format!("move the credentials `{username}`/`{password}` into the docker-registry secret `{secret}`, referenced from `{target}`")
            }
            Op::SecretToFile { path, file, key } => {
                format!("move the cleartext secret `{path}` into the file {file} (mode 0600) and reference it from `{key}`")
            }
            Op::MergeFrom { keep } => {
                let k = keep
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                format!("lay the source configuration over this one, keeping {k} from this one")
            }
            Op::Require { message } => format!("stop: {message}"),
            Op::Warn { message } => format!("warn: {message}"),
        }
    }
}

impl fmt::Display for Rule {
    /// The action, its condition and why: the line used in plans and diffs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.action())?;
        if let Some(c) = &self.when {
            write!(f, " when {}", c.describe())?;
        }
        if let Some(why) = &self.why {
            write!(f, " — {why}")?;
        }
        Ok(())
    }
}
