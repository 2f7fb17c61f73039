//! `verify`: the repository check with every data blob read, then a real
//! test restore of each store (databases into temporary databases, dropped
//! afterwards; see [`crate::tempdb`] for those a killed run left behind)
//! compared with what the snapshot recorded.

use std::collections::BTreeMap;
use std::path::Path;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{CheckOptions, IndexedFullStatus};
use serde::Serialize;
use upshift_core::manifest::Manifest;

use crate::error::Result;
use crate::guard;
use crate::meta::{RowCounts, StoreMeta};
use crate::meter::{self, BytesOf, Tally};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::source::{self, sqlite, Stored};

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
        guard::contained(&self.path, || {
            self.verify_unguarded(id, manifest, base_dir, progress)
        })
    }

    fn verify_unguarded(
        &self,
        id: &str,
        manifest: &Manifest,
        base_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        // The check reads every pack of the repository: its bytes are
        // reported as those of `data` ("checking repository data").
        let read = Tally::new("data", None);
        let repo = self.open_with(BytesOf {
            prefix: "reading pack data...",
            tally: read.clone(),
        })?;
        let (snap, meta) = self.find(&repo, id)?;
        let mut report = VerifyReport {
            snapshot: snap.id.to_hex().as_str().chars().take(8).collect(),
            repository: Vec::new(),
            stores: BTreeMap::new(),
        };
        progress.phase("checking repository");
        // rustic_core 0.13 can panic inside `check` on badly damaged trees
        // ("index still in use"); that is damage too, not a crash of upshift.
        let checked = guard::quietly(|| {
            meter::watch(progress, &[read], || {
                repo.check_with_trees(CheckOptions::default().read_data(true), vec![snap.tree])
            })
        });
        let checked = match checked {
            Ok(r) => r,
            Err(detail) => {
                let mut damaged = damaged_packs(&self.path);
                if damaged.is_empty() {
                    damaged.push(format!(
                        "the repository check aborted on damaged data ({detail})"
                    ));
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
                        report.repository.push(guard::concise(&err));
                    }
                }
            }
            Err(e) => report.repository.push(guard::concise(&*e)),
        }
        progress.phase("test-restoring");
        let repo = match repo.to_indexed() {
            Ok(r) => r,
            Err(e) => {
                report
                    .repository
                    .push(format!("cannot read the index: {}", guard::concise(&*e)));
                return Ok(report);
            }
        };
        for (name, smeta) in &meta.stores {
            progress.store_started(name);
            let check =
                match self.check_store(&repo, &snap, name, smeta, (manifest, base_dir), progress) {
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
        (manifest, base_dir): (&Manifest, &Path),
        progress: &dyn Progress,
    ) -> Result<StoreCheck> {
        let stored = Stored {
            repo: self,
            indexed: repo,
            snap,
            name,
            installation: &manifest.installation.name,
            store: manifest.stores.get(name),
            base_dir,
            unlisted: "is no longer in the manifest, so its dump cannot be test-restored",
            progress,
        };
        source::for_kind(meta.kind()).verify(&stored, meta)
    }
}

/// Regular files and bytes found (`got`) against those recorded (`want`).
pub(crate) fn compare_counts(what: &str, got: (u64, u64), want: (u64, u64)) -> StoreCheck {
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
pub(crate) fn judge_test_restore(
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

/// Row counts restored (`got`) against those recorded (`want`).
pub(crate) fn compare_tables(want: &RowCounts, got: &RowCounts, how: &str) -> StoreCheck {
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
