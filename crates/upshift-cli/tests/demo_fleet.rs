//! `upshift demo --fleet`: one auth installation and two notes
//! installations that check their tokens against it, upgraded 1.0.0 →
//! 3.0.0 by `fleet apply`: the journals show auth finished before either
//! notes installation started its run, and the notes installations one at
//! a time, each with its notes.

mod common;

use std::path::{Path, PathBuf};

use common::demo::demo_bin;
use common::upshift;

/// Stops the fleet's services when the test ends, however it ends.
struct Services(PathBuf);

impl Drop for Services {
    fn drop(&mut self) {
        for part in ["auth", "notes-a", "notes-b"] {
            for pid in std::fs::read_dir(self.0.join(part).join("run"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Some(pid) = std::fs::read_to_string(pid.path())
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                {
                    let _ = std::process::Command::new("kill")
                        .arg(pid.to_string())
                        .status();
                }
            }
        }
    }
}

fn history(dir: &Path, part: &str) -> serde_json::Value {
    let run = upshift(dir)
        .args([
            "-m",
            &format!("fleet/{part}/upshift.toml"),
            "--json",
            "history",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

#[test]
fn the_demo_fleet_upgrades_auth_first_then_each_notes_installation_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let _services = Services(tmp.path().join("fleet"));
    let run = upshift(tmp.path())
        .env("UPSHIFT_DEMO_BIN", demo_bin().to_str().unwrap())
        .args(["demo", "--fleet", "--dir", "fleet"])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("each notes installation with its 3 notes"),
        "{}",
        run.stdout
    );
    let st = upshift(tmp.path())
        .args(["--json", "fleet", "status", "fleet/fleet.toml"])
        .run()
        .json();
    assert_eq!(st["run"]["outcome"], "done", "{st}");
    let done = |who: &str| -> i64 {
        st["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["installation"] == who && e["event"] == "apply.done")
            .and_then(|e| e["at_ms"].as_i64())
            .unwrap_or_else(|| panic!("{who} never finished: {st}"))
    };
    let runs = |part: &str| -> Vec<(i64, i64)> {
        history(tmp.path(), part)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["started_ms"].as_i64().unwrap(),
                    r["ended_ms"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (auth, a, b) = (runs("auth"), runs("notes-a"), runs("notes-b"));
    // One run of three hops each, in order: auth's ended before notes-a's
    // began, and notes-a's before notes-b's.
    assert_eq!(
        (auth.len(), a.len(), b.len()),
        (1, 1, 1),
        "{auth:?} {a:?} {b:?}"
    );
    assert!(
        auth[0].1 <= a[0].0 && done("auth") <= a[0].0,
        "{auth:?} {a:?}"
    );
    assert!(a[0].1 <= b[0].0 && done("notes-a") <= b[0].0, "{a:?} {b:?}");
    for part in ["auth", "notes-a", "notes-b"] {
        let h = history(tmp.path(), part);
        assert_eq!(h[0]["outcome"], "succeeded", "{part}: {h}");
        assert_eq!(h[0]["to"], "3.0.0", "{part}: {h}");
    }
}

#[test]
fn each_installation_of_the_demo_fleet_plans_only_its_own_services_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let _services = Services(tmp.path().join("fleet"));
    let run = upshift(tmp.path())
        .env("UPSHIFT_DEMO_BIN", demo_bin().to_str().unwrap())
        .args(["demo", "--fleet", "--no-upgrade", "--dir", "fleet"])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let plan = upshift(tmp.path())
        .args([
            "--json",
            "fleet",
            "plan",
            "fleet/fleet.toml",
            "--to",
            "3.0.0",
        ])
        .run()
        .json();
    let steps = |who: &str| -> Vec<String> {
        let m = plan["installations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == who)
            .unwrap();
        m["plan"]["hops"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| h["steps"].as_array().unwrap().iter())
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (auth, notes) = (steps("auth"), steps("notes-a"));
    // The notes schema migration belongs to the notes service.
    assert!(
        notes.iter().any(|s| s == "migrate.notes-schema-v3"),
        "{notes:?}"
    );
    assert!(!auth.iter().any(|s| s.starts_with("migrate.")), "{auth:?}");
    assert!(
        auth.iter().any(|s| s == "stop.auth") && !auth.iter().any(|s| s == "stop.notes"),
        "{auth:?}"
    );
    assert!(
        notes.iter().any(|s| s == "stop.notes") && !notes.iter().any(|s| s == "stop.auth"),
        "{notes:?}"
    );
}
