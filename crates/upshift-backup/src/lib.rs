//! upshift's snapshots: verified, version-tagged backups of every data store
//! and config file of an installation, in the restic repository format
//! (through `rustic_core`), so `restic`/`rustic` can list and restore them.
//!
//! - [`Repository::for_manifest`] / [`Repository::open_or_init`] open the repository, creating
//!   it (and its 0600 key file) atomically when missing; [`Repository::existing_for_manifest`]
//!   opens it only if it exists, for commands that must not create one.
//! - [`Repository::backup`] takes one snapshot of all stores, tagged with [`Tags`].
//! - [`Repository::snapshots`] lists upshift's snapshots.
//! - [`Repository::forget`] removes the snapshots a keep policy does not keep
//!   (never one the caller protects), and with `prune` the data none uses.
//! - [`Repository::verify`] checks the repository (all data read) and test-restores every store.
//! - [`Repository::restore`] puts everything back, rewriting only what differs for files.
//! - [`children`] records the programs a locked command runs, so a later one can stop
//!   those a killed upshift left running.
//! - [`required_tools`], [`data_on_host`] and [`watched_files`] say, per kind of
//!   store, what a run needs installed and which files hold the data.

mod backup;
pub mod children;
mod command;
pub mod error;
mod forget;
mod frozen;
mod guard;
mod key;
mod links;
pub mod meta;
mod meter;
mod progress;
mod repo;
mod restore;
mod scope;
#[cfg(test)]
mod scope_tests;
mod secret;
mod size;
mod source;
mod store_env;
mod tempdb;
mod verify;

pub use error::{BackupError, Result};
pub use forget::{Decision, ForgetReport, ForgetRequest, PruneReport, ROLLBACK_NEEDS_IT};
pub use frozen::{Freezer, FrozenDb, FrozenView};
pub use key::KeySource;
pub use meta::{Phase, SnapshotMeta, StoreMeta, Tags};
pub use progress::{NoProgress, Progress};
pub use repo::{default_key_path, Repository, SnapshotInfo};
pub use restore::RestoreReport;
pub use scope::{Relocation, RestoreScope};
pub use secret::read_secret;
pub use size::{backup_size, repository_path, BackupSize, REPOSITORY_SLACK};
pub use source::postgres::{create_copy_database, drop_copy_database};
pub use source::sqlite::{
    SIDE_FILES as SQLITE_SIDE_FILES, WAL as SQLITE_WAL, WAL_FILES as SQLITE_WAL_FILES,
};
pub use source::volume::{ensure_helper_image, helper_image};
pub use source::{
    check_privileges, data_on_host, required_tools, watched_files, DataOnHost, Tools, WatchedFile,
};
pub use store_env::store_env;
pub use verify::{StoreCheck, VerifyReport};
