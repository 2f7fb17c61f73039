//! Lossless documents: each keeps the original text and edits it in place.
//!
//! Reads go through a neutral value view (`serde_json::Value`) re-derived from
//! the text after every edit, which doubles as a check that the edit left a
//! document that still parses.

mod env;
mod json;
pub mod limits;
mod toml;
mod yaml;
mod yaml_lines;
mod yaml_render;

use serde_json::Value;

use crate::error::{ConfigError, EditError};
use crate::format::Format;
use crate::path::Path;

/// What `comment_out` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentedOut {
    /// The key is still in the file, as a comment.
    Commented,
    /// The format has no comments (JSON): the key was removed.
    Removed,
}

/// A configuration document edited in place.
pub trait Document {
    /// The format.
    fn format(&self) -> Format;
    /// The current values.
    fn value(&self) -> &Value;
    /// Writes `value` at `path`, creating missing mappings on the way.
    fn set(&mut self, path: &Path, value: &Value) -> Result<(), EditError>;
    /// Removes the key or list item at `path`; false when it was absent.
    fn remove(&mut self, path: &Path) -> Result<bool, EditError>;
    /// Turns the key at `path` into a comment, with `note` above it.
    fn comment_out(&mut self, path: &Path, note: &str) -> Result<Option<CommentedOut>, EditError>;
    /// Renames the last key of `path` to `new_key`, in place.
    fn rename(&mut self, path: &Path, new_key: &str) -> Result<bool, EditError>;
    /// The current text.
    fn text(&self) -> String;
}

/// Opens `text` as a document of `format`; `file` names it in errors.
pub fn open(format: Format, file: &str, text: &str) -> Result<Box<dyn Document>, ConfigError> {
    Ok(match format {
        Format::Yaml => Box::new(yaml::YamlDoc::parse(file, text)?),
        Format::Json => Box::new(json::JsonDoc::parse(file, text)?),
        Format::Toml => Box::new(toml::TomlDoc::parse(file, text)?),
        Format::Env => Box::new(env::EnvDoc::parse(file, text)?),
    })
}

/// Parses `text` into the value view only (what conditions read).
pub fn parse_value(format: Format, file: &str, text: &str) -> Result<Value, ConfigError> {
    Ok(open(format, file, text)?.value().clone())
}

/// The error for an edit that produced a document that no longer parses
/// (a bug upshift refuses to write out).
pub(crate) fn broken_edit(format: Format, e: &ConfigError) -> EditError {
    EditError::Unsupported(format!(
        "the edit would leave invalid {format} ({e}); the file was not changed"
    ))
}
