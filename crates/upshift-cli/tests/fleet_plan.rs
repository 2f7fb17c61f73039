//! `upshift fleet plan`, run as the real binary on installations of the
//! demo product: the order (the installation others use first), the waves,
//! each installation's own plan, and the errors that name their line.

mod common;

use std::path::Path;

use common::{demo_manifest, upshift, write};

/// Writes a demo manifest named `name` at `version` under `dir/name/`.
fn installation(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let text = demo_manifest()
        .replacen("name = \"demo\"", &format!("name = \"{name}\""), 1)
        .replacen(
            "version = \"1.0.0\"",
            &format!("version = \"{version}\""),
            1,
        );
    write(&dir.join(name), "upshift.toml", &text);
}

const FLEET: &str = r#"
[installations.notes-a]
manifest = "notes-a/upshift.toml"
uses = ["auth"]

[installations.notes-b]
manifest = "notes-b/upshift.toml"
uses = ["auth"]
to = "2.1.0"

[installations.auth]
manifest = "auth/upshift.toml"
"#;

fn fleet_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    installation(dir.path(), "auth", "1.0.0");
    installation(dir.path(), "notes-a", "1.0.0");
    installation(dir.path(), "notes-b", "1.1.0");
    write(dir.path(), "fleet.toml", FLEET);
    dir
}

#[test]
fn the_auth_installation_is_planned_first_and_each_keeps_its_own_plan() {
    let dir = fleet_dir();
    let run = upshift(dir.path())
        .args(["--json", "fleet", "plan", "fleet.toml", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    let waves: Vec<Vec<String>> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| serde_json::from_value(w["installations"].clone()).unwrap())
        .collect();
    assert_eq!(waves, [vec!["auth"], vec!["notes-a"], vec!["notes-b"]]);
    let reasons = plan["waves"][0]["reasons"].to_string();
    assert!(
        reasons.contains("auth first: notes-a, notes-b use it"),
        "{reasons}"
    );
    let member = |name: &str| {
        plan["installations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {plan}"))
            .clone()
    };
    let hops = |name: &str| -> Vec<String> {
        member(name)["plan"]["hops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["to"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(hops("auth"), ["1.1.0", "2.1.0", "3.0.0"]);
    assert_eq!(hops("notes-a"), ["1.1.0", "2.1.0", "3.0.0"]);
    // notes-b has its own target and starts further along.
    assert_eq!(hops("notes-b"), ["2.1.0"]);
    assert_eq!(member("notes-b")["plan"]["from"], "1.1.0");
    assert_eq!(plan["on_failure"], "keep");
    assert!(plan["first"]
        .as_str()
        .unwrap()
        .contains("back up every installation (3)"));

    let human = upshift(dir.path())
        .args(["fleet", "plan", "fleet.toml", "--to", "3.0.0"])
        .run();
    assert_eq!(human.code, 0, "{}", human.stderr);
    for line in [
        "Fleet fleet.toml: 3 installations in 3 waves (one installation at a time;",
        "Wave 1: auth\n  auth: demo 1.0.0 → 3.0.0 in 3 hops (1.1.0, 2.1.0, 3.0.0)",
        "Wave 3: notes-b\n  notes-b: demo 1.1.0 → 2.1.0 in 1 hop (2.1.0)",
        "- one at a time (max_parallel = 1)",
    ] {
        assert!(
            human.stdout.contains(line),
            "{line:?} in:\n{}",
            human.stdout
        );
    }
}

#[test]
fn a_target_an_installations_catalog_cannot_reach_names_the_installation() {
    let dir = fleet_dir();
    let run = upshift(dir.path())
        .args(["fleet", "plan", "fleet.toml", "--to", "9.9.9"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("installation `notes-a`: upshift demo (auth + notes) has no release 9.9.9"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_manifest_or_target_is_refused_at_the_fleet_files_line() {
    let dir = fleet_dir();
    std::fs::remove_file(dir.path().join("notes-a/upshift.toml")).unwrap();
    let run = upshift(dir.path())
        .args(["fleet", "plan", "fleet.toml", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("fleet.toml:3"), "{}", run.stderr);
    assert!(run.stderr.contains("no manifest at"), "{}", run.stderr);

    let dir = fleet_dir();
    let run = upshift(dir.path())
        .args(["fleet", "plan", "fleet.toml"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no target for `notes-a`: give `--to VERSION`"),
        "{}",
        run.stderr
    );

    let run = upshift(dir.path())
        .args(["fleet", "plan", "nowhere.toml", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot read the fleet file nowhere.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_manifest_of_a_member_is_reported_with_its_own_line() {
    let dir = fleet_dir();
    write(
        &dir.path().join("auth"),
        "upshift.toml",
        "[installation]\nname = \"auth\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n[services.x]\ndriver = \"nope\"\n",
    );
    let run = upshift(dir.path())
        .args(["fleet", "plan", "fleet.toml", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("installation `auth`"), "{}", run.stderr);
    assert!(run.stderr.contains("auth/upshift.toml:6"), "{}", run.stderr);
}
