//! Crash safety: for every step boundary of a 1.0.0 → 3.0.0 run, the run is
//! killed there with SIGKILL (the test-only `UPSHIFT_CRASH_AFTER` crash point),
//! then `resume` must finish at 3.0.0, healthy, with every note; and,
//! separately, `rollback` must return to 1.0.0 with the notes identical.
//! One test per hop and direction, so the suite runs them in parallel.

mod common;

use common::demo::{steps_of, Demo};

fn crash_then(hop: usize, finish: &str) {
    crash_then_with(hop, finish, false)
}

/// Like [`crash_then`]; with `power_loss`, the services die with upshift.
fn crash_then_with(hop: usize, finish: &str, power_loss: bool) {
    let steps = steps_of(hop);
    assert!(steps.len() > 15, "{steps:?}");
    for step in &steps {
        let demo = Demo::new();
        let before = demo.export();
        let point = format!("{hop}:{step}");
        let crashed = demo.upshift_env(
            &[("UPSHIFT_CRASH_AFTER", &point)],
            &["-y", "apply", "--to", "3.0.0"],
        );
        assert_eq!(
            crashed.code, -1,
            "apply should have been killed after {point}: {}",
            crashed.stderr
        );
        if power_loss {
            common::demo::stop_services(&demo.dir);
        }
        // Another apply must refuse: the dead run's lock is stale (exit 4).
        let blocked = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
        assert_eq!(blocked.code, 4, "after {point}: {}", blocked.stderr);
        let done = demo.upshift(&["-y", finish]);
        assert_eq!(
            done.code, 0,
            "{finish} after a crash at {point} failed: {}",
            done.stderr
        );
        let want = if finish == "resume" { "3.0.0" } else { "1.0.0" };
        assert_eq!(demo.version(), want, "after {finish} from {point}");
        assert_eq!(demo.manifest_version(), want, "after {finish} from {point}");
        demo.assert_healthy();
        assert_eq!(demo.export(), before, "notes after {finish} from {point}");
    }
}

/// Power loss: upshift and every service die at each step boundary of the
/// middle hop; `resume` starts what the journal says runs, then finishes.
#[test]
fn power_loss_in_hop_2_then_resume() {
    crash_then_with(2, "resume", true);
}

#[test]
fn crash_in_hop_1_then_resume() {
    crash_then(1, "resume");
}

#[test]
fn crash_in_hop_2_then_resume() {
    crash_then(2, "resume");
}

#[test]
fn crash_in_hop_3_then_resume() {
    crash_then(3, "resume");
}

#[test]
fn crash_in_hop_1_then_rollback() {
    crash_then(1, "rollback");
}

#[test]
fn crash_in_hop_2_then_rollback() {
    crash_then(2, "rollback");
}

#[test]
fn crash_in_hop_3_then_rollback() {
    crash_then(3, "rollback");
}

/// A dead run's lock is reported with the command that breaks it; after
/// `unlock`, `apply` says the run must be resumed or rolled back (exit 3).
#[test]
fn stale_lock_is_reported_and_broken_on_confirmation() {
    let demo = Demo::new();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:stop.auth")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1);
    let blocked = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(blocked.code, 4);
    assert!(
        blocked.stderr.contains("looks dead") && blocked.stderr.contains("upshift unlock"),
        "{}",
        blocked.stderr
    );
    let refused = demo.upshift(&["unlock"]);
    assert_eq!(refused.code, 1, "no terminal and no -y: not confirmed");
    assert_eq!(demo.upshift(&["-y", "unlock"]).code, 0);
    let pending = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(pending.code, 3, "{}", pending.stderr);
    assert!(
        pending.stderr.contains("upshift resume") && pending.stderr.contains("upshift rollback"),
        "{}",
        pending.stderr
    );
    assert_eq!(demo.upshift(&["-y", "resume"]).code, 0);
    assert_eq!(demo.version(), "1.1.0");
}
