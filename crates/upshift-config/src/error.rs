//! Errors of configuration migration.

use thiserror::Error;

/// Everything that can go wrong while reading, editing or migrating a file.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file does not parse in its format.
    #[error("{file}:{line}:{column}: {format} does not parse: {message}")]
    Parse {
        file: String,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    /// A rule's path goes through something that is not a mapping (or list).
    #[error("rule `{rule}`: path `{path}` crosses `{at}`, which is not a mapping")]
    PathConflict {
        rule: String,
        path: String,
        at: String,
    },
    /// A path in a rule or on the command line is malformed.
    #[error("bad path `{path}`: {message}")]
    BadPath { path: String, message: String },
    /// A catalog rule does not describe a known operation.
    #[error("{origin}: config rule #{index}: {message}")]
    BadRule {
        origin: String,
        index: usize,
        message: String,
    },
    /// A `require` rule's condition holds: the operator must act first.
    #[error("{message} (rule `{rule}`)")]
    Required { rule: String, message: String },
    /// A `move` with `on_conflict = "fail"` found its target already set.
    #[error("rule `{rule}`: `{path}` is already set")]
    Conflict { rule: String, path: String },
    /// The edit is valid but this document cannot express it (flow-style
    /// YAML, `null` in TOML, nesting in `.env`, ...).
    #[error("rule `{rule}`: cannot edit `{path}` in this {format} file: {message}")]
    Unsupported {
        rule: String,
        path: String,
        format: &'static str,
        message: String,
    },
}

/// An edit-level failure, before the rule that caused it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The path crosses `at`, a scalar.
    NotAMapping { at: String },
    /// The document cannot express this edit.
    Unsupported(String),
}

impl EditError {
    /// Attaches the rule description and path.
    pub fn into_config(self, rule: &str, path: &str, format: &'static str) -> ConfigError {
        match self {
            EditError::NotAMapping { at } => ConfigError::PathConflict {
                rule: rule.to_string(),
                path: path.to_string(),
                at,
            },
            EditError::Unsupported(message) => ConfigError::Unsupported {
                rule: rule.to_string(),
                path: path.to_string(),
                format,
                message,
            },
        }
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut o = offset.min(text.len());
    while o > 0 && !text.is_char_boundary(o) {
        o -= 1;
    }
    let before = &text[..o];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}
