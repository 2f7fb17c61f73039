//! `kind = "sqlite"`: an online copy through SQLite's backup API (consistent
//! while the service writes), checked and counted, then stored as a file.
//! Restore writes the snapshot's copy back through the same API.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use upshift_core::manifest::Store;

use super::{files, Part};
use crate::error::{BackupError, Result};
use crate::meta::{PathMap, RowCounts, StoreMeta};

fn sql_err(store: &str, e: impl std::fmt::Display) -> BackupError {
    BackupError::Sqlite {
        store: store.to_string(),
        message: e.to_string(),
    }
}

/// Copies `src` into `dest` with the online backup API.
pub(crate) fn copy_db(store: &str, src: &Path, dest: &Path) -> Result<()> {
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_err(store, format!("cannot open {}: {e}", src.display())))?;
    let mut to = Connection::open(dest).map_err(|e| sql_err(store, e))?;
    let backup = rusqlite::backup::Backup::new(&from, &mut to).map_err(|e| sql_err(store, e))?;
    backup
        .run_to_completion(1024, std::time::Duration::ZERO, None)
        .map_err(|e| sql_err(store, e))
}

/// Moves `db` (and its `-wal`/`-shm`) aside when it exists but is not a
/// readable SQLite database; returns where it went.
pub(crate) fn set_aside_if_damaged(db: &Path) -> Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    let readable = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0)))
        .is_ok();
    if readable {
        return Ok(None);
    }
    let mut name = db.as_os_str().to_os_string();
    name.push(".upshift-damaged");
    let aside = PathBuf::from(name);
    std::fs::rename(db, &aside).map_err(|e| BackupError::io("cannot move aside", db, e))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_os_string();
        side.push(suffix);
        let mut kept = aside.as_os_str().to_os_string();
        kept.push(suffix);
        let _ = std::fs::rename(PathBuf::from(side), PathBuf::from(kept));
    }
    Ok(Some(aside))
}

/// `PRAGMA integrity_check`: `Ok(())` when it answers `ok`, else its findings.
pub(crate) fn integrity(store: &str, db: &Path) -> Result<std::result::Result<(), String>> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_err(store, e))?;
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| sql_err(store, e))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|it| it.collect())
        .map_err(|e| sql_err(store, e))?;
    if rows == ["ok"] {
        Ok(Ok(()))
    } else {
        Ok(Err(rows.join("; ")))
    }
}

/// Exact row counts of every user table.
pub(crate) fn row_counts(store: &str, db: &Path) -> Result<RowCounts> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_err(store, e))?;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| sql_err(store, e))?;
    let mut out = RowCounts::new();
    for name in names {
        let q = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = conn
            .query_row(&q, [], |r| r.get(0))
            .map_err(|e| sql_err(store, e))?;
        out.insert(name, n as u64);
    }
    Ok(out)
}

/// SHA-256 of a file, hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| BackupError::io("cannot read", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| BackupError::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The database path (`path`; exactly one).
pub(crate) fn db_path(name: &str, store: &Store, base_dir: &Path) -> Result<PathBuf> {
    let paths = files::store_paths(name, store, base_dir)?;
    match paths.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(BackupError::bad_store(
            name,
            "a sqlite store has exactly one `path`",
        )),
    }
}

/// Copies the database into `staging`, checks and counts the copy.
pub(crate) fn plan(
    name: &str,
    store: &Store,
    base_dir: &Path,
    staging: &Path,
) -> Result<(Vec<Part>, StoreMeta)> {
    let src = db_path(name, store, base_dir)?;
    if !src.is_file() {
        return Err(BackupError::bad_store(
            name,
            format!("database {} does not exist", src.display()),
        ));
    }
    let dir = staging.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| BackupError::io("cannot create", &dir, e))?;
    let copy = dir.join(src.file_name().unwrap_or("db.sqlite".as_ref()));
    copy_db(name, &src, &copy)?;
    if let Err(findings) = integrity(name, &copy)? {
        return Err(sql_err(
            name,
            format!("integrity_check of the online copy failed: {findings}"),
        ));
    }
    let tables = row_counts(name, &copy)?;
    let sha256 = sha256_file(&copy)?;
    let dest = files::snapshot_path("stores", name, 0, &src);
    let paths = vec![PathMap {
        original: src.display().to_string(),
        snapshot: dest.display().to_string(),
        is_dir: false,
    }];
    Ok((
        vec![Part::Local { src: copy, dest }],
        StoreMeta::Sqlite {
            paths,
            sha256,
            tables,
        },
    ))
}
