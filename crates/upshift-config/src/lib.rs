//! Lossless configuration migration for upshift.
//!
//! A configuration file (YAML, JSON, TOML or `.env`) is opened as a
//! [`doc::Document`] that edits the text in place, so every byte a rule does
//! not touch stays as it was: comments, order, quoting and blank lines.
//! [`rule::Rule`]s come from a product's catalog (one list per release) and
//! [`migrate`] applies them, returning the new text, a one-line description of
//! each rule that applied, warnings, commands the operator must run (for
//! example to create a secret) and a unified diff with secret values masked.

pub mod catalog;
pub mod diff;
pub mod doc;
mod encoded;
pub mod error;
pub mod format;
pub mod fuzzing;
pub mod migrate;
pub mod path;
pub mod rule;
pub mod secret;
pub mod value;

pub use catalog::{merge_rule, rules_for};
pub use error::ConfigError;
pub use format::Format;
pub use migrate::{migrate, Context, Migration, SecretFile};
pub use path::Path;
pub use rule::Rule;
