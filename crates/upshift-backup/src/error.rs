//! Errors of the backup library. None of them ever holds a secret's value.

use std::path::PathBuf;

/// Everything that can go wrong while backing up, listing, verifying or restoring.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The repository key is wrong (the CLI maps this to exit 2: bad input).
    #[error("the repository key does not open the repository at {repo}: check `[backup] key` in the manifest (the key is not shown here)")]
    WrongKey { repo: PathBuf },

    /// The key reference cannot be resolved (missing env variable, unreadable file).
    #[error("the repository key cannot be read: {0} (the value is not shown here)")]
    KeyUnavailable(String),

    /// The key file is gone while the repository it opens exists. A new key
    /// would not open it, so none is generated.
    #[error("the key file {key} does not exist, but the repository at {repo} does ({snapshots}): a new key cannot open it, so none is made; put the key file back, or point `[backup] key` at where it is")]
    KeyMissing {
        key: PathBuf,
        repo: PathBuf,
        /// "1 snapshot", "3 snapshots", "no snapshots yet".
        snapshots: String,
    },

    /// The key file can be read (or written) by group or others.
    #[error(
        "the key file {path} is open to group or others (mode {mode:04o}): run `chmod 600 {path}`"
    )]
    KeyExposed { path: PathBuf, mode: u32 },

    /// A store's manifest entry lacks something this kind of store needs.
    #[error("store `{store}`: {message}")]
    BadStore { store: String, message: String },

    /// The store's account lacks a privilege backup, verify or restore
    /// needs; `fix` is the statement an administrator runs.
    #[error("store `{store}`: {message}; as an administrator of the server, run: {fix}")]
    Privilege {
        store: String,
        message: String,
        fix: String,
    },

    /// A dump/restore tool failed; `stderr` is its standard error.
    #[error("store `{store}`: `{tool}` failed ({status}): {stderr}")]
    Tool {
        store: String,
        tool: String,
        status: String,
        stderr: String,
    },

    /// A tool could not be started at all (usually: not installed).
    #[error("store `{store}`: cannot run `{tool}`: {source}")]
    ToolMissing {
        store: String,
        tool: String,
        #[source]
        source: std::io::Error,
    },

    /// A local file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// SQLite reported an error while copying or checking a database.
    #[error("store `{store}`: SQLite: {message}")]
    Sqlite { store: String, message: String },

    /// An S3 request failed (the message never holds credentials or signed URLs).
    #[error("store `{store}`: S3: {message}")]
    S3 { store: String, message: String },

    /// Files that changed while the archiver copied them, other than by
    /// growing: the stored copies could be torn, so no snapshot is kept.
    #[error("{} changed while being copied (not only appended to), so the snapshot would hold a torn copy and none was kept: leave such files out with the store's `exclude` (e.g. `exclude = [\"*.tmp\"]`), or stop what writes them while backing up", shown(paths))]
    ChangedWhileCopied { paths: Vec<PathBuf> },

    /// No snapshot matches the given id.
    #[error("no upshift snapshot matches `{0}` (run `upshift snapshots` to list them)")]
    NoSuchSnapshot(String),

    /// A store's directory (or SQLite database) is now a symbolic link: a
    /// restore would write and delete in whatever it points at.
    #[error("store `{store}`: {path} is a symbolic link (to {target}), not the directory the snapshot was taken of; nothing was restored, as restoring would write and delete through it. If the data moved there, point the store's `path` at {target}; otherwise remove the link (`rm {path}`) and restore again")]
    RootIsLink {
        store: String,
        path: PathBuf,
        target: PathBuf,
    },

    /// A path the snapshot names would be written outside where it
    /// belongs (`..`, an absolute entry in a tree): nothing is restored.
    #[error("the snapshot names the path `{path}`, which {why}: nothing was restored, as writing it could reach outside the store's own paths; the snapshot was not written by upshift or is damaged (run `upshift verify`)")]
    UnsafePath { path: String, why: String },

    /// The snapshot has no data for a store named in the manifest.
    #[error("snapshot {snapshot} holds no store `{store}`")]
    StoreNotInSnapshot { snapshot: String, store: String },

    /// The repository's files are damaged: its data fails the MAC check
    /// with a key that opened it, or `rustic_core` panicked reading it.
    /// `detail` is one line of what it reported.
    #[error("the snapshot repository at {repo} is damaged ({detail}): run `upshift verify` to see which snapshots are affected, and restore the repository directory from another copy (or move it aside and take a new backup)")]
    Damaged { repo: PathBuf, detail: String },

    /// The repository itself reported an error.
    #[error("repository {repo}: {message}")]
    Repository { repo: PathBuf, message: String },
}

impl BackupError {
    /// True when the error is the caller's input (wrong key, bad store entry,
    /// unknown snapshot) rather than a failed operation.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            BackupError::WrongKey { .. }
                | BackupError::KeyUnavailable(_)
                | BackupError::KeyMissing { .. }
                | BackupError::KeyExposed { .. }
                | BackupError::BadStore { .. }
                | BackupError::NoSuchSnapshot(_)
        )
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BackupError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_store(store: &str, message: impl Into<String>) -> Self {
        BackupError::BadStore {
            store: store.to_string(),
            message: message.into(),
        }
    }
}

/// Paths, comma-separated, for a message.
fn shown(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// Short for `Result<T, BackupError>`.
pub type Result<T, E = BackupError> = std::result::Result<T, E>;
