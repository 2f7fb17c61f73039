//! The repository key: where it comes from, and generating it into a 0600 file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{BackupError, Result};

/// Where the repository password (restic's "key") comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Read from this file (trailing newline ignored); it must exist.
    File(PathBuf),
    /// Read from this environment variable; it must be set.
    Env(String),
    /// Read from this file, generating a random key into it (mode 0600)
    /// when the repository is created.
    Generated(PathBuf),
}

impl KeySource {
    /// The file the key is read from, if it comes from one.
    pub(crate) fn file(&self) -> Option<&Path> {
        match self {
            KeySource::File(p) | KeySource::Generated(p) => Some(p),
            KeySource::Env(_) => None,
        }
    }

    /// Resolves the key of an existing repository; never generates one.
    /// The value never appears in an error.
    pub(crate) fn resolve(&self) -> Result<String> {
        match self {
            KeySource::Env(name) => std::env::var(name).map_err(|_| {
                BackupError::KeyUnavailable(format!("environment variable {name} is not set"))
            }),
            KeySource::File(path) | KeySource::Generated(path) => read_key_file(path),
        }
    }

    /// Resolves the key of a repository about to be created: a generated
    /// key file is made first when missing. Of several processes doing this
    /// at once, the first to create the file wins and all use its key.
    pub(crate) fn resolve_for_init(&self) -> Result<String> {
        if let KeySource::Generated(path) = self {
            let exists = path
                .try_exists()
                .map_err(|e| BackupError::io("cannot check key file", path, e))?;
            if !exists {
                generate_key_file(path)?;
            }
        }
        self.resolve()
    }
}

fn read_key_file(path: &Path) -> Result<String> {
    let unreadable = |e: std::io::Error| {
        BackupError::KeyUnavailable(format!("cannot read key file {}: {e}", path.display()))
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(unreadable)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(BackupError::KeyExposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(unreadable)?;
    let key = text.trim_end_matches(['\n', '\r']).to_string();
    if key.is_empty() {
        return Err(BackupError::KeyUnavailable(format!(
            "key file {} is empty",
            path.display()
        )));
    }
    Ok(key)
}

/// Writes 32 random bytes, hex-encoded, to `path` with mode 0600, unless
/// the file appears meanwhile. The key is written and synced to a private
/// file first and then hard-linked into place, so `path` never exists
/// half-written and an existing key is never replaced.
fn generate_key_file(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BackupError::io("cannot create", dir, e))?;
    let mut bytes = [0u8; 32];
    let mut urandom = std::fs::File::open("/dev/urandom")
        .map_err(|e| BackupError::io("cannot open", "/dev/urandom", e))?;
    urandom
        .read_exact(&mut bytes)
        .map_err(|e| BackupError::io("cannot read", "/dev/urandom", e))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();

    let name = path
        .file_name()
        .unwrap_or("repo.key".as_ref())
        .to_string_lossy();
    // Named by process and time, never by anything derived from the key.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos:09}.new", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts
        .open(&tmp)
        .map_err(|e| BackupError::io("cannot create key file", &tmp, e))
        .and_then(|mut f| {
            f.write_all(format!("{hex}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| BackupError::io("cannot write key file", &tmp, e))
        });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Another process made the key first: its key is the one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(BackupError::io("cannot create key file", path, e)),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_dir(dir);
    Ok(())
}

/// Makes a new directory entry in `dir` durable (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
