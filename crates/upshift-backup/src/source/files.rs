//! `kind = "files"` (and the manifest's `[config]` files): plain files and
//! directories, backed up in place with rustic's change detection.

use std::path::{Path, PathBuf};

use upshift_core::manifest::{exclude_set, glob_set, Store, StoreKind};

use super::parts::Walk;
use super::{DataOnHost, Part, Planned, Planning, StoreSource, Stored, Tools, WatchedFile};
use crate::error::{BackupError, Result};
use crate::meta::{PathMap, StoreMeta};
use crate::verify::{compare_counts, StoreCheck};

/// `kind = "files"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Files
    }

    fn required_tools(&self) -> Tools {
        &[]
    }

    fn data_on_host(&self) -> DataOnHost {
        DataOnHost::Files
    }

    fn watched_files(&self, store: &Store) -> Option<Vec<WatchedFile>> {
        let paths = store.path.iter().chain(&store.paths);
        Some(
            paths
                .map(|p| WatchedFile {
                    path: p.into(),
                    tree: true,
                })
                .collect(),
        )
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store, p.base_dir)
    }

    /// Counts what the snapshot holds (contents are checked by blob hash).
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Files {
            paths,
            files,
            bytes,
            ..
        } = meta
        else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let (mut f, mut b) = (0, 0);
        for p in paths {
            let (pf, pb) = s.tree_count(&p.snapshot)?;
            f += pf;
            b += pb;
        }
        let what = format!("{f} files, {b} bytes");
        Ok(compare_counts(&what, (f, b), (*files, *bytes)))
    }

    /// Leaves alone what the snapshot's `exclude` globs match.
    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Files { paths, exclude, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let keep = glob_set(exclude.iter().map(String::as_str))
            .map_err(|e| BackupError::bad_store(s.name, e.to_string()))?;
        let done: Result<Vec<String>> = paths.iter().map(|pm| s.restore_path(pm, &keep)).collect();
        Ok(done?.join("; "))
    }
}

/// The store's paths (`path` and `paths`), resolved against `base_dir`.
pub(crate) fn store_paths(name: &str, store: &Store, base_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = store
        .path
        .iter()
        .chain(&store.paths)
        .map(|p| base_dir.join(p))
        .collect();
    if out.is_empty() {
        return Err(BackupError::bad_store(name, "needs `path` or `paths`"));
    }
    out.dedup();
    Ok(out)
}

/// The snapshot path for the `index`-th path of a store.
pub(crate) fn snapshot_path(root: &str, name: &str, index: usize, src: &Path) -> PathBuf {
    let base = src
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "root".into());
    Path::new("/")
        .join(root)
        .join(name)
        .join(index.to_string())
        .join(base)
}

/// Plans a files store: every path must exist. Each is walked now, and
/// what the walk found (less what `exclude` leaves out) is both what the
/// snapshot records and exactly what the archiver stores.
fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let exclude = exclude_set(store).map_err(|e| BackupError::bad_store(name, e.to_string()))?;
    let mut parts = Vec::new();
    let mut maps = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for (i, src) in store_paths(name, store, base_dir)?.into_iter().enumerate() {
        let md = std::fs::metadata(&src).map_err(|e| BackupError::io("cannot read", &src, e))?;
        let dest = snapshot_path("stores", name, i, &src);
        let walk = Walk::new(&src, &dest, &exclude)?;
        let (f, b) = walk.counts();
        files += f;
        bytes += b;
        maps.push(PathMap {
            original: src.display().to_string(),
            snapshot: dest.display().to_string(),
            is_dir: md.is_dir(),
        });
        parts.push(Part::Local(walk));
    }
    Ok((
        parts,
        StoreMeta::Files {
            paths: maps,
            files,
            bytes,
            exclude: store.exclude.iter().map(|g| g.get_ref().clone()).collect(),
        },
    ))
}
