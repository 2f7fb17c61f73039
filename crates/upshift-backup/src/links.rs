//! A restore writes and deletes under each store's path. If that path (a
//! files store's directory, an SQLite database or its directory) has been
//! replaced by a symbolic link since, writing through it would change, and
//! deleting would empty, whatever the link points at. Restore refuses
//! before it writes anything, naming the link and what to do. The same
//! holds for the paths an `--into` restore writes under its directory.
//!
//! Only these roots are checked: links further up (a release's `current`
//! link, a data disk mounted through a link) are the installation's layout
//! and are followed as they were when the snapshot was taken.

use std::path::Path;

use upshift_core::manifest::StoreKind;

use crate::error::{BackupError, Result};
use crate::meta::PathMap;

/// Refuses when a path that restoring store `store` (of `kind`) writes
/// under, one of `maps`, is a link.
pub(crate) fn refuse_replaced_roots(store: &str, kind: StoreKind, maps: &[PathMap]) -> Result<()> {
    for pm in maps {
        let path = Path::new(&pm.original);
        match kind {
            StoreKind::Files if !pm.is_dir => {}
            _ if pm.is_dir => refuse_link(store, path)?,
            // A database file, or a dump written as a file: it and the
            // directory holding it.
            _ => {
                refuse_link(store, path)?;
                if let Some(dir) = path.parent() {
                    refuse_link(store, dir)?;
                }
            }
        }
    }
    Ok(())
}

/// [`BackupError::RootIsLink`] when `path` is a symbolic link.
fn refuse_link(store: &str, path: &Path) -> Result<()> {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return Ok(()); // Missing: the restore creates it.
    };
    if !md.file_type().is_symlink() {
        return Ok(());
    }
    let target = std::fs::read_link(path).map_err(|e| BackupError::io("cannot read", path, e))?;
    Err(BackupError::RootIsLink {
        store: store.to_string(),
        path: path.to_path_buf(),
        target,
    })
}
