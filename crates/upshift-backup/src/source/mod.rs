//! Sources: one module per store kind, each owning everything about its
//! kind through [`StoreSource`]: what a backup reads ([`Part`]s plus the
//! [`StoreMeta`] that verification needs), the test restore, the restore,
//! the tools it runs and the files that show a change. [`for_kind`] is the
//! one place that tells the kinds apart. [`Combined`] feeds every part of
//! every store into one snapshot.

mod checked;
mod dump_rows;
pub(crate) mod files;
pub(crate) mod mongodb;
pub(crate) mod mysql;
mod parts;
mod pg_clone;
mod pg_session;
pub(crate) mod postgres;
pub(crate) mod s3;
pub(crate) mod sqlite;
mod sqlite_pages;
mod stored;
pub(crate) mod volume;

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Manifest, Store, StoreKind};

#[cfg(doc)]
use crate::error::BackupError;
use crate::error::Result;
use crate::meta::StoreMeta;
use crate::verify::StoreCheck;

pub(crate) use parts::{Combined, Part};
pub(crate) use stored::{Planning, Stored};

/// The programs a store kind runs, one slice per tool: any one of a
/// slice's alternatives will do (`mariadb-dump` or `mysqldump`).
pub type Tools = &'static [&'static [&'static str]];

/// One store's parts and the metadata its verification needs.
pub(crate) type Planned = (Vec<Part>, StoreMeta);

/// Where a store's data lies, for code that copies or watches the
/// installation's files (a mirror over ssh, change detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOnHost {
    /// Reached through a server or a tool (a database server, a Docker
    /// volume, a bucket): not among the installation's files.
    Elsewhere,
    /// Plain files and directories at the store's `path` and `paths`.
    Files,
    /// A SQLite database at the store's `path`, with its side files
    /// ([`sqlite::SIDE_FILES`]).
    Sqlite,
}

/// A file whose size, mtime and inode show whether a store changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedFile {
    /// As the manifest writes it: relative to the installation's
    /// directory, or absolute.
    pub path: PathBuf,
    /// A directory whose whole tree is watched.
    pub tree: bool,
}

/// Everything upshift knows about one kind of store.
pub(crate) trait StoreSource: Sync {
    fn kind(&self) -> StoreKind;

    /// The programs backup, verify and restore run (checked before a run).
    fn required_tools(&self) -> Tools;

    fn data_on_host(&self) -> DataOnHost {
        DataOnHost::Elsewhere
    }

    /// The files whose change is the store's change; `None` when a change
    /// cannot be seen from files (a server, a volume, a bucket).
    fn watched_files(&self, _store: &Store) -> Option<Vec<WatchedFile>> {
        None
    }

    /// The bytes a dump of the store holds at most, as its server reports
    /// them; `None` when that cannot be told. Stores on files are measured
    /// from [`StoreSource::watched_files`] instead.
    fn size(&self, _name: &str, _store: &Store, _base_dir: &Path) -> Result<Option<u64>> {
        Ok(None)
    }

    /// Checks that the store's account may do what backup, verify and
    /// restore need (a test restore creates a temporary database), before
    /// a run changes anything; [`BackupError::Privilege`] names the grant.
    fn privileges(&self, _name: &str, _store: &Store, _base_dir: &Path) -> Result<()> {
        Ok(())
    }

    /// Checks the store (reachable, present) and says what to back up.
    fn plan(&self, p: &Planning) -> Result<Planned>;

    /// Test-restores the store from the snapshot and compares it with `meta`.
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck>;

    /// Puts the store back as the snapshot holds it; says what was done.
    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String>;

    /// How the store's server copies a database inside itself, for a
    /// rollback point that costs no dump; `None` for kinds that cannot.
    fn in_server(&self) -> Option<&dyn InServer> {
        None
    }
}

/// A store that can freeze a copy of its data cheaply in the window (a
/// rollback point): a database copied inside its server, or a SQLite
/// database's pages written into its kept online copy. `frozen` names the
/// copy: a database name, or a file path; the store's own data comes from
/// the store.
pub(crate) trait InServer: Sync {
    /// Why the store cannot be frozen (an old server, a role without the
    /// privilege, no kept online copy); `None` when it can.
    fn unable(
        &self,
        name: &str,
        store: &Store,
        base_dir: &Path,
        frozen: &str,
    ) -> Result<Option<String>>;
    /// Copies the store's database into `frozen` (made again if it exists)
    /// and checks the copy's row counts against the source's; says so.
    fn freeze(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<String>;
    /// Replaces the store's database with a copy of `frozen`, which stays.
    fn thaw(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<()>;
    /// Drops `frozen` if it exists.
    fn drop_frozen(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<()>;
    /// The databases of the store's server whose names start with `prefix`.
    fn list(&self, name: &str, store: &Store, base_dir: &Path, prefix: &str)
        -> Result<Vec<String>>;
}

/// The source of a kind of store: the only match on [`StoreKind`].
pub(crate) fn for_kind(kind: StoreKind) -> &'static dyn StoreSource {
    match kind {
        StoreKind::Files => &files::Source,
        StoreKind::Sqlite => &sqlite::Source,
        StoreKind::Postgres => &postgres::Source,
        StoreKind::Mysql => &mysql::Source,
        StoreKind::Mongodb => &mongodb::Source,
        StoreKind::Volume => &volume::Source,
        StoreKind::S3 => &s3::Source,
    }
}

/// Checks that every store's account may do what backup, verify and
/// restore need: [`BackupError::Privilege`] names the grant to run.
pub fn check_privileges(manifest: &Manifest, base_dir: &Path) -> Result<()> {
    for (name, store) in &manifest.stores {
        for_store(store).privileges(name, store, base_dir)?;
    }
    Ok(())
}

/// The source of a manifest store.
pub(crate) fn for_store(store: &Store) -> &'static dyn StoreSource {
    for_kind(*store.kind.get_ref())
}

/// The programs that backing up, verifying and restoring a store of `kind`
/// run: one slice per tool, any of whose alternatives will do.
pub fn required_tools(kind: StoreKind) -> &'static [&'static [&'static str]] {
    for_kind(kind).required_tools()
}

/// Where the data of a store of `kind` lies.
pub fn data_on_host(kind: StoreKind) -> DataOnHost {
    for_kind(kind).data_on_host()
}

/// The files whose size, mtime and inode change when `store`'s data
/// changes; `None` when its changes cannot be seen from files.
pub fn watched_files(store: &Store) -> Option<Vec<WatchedFile>> {
    for_store(store).watched_files(store)
}

#[cfg(test)]
mod tests;
