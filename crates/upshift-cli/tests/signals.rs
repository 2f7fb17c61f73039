//! Ctrl-C during a run: the terminal sends SIGINT to upshift's process
//! group. upshift stops at a safe point (undoing the window before the
//! swap, finishing it after), exits 3, services keep running in their own
//! sessions, and `upshift resume` finishes the run.

mod common;

use std::process::{Child, Command, Stdio};

use common::demo::{finish, spawn, steps_of, Demo};
use common::wait_for;

/// Ctrl-C: SIGINT to the whole foreground process group.
fn ctrl_c(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn ctrl_c_as_the_window_opens_restores_the_old_version_and_resume_finishes() {
    let demo = Demo::new();
    let before = demo.export();
    demo.gate_the_window();
    let child = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("window.reached"));
    ctrl_c(&child);
    std::fs::write(demo.path("window.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(stderr.contains("upshift resume"), "{stderr}");
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    let st = demo.upshift(&["--json", "status"]).json();
    assert!(st["lock"].is_null(), "the lock is released: {st}");

    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
}

#[test]
fn ctrl_c_after_the_swap_finishes_the_window_and_leaves_the_new_version_serving() {
    let demo = Demo::new();
    let before = demo.export();
    demo.gate_a_data_step();
    let child = spawn(&demo, &["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("migrate.reached"));
    ctrl_c(&child);
    std::fs::write(demo.path("migrate.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("finishing the maintenance window first"),
        "{stderr}"
    );
    assert!(stderr.contains("before step backup.durable"), "{stderr}");
    // Started by upshift, the services outlived its Ctrl-C.
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);

    let resumed = demo.upshift(&["-y", "--catalog", "cat", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let h = demo
        .upshift(&["--json", "--catalog", "cat", "history"])
        .json();
    assert_eq!(h[0]["outcome"], "succeeded", "{h}");
}

/// upshift leading a terminal session (`ssh -t host upshift apply`): when
/// it exits, the kernel hangs up that session; services it started run in
/// sessions of their own and keep serving.
#[test]
fn services_started_from_a_terminal_session_outlive_it() {
    let demo = Demo::new();
    let exe = env!("CARGO_BIN_EXE_upshift");
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{exe} -m upshift.toml -y apply --to 1.1.0"),
            "/dev/null",
        ])
        .current_dir(&demo.dir)
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
}

/// SIGINT right after each step of the middle hop of a 1.0.0 → 3.0.0 run
/// (sent by upshift to itself at that point, test-only): the run stops at
/// the next safe point with exit 3, every service answers, the lock is
/// free, and `resume` finishes at 3.0.0 with every note.
#[test]
fn sigint_after_every_step_of_a_hop_stops_safely_and_resume_finishes() {
    let steps = steps_of(2);
    assert!(steps.len() > 15, "{steps:?}");
    for step in &steps {
        let demo = Demo::new();
        let before = demo.export();
        let point = format!("2:{step}");
        let stopped = demo.upshift_env(
            &[("UPSHIFT_SIGINT_AFTER", &point)],
            &["-y", "apply", "--to", "3.0.0"],
        );
        assert_eq!(stopped.code, 3, "SIGINT after {point}: {}", stopped.stderr);
        assert!(
            stopped.stderr.contains("upshift resume"),
            "after {point}: {}",
            stopped.stderr
        );
        assert!(
            ["1.1.0", "2.1.0"].contains(&demo.version().as_str()),
            "after {point}: {}",
            demo.version()
        );
        demo.assert_healthy();
        // The lock is free: another apply is told to resume (3), not that
        // a run holds the lock (4).
        let again = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
        assert_eq!(again.code, 3, "after {point}: {}", again.stderr);
        let done = demo.upshift(&["-y", "resume"]);
        assert_eq!(done.code, 0, "resume after {point}: {}", done.stderr);
        assert_eq!(demo.version(), "3.0.0", "after {point}");
        demo.assert_healthy();
        assert_eq!(demo.export(), before, "notes after {point}");
    }
}

/// Once its terminal is gone (here: stderr is a pipe nobody reads any
/// more), upshift's writes fail; the run must go on to its end rather than
/// die of a panic where it stands.
#[test]
fn a_run_whose_stderr_is_gone_still_finishes() {
    let demo = Demo::new();
    let mut child = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
}
