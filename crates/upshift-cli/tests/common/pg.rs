//! The demo's notes in its own PostgreSQL cluster (`upshift demo --store
//! postgres`): SQL as the notes role, and the databases upshift froze.

use std::collections::HashSet;
use std::process::Command;

use super::demo::Demo;

/// The port of the manifest's `[stores.notes]` (the demo's cluster).
pub fn pg_port(demo: &Demo) -> u16 {
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let store = m.split("[stores.notes]").nth(1).expect("a notes store");
    assert!(
        store.contains("kind = \"postgres\""),
        "the notes store is not PostgreSQL: {store}"
    );
    store
        .lines()
        .find_map(|l| l.trim().strip_prefix("port = "))
        .expect("a port")
        .trim()
        .parse()
        .unwrap()
}

/// Runs SQL as the notes role over TCP with its password, on database
/// `db`; unaligned tuples.
pub fn psql_on(demo: &Demo, db: &str, sql: &str) -> String {
    let password = std::fs::read_to_string(demo.path("secrets/notes-db.password")).unwrap();
    let out = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", "notes", "-d", db, "-p"])
        .arg(pg_port(demo).to_string())
        .args(["-c", sql])
        .env("PGPASSWORD", password.trim())
        .output()
        .expect("psql runs (scripts/install-test-deps.sh installs PostgreSQL)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs SQL on the notes database.
pub fn psql(demo: &Demo, sql: &str) -> String {
    psql_on(demo, "notes", sql)
}

pub fn rows(demo: &Demo, sql: &str) -> Vec<String> {
    psql(demo, sql).lines().map(str::to_string).collect()
}

pub fn schema_version(demo: &Demo) -> String {
    psql(demo, "SELECT value FROM meta WHERE key = 'schema_version'")
        .trim()
        .to_string()
}

/// Asserts every note in `acked` has its body in PostgreSQL's `table`.
pub fn all_present(demo: &Demo, acked: &[String], table: &str) {
    let present: HashSet<String> = rows(demo, &format!("SELECT body FROM {table}"))
        .into_iter()
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|t| !present.contains(*t)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged notes are not in PostgreSQL's {table}: {lost:?}",
        lost.len(),
        acked.len()
    );
}

/// The databases upshift froze as rollback points that the server still has.
pub fn frozen_databases(demo: &Demo) -> Vec<String> {
    psql_on(
        demo,
        "postgres",
        "SELECT datname FROM pg_database WHERE datname LIKE 'upshift\\_frozen\\_%'",
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(str::to_string)
    .collect()
}
