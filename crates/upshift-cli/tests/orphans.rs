//! A program upshift started (here a hook, as a data step or `pg_restore`
//! would be) outlives a kill -9 of upshift, because it runs in a process
//! group of its own. The next command that takes the lock stops it before
//! acting: an orphan that keeps writing while a rollback restores the data
//! would change the data the rollback put back.

mod common;

use common::demo::{spawn, Demo};
use common::wait_for;

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, r)| !r.starts_with('Z'))
    })
}

#[test]
fn a_killed_runs_child_is_stopped_before_rollback_restores() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    // The hook says its pid, waits to be let go, then writes a note: an
    // orphaned migration writing after the rollback.
    let seed = "current/bin/upshift-demo seed --config config/notes.toml --count 1";
    let hook = format!(
        "echo $$ > hook.tmp && mv hook.tmp hook.pid; while [ ! -e go ]; do sleep 0.02; done; {seed}"
    );
    std::fs::write(
        demo.path("upshift.toml"),
        format!("{m}\n[hooks]\npre_upgrade = '{hook}'\n"),
    )
    .unwrap();
    let before = demo.export();
    let mut run = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("hook.pid"));
    run.kill().unwrap();
    run.wait().unwrap();
    let pid: u32 = std::fs::read_to_string(demo.path("hook.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid), "the hook outlives the killed upshift");

    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(
        back.stderr.contains(&format!("stopped pid {pid}")),
        "the rollback says what it stopped: {}",
        back.stderr
    );
    assert!(
        !alive(pid),
        "the orphan was stopped before the rollback ended"
    );
    assert_eq!(demo.export(), before, "nothing written after the rollback");
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert!(
        std::fs::read_dir(demo.path(".upshift/children"))
            .unwrap()
            .next()
            .is_none(),
        "no record left behind"
    );
}
