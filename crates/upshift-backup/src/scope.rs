//! What a restore puts back, and where: every store or only some, the
//! config files or not, over the installation or under another directory
//! (`upshift restore --into DIR`).
//!
//! Every path a restore writes comes from the snapshot: the paths each
//! store recorded, and the entries of the trees under them. Both are
//! checked here before anything is written, so a snapshot naming `..` or
//! an absolute path inside a tree cannot make a restore write outside the
//! store's own paths (or, with `--into`, outside DIR).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::error::{BackupError, Result};
use crate::meta::{PathMap, StoreMeta};

/// Which parts of a snapshot a restore puts back, and where.
#[derive(Debug, Clone)]
pub struct RestoreScope {
    /// Only these stores; `None`: every store the snapshot holds.
    pub stores: Option<BTreeSet<String>>,
    /// Whether the config files come back too.
    pub config: bool,
    /// Written under another directory instead of over the installation.
    pub into: Option<Relocation>,
}

impl RestoreScope {
    /// Every store and every config file, in place.
    pub fn everything() -> RestoreScope {
        RestoreScope {
            stores: None,
            config: true,
            into: None,
        }
    }

    /// Only the config files, in place.
    pub fn config_only() -> RestoreScope {
        RestoreScope {
            stores: Some(BTreeSet::new()),
            config: true,
            into: None,
        }
    }

    /// Whether store `name` is restored.
    pub fn wants(&self, name: &str) -> bool {
        self.stores.as_ref().is_none_or(|s| s.contains(name))
    }
}

/// A restore under `dir` instead of in place: each path keeps its place
/// relative to `root` (the installation's directory, as the snapshot's
/// paths were recorded). A path outside `root` (a store at an absolute
/// path elsewhere) goes under `dir` at its full path (`/srv/data` →
/// `DIR/srv/data`); a database, volume or bucket is written as the dump
/// files the snapshot holds, under `DIR/stores/NAME/`.
#[derive(Debug, Clone)]
pub struct Relocation {
    dir: PathBuf,
    root: PathBuf,
}

impl Relocation {
    pub fn new(dir: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Relocation {
        Relocation {
            dir: dir.into(),
            root: root.into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the snapshot's absolute path `original` is written.
    fn place(&self, original: &str) -> Result<PathBuf> {
        let p = Path::new(original);
        let rel = p
            .strip_prefix(&self.root)
            .or_else(|_| p.strip_prefix("/"))
            .unwrap_or(p);
        plain_relative(original, rel)?;
        Ok(self.dir.join(rel))
    }

    /// `pm` with its original replaced by its place under the directory.
    pub(crate) fn moved(&self, pm: &PathMap) -> Result<PathMap> {
        checked_original(pm)?;
        Ok(PathMap {
            original: self.place(&pm.original)?.display().to_string(),
            ..pm.clone()
        })
    }

    /// A dump at snapshot path `snapshot`, written as a file (or a
    /// directory) at the same path under the directory.
    fn dump(&self, snapshot: &str, is_dir: bool) -> Result<PathMap> {
        Ok(PathMap {
            original: self.place(snapshot)?.display().to_string(),
            snapshot: snapshot.to_string(),
            is_dir,
        })
    }

    /// What restoring `meta` under the directory writes: every path the
    /// store recorded, moved, or its dumps.
    pub(crate) fn maps(&self, meta: &StoreMeta) -> Result<Vec<PathMap>> {
        match meta {
            StoreMeta::Files { paths, .. } | StoreMeta::Sqlite { paths, .. } => {
                paths.iter().map(|pm| self.moved(pm)).collect()
            }
            StoreMeta::Postgres { dump, .. }
            | StoreMeta::Mysql { dump, .. }
            | StoreMeta::Mongodb { dump }
            | StoreMeta::Volume { dump, .. } => Ok(vec![self.dump(dump, false)?]),
            StoreMeta::S3 {
                index, objects_dir, ..
            } => Ok(vec![
                self.dump(index, false)?,
                self.dump(objects_dir, true)?,
            ]),
        }
    }
}

/// The paths a restore of `meta` in place writes on this machine (none
/// for a database, a volume or a bucket: their server takes the dump).
pub(crate) fn in_place(meta: &StoreMeta) -> Result<Vec<PathMap>> {
    match meta {
        StoreMeta::Files { paths, .. } | StoreMeta::Sqlite { paths, .. } => {
            for pm in paths {
                checked_original(pm)?;
            }
            Ok(paths.clone())
        }
        _ => Ok(Vec::new()),
    }
}

/// A path the snapshot recorded must be absolute and never climb with `..`
/// (upshift records store paths resolved, and the manifest refuses `..`).
pub(crate) fn checked_original(pm: &PathMap) -> Result<()> {
    let p = Path::new(&pm.original);
    if !p.is_absolute() {
        return Err(unsafe_path(&pm.original, "is not absolute"));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(unsafe_path(&pm.original, "climbs out with `..`"));
    }
    Ok(())
}

/// An entry of a snapshot tree, relative to the restored directory: plain
/// names only (a `..`, `.` or absolute entry would be written outside it).
pub(crate) fn plain_relative(shown: &str, rel: &Path) -> Result<()> {
    if rel.as_os_str().is_empty() {
        return Err(unsafe_path(shown, "names the whole directory"));
    }
    match rel
        .components()
        .find(|c| !matches!(c, Component::Normal(_)))
    {
        None => Ok(()),
        Some(Component::ParentDir) => Err(unsafe_path(shown, "climbs out with `..`")),
        Some(_) => Err(unsafe_path(shown, "is not a plain relative path")),
    }
}

fn unsafe_path(path: &str, why: &str) -> BackupError {
    BackupError::UnsafePath {
        path: path.to_string(),
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(original: &str, is_dir: bool) -> PathMap {
        PathMap {
            original: original.into(),
            snapshot: "/stores/x/0/data".into(),
            is_dir,
        }
    }

    #[test]
    fn paths_keep_their_place_relative_to_the_installation() {
        let r = Relocation::new("/tmp/out", "/srv/app");
        let moved = r.moved(&pm("/srv/app/data/notes.db", false)).unwrap();
        assert_eq!(moved.original, "/tmp/out/data/notes.db");
        assert_eq!(moved.snapshot, "/stores/x/0/data");
        // Outside the installation: its full path under DIR.
        let moved = r.moved(&pm("/opt/uploads", true)).unwrap();
        assert_eq!(moved.original, "/tmp/out/opt/uploads");
        let dump = r
            .maps(&StoreMeta::Postgres {
                dump: "/stores/db/dump.pgcustom".into(),
                tables: Default::default(),
            })
            .unwrap();
        assert_eq!(dump[0].original, "/tmp/out/stores/db/dump.pgcustom");
    }

    #[test]
    fn recorded_paths_that_climb_out_or_are_relative_are_refused() {
        let r = Relocation::new("/tmp/out", "/srv/app");
        for bad in [
            "/srv/app/../../etc/passwd",
            "/srv/app/data/../../../etc",
            "../etc/passwd",
            "data/notes.db",
            "/srv/app",
            "/",
        ] {
            let err = r.moved(&pm(bad, false)).unwrap_err();
            assert!(
                matches!(err, BackupError::UnsafePath { .. }),
                "{bad}: {err}"
            );
        }
        for bad in ["/srv/app/../../etc/passwd", "relative/x"] {
            let meta = StoreMeta::Files {
                paths: vec![pm(bad, true)],
                files: 0,
                bytes: 0,
                exclude: vec![],
            };
            assert!(in_place(&meta).is_err(), "{bad} accepted in place");
        }
    }

    #[test]
    fn tree_entries_must_be_plain_names() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "./x"] {
            assert!(plain_relative(bad, Path::new(bad)).is_err(), "{bad:?}");
        }
        for good in ["x", "a/b/c.txt", ".hidden", "..x"] {
            plain_relative(good, Path::new(good)).unwrap();
        }
    }
}
