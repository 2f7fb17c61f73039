//! The maintenance window of an installation whose notes are in
//! PostgreSQL (`upshift demo --store postgres`): the rollback point is a
//! copy of the database frozen inside the server, the durable snapshot is
//! written from it after the window. With a client writing until the
//! stop: the upgrade keeps every acknowledged note, and the durable
//! snapshot (brought back by `upshift rollback`) holds every note
//! acknowledged before the stop; a kill -9 right after the copy is made,
//! or right after maintenance off, is finished by `resume` or undone by
//! `rollback`; no frozen database is left in the server afterwards.

mod common;

use common::demo::Demo;
use common::pg::{all_present, frozen_databases, schema_version};
use common::writer::Writer;

/// The demo at 1.0.0 with its notes in PostgreSQL and a client writing.
fn writing_demo() -> (Demo, Writer) {
    let demo = Demo::try_new_with(&["--store", "postgres"]).unwrap_or_else(|e| panic!("{e}"));
    let writer = Writer::start(&demo, "w".into());
    writer.wait_for_more(3);
    (demo, writer)
}

/// The newest run's id and when its first stop began (ms since the epoch).
fn first_stop(demo: &Demo) -> (String, i64) {
    let db = rusqlite::Connection::open(demo.path(".upshift/journal.db")).unwrap();
    let run: String = db
        .query_row(
            "SELECT id FROM runs ORDER BY started_ms DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let at: i64 = db
        .query_row(
            "SELECT min(at_ms) FROM steps WHERE run_id = ?1 AND step LIKE 'stop.%' AND state = 'started'",
            [&run],
            |r| r.get(0),
        )
        .unwrap();
    (run, at)
}

/// The steps run `run` journaled done, in order.
fn done_steps(demo: &Demo, run: &str) -> Vec<String> {
    demo.events(run)
        .into_iter()
        .filter(|e| e.state == "done")
        .map(|e| e.step)
        .collect()
}

/// `upshift rollback` back to 1.0.0: every note acknowledged before the
/// upgrade's stop is in 1.0.0's table, and no frozen copy is left.
fn rollback_keeps(demo: &Demo, before_stop: &[String]) {
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(schema_version(demo), "1");
    all_present(demo, before_stop, "notes");
    assert_eq!(frozen_databases(demo), Vec::<String>::new());
}

/// Under writes the hop freezes its rollback point in the server (no
/// final dump in the window), writes the durable snapshot after
/// `maintenance.off`, drops the copy; the durable snapshot holds every
/// note acknowledged before the stop.
#[test]
fn the_rollback_point_is_frozen_in_the_server_and_made_durable_after_the_window() {
    let (demo, writer) = writing_demo();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    writer.wait_for_more(3);
    let (id, stop) = first_stop(&demo);
    let (before_stop, all) = writer.finish_split(stop);
    assert!(!before_stop.is_empty());
    assert_eq!(demo.version(), "1.1.0");
    all_present(&demo, &all, "notes");
    let steps = done_steps(&demo, &id);
    let at = |s: &str| steps.iter().position(|x| x == s);
    assert!(at("backup.final").is_none(), "{steps:?}");
    assert!(
        at("backup.rollback_point") < at("swap.version")
            && at("maintenance.off") < at("backup.durable"),
        "{steps:?}"
    );
    assert!(
        run.stderr.contains("cloned into upshift_frozen_"),
        "{}",
        run.stderr
    );
    assert_eq!(frozen_databases(&demo), Vec::<String>::new());
    // The durable snapshot is the rollback's data.
    rollback_keeps(&demo, &before_stop);
}

/// A kill -9 right after step `point`: `resume` finishes the upgrade
/// (the durable snapshot from the copy the dead run froze), and
/// `rollback` then brings back every note acknowledged before the stop.
fn killed_after_then_resumed(point: &str) {
    let (demo, writer) = writing_demo();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", &format!("1:{point}"))],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1, "{}", crashed.stderr);
    assert_eq!(
        frozen_databases(&demo).len(),
        1,
        "the copy is kept for resume"
    );
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    writer.wait_for_more(3);
    let (_, stop) = first_stop(&demo);
    let (before_stop, all) = writer.finish_split(stop);
    all_present(&demo, &all, "notes");
    assert_eq!(frozen_databases(&demo), Vec::<String>::new());
    rollback_keeps(&demo, &before_stop);
}

#[test]
fn killed_right_after_the_copy_is_made_resume_finishes_and_rollback_returns_the_data() {
    killed_after_then_resumed("backup.rollback_point");
}

#[test]
fn killed_right_after_maintenance_off_resume_finishes_and_rollback_returns_the_data() {
    killed_after_then_resumed("maintenance.off");
}

/// A kill -9 right after `maintenance.off`, before the durable snapshot:
/// `upshift rollback` puts the database back from the copy frozen in the
/// server, and drops it.
#[test]
fn killed_before_the_durable_snapshot_rollback_puts_the_frozen_copy_back() {
    let (demo, writer) = writing_demo();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:maintenance.off")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1, "{}", crashed.stderr);
    let (_, stop) = first_stop(&demo);
    let (before_stop, _) = writer.finish_split(stop);
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(
        back.stderr.contains("back from its frozen copy"),
        "{}",
        back.stderr
    );
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    all_present(&demo, &before_stop, "notes");
    assert_eq!(frozen_databases(&demo), Vec::<String>::new());
}
