//! The maintenance window of the SQLite demo: the online backup keeps its
//! checked copy, and the rollback point is that copy with the pages that
//! changed since written into it (`backup.rollback_point`), made durable
//! after the window (`backup.durable`). With a client writing until the
//! stop: the upgrade keeps every acknowledged note, the durable snapshot
//! (brought back by `upshift rollback`) holds every note acknowledged
//! before the stop, a failure past the point of no return puts the patched
//! copy back, and a kill -9 right after the rollback point or right after
//! maintenance off is finished by `resume` or undone by `rollback`; the
//! kept copies are gone afterwards.

mod common;

use std::collections::HashSet;

use common::demo::Demo;
use common::writer::{titles, Writer};

fn writing_demo() -> (Demo, Writer) {
    let demo = Demo::new();
    let writer = Writer::start(&demo, "s".into());
    writer.wait_for_more(3);
    (demo, writer)
}

/// The newest run's id and when its first stop began.
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

fn all_present(demo: &Demo, acked: &[String]) {
    let present: HashSet<String> = titles(demo).into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|t| !present.contains(*t)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} notes lost: {lost:?}",
        lost.len(),
        acked.len()
    );
}

/// No kept copy of the database is left beside the journal.
fn no_kept_copies(demo: &Demo) {
    let staged = demo.path(".upshift/staged");
    let left: Vec<_> = walk(&staged)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("frozen-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .flat_map(|e| {
            let p = e.path();
            let mut v = vec![p.clone()];
            if p.is_dir() {
                v.extend(walk(&p));
            }
            v
        })
        .collect()
}

fn rollback_keeps(demo: &Demo, before_stop: &[String]) {
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    all_present(demo, before_stop);
    no_kept_copies(demo);
}

#[test]
fn the_rollback_point_is_the_online_copy_patched_and_made_durable_after_the_window() {
    let (demo, writer) = writing_demo();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    writer.wait_for_more(3);
    let (id, stop) = first_stop(&demo);
    let (before_stop, all) = writer.finish_split(stop);
    assert!(!before_stop.is_empty());
    all_present(&demo, &all);
    let steps: Vec<String> = demo
        .events(&id)
        .into_iter()
        .filter(|e| e.state == "done")
        .map(|e| e.step)
        .collect();
    let at = |s: &str| steps.iter().position(|x| x == s);
    assert!(at("backup.final").is_none(), "{steps:?}");
    assert!(
        at("backup.rollback_point") < at("swap.version")
            && at("maintenance.off") < at("backup.durable"),
        "{steps:?}"
    );
    assert!(
        run.stderr.contains("pages changed since the online copy"),
        "{}",
        run.stderr
    );
    no_kept_copies(&demo);
    rollback_keeps(&demo, &before_stop);
}

#[test]
fn a_failure_past_the_point_of_no_return_puts_the_patched_copy_back() {
    let (demo, writer) = writing_demo();
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace(
            "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
            "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
        );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("failed at step migrate.notes-schema-v3")
            && run.stderr.contains("putting back the databases frozen"),
        "{}",
        run.stderr
    );
    writer.wait_for_more(3);
    let acked = writer.finish();
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    all_present(&demo, &acked);
    no_kept_copies(&demo);
}

fn killed_after_then_resumed(point: &str) {
    let (demo, writer) = writing_demo();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", &format!("1:{point}"))],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1, "{}", crashed.stderr);
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    writer.wait_for_more(3);
    let (_, stop) = first_stop(&demo);
    let (before_stop, all) = writer.finish_split(stop);
    all_present(&demo, &all);
    no_kept_copies(&demo);
    rollback_keeps(&demo, &before_stop);
}

#[test]
fn killed_right_after_the_rollback_point_resume_finishes_and_rollback_returns_the_data() {
    killed_after_then_resumed("backup.rollback_point");
}

#[test]
fn killed_right_after_maintenance_off_resume_finishes_and_rollback_returns_the_data() {
    killed_after_then_resumed("maintenance.off");
}

#[test]
fn killed_before_the_durable_snapshot_rollback_puts_the_patched_copy_back() {
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
    all_present(&demo, &before_stop);
    no_kept_copies(&demo);
}
