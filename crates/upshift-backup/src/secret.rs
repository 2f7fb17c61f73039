//! Resolving `env:`/`file:` secret references. Values never reach an error.

use std::path::Path;

use upshift_core::manifest::SecretRef;

use crate::error::{BackupError, Result};

/// The secret's value (a `file:` path is relative to `base_dir`; one trailing newline is dropped).
pub(crate) fn resolve(store: &str, field: &str, r: &SecretRef, base_dir: &Path) -> Result<String> {
    read_secret(r, base_dir)
        .map_err(|why| BackupError::bad_store(store, format!("`{field}`: {why}")))
}

/// The value behind `r` (a `file:` path is relative to `base_dir`; one
/// trailing newline is dropped). The error says where it looked, never a value.
pub fn read_secret(r: &SecretRef, base_dir: &Path) -> std::result::Result<String, String> {
    match r {
        SecretRef::Env(name) => {
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
        }
        SecretRef::File(p) => {
            let path = base_dir.join(p);
            std::fs::read_to_string(&path)
                .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    }
}
