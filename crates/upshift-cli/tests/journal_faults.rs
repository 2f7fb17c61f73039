//! The journal under faults: a damaged journal (its database file or its
//! write-ahead log) stops every command with the file named, never reads
//! as "no runs"; a journal deleted during a run stops the run loudly at
//! the next step, its copy written back, and `resume` finishes the run.

mod common;

use std::path::{Path, PathBuf};

use common::demo::{finish, spawn, Demo};
use common::wait_for;

const PAGE: usize = 4096;

fn journal(demo: &Demo) -> PathBuf {
    demo.path(".upshift/journal.db")
}

/// A run killed after its online backup: its journal's write-ahead log
/// holds every step (a killed process does not checkpoint it).
fn killed_run(demo: &Demo) {
    let run = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:backup.online")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(run.code, -1, "killed: {}", run.stderr);
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > at,
        "{} is {} bytes",
        path.display(),
        bytes.len()
    );
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

fn assert_refused_as_damaged(demo: &Demo, args: &[&str], what: &str) {
    let run = demo.upshift(args);
    assert_eq!(run.code, 3, "{args:?}: {}\n{}", run.stdout, run.stderr);
    let path = journal(demo).display().to_string();
    assert!(
        run.stderr.contains(&format!("journal {path} is damaged")) && run.stderr.contains(what),
        "{args:?}: {}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("mv {path}")), "{}", run.stderr);
}

#[test]
fn a_damaged_write_ahead_log_stops_history_and_apply() {
    let demo = Demo::new();
    killed_run(&demo);
    let wal = demo.path(".upshift/journal.db-wal");
    let before = std::fs::read(&wal).unwrap();
    // A byte of the second frame's page: SQLite would ignore every frame
    // from there, the run included.
    flip(&wal, 32 + 24 + PAGE + 24 + 100);
    assert_refused_as_damaged(&demo, &["history"], "write-ahead log");
    assert_refused_as_damaged(&demo, &["-y", "apply", "--to", "1.1.0"], "write-ahead log");
    assert_refused_as_damaged(&demo, &["-y", "resume"], "write-ahead log");
    // Left as found, for whoever looks at it.
    let mut now = std::fs::read(&wal).unwrap();
    now[32 + 24 + PAGE + 24 + 100] ^= 0x5a;
    assert_eq!(now, before, "the log is left as it was");
    assert_eq!(demo.version(), "1.0.0");
}

#[test]
fn a_damaged_journal_file_stops_history_and_apply() {
    let demo = Demo::new();
    killed_run(&demo);
    // `history` reads the killed run's log and, closing the last
    // connection, writes it into the database file.
    let h = demo.upshift(&["--json", "history"]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    assert_eq!(h.json()[0]["outcome"], "running", "{}", h.stdout);
    assert!(!demo.path(".upshift/journal.db-wal").exists());
    let path = journal(&demo);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() >= 3 * PAGE, "{} bytes", bytes.len());
    // The second page (a table's b-tree) overwritten.
    bytes[PAGE..2 * PAGE].fill(0xa5);
    std::fs::write(&path, bytes).unwrap();
    assert_refused_as_damaged(&demo, &["history"], "");
    assert_refused_as_damaged(&demo, &["-y", "rollback"], "");
}

/// Deletes the journal and its side files, as `rm .upshift/journal.db*` does.
fn delete_journal(demo: &Demo) {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", journal(demo).display()));
        let _ = std::fs::remove_file(p);
    }
    assert!(!journal(demo).exists());
}

#[test]
fn a_journal_deleted_in_the_window_stops_the_run_with_the_old_version_serving() {
    let demo = Demo::new();
    let before = demo.export();
    demo.gate_the_window();
    let child = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("window.reached"));
    delete_journal(&demo);
    std::fs::write(demo.path("window.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("was deleted during run"), "{stderr}");
    assert!(
        stderr.contains("1.0.0 was started again and serves"),
        "{stderr}"
    );
    assert!(stderr.contains("written back to"), "{stderr}");
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();

    let h = demo.upshift(&["--json", "history"]).json();
    assert_eq!(
        h[0]["outcome"], "running",
        "the run is in the journal again: {h}"
    );
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
}

#[test]
fn a_journal_deleted_after_the_swap_stops_the_run_where_it_is_and_resume_finishes() {
    let demo = Demo::new();
    let before = demo.export();
    demo.gate_a_data_step();
    let child = spawn(&demo, &["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("migrate.reached"));
    delete_journal(&demo);
    std::fs::write(demo.path("migrate.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(
            "after the swap: 1.1.0 is in place and left as it is, with auth, notes stopped"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("upshift resume"), "{stderr}");
    assert_eq!(demo.version(), "1.1.0");

    let resumed = demo.upshift(&["-y", "--catalog", "cat", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
}
