//! `upshift fleet apply` on three real demo installations (each its own
//! processes on free loopback ports): one that the other two `use`, upgraded
//! first, then the other two one at a time; a failure in the last one stops
//! the rollout and, by the fleet's policy, keeps or rolls back the others,
//! each with its notes.

mod common;

use common::demo::Demo;
use common::{upshift, write};

struct Fleet {
    dir: tempfile::TempDir,
    auth: Demo,
    a: Demo,
    b: Demo,
}

impl Fleet {
    /// Three demos at 1.0.0, `notes-b` with `catalog` (a directory holding
    /// a demo catalog) when given, and the fleet file with `rollout`.
    fn new(rollout: &str, failing_b: bool) -> Fleet {
        let (auth, a, b) = (Demo::new(), Demo::new(), Demo::new());
        if failing_b {
            let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
                .unwrap()
                .replacen(
                    "[[release]]\nversion = \"2.0.0\"",
                    "[[release.data_steps]]\nid = \"broken\"\ndescription = \"a migration that fails\"\nrun = \"echo the migration broke >&2; exit 1\"\n\n[[release]]\nversion = \"2.0.0\"",
                    1,
                );
            assert!(cat.contains("the migration broke"));
            std::fs::create_dir(b.path("cat")).unwrap();
            std::fs::write(b.path("cat/demo.toml"), cat).unwrap();
            let m = std::fs::read_to_string(b.path("upshift.toml"))
                .unwrap()
                .replacen("[installation]\n", "[installation]\ncatalog = \"cat\"\n", 1);
            std::fs::write(b.path("upshift.toml"), m).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let m = |d: &Demo| d.path("upshift.toml").display().to_string();
        let text = format!(
            "{rollout}\n[installations.notes-a]\nmanifest = \"{}\"\nuses = [\"auth\"]\n\n[installations.notes-b]\nmanifest = \"{}\"\nuses = [\"auth\"]\n\n[installations.auth]\nmanifest = \"{}\"\n",
            m(&a),
            m(&b),
            m(&auth)
        );
        write(dir.path(), "fleet.toml", &text);
        Fleet { dir, auth, a, b }
    }

    fn upshift(&self, args: &[&str]) -> common::Run {
        upshift(self.dir.path()).args(args).run()
    }

    /// The rollout's events as (installation, event, at_ms).
    fn events(&self) -> Vec<(String, String, i64)> {
        let st = self
            .upshift(&["--json", "fleet", "status", "fleet.toml"])
            .json();
        st["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["installation"].as_str().unwrap().to_string(),
                    e["event"].as_str().unwrap().to_string(),
                    e["at_ms"].as_i64().unwrap(),
                )
            })
            .collect()
    }
}

fn at(events: &[(String, String, i64)], who: &str, what: &str) -> i64 {
    events
        .iter()
        .find(|(w, e, _)| w == who && e == what)
        .unwrap_or_else(|| panic!("no {what} of {who} in {events:?}"))
        .2
}

/// When installation `d`'s own journal says its run started.
fn run_started(d: &Demo) -> i64 {
    let h = d.upshift(&["--json", "history"]).json();
    h.as_array()
        .and_then(|runs| runs.first())
        .and_then(|r| r["started_ms"].as_i64())
        .unwrap_or_else(|| panic!("no run in {h}"))
}

#[test]
fn the_installation_others_use_is_upgraded_first_then_the_others_one_at_a_time() {
    let f = Fleet::new("", false);
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let run = f.upshift(&["-y", "fleet", "apply", "fleet.toml", "--to", "3.0.0"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let ev = f.events();
    let last_backup = ["auth", "notes-a", "notes-b"]
        .iter()
        .map(|n| at(&ev, n, "backup.done"))
        .max()
        .unwrap();
    assert!(
        last_backup <= at(&ev, "auth", "apply.started"),
        "every backup first: {ev:?}"
    );
    assert!(
        at(&ev, "auth", "apply.done") <= at(&ev, "notes-a", "apply.started"),
        "{ev:?}"
    );
    assert!(
        at(&ev, "notes-a", "apply.done") <= at(&ev, "notes-b", "apply.started"),
        "{ev:?}"
    );
    // The installations' own journals agree: neither notes installation
    // started its run (and so stopped anything) before auth had finished.
    assert!(at(&ev, "auth", "apply.done") <= run_started(&f.a), "{ev:?}");
    assert!(
        at(&ev, "notes-a", "apply.done") <= run_started(&f.b),
        "{ev:?}"
    );
    for (d, n) in [(&f.auth, &notes[0]), (&f.a, &notes[1]), (&f.b, &notes[2])] {
        d.assert_serves("3.0.0", n);
    }
    let h = f
        .upshift(&["--json", "fleet", "history", "fleet.toml"])
        .json();
    assert_eq!(h[0]["outcome"], "done", "{h}");
    // A second rollout to the same target has nothing to do.
    let again = f.upshift(&["-y", "fleet", "apply", "fleet.toml", "--to", "3.0.0"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_failure_stops_the_rollout_rolls_that_installation_back_and_keeps_the_others() {
    let f = Fleet::new("", true);
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let run = f.upshift(&[
        "-y",
        "--json",
        "fleet",
        "apply",
        "fleet.toml",
        "--to",
        "1.1.0",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let end = run.json();
    assert_eq!(end["outcome"], "stopped", "{end}");
    assert_eq!(end["failed"][0][0], "notes-b", "{end}");
    f.auth.assert_serves("1.1.0", &notes[0]);
    f.a.assert_serves("1.1.0", &notes[1]);
    f.b.assert_serves("1.0.0", &notes[2]);
    let st = f
        .upshift(&["--json", "fleet", "status", "fleet.toml"])
        .json();
    assert_eq!(st["run"]["outcome"], "failed", "{st}");
}

#[test]
fn with_rollback_fleet_every_installation_returns_to_where_it_started() {
    let f = Fleet::new("[rollout]\non_failure = \"rollback_fleet\"\n", true);
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let run = f.upshift(&[
        "-y",
        "--json",
        "fleet",
        "apply",
        "fleet.toml",
        "--to",
        "1.1.0",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let end = run.json();
    assert_eq!(
        end["rolled_back"],
        serde_json::json!(["notes-a", "auth"]),
        "{end}"
    );
    f.auth.assert_serves("1.0.0", &notes[0]);
    f.a.assert_serves("1.0.0", &notes[1]);
    f.b.assert_serves("1.0.0", &notes[2]);
    let ev = f.events();
    // Users before what they use.
    assert!(
        at(&ev, "notes-a", "rollback.done") <= at(&ev, "auth", "rollback.started"),
        "{ev:?}"
    );
}

/// Two `fleet apply` workers (two processes, as on two machines) share one
/// journal in the harness's real PostgreSQL: each installation is upgraded
/// exactly once (one run in its own journal); one worker is killed with its
/// children (kill -9 of its process group, as if its machine died) while it
/// upgrades an installation, and the other worker takes that installation
/// over and finishes it by `upshift resume`.
#[test]
fn two_workers_on_one_postgres_journal_share_the_fleet_and_finish_a_dead_ones_installation() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let pg = upshift_testkit::Postgres::start();
    pg.psql("postgres", "CREATE DATABASE fleet");
    let journal = format!(
        "[journal]\nurl = \"postgres://postgres@127.0.0.1:{}/fleet\"\npassword = \"file:pg-password\"\n\n[rollout]\nmax_parallel = 2\n",
        pg.port
    );
    let f = Fleet::new(&journal, false);
    // Trust authentication ignores it; the secret reference is still read.
    write(f.dir.path(), "pg-password", "unused-with-trust-auth\n");
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let worker = |log: &str| {
        let out = std::fs::File::create(f.dir.path().join(log)).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_upshift"));
        c.current_dir(f.dir.path())
            .args(["-y", "fleet", "apply", "fleet.toml", "--to", "1.1.0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .process_group(0);
        c.spawn().unwrap()
    };
    let doomed = worker("doomed.log");
    let mut survivor = worker("survivor.log");
    let logs = || {
        let read = |n: &str| std::fs::read_to_string(f.dir.path().join(n)).unwrap_or_default();
        format!(
            "doomed:\n{}\nsurvivor:\n{}",
            read("doomed.log"),
            read("survivor.log")
        )
    };
    let doomed_tag = format!("pid {}", doomed.id());
    // Wait until the doomed worker is inside an installation's hop.
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        assert!(
            Instant::now() < deadline,
            "the doomed worker never started a hop: {}\n{}",
            logs(),
            f.upshift(&["fleet", "status", "fleet.toml"]).stdout
        );
        let st = f.upshift(&["--json", "fleet", "status", "fleet.toml"]);
        let started = (st.code == 0).then(|| st.json()).and_then(|st| {
            st["events"].as_array().and_then(|ev| {
                ev.iter()
                    .find(|e| {
                        e["event"] == "apply.started"
                            && e["detail"]
                                .as_str()
                                .is_some_and(|d| d.ends_with(&doomed_tag))
                    })
                    .map(|e| e["installation"].as_str().unwrap().to_string())
            })
        });
        if let Some(name) = started {
            let d = match name.as_str() {
                "auth" => &f.auth,
                "notes-a" => &f.a,
                _ => &f.b,
            };
            let h = d.upshift(&["--json", "history"]);
            if h.code == 0 && h.json()[0]["outcome"] == "running" {
                break name;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", doomed.id())])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 of the doomed worker's group");
    let mut doomed = doomed;
    let _ = doomed.wait();
    let status = survivor.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the surviving worker: {}", logs());
    let ev = f.events();
    let resumed = ev
        .iter()
        .filter(|(w, e, _)| *w == victim && e == "apply.started")
        .count();
    assert_eq!(
        resumed, 2,
        "{victim} started by the dead worker, resumed by the other: {ev:?}"
    );
    for (d, n) in [(&f.auth, &notes[0]), (&f.a, &notes[1]), (&f.b, &notes[2])] {
        d.assert_serves("1.1.0", n);
        let h = d.upshift(&["--json", "history"]).json();
        assert_eq!(h.as_array().unwrap().len(), 1, "upgraded exactly once: {h}");
        assert_eq!(h[0]["outcome"], "succeeded", "{h}");
    }
    for name in ["auth", "notes-a", "notes-b"] {
        let backups = ev
            .iter()
            .filter(|(w, e, _)| w == name && e == "backup.done")
            .count();
        assert_eq!(backups, 1, "{name} backed up once: {ev:?}");
    }
}

/// Starts `upshift -y fleet apply fleet.toml --to 1.1.0` in its own process
/// group (so a signal can reach it and its children, as from a terminal).
fn spawn_apply(f: &Fleet) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(f.dir.path().join("worker.log")).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_upshift"))
        .current_dir(f.dir.path())
        .args(["-y", "fleet", "apply", "fleet.toml", "--to", "1.1.0"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Waits until notes-a's own run is under way (its journal says running).
fn wait_inside_notes_a(f: &Fleet) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "notes-a's run never started: {}",
            std::fs::read_to_string(f.dir.path().join("worker.log")).unwrap_or_default()
        );
        let h = f.a.upshift(&["--json", "history"]);
        if h.code == 0 && h.json()[0]["outcome"] == "running" {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn signal_group(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Every installation at 1.1.0 with its notes, upgraded by one run each.
fn assert_all_upgraded_once(f: &Fleet, notes: &[String; 3]) {
    for (d, n) in [(&f.auth, &notes[0]), (&f.a, &notes[1]), (&f.b, &notes[2])] {
        d.assert_serves("1.1.0", n);
        let h = d.upshift(&["--json", "history"]).json();
        assert_eq!(h.as_array().unwrap().len(), 1, "one run: {h}");
        assert_eq!(h[0]["outcome"], "succeeded", "{h}");
    }
}

/// kill -9 of the fleet command and the installation run it started (its
/// process group) in the middle of notes-a's hop: `fleet resume` resumes
/// notes-a's own run and finishes the rollout.
#[test]
fn a_rollout_killed_mid_hop_is_finished_by_fleet_resume() {
    let f = Fleet::new("", false);
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let mut child = spawn_apply(&f);
    wait_inside_notes_a(&f);
    signal_group(&child, "-KILL");
    let _ = child.wait();
    let again = f.upshift(&["-y", "fleet", "apply", "fleet.toml", "--to", "1.1.0"]);
    assert_eq!(
        again.code, 2,
        "an unfinished rollout is not started again: {}",
        again.stderr
    );
    assert!(
        again.stderr.contains("upshift fleet resume"),
        "{}",
        again.stderr
    );
    let resumed = f.upshift(&["-y", "fleet", "resume", "fleet.toml"]);
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    assert_all_upgraded_once(&f, &notes);
}

/// Ctrl-C (SIGINT to the foreground process group) in the middle of
/// notes-a's hop: its run stops at a safe step, the fleet says it was
/// interrupted (exit 3), and `fleet resume` finishes.
#[test]
fn ctrl_c_mid_hop_interrupts_the_rollout_and_fleet_resume_finishes_it() {
    let f = Fleet::new("", false);
    let notes = [f.auth.export(), f.a.export(), f.b.export()];
    let mut child = spawn_apply(&f);
    wait_inside_notes_a(&f);
    signal_group(&child, "-INT");
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(f.dir.path().join("worker.log")).unwrap_or_default();
    // notes-a's own run either stopped at a safe step (interrupted) or
    // had already passed its last one and finished.
    assert!(
        matches!(status.code(), Some(3) | Some(0)),
        "{status:?}: {log}"
    );
    let st = f
        .upshift(&["--json", "fleet", "status", "fleet.toml"])
        .json();
    if status.code() == Some(3) {
        assert!(st["run"]["outcome"].is_null(), "unfinished: {st}");
        assert!(log.contains("upshift fleet resume"), "{log}");
        let resumed = f.upshift(&["-y", "fleet", "resume", "fleet.toml"]);
        assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    }
    assert_all_upgraded_once(&f, &notes);
}
