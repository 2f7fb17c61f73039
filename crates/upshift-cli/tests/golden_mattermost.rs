//! Golden paths of the built-in Mattermost catalog: `upshift plan --json`
//! (the real binary) for journeys Mattermost documents, compared hop for
//! hop, with the important upgrade notes each hop must show.

mod common;

use common::{repo, upshift, write, Run};
use serde_json::Value;

/// The example installation (examples/mattermost), at `version`.
fn plan(version: &str, to: &str) -> Value {
    let run = plan_run(version, to);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

fn plan_run(version: &str, to: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("examples/mattermost/upshift.toml")).unwrap();
    assert!(text.contains("version = \"9.11.18\""), "the example moved");
    let text = text.replace("version = \"9.11.18\"", &format!("version = \"{version}\""));
    write(dir.path(), "upshift.toml", &text);
    upshift(dir.path())
        .args(["plan", "--to", to, "--json"])
        .run()
}

fn hops(plan: &Value) -> Vec<(String, String)> {
    plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (str_of(&h["from"]), str_of(&h["to"])))
        .collect()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("{v}")).to_string()
}

fn pairs(path: &[&str]) -> Vec<(String, String)> {
    path.windows(2)
        .map(|w| (w[0].to_string(), w[1].to_string()))
        .collect()
}

/// The notes a hop shows, as (release, text); a note is a string or
/// `{ text, source }`.
fn notes(hop: &Value) -> Vec<(String, String)> {
    let mut out = vec![];
    for group in hop["notes"].as_array().unwrap() {
        let version = str_of(&group["version"]);
        for n in group["notes"].as_array().unwrap() {
            let text = n
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| str_of(&n["text"]));
            out.push((version.clone(), text));
        }
    }
    out
}

/// Which hops (by index) show a note of `release` containing `needle`.
fn hops_noting(plan: &Value, release: &str, needle: &str) -> Vec<usize> {
    plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            notes(h)
                .iter()
                .any(|(v, t)| v == release && t.contains(needle))
        })
        .map(|(i, _)| i)
        .collect()
}

fn step_ids(hop: &Value) -> Vec<String> {
    hop["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| str_of(&s["id"]))
        .collect()
}

/// From 5.25 to the newest ESR. "When upgrading to Mattermost 7.x from a 5.x
/// release, upgrade to 5.37.10 first"
/// (https://docs.mattermost.com/administration-guide/upgrade/important-upgrade-notes.html#additional-upgrade-notes),
/// and ESR to ESR, since backwards compatibility reaches only one ESR back
/// (https://docs.mattermost.com/administration-guide/upgrade/prepare-to-upgrade-mattermost.html);
/// the ESRs and their newest patches are the version archive's
/// (https://docs.mattermost.com/product-overview/version-archive.html).
#[test]
fn from_5_25_through_5_37_10_then_esr_to_esr() {
    let p = plan("5.25.7", "11.7.6");
    assert_eq!(
        hops(&p),
        pairs(&[
            "5.25.7", "5.31.9", "5.37.10", "6.3.10", "7.1.9", "7.8.15", "8.1.13", "9.5.14",
            "9.11.18", "10.5.14", "10.11.21", "11.7.6",
        ])
    );
    // The 5.x line ends on 5.37.10 or later before any 6.x or 7.x release.
    let last_5 = hops(&p)
        .iter()
        .map(|(_, to)| semver::Version::parse(to).unwrap())
        .filter(|v| v.major == 5)
        .max()
        .unwrap();
    assert!(last_5 >= semver::Version::new(5, 37, 10), "{last_5}");

    // Each hop lists the notes of the releases it crosses, on that hop only.
    // v5.37: the `platform` binary is removed.
    assert_eq!(hops_noting(&p, "5.37.10", "`platform` binary"), [1]);
    // v6.0: no 5.x and 6.x servers side by side, long migrations.
    assert_eq!(
        hops_noting(&p, "6.0.4", "cannot run beside a 5.x server"),
        [2]
    );
    assert_eq!(hops_noting(&p, "6.0.4", "5.37.10"), [2]);
    // v7.0: session lengths move from days to hours.
    assert_eq!(hops_noting(&p, "7.0.2", "from days to hours"), [3]);
    // v8.0: PostgreSQL 11 at least, with its pre-check on the same hop.
    assert_eq!(hops_noting(&p, "8.0.4", "minimum is PostgreSQL 11"), [5]);
    assert!(step_ids(&p["hops"][5]).contains(&"precheck.postgres-11".to_string()));
    // v9.2: custom retention policies start running.
    assert_eq!(hops_noting(&p, "9.2.6", "retention"), [6]);
    // v11.0: MySQL support ended, PostgreSQL 14 at least.
    assert_eq!(hops_noting(&p, "11.0.7", "MySQL has ended"), [10]);
    assert!(step_ids(&p["hops"][10]).contains(&"precheck.postgres-14".to_string()));
    for (i, hop) in p["hops"].as_array().unwrap().iter().enumerate() {
        assert!(!notes(hop).is_empty(), "hop {i} shows no note");
        for (_, text) in notes(hop) {
            assert!(!text.is_empty());
        }
    }
    // A release's window is the migration time its notes measure: the hop
    // to 7.1 shows 7.1's (1m18s to 1m34s measured, so 2 minutes).
    assert_eq!(p["hops"][3]["estimated_window"], "2m", "{}", p["hops"][3]);
}

/// Asking for 7.x from 5.25 still stops at 5.37.10 (the 5.37.10 rule) and at
/// 6.3, the ESR in between
/// (https://docs.mattermost.com/administration-guide/upgrade/important-upgrade-notes.html#additional-upgrade-notes).
#[test]
fn to_7_1_from_5_x_stops_at_5_37_10() {
    let p = plan("5.31.9", "7.1.9");
    assert_eq!(hops(&p), pairs(&["5.31.9", "5.37.10", "6.3.10", "7.1.9"]));
    let reasons: Vec<String> = p["hops"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert!(reasons.iter().any(|r| r.contains("5.37.10")), "{reasons:?}");
}

/// The example's own journey: 9.11 ESR to the newest ESR through 10.5 and
/// 10.11 (https://docs.mattermost.com/administration-guide/upgrade/prepare-to-upgrade-mattermost.html).
#[test]
fn from_9_11_esr_to_11_7_esr() {
    let p = plan("9.11.18", "11.7.6");
    assert_eq!(
        hops(&p),
        pairs(&["9.11.18", "10.5.14", "10.11.21", "11.7.6"])
    );
    // v10.6 raises the PostgreSQL minimum to 13 on the second hop.
    assert_eq!(hops_noting(&p, "10.6.6", "minimum is PostgreSQL 13"), [1]);
    assert!(step_ids(&p["hops"][1]).contains(&"precheck.postgres-13".to_string()));
    // The 10.11.17+ to 11.7.2- migration bug is named where 10.11 is crossed.
    assert_eq!(hops_noting(&p, "10.11.21", "11.7.3"), [1]);
    assert_eq!(hops_noting(&p, "11.7.6", "FIPS"), [2]);
}

/// An ESR to a feature release between ESRs: one hop
/// (https://docs.mattermost.com/administration-guide/upgrade/prepare-to-upgrade-mattermost.html).
#[test]
fn from_an_esr_to_a_feature_release_after_it() {
    let p = plan("10.11.21", "11.3.3");
    assert_eq!(hops(&p), pairs(&["10.11.21", "11.3.3"]));
    assert_eq!(hops_noting(&p, "11.0.7", "PostgreSQL 14"), [0]);
}

/// 1.x goes one documented step at a time to 1.3, which reaches 2.0
/// directly (https://docs.mattermost.com/administration/upgrade.html); 2.x
/// reaches 3.0, and 3.0 and later any later 3.x/4.x release
/// (https://docs.mattermost.com/administration/legacy-upgrade.html); from
/// 4.10, the first ESR, ESR to ESR.
#[test]
fn legacy_releases_follow_the_legacy_upgrade_guide() {
    let p = plan("1.2.1", "5.9.8");
    assert_eq!(
        hops(&p),
        pairs(&["1.2.1", "1.3.0", "2.0.0", "3.0.3", "4.10.10", "5.9.8"])
    );
    assert_eq!(hops_noting(&p, "3.0.0", "upgrade_db_30"), [2]);
    assert_eq!(hops_noting(&p, "5.0.3", "renamed `mattermost`"), [4]);
}

/// Settings a release removes or refuses: 11.0 stops on MySQL and removes
/// `BleveSettings`; 10.0 removes `ProductSettings`
/// (https://docs.mattermost.com/product-overview/mattermost-v11-changelog.html#release-v11-0-major-release,
/// https://docs.mattermost.com/product-overview/deprecated-features.html).
#[test]
fn config_rules_of_10_0_and_11_0() {
    let dir = tempfile::tempdir().unwrap();
    let config = "{\n  \"SqlSettings\": {\"DriverName\": \"postgres\"},\n  \"BleveSettings\": {\"IndexDir\": \"\"},\n  \"ProductSettings\": {},\n  \"ServiceSettings\": {\"SiteURL\": \"https://chat.example.com\"}\n}\n";
    write(dir.path(), "config.json", config);
    let migrate = |dir: &std::path::Path| {
        upshift(dir)
            .args([
                "config",
                "migrate",
                "--product",
                "mattermost",
                "--from",
                "9.11.18",
                "--to",
                "11.7.6",
                "config.json",
                "--write",
            ])
            .run()
    };
    let r = migrate(dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert!(v.get("BleveSettings").is_none(), "{v}");
    assert!(v.get("ProductSettings").is_none(), "{v}");
    assert_eq!(v["ServiceSettings"]["SiteURL"], "https://chat.example.com");

    write(
        dir.path(),
        "config.json",
        &config.replace("\"postgres\"", "\"mysql\""),
    );
    let r = migrate(dir.path());
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("no longer supports MySQL"),
        "{}",
        r.stderr
    );
    assert!(
        std::fs::read_to_string(dir.path().join("config.json"))
            .unwrap()
            .contains("BleveSettings"),
        "a refused migration leaves the file alone"
    );
}
