//! A PostgreSQL database frozen inside its own server: the rollback point
//! taken in the maintenance window. `CREATE DATABASE frozen TEMPLATE db
//! STRATEGY FILE_COPY` copies the database's files inside the server (a
//! checkpoint and a directory copy, no dump and no restore), and the same
//! statement the other way puts it back.
//! <https://www.postgresql.org/docs/current/sql-createdatabase.html>
//!
//! A template must have no other sessions while it is copied: the
//! sessions the stopped product left on it are ended first
//! (`pg_terminate_backend`). Every statement runs from the server's
//! maintenance database (`postgres`, else `template1`), never from the
//! database being copied, dropped or renamed.

use std::path::Path;

use upshift_core::manifest::Store;

use super::postgres::{Pg, Source};
use super::InServer;
use crate::error::{BackupError, Result};

/// The first server version with `STRATEGY FILE_COPY`.
const MIN_VERSION: u32 = 150_000;

/// The server's version, whether the role may create databases, and
/// whether it may use the store's database as a template (owns it).
const ABLE_SQL: &str = "SELECT current_setting('server_version_num'), \
 (r.rolcreatedb OR r.rolsuper), (d.datdba = r.oid OR r.rolsuper), current_user \
 FROM pg_roles r, pg_database d \
 WHERE r.rolname = current_user AND d.datname = current_database()";

impl InServer for Source {
    fn unable(
        &self,
        name: &str,
        store: &Store,
        base_dir: &Path,
        _frozen: &str,
    ) -> Result<Option<String>> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let out = pg.psql(&pg.database, ABLE_SQL)?;
        let fields: Vec<&str> = out.trim().split('\t').collect();
        let [version, createdb, owner, user] = fields[..] else {
            return Ok(Some(format!(
                "cannot read the server's version: `{}`",
                out.trim()
            )));
        };
        let version: u32 = version.parse().unwrap_or(0);
        Ok(if version < MIN_VERSION {
            Some(format!(
                "PostgreSQL {}.{} cannot clone a database by file copy (15 or later can)",
                version / 10_000,
                version % 10_000 / 100
            ))
        } else if createdb != "t" {
            Some(format!(
                "role `{user}` may not create databases (`ALTER ROLE \"{user}\" CREATEDB` lets it)"
            ))
        } else if owner != "t" {
            Some(format!(
                "role `{user}` does not own database {}, so it may not copy it",
                pg.database
            ))
        } else {
            Maintenance::find(&pg).err().map(|e| e.to_string())
        })
    }

    fn freeze(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<String> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let m = Maintenance::find(&pg)?;
        // A clone begun by a run that was killed is made again: the source
        // has not changed since (its services are stopped).
        m.drop_db(frozen)?;
        m.end_sessions(&pg.database)?;
        m.clone_db(&pg.database, frozen)?;
        let (source, copy) = (pg.row_counts(&pg.database)?, pg.row_counts(frozen)?);
        if source != copy {
            let _ = m.drop_db(frozen);
            return Err(BackupError::bad_store(
                name,
                format!("the clone {frozen} of database {} does not hold the same rows: {copy:?} against {source:?}", pg.database),
            ));
        }
        let rows: u64 = source.values().sum();
        Ok(format!(
            "database {} cloned into {frozen} inside its server: {} tables, {rows} rows, the same in both",
            pg.database,
            source.len()
        ))
    }

    /// Copies `frozen` beside the store's database, then replaces the
    /// database with the copy: the database is never left half made, and
    /// `frozen` stays for a rollback that is interrupted and run again.
    fn thaw(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<()> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let m = Maintenance::find(&pg)?;
        let copy = format!("{frozen}_r");
        m.drop_db(&copy)?;
        m.end_sessions(frozen)?;
        m.clone_db(frozen, &copy)?;
        m.drop_db(&pg.database)?;
        m.psql(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(&copy),
            ident(&pg.database)
        ))
        .map(drop)
    }

    fn drop_frozen(&self, name: &str, store: &Store, base_dir: &Path, frozen: &str) -> Result<()> {
        let pg = Pg::from_store(name, store, base_dir)?;
        Maintenance::find(&pg)?.drop_db(frozen)
    }

    fn list(
        &self,
        name: &str,
        store: &Store,
        base_dir: &Path,
        prefix: &str,
    ) -> Result<Vec<String>> {
        let pg = Pg::from_store(name, store, base_dir)?;
        let like = prefix.replace('_', "\\_");
        let sql =
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{like}%' ORDER BY 1");
        Ok(pg
            .psql(&pg.database, &sql)?
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

/// The store's server, reached through its maintenance database.
struct Maintenance<'a> {
    pg: &'a Pg,
    db: &'static str,
}

impl<'a> Maintenance<'a> {
    fn find(pg: &'a Pg) -> Result<Maintenance<'a>> {
        let mut last = None;
        for db in ["postgres", "template1"] {
            match pg.psql(db, "SELECT 1") {
                Ok(_) => return Ok(Maintenance { pg, db }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("two tries"))
    }

    fn psql(&self, sql: &str) -> Result<String> {
        self.pg.psql(self.db, sql)
    }

    /// Ends every other session on `db` (the stopped product's leftovers).
    fn end_sessions(&self, db: &str) -> Result<()> {
        self.psql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = {} AND pid <> pg_backend_pid()",
            literal(db)
        ))
        .map(drop)
    }

    fn clone_db(&self, template: &str, db: &str) -> Result<()> {
        self.psql(&format!(
            "CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
            ident(db),
            ident(template)
        ))
        .map(drop)
    }

    fn drop_db(&self, db: &str) -> Result<()> {
        self.end_sessions(db)?;
        self.psql(&format!("DROP DATABASE IF EXISTS {}", ident(db)))
            .map(drop)
    }
}

/// A quoted identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
