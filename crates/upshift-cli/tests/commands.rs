//! `catalog`, `status`, `demo` and `--help`, run as the real binary.

mod common;

use common::{demo_manifest, repo, upshift, write};

#[test]
fn catalog_list_shows_the_built_in_products() {
    let run = upshift(&repo()).args(["catalog", "list"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("catalog_list", run.stdout);
    let json = upshift(&repo())
        .args(["--json", "catalog", "list"])
        .run()
        .json();
    let products: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["product"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["demo", "gitlab", "mattermost", "mender"]);
}

#[test]
fn catalog_show_lists_releases_and_ranges() {
    let run = upshift(&repo()).args(["catalog", "show", "demo"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("catalog_show_demo", run.stdout);
    let bad = upshift(&repo())
        .args(["catalog", "show", "mattermst"])
        .run();
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("did you mean `mattermost`?"),
        "{}",
        bad.stderr
    );
}

#[test]
fn status_reports_a_version_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let with_cmd = |v: &str| {
        demo_manifest().replace(
            "# version_command = \"current/bin/upshift-demo --version\"",
            &format!("version_command = \"echo 'demo version {v}, build 7'\""),
        )
    };
    write(dir.path(), "upshift.toml", &with_cmd("1.0.0"));
    let ok = upshift(dir.path()).args(["--json", "status"]).run();
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let doc = ok.json();
    assert_eq!(doc["running_version"]["reported"], "1.0.0");
    assert_eq!(doc["running_version"]["matches"], true);
    assert_eq!(doc["services"][0]["name"], "auth");

    write(dir.path(), "upshift.toml", &with_cmd("1.1.0"));
    let bad = upshift(dir.path()).args(["status"]).run();
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.contains("MISMATCH: `echo 'demo version 1.1.0, build 7'` reports 1.1.0, but the manifest says 1.0.0"), "{}", bad.stdout);
}

/// `upshift demo` end to end: sets up auth + notes 1.0.0, writes notes,
/// upgrades to 3.0.0 through the executor and checks the notes survived.
#[test]
fn demo_upgrades_the_demo_installation_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let bin = common::demo::demo_bin();
    let run = upshift(dir.path())
        .env("UPSHIFT_DEMO_BIN", bin.to_str().unwrap())
        .args(["demo", "--dir", "d"])
        .run();
    common::demo::stop_services(&dir.path().join("d"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("path: 1.0.0 → 1.1.0 → 2.1.0 → 3.0.0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("demo is at 3.0.0 and healthy; all 3 notes are there"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("succeeded"),
        "the history is printed: {}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d/current/VERSION"))
            .unwrap()
            .trim(),
        "3.0.0"
    );
    // A directory holding something else is refused and left alone.
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    write(&dir.path().join("mine"), "upshift.toml", "# mine\n");
    let clash = upshift(dir.path())
        .env("UPSHIFT_DEMO_BIN", bin.to_str().unwrap())
        .args(["demo", "--dir", "mine"])
        .run();
    assert_eq!(clash.code, 2, "{}", clash.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine/upshift.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn help_teaches_with_examples() {
    let run = upshift(&repo()).args(["--help"]).run();
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("upshift plan --to 4.0.0 --out"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Exit codes:"), "{}", run.stdout);
    let plan = upshift(&repo()).args(["plan", "--help"]).run();
    assert!(
        plan.stdout.contains("point of no return"),
        "{}",
        plan.stdout
    );
}
