//! The entry point: apply a hop's rules to one file.

use std::collections::BTreeSet;

use semver::Version;
use serde::Serialize;

use crate::doc;
use crate::error::ConfigError;
use crate::format::Format;
use crate::rule::{apply, Outcome, Rule};
use crate::secret::{collect, Masker};

/// What the caller knows about the installation and the hop.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The version the file was written for (`${from}` in rules).
    pub from: Option<Version>,
    /// The version it is migrated to (`${to}`).
    pub to: Option<Version>,
    /// Facts conditions can test (`enterprise`, ...).
    pub facts: BTreeSet<String>,
    /// Merge mode: (file name, text) of the source configuration that a
    /// `merge_from` rule lays over this file.
    pub merge_source: Option<(String, String)>,
}

/// The result of a migration. Serializing it (for `--json`) never includes
/// the new text or a secret value.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    /// The file as named by the caller.
    pub file: String,
    pub format: Format,
    /// The migrated text (write it out; never print it).
    #[serde(skip)]
    pub text: String,
    /// Whether the text changed.
    pub changed: bool,
    /// One line per rule that changed something or spoke.
    pub applied: Vec<String>,
    pub warnings: Vec<String>,
    /// Commands the operator must run, e.g. to create a secret.
    pub commands: Vec<String>,
    /// Unified diff, secret values shown as `***`.
    pub diff: String,
    /// Secret files the caller must write (mode 0600) before the new
    /// configuration is used. Never serialised or printed.
    #[serde(skip)]
    pub secret_files: Vec<SecretFile>,
}

/// A file holding a secret taken out of a configuration.
#[derive(Clone)]
pub struct SecretFile {
    /// Where, as the rule names it (relative to the installation).
    pub path: String,
    /// The secret.
    pub contents: String,
}

impl std::fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretFile({}, ***)", self.path)
    }
}

/// Applies `rules` in order to `text` (a `format` file named `file`).
pub fn migrate(
    format: Format,
    file: &str,
    text: &str,
    rules: &[Rule],
    ctx: &Context,
) -> Result<Migration, ConfigError> {
    let mut d = doc::open(format, file, text)?;
    let mut secrets = Vec::new();
    collect(d.value(), &mut secrets);
    if let Some((name, src)) = &ctx.merge_source {
        collect(&doc::parse_value(format, name, src)?, &mut secrets);
    }
    let mut out = Outcome::default();
    for rule in rules {
        apply(rule, &mut d, ctx, &mut out)?;
    }
    collect(d.value(), &mut secrets);
    secrets.extend(out.secrets.iter().cloned());
    let masker = Masker::new(&secrets);
    let new = d.text();
    let diff = crate::diff::unified(file, text, &new, &masker);
    Ok(Migration {
        file: file.to_string(),
        format,
        changed: new != text,
        text: new,
        applied: out.applied.iter().map(|s| masker.mask(s)).collect(),
        warnings: out.warnings.iter().map(|s| masker.mask(s)).collect(),
        commands: out.commands.iter().map(|s| masker.mask(s)).collect(),
        diff,
        secret_files: out
            .files
            .into_iter()
            .map(|(path, contents)| SecretFile { path, contents })
            .collect(),
    })
}
