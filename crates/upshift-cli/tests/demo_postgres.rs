//! `upshift demo --store postgres`: the demo's notes in a PostgreSQL
//! cluster of its own. The real demo command upgrades 1.0.0 → 3.0.0 with
//! the notes in PostgreSQL; a client writing notes through the HTTP API
//! during a whole run finds every acknowledged note in PostgreSQL after
//! 3.0.0 is healthy; and after a failure past the point of no return (the
//! 3.0.0 migration refusing a schema-1 database), every note acknowledged
//! before the stop is back in PostgreSQL, restored from the snapshot.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::demo::Demo;
use common::writer::Writer;

/// The port of the manifest's `[stores.notes]` (the demo's cluster).
fn pg_port(demo: &Demo) -> u16 {
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

/// Runs SQL as the notes role over TCP with its password; unaligned tuples.
fn psql(demo: &Demo, sql: &str) -> String {
    let password = std::fs::read_to_string(demo.path("secrets/notes-db.password")).unwrap();
    let out = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", "notes", "-d", "notes", "-p"])
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

fn rows(demo: &Demo, sql: &str) -> Vec<String> {
    psql(demo, sql).lines().map(str::to_string).collect()
}

fn schema_version(demo: &Demo) -> String {
    psql(demo, "SELECT value FROM meta WHERE key = 'schema_version'")
        .trim()
        .to_string()
}

/// Asserts every note in `acked` has its body in PostgreSQL's `table`.
fn all_present(demo: &Demo, acked: &[String], table: &str) {
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

/// The real `upshift demo --store postgres`, upgrade included: 3.0.0's
/// tables in PostgreSQL hold the three notes the demo wrote at 1.0.0.
#[test]
fn the_demo_upgrades_notes_kept_in_postgres() {
    let (run, demo) = Demo::run_demo(&["--store", "postgres"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("all 3 notes are there") && run.stdout.contains("pg_ctl -D"),
        "{}",
        run.stdout
    );
    assert_eq!(demo.version(), "3.0.0");
    demo.assert_healthy();
    assert_eq!(schema_version(&demo), "3");
    assert_eq!(
        psql(&demo, "SELECT to_regclass('notes') IS NULL").trim(),
        "t",
        "3.0.0's migration drops the notes table"
    );
    assert_eq!(
        rows(
            &demo,
            "SELECT u.name || ':' || e.body FROM entries e JOIN users u ON u.id = e.user_id ORDER BY e.id"
        ),
        [
            "demo:milk, eggs, coffee",
            "demo:read the release notes first",
            "demo:a tool that upgrades servers safely"
        ]
    );
    let notes = std::fs::read_to_string(demo.path("config/notes.toml")).unwrap();
    assert!(
        notes.contains("[server]") && notes.contains("kind = \"postgres\""),
        "{notes}"
    );
    // No note is kept in SQLite on the side.
    assert!(!demo.path("data/notes.db").exists());
}

/// A client writes a note every few milliseconds through the whole run:
/// every note the service acknowledged is in PostgreSQL once 3.0.0 is healthy.
#[test]
fn an_upgrade_under_a_writing_client_keeps_every_note_in_postgres() {
    let demo = Demo::try_new_with(&["--store", "postgres"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema_version(&demo), "1");
    let writer = Writer::start(&demo, "pg".into());
    writer.wait_for_more(3);
    let run = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    writer.wait_for_more(3);
    let acked = writer.finish();
    assert_eq!(demo.version(), "3.0.0");
    demo.assert_healthy();
    assert_eq!(schema_version(&demo), "3");
    all_present(&demo, &acked, "entries");
    // The demo's own export agrees with PostgreSQL.
    let exported: HashSet<String> = common::writer::titles(&demo).into_iter().collect();
    assert!(acked.iter().all(|t| exported.contains(t)));
}

/// A catalog in which 3.0.0 accepts 1.0.0: the migration refuses the
/// schema-1 database after the point of no return, and upshift restores
/// the snapshot taken after the stop into PostgreSQL (pg_restore): every
/// note acknowledged before the stop, and after 1.0.0 serves again, is there.
#[test]
fn a_failure_past_the_point_of_no_return_keeps_every_note_in_postgres() {
    let demo = Demo::try_new_with(&["--store", "postgres"]).unwrap_or_else(|e| panic!("{e}"));
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace(
            "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
            "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
        );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let writer = Writer::start(&demo, "pg".into());
    writer.wait_for_more(3);
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("failed at step migrate.notes-schema-v3")
            && run.stderr.contains("restoring the snapshot")
            && run.stderr.contains("1.0.0 is serving again"),
        "{}",
        run.stderr
    );
    writer.wait_for_more(3);
    let acked = writer.finish();
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(schema_version(&demo), "1");
    all_present(&demo, &acked, "notes");
}
