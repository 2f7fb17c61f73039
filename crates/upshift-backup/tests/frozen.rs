//! Rollback points frozen inside a real PostgreSQL server (started by the
//! test harness): a copy made while a stale session sits on the database
//! holds the same rows; putting it back replaces what was written since
//! and keeps the copy; a snapshot written from the copy restores the
//! frozen rows into the store's own database; the sweep drops only this
//! installation's copies; a role that may not copy the database is told
//! why, so the run falls back to the final dump.

mod common;

use std::process::{Command, Stdio};

use common::{manifest, tags};
use upshift_backup::{Freezer, FrozenView, NoProgress, Repository};
use upshift_core::manifest::Manifest;
use upshift_testkit::Postgres;

fn store(port: u16, user: &str) -> Manifest {
    manifest(&format!(
        "[stores.main]\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\ndatabase = \"app\"\n"
    ))
}

fn seed(pg: &Postgres) {
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE TABLE notes(id serial PRIMARY KEY, body text);
         INSERT INTO notes(body) SELECT 'n' || g FROM generate_series(1, 300) g;",
    );
}

fn count(pg: &Postgres, db: &str) -> String {
    pg.psql(db, "SELECT count(*) FROM notes").trim().to_string()
}

fn databases(pg: &Postgres) -> Vec<String> {
    pg.psql("postgres", "SELECT datname FROM pg_database ORDER BY 1")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn freeze_thaw_snapshot_and_sweep() {
    let pg = Postgres::start();
    seed(&pg);
    let m = store(pg.port, "postgres");
    let dir = tempfile::tempdir().unwrap();
    let freezer = Freezer::new(&m, dir.path());
    let names = freezer.names("r1765152502000-abcd", 0);
    assert_eq!(freezer.unable(&names).unwrap(), None);
    let db = &names[0];
    assert!(db.name.len() <= 63, "{}", db.name);
    // A session the stopped product left on the database: ended first.
    let mut stale = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "app",
            "-p",
        ])
        .arg(pg.port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let said = freezer.freeze(db).unwrap();
    assert!(said.contains("300 rows, the same in both"), "{said}");
    assert!(freezer.exists(db).unwrap());
    let _ = stale.kill();
    let _ = stale.wait();
    assert_eq!(count(&pg, &db.name), "300");
    // Freezing again (a resumed run) makes the copy anew.
    freezer.freeze(db).unwrap();

    // Written after the copy: gone once the copy is put back.
    pg.psql("app", "INSERT INTO notes(body) VALUES ('after')");
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let view = FrozenView {
        databases: names.clone(),
        ..Default::default()
    };
    let snap = repo
        .backup_frozen(&m, dir.path(), &tags("1.0.0"), &view, &NoProgress)
        .unwrap();
    freezer.thaw(db).unwrap();
    assert_eq!(count(&pg, "app"), "300");
    assert!(freezer.exists(db).unwrap(), "the copy stays for a rerun");
    freezer.thaw(db).unwrap();
    assert_eq!(count(&pg, "app"), "300");

    // The snapshot of the copy restores into the store's own database.
    pg.psql("app", "INSERT INTO notes(body) VALUES ('later')");
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert_eq!(count(&pg, "app"), "300");

    // The sweep keeps what it is told to, drops the rest of this
    // installation's copies, and never another's.
    let mut other = store(pg.port, "postgres");
    other.installation.name = "other".into();
    let others = Freezer::new(&other, dir.path());
    let theirs = &others.names("r2", 0)[0];
    others.freeze(theirs).unwrap();
    assert_eq!(freezer.sweep(&names).unwrap(), Vec::<String>::new());
    assert_eq!(freezer.sweep(&[]).unwrap(), vec![db.name.clone()]);
    let left = databases(&pg);
    assert!(!left.contains(&db.name), "{left:?}");
    assert!(left.contains(&theirs.name), "{left:?}");
    assert!(!left.iter().any(|d| d.ends_with("_r")), "{left:?}");
}

#[test]
fn a_role_that_may_not_copy_the_database_is_told_why() {
    let pg = Postgres::start();
    seed(&pg);
    pg.psql("postgres", "CREATE ROLE reader LOGIN CREATEDB");
    pg.psql("postgres", "CREATE ROLE plain LOGIN");
    let dir = tempfile::tempdir().unwrap();
    let not_owner = store(pg.port, "reader");
    let f = Freezer::new(&not_owner, dir.path());
    let why = f.unable(&f.names("r", 0)).unwrap().unwrap();
    assert!(why.contains("does not own database app"), "{why}");
    let no_createdb = store(pg.port, "plain");
    let f = Freezer::new(&no_createdb, dir.path());
    let why = f.unable(&f.names("r", 0)).unwrap().unwrap();
    assert!(why.contains("may not create databases"), "{why}");
}
