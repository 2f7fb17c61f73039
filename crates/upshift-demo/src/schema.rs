//! The notes database and its three schemas, in SQLite or PostgreSQL.
//!
//! - schema 1 (1.0.0): `notes(id, owner, body)`;
//! - schema 2 (1.1.0, 2.x): `notes` gains `title`; 1.1.0 and later upgrade
//!   schema 1 to 2 on start;
//! - schema 3 (3.0.0): owners move to `users(id, name)` and notes to
//!   `entries(id, user_id, title, body)`; the `notes` table is dropped.
//!   Only [`migrate_v3`] does this, and it cannot be undone.
//!
//! `meta(key, value)` holds `schema_version`. Every release refuses a schema
//! newer than it knows. Both databases hold the same tables; ids come from
//! SQLite's `AUTOINCREMENT` or PostgreSQL's identity columns.

use crate::config::{PgStorage, Storage};
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

/// An open notes database.
pub enum Db {
    Sqlite(Connection),
    Postgres(Box<postgres::Client>),
}

/// Opens the notes database `storage` names (creating a SQLite file if needed).
pub fn open(storage: &Storage) -> Result<Db> {
    match storage {
        Storage::Sqlite(path) => open_sqlite(path).map(Db::Sqlite),
        Storage::Postgres(pg) => connect(pg).map(|c| Db::Postgres(Box::new(c))),
    }
}

/// Opens (creating if needed) the SQLite database at `path`.
pub fn open_sqlite(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("{}: {e}", dir.display())))?;
    }
    let conn =
        Connection::open(path).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Connects to the PostgreSQL database of `pg` (no TLS: the demo's server
/// listens on loopback or a socket only).
pub fn connect(pg: &PgStorage) -> Result<postgres::Client> {
    let mut cfg = postgres::Config::new();
    cfg.host(&pg.host)
        .port(pg.port)
        .user(&pg.user)
        .dbname(&pg.database)
        .application_name("upshift-demo")
        .connect_timeout(std::time::Duration::from_secs(10));
    if let Some(pw) = &pg.password {
        cfg.password(pw);
    }
    cfg.connect(postgres::NoTls).map_err(|e| {
        Error::new(format!(
            "postgres://{}@{}:{}/{}: {e}",
            pg.user, pg.host, pg.port, pg.database
        ))
    })
}

impl Db {
    /// Connects again when the server closed the connection (a restart).
    pub fn reconnect_if_closed(&mut self, storage: &Storage) -> Result<()> {
        if let (Db::Postgres(c), Storage::Postgres(pg)) = (&mut *self, storage) {
            if c.is_closed() {
                **c = connect(pg)?;
            }
        }
        Ok(())
    }
}

/// The schema version, or `None` for an empty database.
pub fn version(db: &mut Db) -> Result<Option<u32>> {
    match db {
        Db::Sqlite(c) => lite::version(c),
        Db::Postgres(c) => pg::version(&mut **c),
    }
}

/// Brings the database to the schema `release` runs on, as that release does
/// on start: creates it when empty, upgrades schema 1 to 2 from 1.1.0 on, and
/// refuses everything else. Returns the schema version.
pub fn prepare(db: &mut Db, release: Release) -> Result<u32> {
    let want = release.schema();
    let have = version(db)?;
    match have {
        None => match db {
            Db::Sqlite(c) => lite::create(c, want)?,
            Db::Postgres(c) => pg::create(c, want)?,
        },
        Some(v) if v > want => {
            return Err(Error::new(format!(
                "schema version {v} is newer than this release ({release}) understands (it knows schema {want})"
            )))
        }
        Some(1) if want == 2 => {
            match db {
                Db::Sqlite(c) => lite::add_titles(c)?,
                Db::Postgres(c) => pg::add_titles(c)?,
            }
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

/// Why [`migrate_v3`] cannot start from `have`, or `Ok(false)` when the
/// database is already at schema 3, `Ok(true)` when it is at 2.
fn migrate_from(have: Option<u32>) -> Result<bool> {
    match have {
        Some(3) => Ok(false),
        Some(2) => Ok(true),
        Some(1) => Err(Error::new(
            "database is at schema version 1: upgrade to 1.1.0 first",
        )),
        Some(v) => Err(Error::new(format!(
            "schema version {v} is newer than this release (3.0.0) understands"
        ))),
        None => Err(Error::new("the database is empty: nothing to migrate")),
    }
}

/// The 3.0.0 data migration, schema 2 → 3, in one transaction. Irreversible.
/// Returns `false` when the database is already at schema 3.
pub fn migrate_v3(db: &mut Db) -> Result<bool> {
    match db {
        Db::Sqlite(c) => lite::migrate_v3(c),
        Db::Postgres(c) => pg::migrate_v3(c),
    }
}

/// Adds a note (schema 1 drops the title).
pub fn insert(db: &mut Db, owner: &str, title: &str, body: &str) -> Result<Note> {
    match db {
        Db::Sqlite(c) => lite::insert(c, owner, title, body),
        Db::Postgres(c) => pg::insert(&mut **c, owner, title, body),
    }
}

/// Adds `count` notes of `body_bytes` pseudo-random letters each, owned by
/// `user0`..`user<owners-1>`, in one transaction: data for benchmarks that
/// neither compresses nor deduplicates to nothing. Returns the new total.
pub fn seed(db: &mut Db, count: u64, body_bytes: usize, owners: u64) -> Result<u64> {
    if version(db)?.is_none() {
        return Err(Error::new(
            "the database is empty: run `upshift-demo init` first",
        ));
    }
    match db {
        Db::Sqlite(c) => lite::seed(c, count, body_bytes, owners),
        Db::Postgres(c) => pg::seed(c, count, body_bytes, owners),
    }
}

/// The seeded notes, in order: (owner, title, body), `count` of them after
/// the `existing` notes already there.
fn seeded(
    existing: u64,
    count: u64,
    body_bytes: usize,
    owners: u64,
) -> impl Iterator<Item = (String, String, String)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ existing;
    let mut body = vec![0u8; body_bytes];
    (0..count).map(move |n| {
        for b in body.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = b'a' + (state % 26) as u8;
        }
        let text = std::str::from_utf8(&body)
            .expect("ascii letters")
            .to_string();
        (
            format!("user{}", n % owners.max(1)),
            format!("note {n}"),
            text,
        )
    })
}

/// All notes, or those of `owner`, sorted by id, from any schema.
pub fn list(db: &mut Db, owner: Option<&str>) -> Result<Vec<Note>> {
    let Some(schema) = version(db)? else {
        return Ok(vec![]);
    };
    match db {
        Db::Sqlite(c) => lite::list(c, schema, owner),
        Db::Postgres(c) => pg::list(c, schema, owner),
    }
}

/// Writes every note as canonical JSON: an array sorted by id, one note per
/// line with keys in a fixed order, the same whatever the schema and the
/// database, streamed so a large database is not held in memory. For
/// comparing an installation before and after an upgrade or a rollback.
pub fn export_to(db: &mut Db, out: &mut impl std::io::Write) -> Result<()> {
    let io = |e: std::io::Error| Error::new(format!("export: {e}"));
    out.write_all(b"[").map_err(io)?;
    let mut n = 0usize;
    let mut line = |note: Note| -> Result<()> {
        let text = serde_json::to_string(&note).expect("notes serialize");
        write!(out, "{}\n{text}", if n == 0 { "" } else { "," }).map_err(io)?;
        n += 1;
        Ok(())
    };
    if let Some(schema) = version(db)? {
        match db {
            Db::Sqlite(c) => lite::each(c, schema, &mut line)?,
            Db::Postgres(c) => pg::each(c, schema, &mut line)?,
        }
    }
    out.write_all(b"\n]\n").map_err(io)?;
    out.flush().map_err(io)
}

/// [`export_to`] into a string.
pub fn export(db: &mut Db) -> Result<String> {
    let mut out = Vec::new();
    export_to(db, &mut out)?;
    Ok(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// The tables as SQLite keeps them.
mod lite {
    use super::*;

    pub(super) fn version(conn: &Connection) -> Result<Option<u32>> {
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
        parse_version(v)
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
    pub(super) fn create(conn: &mut Connection, schema: u32) -> Result<()> {
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

    pub(super) fn add_titles(conn: &mut Connection) -> Result<()> {
        let tx = conn.transaction()?;
        tx.execute_batch("ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT '';")?;
        set_version(&tx, 2)?;
        tx.commit()?;
        Ok(())
    }

    pub(super) fn migrate_v3(conn: &mut Connection) -> Result<bool> {
        if !migrate_from(version(conn)?)? {
            return Ok(false);
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

    pub(super) fn insert(conn: &Connection, owner: &str, title: &str, body: &str) -> Result<Note> {
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

    pub(super) fn seed(
        conn: &mut Connection,
        count: u64,
        body_bytes: usize,
        owners: u64,
    ) -> Result<u64> {
        let tx = conn.transaction()?;
        for (owner, title, body) in seeded(list_count(&tx)?, count, body_bytes, owners) {
            insert(&tx, &owner, &title, &body)?;
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

    pub(super) fn list(conn: &Connection, schema: u32, owner: Option<&str>) -> Result<Vec<Note>> {
        let mut stmt = conn.prepare(list_sql(schema))?;
        let rows = stmt.query_map(params![owner], row_note)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn each(
        conn: &Connection,
        schema: u32,
        f: &mut dyn FnMut(Note) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = conn.prepare(list_sql(schema))?;
        for note in stmt.query_map(params![None::<String>], row_note)? {
            f(note?)?;
        }
        Ok(())
    }
}

fn parse_version(v: Option<String>) -> Result<Option<u32>> {
    v.map(|v| {
        v.parse()
            .map_err(|_| Error::new(format!("bad schema_version `{v}` in meta")))
    })
    .transpose()
}

/// The same tables in PostgreSQL (in the role's default schema).
mod pg {
    use super::*;
    use postgres::fallible_iterator::FallibleIterator;
    use postgres::{Client, GenericClient};

    pub(super) fn version(c: &mut impl GenericClient) -> Result<Option<u32>> {
        let has_meta: bool = c
            .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])?
            .get(0);
        if !has_meta {
            return Ok(None);
        }
        let v: Option<String> = c
            .query_opt("SELECT value FROM meta WHERE key = 'schema_version'", &[])?
            .map(|r| r.get(0));
        parse_version(v)
    }

    fn set_version(c: &mut impl GenericClient, v: u32) -> Result<()> {
        c.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&v.to_string()],
        )?;
        Ok(())
    }

    const SCHEMA_3: &str = "
        CREATE TABLE users (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                            name TEXT NOT NULL UNIQUE);
        CREATE TABLE entries (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                              user_id BIGINT NOT NULL REFERENCES users(id),
                              title TEXT NOT NULL, body TEXT NOT NULL);";

    pub(super) fn create(c: &mut Client, schema: u32) -> Result<()> {
        let mut tx = c.transaction()?;
        tx.batch_execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")?;
        tx.batch_execute(match schema {
            1 => {
                "CREATE TABLE notes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                                      owner TEXT NOT NULL, body TEXT NOT NULL);"
            }
            2 => {
                "CREATE TABLE notes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                                      owner TEXT NOT NULL, body TEXT NOT NULL,
                                      title TEXT NOT NULL DEFAULT '');"
            }
            _ => SCHEMA_3,
        })?;
        set_version(&mut tx, schema)?;
        tx.commit()?;
        Ok(())
    }

    pub(super) fn add_titles(c: &mut Client) -> Result<()> {
        let mut tx = c.transaction()?;
        tx.batch_execute("ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT '';")?;
        set_version(&mut tx, 2)?;
        tx.commit()?;
        Ok(())
    }

    /// As in SQLite, plus: the old table is locked first, so no note is
    /// written between the copy and the drop, and the identity of
    /// `entries` continues after the highest id copied.
    pub(super) fn migrate_v3(c: &mut Client) -> Result<bool> {
        let mut tx = c.transaction()?;
        if !migrate_from(version(&mut tx)?)? {
            return Ok(false);
        }
        tx.batch_execute(
            "LOCK TABLE notes IN ACCESS EXCLUSIVE MODE;
             LOCK TABLE meta IN SHARE ROW EXCLUSIVE MODE;",
        )?;
        // Schema 2 again under the lock: another migration may have won.
        if !migrate_from(version(&mut tx)?)? {
            return Ok(false);
        }
        tx.batch_execute(SCHEMA_3)?;
        tx.batch_execute(
            "INSERT INTO users(name) SELECT DISTINCT owner FROM notes ORDER BY owner;
             INSERT INTO entries(id, user_id, title, body)
               SELECT n.id, u.id, n.title, n.body FROM notes n JOIN users u ON u.name = n.owner ORDER BY n.id;
             SELECT setval(pg_get_serial_sequence('entries', 'id'), coalesce(max(id), 0) + 1, false) FROM entries;
             DROP TABLE notes;",
        )?;
        set_version(&mut tx, 3)?;
        tx.commit()?;
        Ok(true)
    }

    pub(super) fn insert(
        c: &mut impl GenericClient,
        owner: &str,
        title: &str,
        body: &str,
    ) -> Result<Note> {
        let schema = version(c)?.unwrap_or(0);
        let title = if schema == 1 { "" } else { title };
        let row = match schema {
            1 => c.query_one(
                "INSERT INTO notes(owner, body) VALUES ($1, $2) RETURNING id",
                &[&owner, &body],
            )?,
            2 => c.query_one(
                "INSERT INTO notes(owner, title, body) VALUES ($1, $2, $3) RETURNING id",
                &[&owner, &title, &body],
            )?,
            _ => {
                c.execute(
                    "INSERT INTO users(name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                    &[&owner],
                )?;
                c.query_one(
                    "INSERT INTO entries(user_id, title, body)
                     SELECT id, $2, $3 FROM users WHERE name = $1 RETURNING id",
                    &[&owner, &title, &body],
                )?
            }
        };
        Ok(Note {
            id: row.get(0),
            owner: owner.into(),
            title: title.into(),
            body: body.into(),
        })
    }

    pub(super) fn seed(c: &mut Client, count: u64, body_bytes: usize, owners: u64) -> Result<u64> {
        let mut tx = c.transaction()?;
        let existing = list_count(&mut tx)?;
        for (owner, title, body) in seeded(existing, count, body_bytes, owners) {
            insert(&mut tx, &owner, &title, &body)?;
        }
        let total = list_count(&mut tx)?;
        tx.commit()?;
        Ok(total)
    }

    fn list_count(c: &mut impl GenericClient) -> Result<u64> {
        let table = if version(c)? == Some(3) {
            "entries"
        } else {
            "notes"
        };
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .get(0);
        Ok(n as u64)
    }

    /// The query listing notes (all when `$1` is NULL) in `schema`, by id.
    fn list_sql(schema: u32) -> &'static str {
        match schema {
            1 => "SELECT id, owner, ''::text, body FROM notes
                  WHERE $1::text IS NULL OR owner = $1::text ORDER BY id",
            2 => "SELECT id, owner, title, body FROM notes
                  WHERE $1::text IS NULL OR owner = $1::text ORDER BY id",
            _ => {
                "SELECT e.id, u.name, e.title, e.body FROM entries e JOIN users u ON u.id = e.user_id
                 WHERE $1::text IS NULL OR u.name = $1::text ORDER BY e.id"
            }
        }
    }

    fn row_note(r: &postgres::Row) -> Note {
        Note {
            id: r.get(0),
            owner: r.get(1),
            title: r.get(2),
            body: r.get(3),
        }
    }

    pub(super) fn list(c: &mut Client, schema: u32, owner: Option<&str>) -> Result<Vec<Note>> {
        Ok(c.query(list_sql(schema), &[&owner])?
            .iter()
            .map(row_note)
            .collect())
    }

    /// Streams the rows (the client reads them as they arrive), in one
    /// read-only transaction so the export is one consistent view.
    pub(super) fn each(
        c: &mut Client,
        schema: u32,
        f: &mut dyn FnMut(Note) -> Result<()>,
    ) -> Result<()> {
        let mut tx = c
            .build_transaction()
            .read_only(true)
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()?;
        {
            let mut rows = tx.query_raw(list_sql(schema), [None::<&str>])?;
            while let Some(row) = rows.next()? {
                f(row_note(&row))?;
            }
        }
        tx.commit()?;
        Ok(())
    }
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
        walk(open(&Storage::Sqlite(d.path().join("n.db"))).unwrap());
    }

    /// The same walk on PostgreSQL gives the very same exports.
    #[test]
    fn walks_1_to_3_keeping_every_note_in_postgres() {
        let server = upshift_testkit::Postgres::start();
        server.psql("postgres", "CREATE DATABASE notes");
        let pg = PgStorage {
            host: "127.0.0.1".into(),
            port: server.port,
            user: "postgres".into(),
            database: "notes".into(),
            password: None,
            password_file: None,
        };
        walk(open(&Storage::Postgres(pg)).unwrap());
        let tables = server.psql(
            "notes",
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
        );
        assert_eq!(tables.trim(), "entries,meta,users");
    }

    fn walk(mut c: Db) {
        assert_eq!(prepare(&mut c, rel("1.0.0")).unwrap(), 1);
        insert(&mut c, "bob", "ignored", "b1").unwrap();
        insert(&mut c, "alice", "", "a1").unwrap();
        let before = export(&mut c).unwrap();
        assert!(!before.contains("ignored"));
        assert_eq!(
            before,
            "[\n{\"id\":1,\"owner\":\"bob\",\"title\":\"\",\"body\":\"b1\"},\n\
             {\"id\":2,\"owner\":\"alice\",\"title\":\"\",\"body\":\"a1\"}\n]\n"
        );

        let e = prepare(&mut c, rel("3.0.0")).unwrap_err();
        assert!(e.message.contains("upgrade to 1.1.0 first"), "{e}");
        assert_eq!(prepare(&mut c, rel("1.1.0")).unwrap(), 2);
        assert_eq!(export(&mut c).unwrap(), before);
        insert(&mut c, "alice", "t", "a2").unwrap();
        let at2 = export(&mut c).unwrap();

        let e = prepare(&mut c, rel("3.0.0")).unwrap_err();
        assert!(
            e.message.contains("run the notes-schema-v3 migration"),
            "{e}"
        );
        assert!(migrate_v3(&mut c).unwrap());
        assert!(!migrate_v3(&mut c).unwrap());
        assert_eq!(export(&mut c).unwrap(), at2);
        assert_eq!(prepare(&mut c, rel("3.0.0")).unwrap(), 3);
        assert_eq!(insert(&mut c, "carol", "t", "c1").unwrap().id, 4);
        assert_eq!(list(&mut c, Some("alice")).unwrap().len(), 2);

        assert_eq!(seed(&mut c, 10, 100, 3).unwrap(), 14);
        let seeded = list(&mut c, Some("user2")).unwrap();
        assert_eq!((seeded.len(), seeded[0].body.len()), (3, 100));

        let e = prepare(&mut c, rel("2.1.0")).unwrap_err();
        assert!(
            e.message
                .contains("schema version 3 is newer than this release (2.1.0) understands"),
            "{e}"
        );
    }
}
