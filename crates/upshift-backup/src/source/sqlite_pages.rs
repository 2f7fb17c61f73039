//! A SQLite store's rollback point without a new copy: the online backup
//! kept its checked copy; in the window (services stopped) the live
//! database is checkpointed into its main file, then compared with the
//! kept copy page by page, and only the pages that differ are written
//! into the copy, which becomes the rollback point. What the window
//! writes is in proportion to what changed since the online backup; it
//! reads both files once, at file speed (no reflink on ext4).
//! <https://www.sqlite.org/fileformat2.html#the_database_header>
//! <https://www.sqlite.org/pragma.html#pragma_wal_checkpoint>

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use rusqlite::Connection;
use upshift_core::manifest::Store;

use super::sqlite::{copy_db, db_path, remove_db, row_counts, sql_err, Source};
use super::InServer;
use crate::error::{BackupError, Result};

impl InServer for Source {
    fn unable(
        &self,
        _name: &str,
        _store: &Store,
        _base_dir: &Path,
        frozen: &str,
    ) -> Result<Option<String>> {
        Ok((!Path::new(frozen).is_file())
            .then(|| format!("the online copy was not kept at {frozen}")))
    }

    fn freeze(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<String> {
        let live = db_path(name, store, base_dir)?;
        checkpoint(name, &live)?;
        let (changed, pages) = patch(&live, Path::new(frozen))?;
        let (a, b) = (
            row_counts(name, &live)?,
            row_counts(name, Path::new(frozen))?,
        );
        if a != b {
            return Err(BackupError::bad_store(
                name,
                format!(
                    "the patched copy {frozen} does not hold the same rows: {b:?} against {a:?}"
                ),
            ));
        }
        Ok(format!(
            "{}: {changed} of {pages} pages changed since the online copy, written into it; {} tables, {} rows, the same in both",
            live.display(),
            a.len(),
            a.values().sum::<u64>()
        ))
    }

    fn thaw(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<()> {
        let live = db_path(name, store, base_dir)?;
        remove_db(&live)?;
        copy_db(name, Path::new(frozen), &live)
    }

    fn drop_frozen(
        &self,
        _name: &str,
        _store: &Store,
        _base_dir: &Path,
        frozen: &str,
    ) -> Result<()> {
        remove_db(Path::new(frozen))
    }

    /// The kept copies live under the run's own directory, removed with it.
    fn list(&self, _: &str, _: &Store, _: &Path, _prefix: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Moves every frame of the write-ahead log into the main file and
/// empties the log (nothing else has the database open: its services
/// are stopped).
fn checkpoint(name: &str, db: &Path) -> Result<()> {
    let conn = Connection::open(db).map_err(|e| sql_err(name, e))?;
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(|e| sql_err(name, e))?;
    if busy != 0 {
        return Err(sql_err(
            name,
            "the checkpoint was blocked: another process still has the database open",
        ));
    }
    Ok(())
}

/// Writes into `copy` every page of `live` that differs, and gives it
/// `live`'s length; returns (pages written, pages in all).
fn patch(live: &Path, copy: &Path) -> Result<(u64, u64)> {
    let mut src = File::open(live).map_err(io("cannot read", live))?;
    let mut dst = OpenOptions::new()
        .read(true)
        .write(true)
        .open(copy)
        .map_err(io("cannot open", copy))?;
    let size = page_size(&mut src).map_err(io("cannot read", live))?;
    let (mut a, mut b) = (vec![0u8; size], vec![0u8; size]);
    let (mut changed, mut pages) = (0, 0);
    src.seek(SeekFrom::Start(0))
        .map_err(io("cannot read", live))?;
    loop {
        let n = fill(&mut src, &mut a).map_err(io("cannot read", live))?;
        if n == 0 {
            break;
        }
        let m = fill(&mut dst, &mut b).map_err(io("cannot read", copy))?;
        if n != m || a[..n] != b[..n] {
            dst.seek(SeekFrom::Start(pages * size as u64))
                .and_then(|_| dst.write_all(&a[..n]))
                .map_err(io("cannot write", copy))?;
            changed += 1;
        }
        pages += 1;
    }
    let len = src.metadata().map_err(io("cannot read", live))?.len();
    dst.set_len(len)
        .and_then(|()| dst.sync_all())
        .map_err(io("cannot write", copy))?;
    Ok((changed, pages))
}

fn io<'a>(what: &'static str, p: &'a Path) -> impl Fn(std::io::Error) -> BackupError + 'a {
    move |e| BackupError::io(what, p, e)
}

/// The page size the database header records (bytes 16–17; 1 means 65536).
fn page_size(f: &mut File) -> std::io::Result<usize> {
    let mut header = [0u8; 18];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut header)?;
    Ok(match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n if n >= 512 => n as usize,
        _ => 4096,
    })
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn fill(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
