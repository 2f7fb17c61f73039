//! Commands run at once on one installation: the snapshot repository is
//! created exactly once with one key, every writing command takes the
//! installation's lock (exit 4 while another run holds it), and a lost or
//! exposed key file is refused as bad input.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::demo::Demo;
use common::Run;

fn spawn(dir: &Path, args: &[&str]) -> Child {
    spawn_with(dir, "upshift.toml", args)
}

fn spawn_with(dir: &Path, manifest: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_upshift"))
        .args(["-m", manifest])
        .args(args)
        .current_dir(dir)
        .env_remove("UPSHIFT_MANIFEST")
        .env_remove("UPSHIFT_CATALOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("upshift starts")
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The ids restic itself lists in the repository, opened with the key
/// file, sorted.
fn restic_snapshots(demo: &Demo) -> Vec<String> {
    let out = Command::new("restic")
        .args(["--no-cache", "--json", "-r"])
        .arg(demo.path(".upshift/repo"))
        .arg("--password-file")
        .arg(demo.path(".upshift/repo.key"))
        .arg("snapshots")
        .output()
        .expect("restic runs (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "restic cannot read the repository: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Polls (with a deadline) until `path` exists.
fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what} never happened");
        // The polling interval, not a wait for anything in particular.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_first_backups_at_once_leave_one_readable_repository() {
    let demo = Demo::new();
    for round in 0..10 {
        // No repository and no key yet: both backups are the first.
        let _ = std::fs::remove_dir_all(demo.path(".upshift/repo"));
        let _ = std::fs::remove_file(demo.path(".upshift/repo.key"));
        let a = spawn(&demo.dir, &["--json", "backup"]);
        let b = spawn(&demo.dir, &["--json", "backup"]);
        let (a, b) = (finish(a), finish(b));
        let mut codes = [a.code, b.code];
        codes.sort_unstable();
        assert!(
            codes == [0, 0] || codes == [0, 4],
            "round {round}: both succeed, or one finds the lock held; got {codes:?}\n--- a:\n{}\n--- b:\n{}",
            a.stderr,
            b.stderr
        );
        let mut made: Vec<String> = [&a, &b]
            .iter()
            .filter(|r| r.code == 0)
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect();
        made.sort();

        let list = demo.upshift(&["--json", "snapshots"]);
        assert_eq!(list.code, 0, "round {round}: {}", list.stderr);
        let mut listed: Vec<String> = list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, made, "round {round}");

        let verify = demo.upshift(&["verify"]);
        assert_eq!(verify.code, 0, "round {round}: {}", verify.stderr);

        assert_eq!(restic_snapshots(&demo), made, "round {round}");
    }
}

/// Two installations sharing one repository hold different locks, so their
/// first backups really do create the repository at the same moment.
#[test]
fn two_installations_first_backups_into_one_repository_at_once() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let other = m.replacen("name = \"demo\"", "name = \"demo-b\"", 1);
    assert_ne!(other, m);
    std::fs::write(demo.path("other.toml"), other).unwrap();
    for round in 0..5 {
        let _ = std::fs::remove_dir_all(demo.path(".upshift/repo"));
        let _ = std::fs::remove_file(demo.path(".upshift/repo.key"));
        let a = spawn_with(&demo.dir, "upshift.toml", &["--json", "backup"]);
        let b = spawn_with(&demo.dir, "other.toml", &["--json", "backup"]);
        let (a, b) = (finish(a), finish(b));
        assert_eq!(
            (a.code, b.code),
            (0, 0),
            "round {round}:\n--- demo:\n{}\n--- demo-b:\n{}",
            a.stderr,
            b.stderr
        );
        let keys = std::fs::read_dir(demo.path(".upshift/repo/keys"))
            .unwrap()
            .count();
        assert_eq!(keys, 1, "round {round}: one key in the repository");
        for (manifest, made) in [("upshift.toml", &a), ("other.toml", &b)] {
            let list = common::upshift(&demo.dir)
                .args(["-m", manifest, "--json", "snapshots"])
                .run();
            assert_eq!(list.code, 0, "round {round}: {}", list.stderr);
            let ids: Vec<String> = list
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids, [made.json()["id"].as_str().unwrap()], "round {round}");
        }
        let mut made = vec![
            a.json()["id"].as_str().unwrap().to_string(),
            b.json()["id"].as_str().unwrap().to_string(),
        ];
        made.sort();
        assert_eq!(restic_snapshots(&demo), made, "round {round}");
    }
}

#[test]
fn backup_while_an_apply_holds_the_lock_exits_4() {
    let demo = Demo::new();
    // The apply waits in its pre-upgrade hook until the test lets it go.
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let hook = "\n[hooks]\npre_upgrade = 'touch hook-started; i=0; while [ ! -e hook-go ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done'\n";
    std::fs::write(demo.path("upshift.toml"), format!("{m}{hook}")).unwrap();
    let apply = spawn(&demo.dir, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("hook-started"), "the apply's pre-upgrade hook");

    let backup = demo.upshift(&["backup"]);
    assert_eq!(backup.code, 4, "{}", backup.stderr);
    assert!(
        backup.stderr.contains("is locked by run"),
        "{}",
        backup.stderr
    );
    // Listing takes no lock, and sees the apply's online snapshot.
    let list = demo.upshift(&["--json", "snapshots"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.stdout);

    std::fs::write(demo.path("hook-go"), "").unwrap();
    let apply = finish(apply);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(demo.version(), "1.1.0");
    let after = demo.upshift(&["backup"]);
    assert_eq!(after.code, 0, "the lock is free again: {}", after.stderr);
}

#[test]
fn snapshots_before_any_backup_create_nothing() {
    let demo = Demo::new();
    let list = demo.upshift(&["--json", "snapshots"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.json(), serde_json::json!([]));
    assert!(
        !demo.path(".upshift/repo").exists(),
        "no repository is created"
    );
    assert!(
        !demo.path(".upshift/repo.key").exists(),
        "no key is created"
    );
}

#[test]
fn a_missing_key_file_with_an_existing_repository_exits_2_naming_it() {
    let demo = Demo::new();
    assert_eq!(demo.upshift(&["backup"]).code, 0);
    let key = demo.path(".upshift/repo.key");
    std::fs::remove_file(&key).unwrap();
    for cmd in [&["backup"][..], &["snapshots"], &["verify"]] {
        let run = demo.upshift(cmd);
        assert_eq!(run.code, 2, "{cmd:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&key.display().to_string()) && run.stderr.contains("1 snapshot"),
            "{cmd:?} names the key file and what it would lose: {}",
            run.stderr
        );
        assert!(!key.exists(), "{cmd:?} does not make a new key");
    }
}

#[test]
fn a_key_file_readable_by_others_exits_2_with_the_chmod() {
    let demo = Demo::new();
    assert_eq!(demo.upshift(&["backup"]).code, 0);
    let key = demo.path(".upshift/repo.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    for cmd in [&["backup"][..], &["snapshots"]] {
        let run = demo.upshift(cmd);
        assert_eq!(run.code, 2, "{cmd:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("chmod 600 {}", key.display())),
            "{cmd:?}: {}",
            run.stderr
        );
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(demo.upshift(&["snapshots"]).code, 0);
}

/// A backup killed midway leaves its lock behind; the next command takes
/// it over (a dead backup leaves nothing to finish), while a dead apply's
/// lock still stops it (that run must be resumed or rolled back).
#[test]
fn the_lock_of_a_dead_backup_is_taken_over() {
    let demo = Demo::new();
    assert_eq!(demo.upshift(&["backup"]).code, 0);
    let db = rusqlite::Connection::open(demo.path(".upshift/journal.db")).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    db.execute(
        "INSERT INTO locks (installation, run_id, owner, host, pid, acquired_ms, heartbeat_ms) VALUES ('demo', 'backup-1-0000', 'root', ?1, 2147483600, 0, 0)",
        [host.trim()],
    )
    .unwrap();
    drop(db);
    let again = demo.upshift(&["backup"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}
