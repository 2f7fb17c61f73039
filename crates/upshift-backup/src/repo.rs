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
use crate::guard;
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
    /// The same time, as milliseconds since the Unix epoch.
    pub unix_ms: i64,
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
            unix_ms: snap.time.timestamp().as_millisecond(),
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
    /// (default: generated into `.upshift/repo.key`, mode 0600), opened,
    /// or created when it does not exist yet.
    pub fn for_manifest(manifest: &Manifest, base_dir: &Path) -> Result<Repository> {
        let (path, key) = location(manifest, base_dir);
        Repository::open_or_init(&path, &key)
    }

    /// Like [`Repository::for_manifest`], but `None` when there is no
    /// repository yet: nothing is created, neither repository nor key.
    pub fn existing_for_manifest(
        manifest: &Manifest,
        base_dir: &Path,
    ) -> Result<Option<Repository>> {
        let (path, key) = location(manifest, base_dir);
        Repository::open_existing(&path, &key)
    }

    /// Opens the repository at `path`, initialising it when it does not exist.
    ///
    /// Safe when several processes do this at once: the key file is created
    /// once (the first writer's key is everyone's), and the repository is
    /// built in a private directory beside `path` and renamed into place,
    /// so exactly one initialisation becomes the repository and the others
    /// discard theirs and open it.
    pub fn open_or_init(path: &Path, key: &KeySource) -> Result<Repository> {
        guard::contained(path, || Self::open_or_init_unguarded(path, key))
    }

    fn open_or_init_unguarded(path: &Path, key: &KeySource) -> Result<Repository> {
        if let Some(repo) = Repository::open_existing(path, key)? {
            return Ok(repo);
        }
        let repo = Repository::with_password(path, key.resolve_for_init()?)?;
        repo.init_in_place()?;
        repo.open()?;
        Ok(repo)
    }

    /// Opens the repository at `path` if there is one. A key file that is
    /// missing while the repository exists is [`BackupError::KeyMissing`].
    pub fn open_existing(path: &Path, key: &KeySource) -> Result<Option<Repository>> {
        guard::contained(path, || Self::open_existing_unguarded(path, key))
    }

    fn open_existing_unguarded(path: &Path, key: &KeySource) -> Result<Option<Repository>> {
        if !initialised(path)? {
            return Ok(None);
        }
        if let Some(file) = key.file() {
            if !file
                .try_exists()
                .map_err(|e| BackupError::io("cannot check key file", file, e))?
            {
                return Err(BackupError::KeyMissing {
                    key: file.to_path_buf(),
                    repo: path.to_path_buf(),
                    snapshots: snapshot_count(path),
                });
            }
        }
        let repo = Repository::with_password(path, key.resolve()?)?;
        repo.open()?;
        Ok(Some(repo))
    }

    fn with_password(path: &Path, password: String) -> Result<Repository> {
        Ok(Repository {
            path: path.to_path_buf(),
            backends: backends(path)?,
            credentials: Credentials::password(password),
        })
    }

    /// Initialises a repository in a new directory beside `self.path` and
    /// renames it into place. When another process's repository got there
    /// first, this one is discarded and theirs is kept.
    fn init_in_place(&self) -> Result<()> {
        let path = &self.path;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| BackupError::io("cannot create", dir, e))?;
        let name = path
            .file_name()
            .unwrap_or("repo".as_ref())
            .to_string_lossy();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(".{name}.init-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(|e| BackupError::io("cannot create", &tmp, e))?;
        let built = backends(&tmp).and_then(|be| {
            bare(&tmp, &be)?
                .init(
                    &self.credentials,
                    &KeyOptions::default(),
                    &ConfigOptions::default(),
                )
                .map(drop)
                .map_err(|e| rerr(path, &e))
        });
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        // Renaming onto a directory that is not empty fails: that is how
        // the loser of a race for the first initialisation finds out.
        let Err(e) = std::fs::rename(&tmp, path) else {
            crate::key::sync_dir(dir);
            return Ok(());
        };
        let _ = std::fs::remove_dir_all(&tmp);
        if initialised(path)? {
            return Ok(());
        }
        if path.exists() {
            return Err(BackupError::Repository {
                repo: path.to_path_buf(),
                message: format!(
                    "the directory exists but holds no repository ({e}): move it away, or point `[backup] repository` elsewhere"
                ),
            });
        }
        Err(BackupError::io("cannot create the repository", path, e))
    }

    /// The repository's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens with the key; a wrong key is [`BackupError::WrongKey`].
    pub(crate) fn open(&self) -> Result<Opened> {
        self.open_with(rustic_core::NoProgressBars)
    }

    /// [`Repository::open`], with rustic_core's progress going to `bars`.
    pub(crate) fn open_with(&self, bars: impl rustic_core::ProgressBars) -> Result<Opened> {
        let opts = RepositoryOptions::default().no_cache(true);
        rustic_core::Repository::new_with_progress(&opts, &self.backends, bars)
            .map_err(|e| rerr(&self.path, &e))?
            .open(&self.credentials)
            .map_err(|e| {
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
        guard::contained(&self.path, || self.snapshots_unguarded())
    }

    fn snapshots_unguarded(&self) -> Result<Vec<SnapshotInfo>> {
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

    /// The upshift snapshot `id` (a full id, a unique prefix, or `latest`), as listed.
    pub fn snapshot(&self, id: &str) -> Result<SnapshotInfo> {
        guard::contained(&self.path, || {
            let repo = self.open()?;
            let (snap, meta) = self.find(&repo, id)?;
            Ok(SnapshotInfo::from_parts(&snap, &meta))
        })
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

pub(crate) fn location(manifest: &Manifest, base_dir: &Path) -> (PathBuf, KeySource) {
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
    (path, key)
}

fn backends(path: &Path) -> Result<RepositoryBackends> {
    BackendOptions::default()
        .repository(path.display().to_string())
        .to_backends()
        .map_err(|e| rerr(path, &e))
}

fn bare(path: &Path, backends: &RepositoryBackends) -> Result<rustic_core::Repository<()>> {
    let opts = RepositoryOptions::default().no_cache(true);
    rustic_core::Repository::new(&opts, backends).map_err(|e| rerr(path, &e))
}

/// True when `path` holds a repository (its config file exists).
fn initialised(path: &Path) -> Result<bool> {
    Ok(bare(path, &backends(path)?)?
        .config_id()
        .map_err(|e| rerr(path, &e))?
        .is_some())
}

/// How many snapshots the repository holds, readable without the key
/// (one file per snapshot under `snapshots/`).
fn snapshot_count(path: &Path) -> String {
    let n = std::fs::read_dir(path.join("snapshots"))
        .map(|d| d.flatten().filter(|e| e.path().is_file()).count())
        .unwrap_or(0);
    match n {
        0 => "no snapshots yet".into(),
        1 => "1 snapshot".into(),
        n => format!("{n} snapshots"),
    }
}

/// `<repo>.key` beside the repository directory.
pub fn default_key_path(repo: &Path) -> PathBuf {
    let mut name = repo.file_name().unwrap_or("repo".as_ref()).to_os_string();
    name.push(".key");
    repo.with_file_name(name)
}

/// A rustic error as a repository error (rustic errors never hold the
/// password); data that fails its MAC check is [`BackupError::Damaged`].
pub(crate) fn rerr(path: &Path, e: &RusticError) -> BackupError {
    let message = guard::concise(e);
    if guard::says_damaged(e) {
        return BackupError::Damaged {
            repo: path.to_path_buf(),
            detail: message,
        };
    }
    BackupError::Repository {
        repo: path.to_path_buf(),
        message,
    }
}
