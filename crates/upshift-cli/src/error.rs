//! Every failure of a command, and the one place they become exit codes.

use upshift_core::plan::StalePlan;
use upshift_core::{Diagnostic, PlanError};

/// Exit codes, as `upshift --help` documents them.
pub mod code {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const INTERRUPTED: i32 = 3;
    pub const LOCKED: i32 = 4;
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input located in a file.
    #[error("{0}")]
    Located(#[from] Diagnostic),
    /// Bad input not tied to a file position.
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Stale(#[from] StalePlan),
    /// The operation failed and changed nothing (or was rolled back).
    #[error("{0}")]
    Failed(String),
    /// The operation failed, and the command's JSON document (a report
    /// whose outcome says so) is already printed.
    #[error("{0}")]
    Reported(String),
    #[error(transparent)]
    Run(Box<upshift_run::RunError>),
    #[error(transparent)]
    Backup(Box<upshift_backup::BackupError>),
    #[error(transparent)]
    Step(Box<upshift_run::StepError>),
    /// Another command holds the lock this one needs.
    #[error("{0}")]
    Locked(String),
    /// An error of one installation of a fleet, carried unchanged.
    #[error("installation `{name}`: {source}")]
    Member { name: String, source: Box<CliError> },
    /// An upstream git checkout the plan reads (`compose.upstream`).
    #[error(transparent)]
    Upstream(Box<upshift_run::UpstreamError>),
    #[error(transparent)]
    Rehearsal(Box<upshift_run::rehearsal::RehearsalError>),
    #[error(transparent)]
    Migration(Box<upshift_run::migration::MigrationFailed>),
}

impl From<upshift_run::UpstreamError> for CliError {
    fn from(e: upshift_run::UpstreamError) -> Self {
        CliError::Upstream(Box::new(e))
    }
}

impl From<upshift_run::migration::MigrationFailed> for CliError {
    fn from(e: upshift_run::migration::MigrationFailed) -> Self {
        CliError::Migration(Box::new(e))
    }
}

impl From<upshift_run::rehearsal::RehearsalError> for CliError {
    fn from(e: upshift_run::rehearsal::RehearsalError) -> Self {
        CliError::Rehearsal(Box::new(e))
    }
}

impl From<upshift_run::StepError> for CliError {
    fn from(e: upshift_run::StepError) -> Self {
        CliError::Step(Box::new(e))
    }
}

impl From<upshift_run::RunError> for CliError {
    fn from(e: upshift_run::RunError) -> Self {
        CliError::Run(Box::new(e))
    }
}

impl From<upshift_backup::BackupError> for CliError {
    fn from(e: upshift_backup::BackupError) -> Self {
        CliError::Backup(Box::new(e))
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Located(_) | CliError::BadInput(_) | CliError::Stale(_) => code::BAD_INPUT,
            CliError::Plan(e) if e.is_bad_input() => code::BAD_INPUT,
            CliError::Plan(_) | CliError::Failed(_) | CliError::Reported(_) => code::FAILED,
            CliError::Backup(e) if e.is_bad_input() => code::BAD_INPUT,
            CliError::Backup(_) => code::FAILED,
            CliError::Step(e) if e.is_bad_input() => code::BAD_INPUT,
            CliError::Step(_) => code::FAILED,
            CliError::Run(e) => run_code(e),
            CliError::Member { source, .. } => source.exit_code(),
            CliError::Locked(_) => code::LOCKED,
            CliError::Upstream(e) => match **e {
                upshift_run::UpstreamError::Input(_) => code::BAD_INPUT,
                upshift_run::UpstreamError::Git { .. } => code::FAILED,
            },
            CliError::Rehearsal(e) => rehearsal_code(e),
            CliError::Migration(e) if e.is_bad_input() => code::BAD_INPUT,
            CliError::Migration(_) => code::FAILED,
        }
    }

    /// `e`, as an error of the fleet's installation `name`.
    pub fn member(name: &str, e: CliError) -> Self {
        CliError::Member {
            name: name.to_string(),
            source: Box::new(e),
        }
    }
}

fn rehearsal_code(e: &upshift_run::rehearsal::RehearsalError) -> i32 {
    use upshift_run::rehearsal::RehearsalError as R;
    match e {
        R::Run(e) => run_code(e),
        _ if e.is_bad_input() => code::BAD_INPUT,
        _ => code::FAILED,
    }
}

fn run_code(e: &upshift_run::RunError) -> i32 {
    use upshift_run::RunError as R;
    match e {
        R::Locked { .. } | R::StaleLock { .. } => code::LOCKED,
        R::Unfinished { .. }
        | R::RollbackFailed { .. }
        | R::FailedWhileServing { .. }
        | R::Interrupted { .. }
        | R::JournalDamaged { .. }
        | R::JournalLost(_)
        | R::NotRecorded { .. } => code::INTERRUPTED,
        _ if e.is_bad_input() => code::BAD_INPUT,
        R::NothingToDo(_)
        | R::BadTarget(_)
        | R::Unchanged { .. }
        | R::RolledBack { .. }
        | R::Failed(_)
        | R::Journal { .. }
        | R::Damaged { .. }
        | R::Backup(_)
        | R::Step(_) => code::FAILED,
    }
}
