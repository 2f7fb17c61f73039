//! The snapshot repository: a restic-format repository opened through
//! `rustic_core` (local backend), its key, and listing upshift's snapshots.

use std::path::{Path, PathBuf};

use rustic_backend::BackendOptions;
use rustic_core::repofile::SnapshotFile;
use rustic_core::{
    ConfigOptions, Credentials, KeyOptions, OpenStatus, RepositoryBackends, RepositoryOptions,
    RusticError,
};
use serde::Serialize;
use upshift_core::manifest::{Manifest, SecretRef};

use crate::error::{BackupError, Result};
use crate::key::KeySource;
use crate::meta::{SnapshotMeta, Tags};

pub(crate) type Opened = rustic_core::Repository<OpenStatus>;

/// An opened (or freshly initialised) repository.
pub struct Repository {
    pub(crate) path: PathBuf,
    backends: RepositoryBackends,
    credentials: Credentials,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// One upshift snapshot, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    /// The full snapshot id (hex).
    pub id: String,
    /// The first 8 hex digits, as restic prints them.
    pub short_id: String,
    /// RFC 3339 time.
    pub time: String,
    pub tags: Tags,
    /// Store names held, then config file names.
    pub stores: Vec<String>,
    pub config: Vec<String>,
    /// Bytes of data added to the repository by this snapshot.
    pub data_added: u64,
    /// Bytes processed (total size of the sources).
    pub total_bytes: u64,
}

impl SnapshotInfo {
    pub(crate) fn from_parts(snap: &SnapshotFile, meta: &SnapshotMeta) -> SnapshotInfo {
        let id = snap.id.to_hex().as_str().to_string();
        let (data_added, total_bytes) = snap
            .summary
            .as_ref()
            .map_or((0, 0), |s| (s.data_added, s.total_bytes_processed));
        SnapshotInfo {
            short_id: id.chars().take(8).collect(),
            id,
            time: snap.time.timestamp().to_string(),
            tags: meta.tags.clone(),
            stores: meta.stores.keys().cloned().collect(),
            config: meta.config.keys().cloned().collect(),
            data_added,
            total_bytes,
        }
    }
}

impl Repository {
    /// The repository and key a manifest names: `[backup] repository`
    /// (default `.upshift/repo` beside the manifest) and `[backup] key`
    /// (default: generated into `.upshift/repo.key`, mode 0600).
    pub fn for_manifest(manifest: &Manifest, base_dir: &Path) -> Result<Repository> {
        let path = base_dir.join(
            manifest
                .backup
                .repository
                .as_deref()
                .unwrap_or(".upshift/repo"),
        );
        let key = match &manifest.backup.key {
            Some(SecretRef::Env(name)) => KeySource::Env(name.clone()),
            Some(SecretRef::File(p)) => KeySource::File(base_dir.join(p)),
            None => KeySource::Generated(default_key_path(&path)),
        };
        Repository::open_or_init(&path, &key)
    }

    /// Opens the repository at `path`, initialising it when it does not exist.
    pub fn open_or_init(path: &Path, key: &KeySource) -> Result<Repository> {
        let password = key.resolve()?;
        let repo = Repository {
            path: path.to_path_buf(),
            backends: BackendOptions::default()
                .repository(path.display().to_string())
                .to_backends()
                .map_err(|e| rerr(path, &e))?,
            credentials: Credentials::password(password),
        };
        let bare = repo.bare()?;
        let exists = bare.config_id().map_err(|e| rerr(path, &e))?.is_some();
        if exists {
            repo.open()?;
        } else {
            std::fs::create_dir_all(path).map_err(|e| BackupError::io("cannot create", path, e))?;
            bare.init(
                &repo.credentials,
                &KeyOptions::default(),
                &ConfigOptions::default(),
            )
            .map_err(|e| rerr(path, &e))?;
        }
        Ok(repo)
    }

    /// The repository's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bare(&self) -> Result<rustic_core::Repository<()>> {
        let opts = RepositoryOptions::default().no_cache(true);
        rustic_core::Repository::new(&opts, &self.backends).map_err(|e| rerr(&self.path, &e))
    }

    /// Opens with the key; a wrong key is [`BackupError::WrongKey`].
    pub(crate) fn open(&self) -> Result<Opened> {
        self.bare()?.open(&self.credentials).map_err(|e| {
            if e.is_incorrect_password() {
                BackupError::WrongKey {
                    repo: self.path.clone(),
                }
            } else {
                rerr(&self.path, &e)
            }
        })
    }

    /// upshift's snapshots, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let repo = self.open()?;
        let mut snaps = repo.get_all_snapshots().map_err(|e| rerr(&self.path, &e))?;
        snaps.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(snaps
            .iter()
            .filter_map(|s| {
                SnapshotMeta::parse(s.description.as_deref())
                    .map(|m| SnapshotInfo::from_parts(s, &m))
            })
            .collect())
    }

    /// The upshift snapshot `id` (a full id, a unique prefix, or `latest`).
    pub(crate) fn find(&self, repo: &Opened, id: &str) -> Result<(SnapshotFile, SnapshotMeta)> {
        let snap = repo
            .get_snapshot_from_str(id, |s| {
                SnapshotMeta::parse(s.description.as_deref()).is_some()
            })
            .map_err(|_| BackupError::NoSuchSnapshot(id.to_string()))?;
        let meta = SnapshotMeta::parse(snap.description.as_deref())
            .ok_or_else(|| BackupError::NoSuchSnapshot(id.to_string()))?;
        Ok((snap, meta))
    }
}

/// `<repo>.key` beside the repository directory.
pub fn default_key_path(repo: &Path) -> PathBuf {
    let mut name = repo.file_name().unwrap_or("repo".as_ref()).to_os_string();
    name.push(".key");
    repo.with_file_name(name)
}

/// A rustic error as a repository error (rustic errors never hold the password).
pub(crate) fn rerr(path: &Path, e: &RusticError) -> BackupError {
    BackupError::Repository {
        repo: path.to_path_buf(),
        message: e.display_log(),
    }
}
