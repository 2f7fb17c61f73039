//! `kind = "postgres"`: `pg_dump -Fc` streamed straight into the repository;
//! row counts of every table recorded, taken in the very snapshot the dump
//! reads ([`pg_session`](super::pg_session)); verify restores into a temporary
//! database with `pg_restore` and compares; restore uses `pg_restore --clean`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use upshift_core::manifest::{Store, StoreKind};

use super::pg_session::Session;
use super::{Part, Planned, Planning, StoreSource, Stored, Tools};
use crate::command::Cmd;
use crate::error::{BackupError, Result};
use crate::meta::{RowCounts, StoreMeta};
use crate::secret;
use crate::tempdb::{TempDbs, PREFIX};
use crate::verify::{judge_test_restore, StoreCheck};

/// `kind = "postgres"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn required_tools(&self) -> Tools {
        &[&["pg_dump"], &["pg_restore"]]
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store, p.base_dir, p.frozen)
    }

    fn size(&self, name: &str, store: &Store, base_dir: &Path) -> Result<Option<u64>> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let out = pg.psql(&pg.database, "SELECT pg_database_size(current_database())")?;
        Ok(out.trim().parse().ok())
    }

    /// The dump reads every table: the role needs SELECT on each; the test
    /// restore creates a database: the role needs CREATEDB (or superuser),
    /// <https://www.postgresql.org/docs/current/sql-createdatabase.html>.
    fn privileges(&self, name: &str, store: &Store, base_dir: &Path) -> Result<()> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let refused = |message: String, fix: String| BackupError::Privilege {
            store: name.to_string(),
            message,
            fix,
        };
        let out = pg.psql(&pg.database, UNREADABLE_SQL)?;
        if let [user, tables, fix] = out.trim().split('\t').collect::<Vec<_>>()[..] {
            return Err(refused(
                format!("role `{user}` may not read tables {tables}, which the backup dumps"),
                fix.to_string(),
            ));
        }
        let out = pg.psql(&pg.database, CREATEDB_SQL)?;
        match out.trim().split('\t').collect::<Vec<_>>()[..] {
            [user, fix, "f"] => Err(refused(
                format!("role `{user}` may not create databases, which the test restore of every backup needs (into a temporary database, dropped after)"),
                fix.to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// Restores into a temporary database, dropped afterwards; first drops
    /// those that killed runs of this installation left behind.
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Postgres { dump, tables } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let pg = Pg::from_store(s.name, s.store()?, s.base_dir)?;
        let dbs = TempDbs::new(s.installation);
        let swept = dbs.sweep(pg.temp_dbs(), |db| pg.drop_stale_db(db));
        let temp = dbs.fresh_name();
        pg.create_db(&temp)?;
        let restored = pg
            .restore_cmd(&temp, false)
            .run_with_stdin(|w| s.dump(dump, w))
            .and_then(|_| pg.row_counts(&temp));
        let dropped = pg.drop_db(&temp);
        let how = "restored into a temporary database";
        Ok(swept.noted(judge_test_restore(restored, dropped, tables, how)?))
    }

    /// Empties the database (objects created since included), then restores.
    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Postgres { dump, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let pg = Pg::from_store(s.name, s.store()?, s.base_dir)?;
        pg.empty_db(&pg.database)?;
        pg.restore_cmd(&pg.database, false)
            .run_with_stdin(|w| s.dump(dump, w))?;
        Ok(format!(
            "database {} emptied and restored with pg_restore",
            pg.database
        ))
    }

    fn in_server(&self) -> Option<&dyn super::InServer> {
        Some(self)
    }
}

/// Connection settings for one PostgreSQL store.
#[derive(Clone)]
pub(super) struct Pg {
    store: String,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    pub(super) database: String,
    password: Option<String>,
}

/// Exact row counts of every base table, in one query.
const COUNT_SQL: &str = "SELECT table_schema || '.' || table_name, \
 (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text \
 FROM information_schema.tables WHERE table_type = 'BASE TABLE' \
 AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

/// The current role, the statement that lets it create databases (the
/// name quoted by the server), and whether it may already.
const CREATEDB_SQL: &str = "SELECT current_user, format('ALTER ROLE %I CREATEDB;', current_user), \
 (rolcreatedb OR rolsuper) FROM pg_roles WHERE rolname = current_user";

/// The tables the current role may not read, and the grants that let it
/// (one per schema); no row when it may read them all.
const UNREADABLE_SQL: &str = "SELECT current_user, string_agg(format('%I.%I', schemaname, tablename), ', '), \
 string_agg(DISTINCT format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I;', schemaname, current_user), ' ') \
 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
 AND NOT has_table_privilege(format('%I.%I', schemaname, tablename), 'SELECT') HAVING count(*) > 0";

/// Empties a database: every non-system schema dropped, `public` recreated
/// as `initdb` makes it on PostgreSQL 15+ (`pg_database_owner`, usage for all).
const EMPTY_SQL: &str = "DO $$ DECLARE s text; BEGIN \
 FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' \
 LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $$; \
 CREATE SCHEMA public AUTHORIZATION pg_database_owner; \
 COMMENT ON SCHEMA public IS 'standard public schema'; GRANT USAGE ON SCHEMA public TO PUBLIC";

impl Pg {
    pub(super) fn from_store(name: &str, store: &Store, base_dir: &Path) -> Result<Pg> {
        let database = store
            .database
            .clone()
            .ok_or_else(|| BackupError::bad_store(name, "a postgres store needs `database`"))?;
        let password = store
            .password
            .as_ref()
            .map(|p| secret::resolve(name, "password", p, base_dir))
            .transpose()?;
        Ok(Pg {
            store: name.to_string(),
            host: store.host.clone(),
            port: store.port,
            user: store.user.clone(),
            database,
            password,
        })
    }

    /// A client tool with connection options, against database `db`.
    fn tool(&self, program: &str, db: &str) -> Cmd {
        let mut c = Cmd::new(&self.store, program);
        if let Some(h) = &self.host {
            c = c.arg("-h").arg(h);
        }
        if let Some(p) = self.port {
            c = c.arg("-p").arg(p.to_string());
        }
        if let Some(u) = &self.user {
            c = c.arg("-U").arg(u);
        }
        if let Some(pw) = &self.password {
            c = c.env("PGPASSWORD", pw);
        }
        c.arg("-d").arg(db).env("PGCONNECT_TIMEOUT", "10")
    }

    /// `psql` on `db`: unaligned tab-separated tuples, stopping at the first error.
    fn psql_cmd(&self, db: &str) -> Cmd {
        self.tool("psql", db)
            .args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"])
    }

    pub(super) fn psql(&self, db: &str, sql: &str) -> Result<String> {
        self.psql_cmd(db).arg("-c").arg(sql).output()
    }

    /// Exact row counts of database `db`.
    pub(super) fn row_counts(&self, db: &str) -> Result<RowCounts> {
        Ok(parse_counts(self.psql(db, COUNT_SQL)?.lines()))
    }

    /// A transaction on the store's database whose snapshot is exported,
    /// and the row counts seen in it.
    fn snapshot_session(&self) -> Result<(Session, RowCounts)> {
        let (session, lines) = Session::open(&self.psql_cmd(&self.database), COUNT_SQL)?;
        Ok((session, parse_counts(lines.iter().map(String::as_str))))
    }

    /// `pg_dump -Fc` of the store's database, to stdout. Compressed (zlib):
    /// `-Z0` was measured and rejected — scattered row updates move rows
    /// (MVCC), so every chunk of the dump changes and nothing deduplicates
    /// either way, and the archiver then had 36× more bytes to chunk, hash
    /// and compress (pgbench -s 70: 719 MB vs 20 MB).
    fn dump_cmd(&self) -> Cmd {
        self.tool("pg_dump", &self.database.clone())
            .args(["-Fc", "--no-password"])
    }

    /// `pg_restore` reading a custom-format dump from stdin into `db`.
    fn restore_cmd(&self, db: &str, clean: bool) -> Cmd {
        let c = self.tool("pg_restore", db).args([
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
        ]);
        if clean {
            c.args(["--clean", "--if-exists"])
        } else {
            c
        }
    }

    /// Drops every user schema of `db` (objects created after the snapshot
    /// included) and recreates an empty `public`, before a restore.
    fn empty_db(&self, db: &str) -> Result<()> {
        self.psql(db, EMPTY_SQL).map(drop)
    }

    pub(super) fn create_db(&self, db: &str) -> Result<()> {
        self.psql(&self.database, &format!("CREATE DATABASE \"{db}\""))
            .map(drop)
    }

    pub(super) fn drop_db(&self, db: &str) -> Result<()> {
        self.psql(&self.database, &format!("DROP DATABASE IF EXISTS \"{db}\""))
            .map(drop)
    }

    /// Every database whose name has the temporary databases' prefix.
    fn temp_dbs(&self) -> Result<Vec<String>> {
        let like = PREFIX.replace('_', "\\_");
        let sql = format!("SELECT datname FROM pg_database WHERE datname LIKE '{like}%'");
        let out = self.psql(&self.database, &sql)?;
        Ok(out
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Drops a temporary database of a dead run, ending the sessions its
    /// orphaned `pg_restore` may still hold (they would block the drop).
    fn drop_stale_db(&self, db: &str) -> Result<()> {
        let end = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        );
        self.psql(&self.database, &end)?;
        self.drop_db(db)
    }
}

/// `schema.table<TAB>count` lines as row counts.
fn parse_counts<'a>(lines: impl Iterator<Item = &'a str>) -> RowCounts {
    let mut counts = RowCounts::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (table, n) = line.split_once('\t').unwrap_or((line, "0"));
        counts.insert(table.to_string(), n.trim().parse().unwrap_or(0));
    }
    counts
}

/// The snapshot path of a store's dump.
fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("dump.pgcustom")
}

/// Opens a transaction, counts rows in its snapshot (this also proves the
/// server is reachable) and plans the dump of that same snapshot. The
/// transaction stays open as long as the dump command exists, so that
/// `pg_dump` can import the snapshot whenever the archiver starts it.
/// With `frozen`, of that copy of the database instead.
fn plan(name: &str, store: &Store, base_dir: &Path, frozen: Option<&str>) -> Result<Planned> {
    let mut pg = Pg::from_store(name, store, base_dir)?;
    if let Some(db) = frozen {
        pg.database = db.to_string();
    }
    let (session, tables) = pg.snapshot_session()?;
    let dest = dump_path(name);
    let meta = StoreMeta::Postgres {
        dump: dest.display().to_string(),
        tables,
    };
    let cmd = pg
        .dump_cmd()
        .arg(format!("--snapshot={}", session.snapshot))
        .holding(Arc::new(session));
    Ok((vec![Part::Stream { dest, cmd }], meta))
}

/// A database of its own, `database`, for a copy of store `name` (a
/// rehearsal's staging copy): created empty on the store's server, through
/// the store's own database; one of that name left by an earlier copy is
/// dropped first. The role needs CREATEDB, as a verify does.
pub fn create_copy_database(
    name: &str,
    store: &Store,
    base_dir: &Path,
    database: &str,
) -> Result<()> {
    let pg = Pg::from_store(name, store, base_dir)?;
    pg.drop_db(database)?;
    pg.create_db(database)
}

/// Drops the copy's database (the `database` of `store`, a copy's store),
/// connected through the server's `postgres` maintenance database, every
/// session of it ended first (https://www.postgresql.org/docs/current/sql-dropdatabase.html).
pub fn drop_copy_database(name: &str, store: &Store, base_dir: &Path) -> Result<()> {
    let pg = Pg::from_store(name, store, base_dir)?;
    let sql = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        pg.database.replace('"', "\"\"")
    );
    pg.psql("postgres", &sql).map(drop)
}
