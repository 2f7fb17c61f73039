//! `kind = "files"` (and the manifest's `[config]` files): plain files and
//! directories, backed up in place with rustic's change detection.

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Store, StoreKind};

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

    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Files { paths, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let done: Result<Vec<String>> = paths.iter().map(|pm| s.restore_path(pm)).collect();
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

/// Plans a files store: every path must exist.
fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let mut parts = Vec::new();
    let mut maps = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for (i, src) in store_paths(name, store, base_dir)?.into_iter().enumerate() {
        let md = std::fs::metadata(&src).map_err(|e| BackupError::io("cannot read", &src, e))?;
        let dest = snapshot_path("stores", name, i, &src);
        let (f, b) = count(&src)?;
        files += f;
        bytes += b;
        maps.push(PathMap {
            original: src.display().to_string(),
            snapshot: dest.display().to_string(),
            is_dir: md.is_dir(),
        });
        parts.push(Part::Local { src, dest });
    }
    Ok((
        parts,
        StoreMeta::Files {
            paths: maps,
            files,
            bytes,
        },
    ))
}

/// Counts regular files and their bytes under `path` (symlinks not followed).
fn count(path: &Path) -> Result<(u64, u64)> {
    let md =
        std::fs::symlink_metadata(path).map_err(|e| BackupError::io("cannot read", path, e))?;
    if md.is_file() {
        return Ok((1, md.len()));
    }
    if !md.is_dir() {
        return Ok((0, 0));
    }
    let (mut files, mut bytes) = (0, 0);
    let rd = std::fs::read_dir(path).map_err(|e| BackupError::io("cannot list", path, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| BackupError::io("cannot list", path, e))?;
        let (f, b) = count(&entry.path())?;
        files += f;
        bytes += b;
    }
    Ok((files, bytes))
}
