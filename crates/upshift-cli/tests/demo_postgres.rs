//! `upshift demo --store postgres`: the demo's notes in a PostgreSQL
//! cluster of its own. The real demo command upgrades 1.0.0 → 3.0.0 with
//! the notes in PostgreSQL; a client writing notes through the HTTP API
//! during a whole run finds every acknowledged note in PostgreSQL after
//! 3.0.0 is healthy; and after a failure past the point of no return (the
//! 3.0.0 migration refusing a schema-1 database), every note acknowledged
//! before the stop is back in PostgreSQL, from the copy frozen in the server.

mod common;

use std::collections::HashSet;

use common::demo::Demo;
use common::pg::{all_present, frozen_databases, psql, rows, schema_version};
use common::writer::Writer;

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
/// schema-1 database after the point of no return, and upshift puts back
/// the copy of the database it froze inside the server after the stop:
/// every note acknowledged before the stop, and after 1.0.0 serves again,
/// is there, and no frozen copy is left.
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
            && run.stderr.contains("putting back the databases frozen")
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
    assert_eq!(frozen_databases(&demo), Vec::<String>::new());
}
