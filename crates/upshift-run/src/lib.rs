//! upshift's executor: runs a plan hop by hop (preflight, prepare while
//! serving, the window: stop, swap, migrate, start, check), writing every
//! transition to a crash-safe journal before acting, and rolls back (data
//! included) when a hop fails.
//!
//! - [`journal`]: runs and step events in SQLite (WAL, synchronous=FULL).
//! - [`lock`]: one run per installation, with heartbeat and stale detection.
//! - [`host`]: where the installation lives (this machine, or ssh).
//! - [`deploy`]: one type per deployment kind (services, releases side by
//!   side, compose projects, helm releases); swap and rollback over them.
//! - [`driver`]: the tools behind them (`process`, `command`, `systemd`, compose, helm).
//! - [`detail`]: what a step journals.
//! - [`state`]: upshift's own files beside the manifest.
//! - [`health`]: HTTP, TCP and command checks with retries.
//! - [`maintenance`]: the 503 page served while services are down.
//! - [`orphans`]: programs a killed upshift left running, stopped before the next command acts.
//! - [`executor`]: `apply`, `resume`, `rollback`.
//! - [`installed`]: the version an installation is at, and moving it outside a run.
//! - [`upstream`]: what a hop's merge of upstream's tag brings into a
//!   compose project kept in a git checkout of upstream's repository.
//! - [`snapshots`]: what the journal says about snapshots: those a rollback
//!   may need (retention keeps them), and which verified.

pub mod deploy;
pub mod detail;
pub mod driver;
pub mod error;
pub mod executor;
pub mod fleet;
pub mod health;
pub mod host;
pub mod installed;
pub mod journal;
pub mod lock;
pub mod maintenance;
pub mod migration;
pub mod orphans;
pub mod proc;
pub mod rehearsal;
pub mod signals;
pub mod snapshots;
pub mod state;
pub mod upstream;

pub use error::{LostJournal, Result, RunError, StepError};
pub use executor::{
    apply, config_preview, refuse_unfinished, resume, rollback, rollback_preview, ConfigChange,
    Progress, RunSummary, Setup, StepProgress,
};
pub use host::{Host, Target};
pub use journal::{Figures, Journal, Outcome, RunRecord, RunView};
pub use state::StateDir;
pub use upstream::{upstream_preview, UpstreamError};
