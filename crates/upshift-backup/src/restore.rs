//! `restore`: puts every store and config file back as the snapshot holds
//! it. Files are compared with what is on disk (content included) and only
//! what differs is rewritten; files that appeared since are removed.
//! Databases are restored whole from their dumps. The caller (the CLI)
//! refuses while the installation's services run unless `--force`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use globset::GlobSet;
use rustic_core::repofile::{Node, SnapshotFile};
use rustic_core::{IndexedFullStatus, LocalDestination, LsOptions, RestoreOptions};
use serde::Serialize;
use upshift_core::manifest::{glob_set, is_excluded, Manifest};

use crate::error::{BackupError, Result};
use crate::guard;
use crate::meta::{PathMap, SnapshotMeta, StoreMeta};
use crate::meter::{self, Tally};
use crate::progress::Progress;
use crate::repo::{rerr, Repository};
use crate::scope::{self, RestoreScope};
use crate::source::{self, Stored};

type Indexed = rustic_core::Repository<IndexedFullStatus>;

/// What a restore did, per store / config file, and where it wrote.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RestoreReport {
    pub snapshot: String,
    pub stores: BTreeMap<String, String>,
    pub config: BTreeMap<String, String>,
    /// The directory written under instead of the installation (`--into`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// Per restored store, the paths written on this machine (none for a
    /// database restored into its server).
    pub store_paths: BTreeMap<String, Vec<String>>,
    /// Per restored config file, the path written.
    pub config_paths: BTreeMap<String, String>,
}

/// One store of a scoped restore and the paths it writes.
struct Planned<'m> {
    name: &'m str,
    meta: &'m StoreMeta,
    maps: Vec<PathMap>,
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
        self.restore_scoped(
            id,
            manifest,
            base_dir,
            &RestoreScope::everything(),
            progress,
        )
    }

    /// Restores what `scope` selects of snapshot `id`: some stores, the
    /// config files or not, in place or under another directory. Every
    /// path it will write is checked before the first is written.
    pub fn restore_scoped(
        &self,
        id: &str,
        manifest: &Manifest,
        base_dir: &Path,
        scope: &RestoreScope,
        progress: &dyn Progress,
    ) -> Result<RestoreReport> {
        guard::contained(&self.path, || {
            self.restore_unguarded(id, Some((manifest, base_dir)), scope, progress)
        })
    }

    /// Restores only the config files of snapshot `id`, leaving every
    /// store as it is (a rollback to a release that runs on today's data).
    pub fn restore_config(&self, id: &str, progress: &dyn Progress) -> Result<RestoreReport> {
        guard::contained(&self.path, || {
            self.restore_unguarded(id, None, &RestoreScope::config_only(), progress)
        })
    }

    /// With `stores` (the manifest and its directory), the stores `scope`
    /// selects too.
    fn restore_unguarded(
        &self,
        id: &str,
        stores: Option<(&Manifest, &Path)>,
        scope: &RestoreScope,
        progress: &dyn Progress,
    ) -> Result<RestoreReport> {
        let repo = self.open()?;
        let (snap, meta) = self.find(&repo, id)?;
        let short: String = snap.id.to_hex().as_str().chars().take(8).collect();
        let planned = planned_stores(&meta, scope, &short, stores.is_some())?;
        let config = planned_config(&meta, scope)?;
        for p in &planned {
            crate::links::refuse_replaced_roots(p.name, p.meta.kind(), &p.maps)?;
        }
        let repo = repo.to_indexed().map_err(|e| rerr(&self.path, &e))?;
        for pm in planned.iter().flat_map(|p| &p.maps).chain(config.values()) {
            self.check_tree(&repo, &snap, pm)?;
        }
        let mut report = RestoreReport {
            snapshot: short,
            into: scope.into.as_ref().map(|r| r.dir().display().to_string()),
            ..Default::default()
        };
        progress.phase("restoring");
        for p in &planned {
            progress.store_started(p.name);
            let r = match (&scope.into, stores) {
                (Some(_), _) => self.restore_maps(&repo, &snap, p, progress),
                (None, Some((manifest, base_dir))) => {
                    self.restore_store(&repo, &snap, p.name, p.meta, (manifest, base_dir), progress)
                }
                (None, None) => unreachable!("stores are planned only with a manifest"),
            };
            progress.store_finished(p.name, r.is_ok());
            report.stores.insert(p.name.to_string(), r?);
            let paths = p.maps.iter().map(|m| m.original.clone()).collect();
            report.store_paths.insert(p.name.to_string(), paths);
        }
        for (name, pm) in &config {
            let tally = Tally::new("config", Some(0));
            let r = self.restore_path(&repo, &snap, pm, &GlobSet::empty(), progress, &tally)?;
            report.config.insert(name.clone(), r);
            report
                .config_paths
                .insert(name.clone(), pm.original.clone());
        }
        Ok(report)
    }

    /// A store restored under another directory: each of its paths (or
    /// dumps) written as the snapshot holds it.
    fn restore_maps(
        &self,
        repo: &Indexed,
        snap: &SnapshotFile,
        p: &Planned,
        progress: &dyn Progress,
    ) -> Result<String> {
        let keep = match p.meta {
            StoreMeta::Files { exclude, .. } => glob_set(exclude.iter().map(String::as_str))
                .map_err(|e| BackupError::bad_store(p.name, e.to_string()))?,
            _ => GlobSet::empty(),
        };
        let done: Result<Vec<String>> = p
            .maps
            .iter()
            .map(|pm| {
                let tally = Tally::new(p.name, None);
                self.restore_path(repo, snap, pm, &keep, progress, &tally)
            })
            .collect();
        Ok(done?.join("; "))
    }

    /// Refuses a tree under `pm` with an entry that is not a plain name.
    fn check_tree(&self, repo: &Indexed, snap: &SnapshotFile, pm: &PathMap) -> Result<()> {
        if !pm.is_dir {
            return Ok(());
        }
        let node = repo
            .node_from_snapshot_and_path(snap, &pm.snapshot)
            .map_err(|e| rerr(&self.path, &e))?;
        for item in repo
            .ls(&node, &LsOptions::default())
            .map_err(|e| rerr(&self.path, &e))?
        {
            let (p, _) = item.map_err(|e| rerr(&self.path, &e))?;
            let shown = Path::new(&pm.original).join(&p);
            scope::plain_relative(&shown.display().to_string(), &p)?;
        }
        Ok(())
    }

    fn restore_store(
        &self,
        repo: &Indexed,
        snap: &SnapshotFile,
        name: &str,
        meta: &StoreMeta,
        (manifest, base_dir): (&Manifest, &Path),
        progress: &dyn Progress,
    ) -> Result<String> {
        let stored = Stored {
            repo: self,
            indexed: repo,
            snap,
            name,
            installation: &manifest.installation.name,
            store: manifest.stores.get(name),
            base_dir,
            unlisted: "is not in the manifest: cannot tell where to restore it",
            progress,
        };
        source::for_kind(meta.kind()).restore(&stored, meta)
    }

    /// Restores one file or directory, rewriting only what differs.
    ///
    /// Regular files' contents are written here, a few files at a time, each
    /// streamed blob by blob from the repository (bounded memory); existing
    /// files are first compared with the snapshot blob by blob (SHA-256) and
    /// kept when identical. rustic_core's restore then only creates
    /// directories, removes what appeared since, restores special files and
    /// hard links and sets metadata: every regular file already has the
    /// snapshot's size and mtime, so it reads no contents. (rustic_core's own
    /// content restore reads up to 40 MiB pack ranges on 20 threads and queues
    /// decoded blobs for writing: ~1 GB peak on a cold restore of 1 GB.)
    ///
    /// What `keep` matches (a files store's `exclude`) was never in the
    /// snapshot and is left as it is: the removal of what appeared since
    /// is then done here ([`remove_unlisted`]) rather than by rustic_core,
    /// which would remove it too.
    pub(crate) fn restore_path(
        &self,
        repo: &Indexed,
        snap: &SnapshotFile,
        pm: &PathMap,
        keep: &GlobSet,
        progress: &dyn Progress,
        tally: &Arc<Tally>,
    ) -> Result<String> {
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
        let ls = repo
            .ls(&node, &LsOptions::default())
            .map_err(|e| rerr(&self.path, &e))?;
        let mut files = Vec::new();
        for item in ls.clone() {
            let (p, n) = item.map_err(|e| rerr(&self.path, &e))?;
            if n.is_file() && n.meta.links <= 1 {
                let target = if pm.is_dir {
                    Path::new(&pm.original).join(&p)
                } else {
                    PathBuf::from(&pm.original)
                };
                files.push((target, n));
            }
        }
        let own_removal = !keep.is_empty() && pm.is_dir;
        let opts = RestoreOptions::default().delete(!own_removal);
        let mut removed = 0;
        if own_removal {
            let listed = listed_entries(ls.clone()).map_err(|e| rerr(&self.path, &e))?;
            removed = remove_unlisted(Path::new(&pm.original), Path::new(""), &listed, keep)?;
        }
        // First pass: directories created, entries that appeared since (or
        // whose type changed) removed; the plan itself is not executed.
        let additional = repo
            .prepare_restore(&opts, ls.clone(), &dest, false)
            .map_err(|e| rerr(&self.path, &e))?
            .stats
            .files
            .additional;
        if !own_removal {
            removed = additional;
        }
        tally.expect(Some(files.iter().map(|(_, n)| n.meta.size).sum()));
        let (written, kept) = meter::watch(progress, std::slice::from_ref(tally), || {
            self.write_files(repo, &files, tally)
        })?;
        let plan = repo
            .prepare_restore(&opts, ls.clone(), &dest, false)
            .map_err(|e| rerr(&self.path, &e))?;
        let s = plan.stats.files;
        let summary = format!(
            "{}: {} files restored, {} unchanged, {} removed",
            pm.original,
            written + s.restore + s.modify,
            // Files written above count as unchanged for rustic_core.
            kept + (s.unchanged + s.verified).saturating_sub(kept + written),
            removed + if own_removal { 0 } else { s.additional }
        );
        repo.restore(plan, &opts, ls, &dest)
            .map_err(|e| rerr(&self.path, &e))?;
        Ok(summary)
    }

    /// Brings every regular file of `files` to the snapshot's content and
    /// mtime: kept when its blobs all match, else written anew from the
    /// repository. Returns (written, kept).
    /// Each file's bytes count into `tally` once compared or written.
    fn write_files(
        &self,
        repo: &Indexed,
        files: &[(PathBuf, Node)],
        tally: &Tally,
    ) -> Result<(u64, u64)> {
        const WORKERS: usize = 3;
        let next = AtomicUsize::new(0);
        let written = AtomicU64::new(0);
        let kept = AtomicU64::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS.min(files.len()))
                .map(|_| {
                    s.spawn(|| -> Result<()> {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((path, node)) = files.get(i) else {
                                return Ok(());
                            };
                            let wrote = self.write_file(repo, path, node)?;
                            tally.add(node.meta.size);
                            if wrote {
                                written.fetch_add(1, Ordering::Relaxed);
                            } else {
                                kept.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                if let Err(e) = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)) {
                    // Stop the other workers early.
                    next.store(files.len(), Ordering::Relaxed);
                    return Err(e);
                }
            }
            Ok(())
        })?;
        Ok((written.into_inner(), kept.into_inner()))
    }

    /// One file of [`Self::write_files`]; true when it was (re)written.
    fn write_file(&self, repo: &Indexed, path: &Path, node: &Node) -> Result<bool> {
        let mtime = node.meta.mtime.map(SystemTime::from);
        let existing = std::fs::symlink_metadata(path).ok();
        let unchanged = match &existing {
            Some(md) => {
                md.is_file() && md.len() == node.meta.size && self.same_content(repo, path, node)?
            }
            None => false,
        };
        if let (true, Some(md)) = (unchanged, &existing) {
            if let Some(t) = mtime.filter(|t| md.modified().ok() != Some(*t)) {
                let f = std::fs::File::options()
                    .write(true)
                    .open(path)
                    .map_err(|e| BackupError::io("cannot open", path, e))?;
                f.set_modified(t)
                    .map_err(|e| BackupError::io("cannot set the mtime of", path, e))?;
            }
            return Ok(false);
        }
        match &existing {
            Some(md) if md.is_dir() => std::fs::remove_dir_all(path),
            Some(_) => std::fs::remove_file(path),
            None => Ok(()),
        }
        .map_err(|e| BackupError::io("cannot remove", path, e))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| BackupError::io("cannot create", parent, e))?;
        }
        let mut f =
            std::fs::File::create(path).map_err(|e| BackupError::io("cannot create", path, e))?;
        repo.dump(node, &mut f).map_err(|e| rerr(&self.path, &e))?;
        if let Some(t) = mtime {
            f.set_modified(t)
                .map_err(|e| BackupError::io("cannot set the mtime of", path, e))?;
        }
        Ok(true)
    }

    /// Whether the file at `path` holds exactly `node`'s blobs.
    fn same_content(&self, repo: &Indexed, path: &Path, node: &Node) -> Result<bool> {
        let mut f = match std::fs::File::open(path) {
            Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
            Err(_) => return Ok(false),
        };
        for id in node.content.iter().flatten() {
            let ie = repo.get_index_entry(id).map_err(|e| rerr(&self.path, &e))?;
            if !id.blob_matches_reader(u64::from(ie.data_length()), &mut f) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The stores of `meta` that `scope` selects, with the paths each writes;
/// a selected store the snapshot lacks is refused.
fn planned_stores<'m>(
    meta: &'m SnapshotMeta,
    scope: &RestoreScope,
    snapshot: &str,
    with_stores: bool,
) -> Result<Vec<Planned<'m>>> {
    for name in scope.stores.iter().flatten() {
        if !meta.stores.contains_key(name) {
            return Err(BackupError::StoreNotInSnapshot {
                snapshot: snapshot.to_string(),
                store: name.clone(),
            });
        }
    }
    if !with_stores {
        return Ok(Vec::new());
    }
    meta.stores
        .iter()
        .filter(|(name, _)| scope.wants(name))
        .map(|(name, smeta)| {
            let maps = match &scope.into {
                Some(r) => r.maps(smeta)?,
                None => scope::in_place(smeta)?,
            };
            Ok(Planned {
                name,
                meta: smeta,
                maps,
            })
        })
        .collect()
}

/// The config files a scoped restore writes, and where.
fn planned_config(meta: &SnapshotMeta, scope: &RestoreScope) -> Result<BTreeMap<String, PathMap>> {
    if !scope.config {
        return Ok(BTreeMap::new());
    }
    meta.config
        .iter()
        .map(|(name, pm)| {
            let pm = match &scope.into {
                Some(r) => r.moved(pm)?,
                None => {
                    scope::checked_original(pm)?;
                    pm.clone()
                }
            };
            Ok((name.clone(), pm))
        })
        .collect()
}

/// Every path of a snapshot listing (relative to the restored node) and
/// whether it is a directory.
fn listed_entries<E>(
    ls: impl Iterator<Item = std::result::Result<(PathBuf, Node), E>>,
) -> std::result::Result<BTreeMap<PathBuf, bool>, E> {
    ls.map(|item| item.map(|(p, n)| (p, n.is_dir()))).collect()
}

/// Removes what lies under `root`/`rel` that the snapshot does not list
/// (or lists as another type), leaving alone what `keep` matches; returns
/// how many entries were removed.
fn remove_unlisted(
    root: &Path,
    rel: &Path,
    listed: &BTreeMap<PathBuf, bool>,
    keep: &GlobSet,
) -> Result<u64> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(BackupError::io("cannot list", &dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| BackupError::io("cannot list", &dir, e))?;
        let sub = rel.join(entry.file_name());
        if is_excluded(keep, &sub) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry
            .file_type()
            .map_err(|e| BackupError::io("cannot read", &path, e))?
            .is_dir();
        match listed.get(&sub) {
            Some(&d) if d == is_dir => {
                if is_dir {
                    removed += remove_unlisted(root, &sub, listed, keep)?;
                }
                continue;
            }
            _ => {}
        }
        let gone = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(|e| BackupError::io("cannot remove", &path, e))?;
        removed += 1;
    }
    Ok(removed)
}
