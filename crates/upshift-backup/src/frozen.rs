//! Rollback points frozen inside the stores' own servers: in the
//! maintenance window, each database is copied inside its server (no dump,
//! no restore), and the durable snapshot is written from those copies
//! after the window, while the new version serves
//! ([`Repository::backup_frozen`](crate::Repository::backup_frozen)).
//!
//! A frozen database's name says whose it is:
//! `upshift_frozen_<scope>_<run>_<hop>_<store>`, `scope` a hash of the
//! installation's name and directory and this host. So a
//! copy a dead run left behind is found by the next command, which uses
//! it (`resume`, `rollback`) or drops it ([`Freezer::sweep`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use upshift_core::manifest::{Manifest, Store};

use crate::error::{BackupError, Result};
use crate::source::{for_store, DataOnHost, InServer};
use crate::tempdb;

/// What every frozen database's name starts with.
const PREFIX: &str = "upshift_frozen_";

/// The most characters of a run id a frozen database's name holds.
const RUN_CHARS: usize = 24;

/// One store's database frozen in its server, by the copy's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenDb {
    pub store: String,
    pub name: String,
}

/// The frozen copies of one installation's stores.
pub struct Freezer<'a> {
    manifest: &'a Manifest,
    base_dir: &'a Path,
    scope: String,
    /// Where SQLite stores' online copies are kept (their rollback points).
    copies: Option<PathBuf>,
}

impl<'a> Freezer<'a> {
    pub fn new(manifest: &'a Manifest, base_dir: &'a Path) -> Freezer<'a> {
        Freezer {
            manifest,
            base_dir,
            // The installation's directory too: two installations of one
            // name on one host may share a server.
            scope: tempdb::scope(&format!(
                "{}\n{}",
                manifest.installation.name,
                base_dir.display()
            )),
            copies: None,
        }
    }

    /// SQLite stores' online copies kept under `dir` (see
    /// [`FrozenView::keep_dir`]): their rollback points.
    pub fn with_copies(mut self, dir: PathBuf) -> Freezer<'a> {
        self.copies = Some(dir);
        self
    }

    /// Why the stores cannot all be frozen in their servers (a kind that
    /// cannot, an old server, a missing privilege); `None` when they can.
    pub fn unable(&self, names: &[FrozenDb]) -> Result<Option<String>> {
        if self.manifest.stores.is_empty() {
            return Ok(Some("the installation has no stores".into()));
        }
        for (name, store) in &self.manifest.stores {
            let frozen = names.iter().find(|d| d.store == *name);
            let why = match (for_store(store).in_server(), frozen) {
                (Some(s), Some(f)) => s.unable(name, store, self.base_dir, &f.name)?,
                _ => Some("it cannot be copied in place".to_string()),
            };
            if let Some(why) = why {
                return Ok(Some(format!("store `{name}`: {why}")));
            }
        }
        Ok(None)
    }

    /// The names hop `hop` of run `run_id` gives its frozen copies.
    pub fn names(&self, run_id: &str, hop: usize) -> Vec<FrozenDb> {
        let run: String = run_id
            .chars()
            .map(|c| match c.to_ascii_lowercase() {
                c @ ('a'..='z' | '0'..='9') => c,
                _ => '_',
            })
            .take(RUN_CHARS)
            .collect();
        self.manifest
            .stores
            .iter()
            .enumerate()
            .map(|(k, (store, s))| FrozenDb {
                store: store.clone(),
                name: match (&self.copies, &s.path) {
                    (Some(dir), Some(path))
                        if for_store(s).data_on_host() != DataOnHost::Elsewhere =>
                    {
                        kept_copy(dir, store, Path::new(path)).display().to_string()
                    }
                    _ => format!("{PREFIX}{}_{run}_{hop}_{k}", self.scope),
                },
            })
            .collect()
    }

    /// Copies the store's database into `db.name` inside its server and
    /// checks the copy; says what was compared.
    pub fn freeze(&self, db: &FrozenDb) -> Result<String> {
        let (store, s) = self.server(&db.store)?;
        s.freeze(&db.store, store, self.base_dir, &db.name)
    }

    /// Puts the store's database back from its frozen copy (which stays).
    pub fn thaw(&self, db: &FrozenDb) -> Result<()> {
        let (store, s) = self.server(&db.store)?;
        s.thaw(&db.store, store, self.base_dir, &db.name)
    }

    /// Drops the frozen copy, if it exists.
    pub fn drop_copy(&self, db: &FrozenDb) -> Result<()> {
        let (store, s) = self.server(&db.store)?;
        s.drop_frozen(&db.store, store, self.base_dir, &db.name)
    }

    /// Whether the frozen copy exists in its server.
    pub fn exists(&self, db: &FrozenDb) -> Result<bool> {
        let (store, s) = self.server(&db.store)?;
        if for_store(store).data_on_host() != DataOnHost::Elsewhere {
            return Ok(Path::new(&db.name).is_file());
        }
        Ok(s.list(&db.store, store, self.base_dir, &db.name)?
            .contains(&db.name))
    }

    /// Drops every frozen copy of this installation (on this host) that is
    /// not in `keep`; returns the names dropped.
    pub fn sweep(&self, keep: &[FrozenDb]) -> Result<Vec<String>> {
        let prefix = format!("{PREFIX}{}_", self.scope);
        let mut dropped = Vec::new();
        for (name, store) in &self.manifest.stores {
            let Some(s) = for_store(store).in_server() else {
                continue;
            };
            for db in s.list(name, store, self.base_dir, &prefix)? {
                if keep.iter().any(|k| k.name == db) || dropped.contains(&db) {
                    continue;
                }
                s.drop_frozen(name, store, self.base_dir, &db)?;
                dropped.push(db);
            }
        }
        Ok(dropped)
    }

    fn server(&self, name: &str) -> Result<(&'a Store, &'static dyn InServer)> {
        let store = self
            .manifest
            .stores
            .get(name)
            .ok_or_else(|| BackupError::bad_store(name, "the manifest has no such store"))?;
        let server = for_store(store).in_server().ok_or_else(|| {
            BackupError::bad_store(name, "not a database server: it cannot be frozen")
        })?;
        Ok((store, server))
    }
}

/// Where the online backup keeps store `name`'s copy of the file `path`.
pub(crate) fn kept_copy(dir: &Path, name: &str, path: &Path) -> PathBuf {
    let file = path.file_name().unwrap_or("db.sqlite".as_ref());
    dir.join(name).join(file)
}

/// What a snapshot of a frozen rollback point reads instead of the
/// installation as it is now: each store's frozen copy, and the config
/// files as they were when it was frozen (staged copies, by config name).
/// The snapshot records the installation's own paths and stores.
#[derive(Debug, Clone, Default)]
pub struct FrozenView {
    pub databases: Vec<FrozenDb>,
    pub config: BTreeMap<String, PathBuf>,
    /// For an online backup: where each SQLite store's checked copy is
    /// kept (`<dir>/<store>/<file name>`), the base of its rollback point.
    pub keep_dir: Option<PathBuf>,
}

impl FrozenView {
    /// The frozen copy of store `name`, if it has one.
    pub(crate) fn copy_of(&self, name: &str) -> Option<&str> {
        self.databases
            .iter()
            .find(|d| d.store == name)
            .map(|d| d.name.as_str())
    }
}
