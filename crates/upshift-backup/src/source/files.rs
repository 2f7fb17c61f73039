//! `kind = "files"` (and the manifest's `[config]` files): plain files and
//! directories, backed up in place with rustic's change detection.

use std::path::{Path, PathBuf};

use upshift_core::manifest::Store;

use super::Part;
use crate::error::{BackupError, Result};
use crate::meta::{PathMap, StoreMeta};

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
pub(crate) fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<(Vec<Part>, StoreMeta)> {
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
pub(crate) fn count(path: &Path) -> Result<(u64, u64)> {
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
