//! Errors of the executor. The CLI maps each to an exit code in one place.

use std::path::PathBuf;

/// Why a run did not end upgraded and healthy.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another live run holds the installation's lock (exit 4).
    #[error("{installation} is locked by run {run_id} ({owner}@{host}, pid {pid}, since {since}); wait for it to finish")]
    Locked {
        installation: String,
        run_id: String,
        owner: String,
        host: String,
        pid: u32,
        since: String,
    },
    /// The lock's holder looks dead (exit 4, with the command that breaks it).
    #[error("{installation} is locked by run {run_id} ({owner}@{host}, pid {pid}), which looks dead: {why}; if no upgrade is running, break the lock with `upshift unlock` (it asks for confirmation)")]
    StaleLock {
        installation: String,
        run_id: String,
        owner: String,
        host: String,
        pid: u32,
        why: String,
    },
    /// A previous run did not finish: resume or roll it back first (exit 3).
    #[error("run {run_id} ({from} → {to}) was interrupted at {at}; finish it with `upshift resume` or undo it with `upshift rollback`")]
    Unfinished {
        run_id: String,
        from: String,
        to: String,
        at: String,
    },
    /// The upgrade failed and was rolled back; the installation serves `at` (exit 1).
    #[error("{what}; rolled back: {at} is serving again with its data as before")]
    RolledBack { what: String, at: String },
    /// The upgrade failed and rolling back failed too: an operator must act (exit 3).
    #[error("{what}; rolling back also failed: {rollback}. Fix the cause, then run `upshift rollback` again")]
    RollbackFailed { what: String, rollback: String },
    /// Nothing to resume or roll back (exit 2).
    #[error("{0}")]
    NothingToDo(String),
    /// A step failed before anything changed (exit 1).
    #[error("{0}")]
    Failed(String),
    #[error("journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Backup(#[from] upshift_backup::BackupError),
}

pub type Result<T, E = RunError> = std::result::Result<T, E>;
