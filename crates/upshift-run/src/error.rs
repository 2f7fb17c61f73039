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
    /// A check failed before anything changed (exit 1, or 2 when the
    /// cause is bad input such as a wrong repository key).
    #[error("{what}\nnothing was changed: {at} is as it was")]
    Unchanged {
        what: String,
        at: String,
        cause: Box<StepError>,
    },
    /// The upgrade failed and was rolled back; the installation serves `at`
    /// (exit 1, or 2 when the cause is bad input).
    #[error("{what}\nrolled back: {at} is serving again with its data as before")]
    RolledBack {
        what: String,
        at: String,
        cause: Box<StepError>,
    },
    /// A step failed after the new version began serving users again
    /// (`maintenance.off`): nothing is rolled back automatically, so no
    /// write users made is lost; the run stays open for `resume` (exit 3).
    #[error("{what}\n{at} serves users again and keeps what they write: nothing was rolled back. Fix the cause, then run `upshift resume` to finish the remaining steps (`upshift rollback` would first have to replace what users wrote since)")]
    FailedWhileServing { what: String, at: String },
    /// A signal stopped the run at a safe point; `at` serves (exit 3).
    #[error("{what}; {at} serves. Continue with `upshift resume`, or undo the run with `upshift rollback`")]
    Interrupted { what: String, at: String },
    /// The upgrade failed and rolling back failed too: an operator must act (exit 3).
    #[error("{what}\nrolling back also failed: {rollback}\nfix the cause, then run `upshift rollback` again")]
    RollbackFailed {
        what: String,
        rollback: Box<StepError>,
    },
    /// Nothing to resume or roll back (exit 2).
    #[error("{0}")]
    NothingToDo(String),
    /// `rollback --to` names a version the run cannot go back to (exit 2).
    #[error("{0}")]
    BadTarget(String),
    /// A step failed before anything changed (exit 1).
    #[error("{0}")]
    Failed(String),
    #[error("journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The journal file is damaged: what it holds cannot be trusted, so
    /// nothing reads it as "no runs" (exit 3: an operator must look).
    #[error("journal {path} is damaged: {what}\nupshift cannot tell from it whether a run is unfinished, so it does nothing. Keep a copy of {path} and its -wal file, check what serves, then move both aside (`mv {path} {path}.damaged`) so the next command starts a new journal; an unfinished run must then be finished by hand")]
    JournalDamaged { path: PathBuf, what: String },
    /// The journal was deleted or replaced during the run: it stopped at
    /// the next step boundary (exit 3).
    #[error(transparent)]
    JournalLost(Box<LostJournal>),
    /// The run ended as `outcome` says, but the journal could not record
    /// it (a full disk): the run stays open there, and so does the lock
    /// (exit 3).
    #[error("{outcome}\nthe journal could not record this: {journal}\nnow: {state}\nthe run stays unfinished in the journal, and its lock stays held: free space (or fix what fails), then run `upshift resume` to go on or `upshift rollback` to end the run at its start version")]
    NotRecorded {
        /// What happened (the error the run ends with, or its success).
        outcome: String,
        /// What answers now, probed.
        state: String,
        journal: Box<RunError>,
    },
    /// The journal holds something no version of upshift writes (exit 1).
    #[error("journal {path} is damaged: {what}; keep a copy of it and see `upshift history`")]
    Damaged { path: PathBuf, what: String },
    #[error(transparent)]
    Backup(#[from] upshift_backup::BackupError),
    /// A step's error outside a hop (reaching the host, reading the plan).
    #[error(transparent)]
    Step(#[from] StepError),
}

/// A run's journal deleted or replaced while it ran.
#[derive(Debug, thiserror::Error)]
#[error("the journal {path} {how} during run {run_id}: upshift stopped before step {step} of hop {hop}, as it does not act without a journal that survives a crash. {state}. {copy}. Find out what removed it, then finish the run with `upshift resume` or undo it with `upshift rollback`")]
pub struct LostJournal {
    pub path: PathBuf,
    pub how: &'static str,
    pub run_id: String,
    pub hop: usize,
    pub step: String,
    /// What serves and what is stopped.
    pub state: String,
    /// Where the copy the run still held went.
    pub copy: String,
}

impl RunError {
    /// Whether the run stopped because of the operator's input (exit 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            RunError::NothingToDo(_) | RunError::BadTarget(_) => true,
            RunError::Backup(b) => b.is_bad_input(),
            RunError::Unchanged { cause, .. } | RunError::RolledBack { cause, .. } => {
                cause.is_bad_input()
            }
            RunError::Step(e) => e.is_bad_input(),
            _ => false,
        }
    }
}

/// Why a step (or an action of a driver, a health check, a host) failed.
/// Errors of the snapshot repository and of config migration are carried
/// unchanged, so the CLI can tell bad input from a failure.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// What went wrong, and what to do about it when known.
    #[error("{message}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Failed {
        message: String,
        hint: Option<String>,
    },
    #[error(transparent)]
    Backup(#[from] upshift_backup::BackupError),
    #[error(transparent)]
    Config(#[from] upshift_config::ConfigError),
    #[error("journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl StepError {
    pub fn msg(message: impl Into<String>) -> Self {
        StepError::Failed {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what to do about it.
    pub fn hint(self, hint: Option<String>) -> Self {
        match (self, hint) {
            (StepError::Failed { message, .. }, Some(h)) => StepError::Failed {
                message,
                hint: Some(h),
            },
            (e, _) => e,
        }
    }

    /// Whether the operator's input caused it (exit 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            StepError::Backup(b) => b.is_bad_input(),
            StepError::Config(c) => matches!(
                c,
                upshift_config::ConfigError::Parse { .. }
                    | upshift_config::ConfigError::BadPath { .. }
                    | upshift_config::ConfigError::BadRule { .. }
            ),
            _ => false,
        }
    }
}

impl From<String> for StepError {
    fn from(message: String) -> Self {
        StepError::msg(message)
    }
}

impl From<&str> for StepError {
    fn from(message: &str) -> Self {
        StepError::msg(message)
    }
}

impl From<RunError> for StepError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Journal { path, source } => StepError::Journal { path, source },
            RunError::Backup(b) => StepError::Backup(b),
            RunError::Step(s) => s,
            other => StepError::msg(other.to_string()),
        }
    }
}

/// The result of a step or of an action inside one.
pub type StepResult<T = Option<String>> = std::result::Result<T, StepError>;
pub type Result<T, E = RunError> = std::result::Result<T, E>;
