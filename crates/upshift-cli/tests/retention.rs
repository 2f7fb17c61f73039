//! Retention through the real binary on the live demo installation:
//! `snapshots forget` keeps what its rules keep and every snapshot a
//! rollback needs, prunes data restic still checks clean, and the
//! manifest's `[retention]` runs after a successful `apply`.

mod common;

use common::demo::Demo;

/// The short ids `upshift snapshots` lists, oldest first.
fn listed(demo: &Demo) -> Vec<String> {
    let list = demo.upshift(&["--json", "snapshots"]).json();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["short_id"].as_str().unwrap().to_string())
        .collect()
}

/// The short ids the installation's newest run recorded.
fn run_snapshots(demo: &Demo) -> Vec<String> {
    let history = demo.upshift(&["--json", "history"]).json();
    let runs = history.as_array().unwrap();
    runs.last().unwrap()["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// A verified manual snapshot; its short id.
fn backup(demo: &Demo) -> String {
    let b = demo.upshift(&["--json", "backup"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    b.json()["short_id"].as_str().unwrap().to_string()
}

/// The short ids of a forget report's `removed`.
fn removed(report: &serde_json::Value) -> Vec<String> {
    report["removed"]
        .as_array()
        .unwrap_or_else(|| panic!("no `removed` in {report}"))
        .iter()
        .map(|id| id.as_str().unwrap()[..8].to_string())
        .collect()
}

/// Bytes of pack files in the repository.
fn pack_bytes(demo: &Demo) -> u64 {
    let mut total = 0;
    for dir in std::fs::read_dir(demo.path(".upshift/repo/data")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            total += f.unwrap().metadata().unwrap().len();
        }
    }
    total
}

fn appended(demo: &Demo, text: &str) {
    let path = demo.path("upshift.toml");
    let m = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{m}\n{text}")).unwrap();
}

/// A demo upgraded 1.0.0 → 3.0.0, then three manual backups of new notes:
/// `--keep-last 1 --prune` removes the two older backups and their data,
/// keeps every snapshot of the run ("rollback needs it"); restic checks
/// the repository clean with all data read, and `rollback --to 2.1.0`
/// still lands on 2.1.0 with that hop's data. A dry run changes nothing.
#[test]
fn forget_keeps_what_a_rollback_needs_and_prunes_what_nothing_uses() {
    let demo = Demo::new();
    let before = demo.export();
    let up = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let of_run = run_snapshots(&demo);
    assert!(of_run.len() >= 4, "{of_run:?}");
    let manual: Vec<String> = (0..3)
        .map(|_| {
            demo.seed(1);
            backup(&demo)
        })
        .collect();
    let all = listed(&demo);
    assert_eq!(all.len(), of_run.len() + 3, "{all:?}");
    let table = demo.upshift(&["snapshots"]);
    assert!(table.stdout.contains("VERIFIED"), "{}", table.stdout);
    let first = table.stdout.lines().nth(1).unwrap();
    assert!(
        first.contains("pre-upgrade") && first.contains(" yes "),
        "the run verified its first snapshot: {}",
        table.stdout
    );
    let bytes = pack_bytes(&demo);

    let dry = demo.upshift(&[
        "--json",
        "snapshots",
        "forget",
        "--keep-last",
        "1",
        "--prune",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(removed(&dry.json()), manual[..2], "{}", dry.stdout);
    assert!(dry.json()["prune"]["bytes_removed"].as_u64().unwrap() > 0);
    let shown = demo.upshift(&["snapshots", "forget", "--keep-last", "1", "--dry-run"]);
    assert!(
        shown.stdout.contains("would remove 2 snapshots")
            && shown.stdout.contains("rollback needs it"),
        "{}",
        shown.stdout
    );
    assert_eq!(listed(&demo), all, "a dry run removes nothing");
    assert_eq!(pack_bytes(&demo), bytes, "a dry run prunes nothing");

    let f = demo.upshift(&[
        "--json",
        "snapshots",
        "forget",
        "--keep-last",
        "1",
        "--prune",
    ]);
    assert_eq!(f.code, 0, "{}", f.stderr);
    let report = f.json();
    assert_eq!(removed(&report), manual[..2]);
    for d in report["snapshots"].as_array().unwrap() {
        let id = d["short_id"].as_str().unwrap();
        if of_run.iter().any(|r| r == id) {
            assert_eq!(d["keep"], true, "{d}");
            assert!(
                d["reasons"]
                    .as_array()
                    .unwrap()
                    .contains(&"rollback needs it".into()),
                "{d}"
            );
        }
    }
    let left = listed(&demo);
    let mut expected: Vec<String> = of_run.clone();
    expected.push(manual[2].clone());
    expected.sort();
    let mut sorted = left.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert!(
        pack_bytes(&demo) < bytes,
        "prune removed the data of the forgotten snapshots"
    );

    demo.restic(&["check", "--read-data"]);
    let restic_list: serde_json::Value =
        serde_json::from_str(&demo.restic(&["--json", "snapshots"])).unwrap();
    assert_eq!(restic_list.as_array().unwrap().len(), left.len());

    let back = demo.upshift(&["-y", "rollback", "--to", "2.1.0"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    demo.assert_serves("2.1.0", &before);
}

/// `[retention]` in the manifest: after a successful apply the manual
/// snapshots taken before it go (keep_last = 1 keeps the newest), every
/// snapshot of the run stays, and apply's JSON says what was removed.
#[test]
fn manifest_retention_is_applied_after_a_successful_apply() {
    let demo = Demo::new();
    let manual = vec![backup(&demo), backup(&demo)];
    appended(&demo, "[retention]\nkeep_last = 1\nprune = true\n");
    let up = demo.upshift(&["--json", "-y", "apply", "--to", "3.0.0"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let doc = up.json();
    assert_eq!(doc["at"], "3.0.0", "{doc}");
    assert_eq!(removed(&doc["retention"]), manual, "{doc}");
    assert!(up.stderr.contains("retention"), "{}", up.stderr);
    let mut left = listed(&demo);
    let mut of_run = run_snapshots(&demo);
    left.sort();
    of_run.sort();
    assert_eq!(left, of_run);
    demo.restic(&["check"]);
}

/// A retention that fails after the upgrade (here: a snapshot file of the
/// repository that cannot be read) is a warning; apply still exits 0.
#[test]
fn a_failing_retention_does_not_fail_the_upgrade() {
    let demo = Demo::new();
    let bad = format!(".upshift/repo/snapshots/{}", "0".repeat(64));
    appended(
        &demo,
        &format!(
            "[hooks]\npost_upgrade = \"printf garbage > {bad}\"\n\n[retention]\nkeep_last = 1\n"
        ),
    );
    let up = demo.upshift(&["--json", "-y", "apply", "--to", "1.1.0"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(
        up.stderr.contains("warning") && up.stderr.contains("applying [retention] failed"),
        "{}",
        up.stderr
    );
    assert!(up.json()["retention"]["error"].is_string(), "{}", up.stdout);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
}

/// Bad retention input exits 2 and names what to fix: a manifest key
/// (with its line), no keep flag at all, a count of zero, a bad duration.
#[test]
fn bad_retention_input_exits_2_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = format!(
        "{}\n[retention]\nkeep_last = 3\nkeep_daily = \"often\"\n",
        common::demo_manifest()
    );
    let line = manifest
        .lines()
        .position(|l| l.starts_with("keep_daily"))
        .unwrap()
        + 1;
    common::write(tmp.path(), "upshift.toml", &manifest);
    let run = |args: &[&str]| common::upshift(tmp.path()).args(args).run();
    let bad = run(&["status"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("`[retention] keep_daily`")
            && bad.stderr.contains(&format!("upshift.toml:{line}:")),
        "{}",
        bad.stderr
    );

    common::write(tmp.path(), "upshift.toml", &common::demo_manifest());
    let none = run(&["snapshots", "forget", "--prune"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("--keep-last N") && none.stderr.contains("--keep-within DURATION"),
        "{}",
        none.stderr
    );
    for (flag, value) in [("--keep-last", "0"), ("--keep-within", "30x")] {
        let r = run(&["snapshots", "forget", flag, value]);
        assert_eq!(r.code, 2, "{flag} {value}: {}", r.stderr);
        assert!(r.stderr.contains(flag), "{}", r.stderr);
    }
    assert!(
        !tmp.path().join(".upshift/repo").exists(),
        "refused input creates no repository"
    );
    let help = run(&["snapshots", "forget", "--help"]);
    assert!(
        help.stdout.contains("Examples:") && help.stdout.contains("rollback needs it"),
        "{}",
        help.stdout
    );
}
