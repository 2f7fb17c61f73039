//! Why a rehearsal could not be made, or why `apply` refuses without one.
//! A rehearsal that ran and failed is not an error here: it is a report
//! whose outcome is `failed`.

use crate::error::{RunError, StepError};

pub type Result<T, E = RehearsalError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    /// The installation cannot be copied as asked (bad input: the fix is
    /// in the manifest or the command line).
    #[error("cannot rehearse: {0}")]
    Unsupported(String),
    /// `[apply] require_rehearsal` is not met.
    #[error("`[apply] require_rehearsal` in {manifest}: {why}; run `upshift rehearse --to {to}` first (it upgrades a staging copy; production is not touched)")]
    Required {
        manifest: String,
        to: String,
        why: String,
    },
    /// Making or removing the staging copy failed.
    #[error("staging copy: {0}")]
    Staging(String),
    #[error(transparent)]
    Run(Box<RunError>),
    #[error(transparent)]
    Step(Box<StepError>),
    #[error(transparent)]
    Backup(Box<upshift_backup::BackupError>),
    #[error(transparent)]
    Config(#[from] upshift_config::ConfigError),
}

impl From<RunError> for RehearsalError {
    fn from(e: RunError) -> Self {
        RehearsalError::Run(Box::new(e))
    }
}

impl From<StepError> for RehearsalError {
    fn from(e: StepError) -> Self {
        RehearsalError::Step(Box::new(e))
    }
}

impl From<upshift_backup::BackupError> for RehearsalError {
    fn from(e: upshift_backup::BackupError) -> Self {
        RehearsalError::Backup(Box::new(e))
    }
}

impl RehearsalError {
    /// Whether the fix is in the input (exit 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            RehearsalError::Unsupported(_) | RehearsalError::Required { .. } => true,
            RehearsalError::Config(_) => true,
            RehearsalError::Run(e) => e.is_bad_input(),
            RehearsalError::Step(e) => e.is_bad_input(),
            RehearsalError::Backup(e) => e.is_bad_input(),
            RehearsalError::Staging(_) => false,
        }
    }
}
