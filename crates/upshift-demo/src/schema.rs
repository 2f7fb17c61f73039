//! The notes database and its three schemas.
//!
//! - schema 1 (1.0.0): `notes(id, owner, body)`;
//! - schema 2 (1.1.0, 2.x): `notes` gains `title`; 1.1.0 and later upgrade
//!   schema 1 to 2 on start;
//! - schema 3 (3.0.0): owners move to `users(id, name)` and notes to
//!   `entries(id, user_id, title, body)`; the `notes` table is dropped.
//!   Only [`migrate_v3`] does this, and it cannot be undone.
//!
//! `meta(key, value)` holds `schema_version`. Every release refuses a schema
//! newer than it knows.

use crate::{Error, Release, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::Path;

/// One note, the same shape whatever the schema (`title` is empty in schema 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: i64,
    pub owner: String,
    pub title: String,
    pub body: String,
}

/// Opens (creating if needed) the database at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("{}: {e}", dir.display())))?;
    }
    let conn =
        Connection::open(path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// The schema version, or `None` for an empty database.
pub fn version(conn: &Connection) -> Result<Option<u32>> {
    let has_meta: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    v.map(|v| {
        v.parse()
            .map_err(|_| Error::new(format!("bad schema_version `{v}` in meta")))
    })
    .transpose()
}

fn set_version(conn: &Connection, v: u32) -> Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![v.to_string()],
    )?;
    Ok(())
}

/// Creates an empty database at `schema`.
fn create(conn: &mut Connection, schema: u32) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")?;
    tx.execute_batch(match schema {
        1 => "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, body TEXT NOT NULL);",
        2 => "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, body TEXT NOT NULL,
                                  title TEXT NOT NULL DEFAULT '');",
        _ => SCHEMA_3,
    })?;
    set_version(&tx, schema)?;
    tx.commit()?;
    Ok(())
}

const SCHEMA_3: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
                          user_id INTEGER NOT NULL REFERENCES users(id),
                          title TEXT NOT NULL, body TEXT NOT NULL);";

/// Brings the database to the schema `release` runs on, as that release does
/// on start: creates it when empty, upgrades schema 1 to 2 from 1.1.0 on, and
/// refuses everything else. Returns the schema version.
pub fn prepare(conn: &mut Connection, release: Release) -> Result<u32> {
    let want = release.schema();
    match version(conn)? {
        None => create(conn, want)?,
        Some(v) if v > want => {
            return Err(Error::new(format!(
                "schema version {v} is newer than this release ({release}) understands (it knows schema {want})"
            )))
        }
        Some(1) if want == 2 => {
            let tx = conn.transaction()?;
            tx.execute_batch("ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT '';")?;
            set_version(&tx, 2)?;
            tx.commit()?;
            eprintln!("notes: upgraded the database from schema version 1 to 2");
        }
        Some(2) if want == 3 => {
            return Err(Error::new(
                "database is at schema version 2: run the notes-schema-v3 migration \
                 (`upshift-demo migrate --config FILE`) before starting 3.0.0",
            ))
        }
        Some(v) if v < want => {
            return Err(Error::new(format!(
                "database is at schema version {v}, too old for {release}: upgrade to 1.1.0 first"
            )))
        }
        Some(_) => {}
    }
    Ok(want)
}

/// The 3.0.0 data migration, schema 2 → 3, in one transaction. Irreversible.
/// Returns `false` when the database is already at schema 3.
pub fn migrate_v3(conn: &mut Connection) -> Result<bool> {
    match version(conn)? {
        Some(3) => return Ok(false),
        Some(2) => {}
        Some(1) => {
            return Err(Error::new(
                "database is at schema version 1: upgrade to 1.1.0 first",
            ))
        }
        Some(v) => {
            return Err(Error::new(format!(
                "schema version {v} is newer than this release (3.0.0) understands"
            )))
        }
        None => return Err(Error::new("the database is empty: nothing to migrate")),
    }
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA_3)?;
    tx.execute_batch(
        "INSERT INTO users(name) SELECT DISTINCT owner FROM notes ORDER BY owner;
         INSERT INTO entries(id, user_id, title, body)
           SELECT n.id, u.id, n.title, n.body FROM notes n JOIN users u ON u.name = n.owner ORDER BY n.id;
         DROP TABLE notes;",
    )?;
    set_version(&tx, 3)?;
    tx.commit()?;
    Ok(true)
}

/// Adds a note (schema 1 drops the title).
pub fn insert(conn: &Connection, owner: &str, title: &str, body: &str) -> Result<Note> {
    let schema = version(conn)?.unwrap_or(0);
    let title = if schema == 1 { "" } else { title };
    match schema {
        1 => conn.execute(
            "INSERT INTO notes(owner, body) VALUES (?1, ?2)",
            params![owner, body],
        )?,
        2 => conn.execute(
            "INSERT INTO notes(owner, title, body) VALUES (?1, ?2, ?3)",
            params![owner, title, body],
        )?,
        _ => {
            conn.execute(
                "INSERT OR IGNORE INTO users(name) VALUES (?1)",
                params![owner],
            )?;
            conn.execute(
                "INSERT INTO entries(user_id, title, body) SELECT id, ?2, ?3 FROM users WHERE name = ?1",
                params![owner, title, body],
            )?
        }
    };
    let id = conn.last_insert_rowid();
    Ok(Note {
        id,
        owner: owner.into(),
        title: title.into(),
        body: body.into(),
    })
}

/// Adds `count` notes of `body_bytes` pseudo-random letters each, owned by
/// `user0`..`user<owners-1>`, in one transaction: data for benchmarks that
/// neither compresses nor deduplicates to nothing. Returns the new total.
pub fn seed(conn: &mut Connection, count: u64, body_bytes: usize, owners: u64) -> Result<u64> {
    if version(conn)?.is_none() {
        return Err(Error::new(
            "the database is empty: run `upshift-demo init` first",
        ));
    }
    let tx = conn.transaction()?;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ list_count(&tx)?;
    let mut body = vec![0u8; body_bytes];
    for n in 0..count {
        for b in body.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = b'a' + (state % 26) as u8;
        }
        let text = std::str::from_utf8(&body).expect("ascii letters");
        insert(
            &tx,
            &format!("user{}", n % owners.max(1)),
            &format!("note {n}"),
            text,
        )?;
    }
    let total = list_count(&tx)?;
    tx.commit()?;
    Ok(total)
}

fn list_count(conn: &Connection) -> Result<u64> {
    let table = if version(conn)? == Some(3) {
        "entries"
    } else {
        "notes"
    };
    Ok(
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// The query listing notes (all when `?1` is NULL) in `schema`, by id.
fn list_sql(schema: u32) -> &'static str {
    match schema {
        1 => "SELECT id, owner, '', body FROM notes WHERE ?1 IS NULL OR owner = ?1 ORDER BY id",
        2 => "SELECT id, owner, title, body FROM notes WHERE ?1 IS NULL OR owner = ?1 ORDER BY id",
        _ => {
            "SELECT e.id, u.name, e.title, e.body FROM entries e JOIN users u ON u.id = e.user_id
             WHERE ?1 IS NULL OR u.name = ?1 ORDER BY e.id"
        }
    }
}

fn row_note(r: &rusqlite::Row) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get(0)?,
        owner: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
    })
}

/// All notes, or those of `owner`, sorted by id, from any schema.
pub fn list(conn: &Connection, owner: Option<&str>) -> Result<Vec<Note>> {
    let Some(schema) = version(conn)? else {
        return Ok(vec![]);
    };
    let mut stmt = conn.prepare(list_sql(schema))?;
    let rows = stmt.query_map(params![owner], row_note)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes every note as canonical JSON: an array sorted by id, one note per
/// line with keys in a fixed order, the same whatever the schema, streamed
/// so a large database is not held in memory. For comparing an
/// installation before and after an upgrade or a rollback.
pub fn export_to(conn: &Connection, out: &mut impl std::io::Write) -> Result<()> {
    let io = |e: std::io::Error| Error::new(format!("export: {e}"));
    out.write_all(b"[").map_err(io)?;
    if let Some(schema) = version(conn)? {
        let mut stmt = conn.prepare(list_sql(schema))?;
        for (n, note) in stmt
            .query_map(params![None::<String>], row_note)?
            .enumerate()
        {
            let line = serde_json::to_string(&note?).expect("notes serialize");
            write!(out, "{}\n{line}", if n == 0 { "" } else { "," }).map_err(io)?;
        }
    }
    out.write_all(b"\n]\n").map_err(io)?;
    out.flush().map_err(io)
}

/// [`export_to`] into a string.
pub fn export(conn: &Connection) -> Result<String> {
    let mut out = Vec::new();
    export_to(conn, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(v: &str) -> Release {
        Release::parse(v).unwrap()
    }

    #[test]
    fn walks_1_to_3_keeping_every_note() {
        let d = tempfile::tempdir().unwrap();
        let mut c = open(&d.path().join("n.db")).unwrap();
        assert_eq!(prepare(&mut c, rel("1.0.0")).unwrap(), 1);
        insert(&c, "bob", "ignored", "b1").unwrap();
        insert(&c, "alice", "", "a1").unwrap();
        let before = export(&c).unwrap();
        assert!(!before.contains("ignored"));
        assert_eq!(
            before,
            "[\n{\"id\":1,\"owner\":\"bob\",\"title\":\"\",\"body\":\"b1\"},\n\
             {\"id\":2,\"owner\":\"alice\",\"title\":\"\",\"body\":\"a1\"}\n]\n"
        );

        let e = prepare(&mut c, rel("3.0.0")).unwrap_err();
        assert!(e.message.contains("upgrade to 1.1.0 first"), "{e}");
        assert_eq!(prepare(&mut c, rel("1.1.0")).unwrap(), 2);
        assert_eq!(export(&c).unwrap(), before);
        insert(&c, "alice", "t", "a2").unwrap();
        let at2 = export(&c).unwrap();

        let e = prepare(&mut c, rel("3.0.0")).unwrap_err();
        assert!(
            e.message.contains("run the notes-schema-v3 migration"),
            "{e}"
        );
        assert!(migrate_v3(&mut c).unwrap());
        assert!(!migrate_v3(&mut c).unwrap());
        assert_eq!(export(&c).unwrap(), at2);
        assert_eq!(prepare(&mut c, rel("3.0.0")).unwrap(), 3);
        assert_eq!(insert(&c, "carol", "t", "c1").unwrap().id, 4);
        assert_eq!(list(&c, Some("alice")).unwrap().len(), 2);

        assert_eq!(seed(&mut c, 10, 100, 3).unwrap(), 14);
        let seeded = list(&c, Some("user2")).unwrap();
        assert_eq!((seeded.len(), seeded[0].body.len()), (3, 100));

        let e = prepare(&mut c, rel("2.1.0")).unwrap_err();
        assert!(
            e.message
                .contains("schema version 3 is newer than this release (2.1.0) understands"),
            "{e}"
        );
    }
}
