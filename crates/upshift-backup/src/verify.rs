//! `verify`: the repository check with every data blob read, then a real
//! test restore of each store (databases into temporary databases, dropped
//! afterwards) compared with what the snapshot recorded.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{CheckOptions, IndexedFullStatus, LsOptions};
use serde::Serialize;
use upshift_core::manifest::Manifest;

use crate::error::{BackupError, Result};
use crate::meta::{RowCounts, StoreMeta};
use crate::progress::Progress;
use crate::repo::{rerr, Repository};
use crate::source::{mongodb, mysql::My, postgres::Pg, sqlite};

type Indexed = rustic_core::Repository<IndexedFullStatus>;

/// The outcome for one store.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StoreCheck {
    pub ok: bool,
    /// What was checked, or what is damaged.
    pub detail: String,
}

/// The outcome of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub snapshot: String,
    /// Problems the repository check found (empty when sound).
    pub repository: Vec<String>,
    pub stores: BTreeMap<String, StoreCheck>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.repository.is_empty() && self.stores.values().all(|s| s.ok)
    }

    /// One line per problem, naming the snapshot.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .repository
            .iter()
            .map(|p| format!("snapshot {}: repository: {p}", self.snapshot))
            .collect();
        for (name, c) in &self.stores {
            if !c.ok {
                out.push(format!(
                    "snapshot {}: store `{name}`: {}",
                    self.snapshot, c.detail
                ));
            }
        }
        out
    }
}

impl Repository {
    /// Verifies snapshot `id` (`latest` for the newest). Database stores are
    /// test-restored on the servers `manifest` names.
    pub fn verify(
        &self,
        id: &str,
        manifest: &Manifest,
        base_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        let repo = self.open()?;
        let (snap, meta) = self.find(&repo, id)?;
        let mut report = VerifyReport {
            snapshot: snap.id.to_hex().as_str().chars().take(8).collect(),
            repository: Vec::new(),
            stores: BTreeMap::new(),
        };
        progress.phase("checking repository");
        // rustic_core 0.13 can panic inside `check` on badly damaged trees
        // ("index still in use"); that is damage too, not a crash of upshift.
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            repo.check_with_trees(CheckOptions::default().read_data(true), vec![snap.tree])
        }));
        let checked = match checked {
            Ok(r) => r,
            Err(_) => {
                let mut damaged = damaged_packs(&self.path);
                if damaged.is_empty() {
                    damaged.push(
                        "the repository check aborted on damaged data (see the log above)".into(),
                    );
                }
                report.repository.extend(damaged);
                return Ok(report);
            }
        };
        match checked {
            Ok(results) => {
                for (level, err) in results.0 {
                    // `CheckErrorLevel` is not exported: compare by its Debug name.
                    if format!("{level:?}") == "Error" {
                        report.repository.push(err.to_string());
                    }
                }
            }
            Err(e) => report.repository.push(e.display_log()),
        }
        progress.phase("test-restoring");
        let repo = match repo.to_indexed() {
            Ok(r) => r,
            Err(e) => {
                report
                    .repository
                    .push(format!("cannot read the index: {}", e.display_log()));
                return Ok(report);
            }
        };
        for (name, smeta) in &meta.stores {
            progress.store_started(name);
            let check = match self.check_store(&repo, &snap, name, smeta, manifest, base_dir) {
                Ok(c) => c,
                Err(e) => StoreCheck {
                    ok: false,
                    detail: e.to_string(),
                },
            };
            progress.store_finished(name, check.ok);
            report.stores.insert(name.clone(), check);
        }
        Ok(report)
    }

    fn check_store(
        &self,
        repo: &Indexed,
        snap: &SnapshotFile,
        name: &str,
        meta: &StoreMeta,
        manifest: &Manifest,
        base_dir: &Path,
    ) -> Result<StoreCheck> {
        let store = manifest.stores.get(name);
        let need_store = || {
            store.ok_or_else(|| {
                BackupError::bad_store(
                    name,
                    "is no longer in the manifest, so its dump cannot be test-restored",
                )
            })
        };
        Ok(match meta {
            StoreMeta::Files {
                paths,
                files,
                bytes,
            } => {
                let (mut f, mut b) = (0, 0);
                for p in paths {
                    let (pf, pb) = tree_count(self, repo, snap, &p.snapshot)?;
                    f += pf;
                    b += pb;
                }
                compare_counts(&format!("{f} files, {b} bytes"), (f, b), (*files, *bytes))
            }
            StoreMeta::S3 {
                index,
                objects_dir,
                objects,
                bytes,
                ..
            } => {
                crate::source::s3::verify(self, repo, snap, index, objects_dir, (*objects, *bytes))?
            }
            StoreMeta::Sqlite {
                paths,
                sha256,
                tables,
            } => {
                let dir = tempfile::tempdir()
                    .map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))?;
                let copy = dir.path().join("check.sqlite");
                let mut f = std::fs::File::create(&copy)
                    .map_err(|e| BackupError::io("cannot create", &copy, e))?;
                dump_node(self, repo, snap, &paths[0].snapshot, &mut f)?;
                drop(f);
                let got = sqlite::sha256_file(&copy)?;
                if &got != sha256 {
                    return Ok(StoreCheck {
                        ok: false,
                        detail: format!("checksum mismatch: recorded {sha256}, restored {got}"),
                    });
                }
                if let Err(findings) = sqlite::integrity(name, &copy)? {
                    return Ok(StoreCheck {
                        ok: false,
                        detail: format!("integrity_check: {findings}"),
                    });
                }
                compare_tables(
                    tables,
                    &sqlite::row_counts(name, &copy)?,
                    "integrity_check ok",
                )
            }
            StoreMeta::Postgres { dump, tables } => {
                let pg = Pg::from_store(name, need_store()?, base_dir)?;
                let temp = temp_db_name();
                pg.create_db(&temp)?;
                let restored = pg
                    .restore_cmd(&temp, false)
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))
                    .and_then(|_| pg.row_counts(&temp));
                let dropped = pg.drop_db(&temp);
                judge_test_restore(
                    restored,
                    dropped,
                    tables,
                    "restored into a temporary database",
                )?
            }
            StoreMeta::Mysql { dump, tables } => {
                let my = My::from_store(name, need_store()?, base_dir)?;
                let temp = temp_db_name();
                my.recreate_db(&temp)?;
                let restored = my
                    .client(Some(&temp))
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))
                    .and_then(|_| my.row_counts(&temp));
                let dropped = my.drop_db(&temp);
                judge_test_restore(
                    restored,
                    dropped,
                    tables,
                    "restored into a temporary schema",
                )?
            }
            StoreMeta::Mongodb { dump } => {
                let uri = mongodb::uri(name, need_store()?, base_dir)?;
                mongodb::restore_cmd(name, &uri, true)
                    .run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                StoreCheck {
                    ok: true,
                    detail: "mongorestore --dryRun accepted the archive".into(),
                }
            }
            StoreMeta::Volume { dump, .. } => {
                let cmd = crate::command::Cmd::new(name, "tar").args(["-tf", "-"]);
                let listing = cmd.run_with_stdin(|w| dump_node(self, repo, snap, dump, w))?;
                StoreCheck {
                    ok: true,
                    detail: format!(
                        "tar stream reads back ({} entries)",
                        listing.lines().count()
                    ),
                }
            }
        })
    }
}

fn temp_db_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("upshift_verify_{}_{nanos}", std::process::id())
}

/// Writes the content of the file at snapshot path `path` to `w`.
pub(crate) fn dump_node(
    r: &Repository,
    repo: &Indexed,
    snap: &SnapshotFile,
    path: &str,
    w: &mut dyn Write,
) -> Result<()> {
    let node = repo
        .node_from_snapshot_and_path(snap, path)
        .map_err(|e| rerr(&r.path, &e))?;
    let mut w = w;
    repo.dump(&node, &mut w).map_err(|e| rerr(&r.path, &e))
}

/// Regular files and bytes under snapshot path `path`.
fn tree_count(
    r: &Repository,
    repo: &Indexed,
    snap: &SnapshotFile,
    path: &str,
) -> Result<(u64, u64)> {
    let node = repo
        .node_from_snapshot_and_path(snap, path)
        .map_err(|e| rerr(&r.path, &e))?;
    if node.is_file() {
        return Ok((1, node.meta.size));
    }
    let (mut f, mut b) = (0, 0);
    for item in repo
        .ls(&node, &LsOptions::default())
        .map_err(|e| rerr(&r.path, &e))?
    {
        let (_, n) = item.map_err(|e| rerr(&r.path, &e))?;
        if n.is_file() {
            f += 1;
            b += n.meta.size;
        }
    }
    Ok((f, b))
}

fn compare_counts(what: &str, got: (u64, u64), want: (u64, u64)) -> StoreCheck {
    if got == want {
        StoreCheck {
            ok: true,
            detail: format!("{what}, as recorded; contents checked by blob hash"),
        }
    } else {
        StoreCheck {
            ok: false,
            detail: format!(
                "snapshot holds {what}; recorded {} files, {} bytes",
                want.0, want.1
            ),
        }
    }
}

/// The verdict of a test restore into a temporary database: a dump that does
/// not restore fails the check; otherwise the temporary database must have
/// been dropped and its row counts must match the recorded ones.
fn judge_test_restore(
    restored: Result<RowCounts>,
    dropped: Result<()>,
    want: &RowCounts,
    how: &str,
) -> Result<StoreCheck> {
    let counts = match restored {
        Ok(c) => c,
        Err(e) => {
            return Ok(StoreCheck {
                ok: false,
                detail: format!("the dump does not restore: {e}"),
            })
        }
    };
    dropped?;
    Ok(compare_tables(want, &counts, how))
}

fn compare_tables(want: &RowCounts, got: &RowCounts, how: &str) -> StoreCheck {
    let mut diffs = Vec::new();
    for (t, n) in want {
        match got.get(t) {
            Some(m) if m == n => {}
            Some(m) => diffs.push(format!("{t}: {m} rows, recorded {n}")),
            None => diffs.push(format!("{t}: missing")),
        }
    }
    for t in got.keys().filter(|t| !want.contains_key(*t)) {
        diffs.push(format!("{t}: not recorded"));
    }
    if diffs.is_empty() {
        StoreCheck {
            ok: true,
            detail: format!("{how}; {} tables, row counts match", want.len()),
        }
    } else {
        StoreCheck {
            ok: false,
            detail: format!("row counts differ: {}", diffs.join(", ")),
        }
    }
}

/// Pack files whose SHA-256 differs from their name (restic names every
/// repository file by the hash of its content).
fn damaged_packs(repo: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(subdirs) = std::fs::read_dir(repo.join("data")) else {
        return out;
    };
    for sub in subdirs.flatten() {
        for f in std::fs::read_dir(sub.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            match sqlite::sha256_file(&f.path()) {
                Ok(h) if h == name => {}
                Ok(_) => out.push(format!(
                    "pack {name} is damaged (its content does not match its hash)"
                )),
                Err(e) => out.push(format!("pack {name} cannot be read: {e}")),
            }
        }
    }
    out
}
