//! The repository key: where it comes from, and generating it into a 0600 file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{BackupError, Result};

/// Where the repository password (restic's "key") comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Read from this file (trailing newline ignored); it must exist.
    File(PathBuf),
    /// Read from this environment variable; it must be set.
    Env(String),
    /// Read from this file, generating a random key into it (mode 0600) if missing.
    Generated(PathBuf),
}

impl KeySource {
    /// Resolves the key. The value never appears in an error.
    pub(crate) fn resolve(&self) -> Result<String> {
        match self {
            KeySource::Env(name) => std::env::var(name).map_err(|_| {
                BackupError::KeyUnavailable(format!("environment variable {name} is not set"))
            }),
            KeySource::File(path) => read_key_file(path),
            KeySource::Generated(path) => {
                if !path.exists() {
                    generate_key_file(path)?;
                }
                read_key_file(path)
            }
        }
    }
}

fn read_key_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        BackupError::KeyUnavailable(format!("cannot read key file {}: {e}", path.display()))
    })?;
    let key = text.trim_end_matches(['\n', '\r']).to_string();
    if key.is_empty() {
        return Err(BackupError::KeyUnavailable(format!(
            "key file {} is empty",
            path.display()
        )));
    }
    Ok(key)
}

/// Writes 32 random bytes, hex-encoded, to `path`, created with mode 0600.
fn generate_key_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| BackupError::io("cannot create", dir, e))?;
    }
    let mut bytes = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom")
        .map_err(|e| BackupError::io("cannot open", "/dev/urandom", e))?;
    std::io::Read::read_exact(&mut urandom, &mut bytes)
        .map_err(|e| BackupError::io("cannot read", "/dev/urandom", e))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| BackupError::io("cannot create key file", path, e))?;
    f.write_all(format!("{hex}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| BackupError::io("cannot write key file", path, e))
}
