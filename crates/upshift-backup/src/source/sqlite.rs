//! `kind = "sqlite"`: an online copy through SQLite's backup API (consistent
//! while the service writes), checked and counted, then stored as a file.
//! Restore writes the snapshot's copy back through the same API.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use upshift_core::manifest::{Store, StoreKind};

use super::{files, DataOnHost, Part, Planned, Planning, StoreSource, Stored, Tools, WatchedFile};
use crate::error::{BackupError, Result};
use crate::meta::{PathMap, RowCounts, StoreMeta};
use crate::verify::{compare_tables, StoreCheck};

/// The write-ahead log beside a database (`notes.db-wal`).
pub const WAL: &str = "-wal";
/// The WAL's shared-memory index: readers rewrite it too.
pub const SHM: &str = "-shm";
/// The rollback journal of a transaction in progress.
pub const JOURNAL: &str = "-journal";
/// Every file SQLite keeps beside a database, as suffixes of its path.
pub const SIDE_FILES: [&str; 3] = [WAL, SHM, JOURNAL];
/// The WAL and its index: they belong to one database file, so they go
/// with it, aside or away (SQLite would replay a stale WAL over a new file).
pub const WAL_FILES: [&str; 2] = [WAL, SHM];

/// `path` with `suffix` appended (`notes.db` → `notes.db-wal`).
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// `kind = "sqlite"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn required_tools(&self) -> Tools {
        &[]
    }

    fn data_on_host(&self) -> DataOnHost {
        DataOnHost::Sqlite
    }

    /// The database and the side files that change with its data (not
    /// the index, which readers rewrite).
    fn watched_files(&self, store: &Store) -> Option<Vec<WatchedFile>> {
        let db = Path::new(store.path.as_ref()?);
        let sides = SIDE_FILES.iter().filter(|s| **s != SHM);
        let files = std::iter::once(db.to_path_buf()).chain(sides.map(|s| suffixed(db, s)));
        Some(
            files
                .map(|path| WatchedFile { path, tree: false })
                .collect(),
        )
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p)
    }

    /// The copy in the snapshot has the recorded checksum, passes
    /// `integrity_check` and has the recorded row counts.
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Sqlite {
            paths,
            sha256,
            tables,
        } = meta
        else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let dir = tempdir()?;
        let copy = dir.path().join("check.sqlite");
        s.dump_to_file(&paths[0].snapshot, &copy)?;
        let got = sha256_file(&copy)?;
        if &got != sha256 {
            return Ok(StoreCheck {
                ok: false,
                detail: format!("checksum mismatch: recorded {sha256}, restored {got}"),
            });
        }
        if let Err(findings) = integrity(s.name, &copy)? {
            return Ok(StoreCheck {
                ok: false,
                detail: format!("integrity_check: {findings}"),
            });
        }
        let counts = row_counts(s.name, &copy)?;
        Ok(compare_tables(tables, &counts, "integrity_check ok"))
    }

    /// Writes the snapshot's copy back through the backup API. A damaged
    /// database cannot be written that way: it is kept aside (nothing is
    /// deleted) and the copy restored into a new file.
    fn in_server(&self) -> Option<&dyn super::InServer> {
        Some(self)
    }

    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Sqlite { paths, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let pm = &paths[0];
        let dir = tempdir()?;
        let copy = dir.path().join("restore.sqlite");
        s.dump_to_file(&pm.snapshot, &copy)?;
        let dest = Path::new(&pm.original);
        // A lost data directory is made again (a restore is how it comes back).
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| BackupError::io("cannot create", parent, e))?;
        }
        let aside = set_aside_if_damaged(dest)?;
        copy_db(s.name, &copy, dest)?;
        Ok(match aside {
            Some(a) => format!(
                "{} was not a readable database (kept as {}); restored",
                pm.original,
                a.display()
            ),
            None => format!("{} rewritten through the SQLite backup API", pm.original),
        })
    }
}

fn tempdir() -> Result<tempfile::TempDir> {
    tempfile::tempdir().map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))
}

pub(super) fn sql_err(store: &str, e: impl std::fmt::Display) -> BackupError {
    BackupError::Sqlite {
        store: store.to_string(),
        message: e.to_string(),
    }
}

/// Copies `src` into `dest` with the online backup API, every page in one
/// step, so under one read transaction: one consistent state of the
/// database. Copied in slices, the backup starts over whenever another
/// connection writes between two slices, so on a busy server it never
/// finishes (https://www.sqlite.org/c3ref/backup_finish.html). In WAL mode
/// writers go on while it reads; in rollback-journal mode they wait for it.
pub(super) fn copy_db(store: &str, src: &Path, dest: &Path) -> Result<()> {
    use rusqlite::backup::StepResult;
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sql_err(store, format!("cannot open {}: {e}", src.display())))?;
    let mut to = Connection::open(dest).map_err(|e| sql_err(store, e))?;
    let backup = rusqlite::backup::Backup::new(&from, &mut to).map_err(|e| sql_err(store, e))?;
    let deadline = std::time::Instant::now() + BUSY_FOR_AT_MOST;
    loop {
        match backup.step(-1).map_err(|e| sql_err(store, e))? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            _ => {
                return Err(sql_err(
                    store,
                    format!(
                        "{} stayed locked by another connection for {} s",
                        src.display(),
                        BUSY_FOR_AT_MOST.as_secs()
                    ),
                ))
            }
        }
    }
}

/// How long the copy waits for a database another connection holds locked.
const BUSY_FOR_AT_MOST: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes `db` and its side files, if they exist.
pub(super) fn remove_db(db: &Path) -> Result<()> {
    let sides = SIDE_FILES.iter().map(|s| suffixed(db, s));
    for f in std::iter::once(db.to_path_buf()).chain(sides) {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BackupError::io("cannot remove", &f, e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Moves `db` (and its [`WAL_FILES`]) aside when it exists but is not a
/// readable SQLite database; returns where it went.
fn set_aside_if_damaged(db: &Path) -> Result<Option<PathBuf>> {
    if !db.exists() {
        return Ok(None);
    }
    let readable = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0)))
        .is_ok();
    if readable {
        return Ok(None);
    }
    let aside = suffixed(db, ".upshift-damaged");
    std::fs::rename(db, &aside).map_err(|e| BackupError::io("cannot move aside", db, e))?;
    for suffix in WAL_FILES {
        let _ = std::fs::rename(suffixed(db, suffix), suffixed(&aside, suffix));
    }
    Ok(Some(aside))
}

/// `PRAGMA integrity_check`: `Ok(())` when it answers `ok`, else its findings.
fn integrity(store: &str, db: &Path) -> Result<std::result::Result<(), String>> {
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
pub(super) fn row_counts(store: &str, db: &Path) -> Result<RowCounts> {
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
pub(super) fn db_path(name: &str, store: &Store, base_dir: &Path) -> Result<PathBuf> {
    let paths = files::store_paths(name, store, base_dir)?;
    match paths.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(BackupError::bad_store(
            name,
            "a sqlite store has exactly one `path`",
        )),
    }
}

/// Copies the database (or its frozen copy) into the staging directory,
/// or where it is to be kept, checks and counts the copy.
fn plan(p: &Planning) -> Result<Planned> {
    let name = p.name;
    let src = db_path(name, p.store, p.base_dir)?;
    let read = p.frozen.map_or_else(|| src.clone(), PathBuf::from);
    if !read.is_file() {
        return Err(BackupError::bad_store(
            name,
            format!("database {} does not exist", read.display()),
        ));
    }
    let copy = crate::frozen::kept_copy(p.keep.unwrap_or(p.staging), name, &src);
    let dir = copy.parent().expect("a kept copy has a directory");
    std::fs::create_dir_all(dir).map_err(|e| BackupError::io("cannot create", dir, e))?;
    remove_db(&copy)?;
    copy_db(name, &read, &copy)?;
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
        vec![Part::local(&copy, &dest, &globset::GlobSet::empty())?],
        StoreMeta::Sqlite {
            paths,
            sha256,
            tables,
        },
    ))
}
