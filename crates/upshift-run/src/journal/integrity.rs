//! The journal's check at open: a damaged journal stops the command, it
//! never reads as "no runs".
//!
//! SQLite's own check, `PRAGMA quick_check`
//! (<https://www.sqlite.org/pragma.html#pragma_quick_check>), finds a damaged
//! database file. It cannot see a damaged write-ahead log: SQLite reads the
//! log up to the first frame whose checksum fails and ignores the rest
//! (<https://www.sqlite.org/fileformat2.html#walformat>), so the runs
//! journaled after a damaged frame would silently vanish. The log is
//! checked here. A crash can tear only the last transaction written (each
//! commit is synced before the next begins, `synchronous=FULL`), so a frame
//! that fails followed by a committed transaction and more frames of the
//! same log generation (same salts) is damage, not a torn write.
//!
//! Limits: damage inside the last transaction of the log looks like a
//! write torn by a crash and is not reported; a damaged log header is
//! reported as damage (SQLite assumes a sector is written whole, so a
//! crash does not tear the 32-byte header).

use rusqlite::Connection;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;

/// What is damaged in the database `conn` has open, if anything: its
/// write-ahead log `wal` (the log file's bytes) or its pages. Runs inside
/// one read transaction, so no writer can restart the log meanwhile.
pub(super) fn damage(conn: &Connection, wal: &std::path::Path) -> rusqlite::Result<Option<String>> {
    conn.execute_batch("BEGIN DEFERRED")?;
    let found = read_and_check(conn, wal);
    let _ = conn.execute_batch("COMMIT");
    found
}

fn read_and_check(conn: &Connection, wal: &std::path::Path) -> rusqlite::Result<Option<String>> {
    // The first read takes the snapshot the transaction holds.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    if let Ok(bytes) = std::fs::read(wal) {
        if let Some(why) = wal_damage(&bytes) {
            return Ok(Some(format!(
                "its write-ahead log {}: {why}",
                wal.display()
            )));
        }
    }
    let mut st = conn.prepare("PRAGMA quick_check")?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match problems.as_slice() {
        [ok] if ok == "ok" => None,
        _ => Some(format!("SQLite's check found: {}", problems.join("; "))),
    })
}

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("four bytes"))
}

/// The write-ahead log's cumulative checksum over `data` (a multiple of 8
/// bytes), continued from `s`; words in the byte order the magic names.
fn checksum(big_endian: bool, data: &[u8], mut s: (u32, u32)) -> (u32, u32) {
    let word = |c: &[u8]| {
        let w: [u8; 4] = c.try_into().expect("four bytes");
        if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    for pair in data.chunks_exact(8) {
        s.0 = s.0.wrapping_add(word(&pair[..4])).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(&pair[4..])).wrapping_add(s.0);
    }
    s
}

/// Why the log `bytes` is damaged, if it is.
pub(super) fn wal_damage(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() < HEADER {
        return Some(format!("{} bytes, shorter than its header", bytes.len()));
    }
    let big_endian = match be(bytes, 0) {
        MAGIC_LE => false,
        MAGIC_BE => true,
        _ => return Some("its header is not a log header".into()),
    };
    let page = be(bytes, 8) as usize;
    if !(512..=65536).contains(&page) || !page.is_power_of_two() {
        return Some(format!("its header names page size {page}"));
    }
    let header_sum = checksum(big_endian, &bytes[..24], (0, 0));
    if header_sum != (be(bytes, 24), be(bytes, 28)) {
        return Some("its header fails its checksum".into());
    }
    let frames: Vec<&[u8]> = bytes[HEADER..].chunks_exact(FRAME_HEADER + page).collect();
    let salts = (be(bytes, 16), be(bytes, 20));
    let current = |f: &[u8]| (be(f, 8), be(f, 12)) == salts;
    let mut sum = header_sum;
    let bad = frames.iter().position(|f| {
        let s = checksum(
            big_endian,
            &f[FRAME_HEADER..],
            checksum(big_endian, &f[..8], sum),
        );
        let ok = current(f) && s == (be(f, 16), be(f, 20));
        sum = s;
        !ok
    })?;
    // A commit frame carries the database size after it (non-zero).
    let commit = frames[bad..]
        .iter()
        .position(|f| current(f) && be(f, 4) != 0)
        .map(|c| bad + c)?;
    let after = frames[commit + 1..].iter().filter(|f| current(f)).count();
    (after > 0).then(|| {
        format!(
            "frame {} fails its checksum, and SQLite would ignore the committed frames after it",
            bad + 1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real log: a journal written by SQLite and left open (a killed
    /// process leaves its log so), copied byte for byte.
    fn a_log_of_many_commits() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("j.db");
        let c = Connection::open(&db).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        for i in 0..20 {
            c.execute("INSERT INTO t VALUES (?1)", [format!("row {i}")])
                .unwrap();
        }
        let wal = std::fs::read(dir.path().join("j.db-wal")).unwrap();
        drop(c);
        (dir, wal)
    }

    #[test]
    fn an_intact_log_and_a_torn_last_frame_are_not_damage() {
        let (_dir, wal) = a_log_of_many_commits();
        assert_eq!(wal_damage(&wal), None);
        assert_eq!(wal_damage(&[]), None);
        // A crash in the middle of the last frame written.
        let torn = &wal[..wal.len() - 100];
        assert_eq!(wal_damage(torn), None);
        let mut last = wal.clone();
        let n = last.len();
        last[n - 10] ^= 0xff;
        assert_eq!(wal_damage(&last), None, "only the last commit is lost");
    }

    #[test]
    fn a_damaged_frame_before_later_commits_is_damage() {
        let (_dir, mut wal) = a_log_of_many_commits();
        let page = be(&wal, 8) as usize;
        // The page data of the second frame.
        wal[HEADER + FRAME_HEADER + page + FRAME_HEADER + 7] ^= 0x01;
        let why = wal_damage(&wal).expect("damage found");
        assert!(why.contains("frame 2"), "{why}");
        let mut header = a_log_of_many_commits().1;
        header[13] ^= 0x01;
        assert!(wal_damage(&header).unwrap().contains("header"));
    }
}
