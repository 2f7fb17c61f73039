//! `restore`: puts every store and config file back as the snapshot holds
//! it. Files are compared with what is on disk (content included) and only
//! what differs is rewritten; files that appeared since are removed.
//! Databases are restored whole from their dumps. The caller (the CLI)
//! refuses while the installation's services run unless `--force`.

use std::collections::BTreeMap;
use std::path::Path;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{IndexedFullStatus, LocalDestination, LsOptions, RestoreOptions};
use serde::Serialize;
use upshift_core::manifest::Manifest;

use crate::error::{BackupError, Result};
use crate::meta::{PathMap, StoreMeta};
use crate::progress::Progress;
use crate::repo::{rerr, Repository};
use crate::source::s3::{self, S3};
use crate::source::{mongodb, mysql::My, postgres::Pg, sqlite, volume};
use crate::verify::dump_node;

type Indexed = rustic_core::Repository<IndexedFullStatus>;

/// What a restore did, per store / config file.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RestoreReport {
    pub snapshot: String,
    pub stores: BTreeMap<String, String>,
    pub config: BTreeMap<String, String>,
}

impl Repository {
    /// Restores snapshot `id` over the installation `manifest` describes.
    pub fn restore(
        &self,
        id: &str,
        manifest: &Manifest,
        base_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<RestoreReport> {
        let repo = self.open()?;
        let (snap, meta) = self.find(&repo, id)?;
        let repo = repo.to_indexed().map_err(|e| rerr(&self.path, &e))?;
        let mut report = RestoreReport {
            snapshot: snap.id.to_hex().as_str().chars().take(8).collect(),
            ..Default::default()
        };
        progress.phase("restoring");
        for (name, smeta) in &meta.stores {
            progress.store_started(name);
            let r = self.restore_store(&repo, &snap, name, smeta, manifest, base_dir);
            progress.store_finished(name, r.is_ok());
            report.stores.insert(name.clone(), r?);
        }
        for (name, pm) in &meta.config {
            let r = self.restore_path(&repo, &snap, pm)?;
            report.config.insert(name.clone(), r);
        }
        Ok(report)
    }

    fn restore_store(
        &self,
        repo: &Indexed,
        snap: &SnapshotFile,
        name: &str,
        meta: &StoreMeta,
        manifest: &Manifest,
        base_dir: &Path,
    ) -> Result<String> {
        let store = || {
            manifest.stores.get(name).ok_or_else(|| {
                BackupError::bad_store(
                    name,
                    "is not in the manifest: cannot tell where to restore it",
                )
            })
        };
        match meta {
            StoreMeta::Files { paths, .. } => {
                let mut out = Vec::new();
                for pm in paths {
                    out.push(self.restore_path(repo, snap, pm)?);
                }
                Ok(out.join("; "))
            }
            StoreMeta::S3 {
                index, objects_dir, ..
            } => {
                let s3 = S3::from_store(name, store()?, base_dir)?;
                s3::restore(self, repo, snap, &s3, index, objects_dir)
            }
            StoreMeta::Sqlite { paths, .. } => {
                let pm = &paths[0];
                let dir = tempfile::tempdir()
                    .map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))?;
                let copy = dir.path().join("restore.sqlite");
                let mut f = std::fs::File::create(&copy)
                    .map_err(|e| BackupError::io("cannot create", &copy, e))?;
                dump_node(self, repo, snap, &pm.snapshot, &mut f)?;
                drop(f);
                let dest = Path::new(&pm.original);
                // A damaged database cannot be written through the backup API:
                // keep it aside (nothing is deleted) and restore into a new file.
                let aside = sqlite::set_aside_if_damaged(dest)?;
                sqlite::copy_db(name, &copy, dest)?;
                Ok(match aside {
                    Some(a) => format!(
                        "{} was not a readable database (kept as {}); restored",
                        pm.original,
                        a.display()
                    ),
                    None => format!("{} rewritten through the SQLite backup API", pm.original),
                })
            }
            StoreMeta::Postgres { dump, .. } => {
                let pg = Pg::from_store(name, store()?, base_dir)?;
                pg.empty_db(&pg.database)?;
                pg.restore_cmd(&pg.database.clone(), false)
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                Ok(format!(
                    "database {} emptied and restored with pg_restore",
                    pg.database
                ))
            }
            StoreMeta::Mysql { dump, .. } => {
                let my = My::from_store(name, store()?, base_dir)?;
                let db = my.database.clone();
                my.recreate_db(&db)?;
                my.client(Some(&db))
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                Ok(format!("database {db} recreated and loaded"))
            }
            StoreMeta::Mongodb { dump } => {
                let uri = mongodb::uri(name, store()?, base_dir)?;
                mongodb::restore_cmd(name, &uri, false)
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                Ok("mongorestore --drop done".into())
            }
            StoreMeta::Volume { dump, volume: v } => {
                volume::restore_cmd(name, store()?)?
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                Ok(format!("volume {v} emptied and unpacked"))
            }
        }
    }

    /// Restores one file or directory, rewriting only what differs.
    fn restore_path(&self, repo: &Indexed, snap: &SnapshotFile, pm: &PathMap) -> Result<String> {
        let node = repo
            .node_from_snapshot_and_path(snap, &pm.snapshot)
            .map_err(|e| rerr(&self.path, &e))?;
        let dest_str = if pm.is_dir {
            format!("{}/", pm.original)
        } else {
            pm.original.clone()
        };
        let dest =
            LocalDestination::new(&dest_str, true, !pm.is_dir).map_err(|e| rerr(&self.path, &e))?;
        let opts = RestoreOptions::default().delete(true).verify_existing(true);
        let ls = repo
            .ls(&node, &LsOptions::default())
            .map_err(|e| rerr(&self.path, &e))?;
        let plan = repo
            .prepare_restore(&opts, ls.clone(), &dest, false)
            .map_err(|e| rerr(&self.path, &e))?;
        let s = plan.stats.files;
        let summary = format!(
            "{}: {} files restored, {} unchanged, {} removed",
            pm.original,
            s.restore + s.modify,
            s.unchanged + s.verified,
            s.additional
        );
        repo.restore(plan, &opts, ls, &dest)
            .map_err(|e| rerr(&self.path, &e))?;
        Ok(summary)
    }
}
