//! The built-in GitLab catalog against the upgrade paths GitLab documents:
//! each journey is planned by the real binary (`plan --json`) and compared
//! hop for hop with the path the cited page gives.

mod common;

use common::{repo, upshift, write};

/// A manifest of a GitLab installation at `version` stating `facts`.
fn manifest(version: &str, facts: &[&str]) -> String {
    let facts: Vec<String> = facts.iter().map(|f| format!("\"{f}\"")).collect();
    format!(
        "[installation]\nname = \"gitlab\"\nproduct = \"gitlab\"\nversion = \"{version}\"\nfacts = [{}]\n",
        facts.join(", ")
    )
}

/// The plan from `from` to `to` with `facts`, as JSON.
fn plan(from: &str, to: &str, facts: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &manifest(from, facts));
    let run = upshift(dir.path())
        .args(["plan", "--to", to, "--json"])
        .run();
    assert_eq!(run.code, 0, "{from} → {to} {facts:?}: {}", run.stderr);
    run.json()
}

/// The versions a plan stops at, after the start.
fn stops(from: &str, to: &str, facts: &[&str]) -> Vec<String> {
    let p = plan(from, to, facts);
    let hops = p["hops"].as_array().unwrap();
    let mut at = from.to_string();
    hops.iter()
        .map(|h| {
            assert_eq!(h["from"], at.as_str(), "hops chain: {p}");
            at = h["to"].as_str().unwrap().to_string();
            at.clone()
        })
        .collect()
}

fn list(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// https://docs.gitlab.com/development/avoiding_required_stops/ walks
// 14.0.12 to 16.1 through 14.3.6, 14.9.5, 14.10.5, 15.0.5, (15.1.6,) 15.4.6
// and 15.11.x; https://docs.gitlab.com/update/upgrade_paths/ names the
// GitLab 15 and 16 stops (15.0.5, 15.4.6, 15.11.13, 16.3.9, 16.7.10,
// 16.11.10) and https://archives.docs.gitlab.com/15.11/ee/update/#upgrade-paths
// the GitLab 14 ones (14.0.12 > 14.3.6 > 14.9.5 > 14.10.5).
const FROM_14_TO_16: &[&str] = &[
    "14.3.6", "14.9.5", "14.10.5", "15.0.5", "15.4.6", "15.11.13", "16.3.9", "16.7.10", "16.11.10",
];

#[test]
fn from_14_0_12_to_the_newest_16_lands_on_every_required_stop() {
    assert_eq!(stops("14.0.12", "16.11.10", &[]), list(FROM_14_TO_16));
}

#[test]
fn an_early_14_0_patch_goes_to_14_0_12_first() {
    // The GitLab 14 path starts at 14.0.12 (archived 15.11 upgrade paths).
    let mut want = vec!["14.0.12"];
    want.extend_from_slice(&FROM_14_TO_16[..3]);
    assert_eq!(stops("14.0.3", "14.10.5", &[]), list(&want));
}

/// FROM_14_TO_16 with `extra` inserted in version order.
fn with(extra: &[&str]) -> Vec<String> {
    let key = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let mut all: Vec<&str> = FROM_14_TO_16.iter().chain(extra).copied().collect();
    all.sort_by_key(|v| key(v));
    list(&all)
}

// https://docs.gitlab.com/update/upgrade_paths/, "Required GitLab 16
// upgrade stops": 16.0.10 only for instances with lots of users or a large
// pipeline variables history; 16.1.8 only for instances with NPM packages in
// their package registry; 16.2.11 only for a large pipeline variables
// history. "Required GitLab 15 upgrade stops": 15.1.6 only for instances with
// multiple web nodes.
#[test]
fn conditional_stops_hold_only_for_installations_stating_their_fact() {
    assert_eq!(
        stops("14.0.12", "16.11.10", &["many_users"]),
        with(&["16.0.10"])
    );
    assert_eq!(
        stops("14.0.12", "16.11.10", &["npm_packages"]),
        with(&["16.1.8"])
    );
    assert_eq!(
        stops("14.0.12", "16.11.10", &["large_pipeline_variables"]),
        with(&["16.0.10", "16.2.11"])
    );
    assert_eq!(
        stops("14.0.12", "16.11.10", &["multiple_web_nodes"]),
        with(&["15.1.6"])
    );
    assert_eq!(
        stops("14.0.12", "16.11.10", &["many_users", "npm_packages"]),
        with(&["16.0.10", "16.1.8"])
    );
}

#[test]
fn a_conditional_stop_lands_on_the_newest_patch_of_its_minor() {
    // The documented stop is 16.0.10, the newest 16.0 patch.
    assert_eq!(
        stops("15.11.13", "16.3.9", &["many_users"]),
        list(&["16.0.10", "16.3.9"])
    );
    // Without the fact, straight to 16.3.9.
    assert_eq!(stops("15.11.13", "16.3.9", &[]), list(&["16.3.9"]));
    // From an earlier patch of the stop's own line, the path still lands
    // on the documented stop patch.
    assert_eq!(
        stops("16.0.3", "16.3.9", &["many_users"]),
        list(&["16.0.10", "16.3.9"])
    );
    // The hop into the stop says why.
    let p = plan("15.11.13", "16.3.9", &["npm_packages"]);
    let why = p["hops"][0]["reasons"].to_string();
    assert!(
        why.contains("16.1.x is a required stop for this installation: it states `npm_packages`"),
        "{why}"
    );
}

// https://docs.gitlab.com/update/upgrade_paths/: "Upgrade to the latest
// available patch release of the major.minor release rather than the first
// patch release ... This includes major.minor versions you must stop at."
#[test]
fn an_early_patch_of_a_stop_moves_to_the_stops_patch_first() {
    assert_eq!(
        stops("16.3.2", "16.7.10", &[]),
        list(&["16.3.9", "16.7.10"])
    );
}

// https://docs.gitlab.com/update/upgrade_paths/, "Required GitLab 17
// upgrade stops": 17.3.7, 17.5.5, 17.8.7, 17.11.7; 17.1.8 only for
// instances with large `ci_pipeline_messages` tables. GitLab 18: "Required
// upgrade stops occur at versions 18.2, 18.5, 18.8, and 18.11"; GitLab 19
// (https://docs.gitlab.com/update/versions/gitlab_19_changes/): 19.2, 19.5.
#[test]
fn through_17_and_18_into_19_at_x2_x5_x8_x11() {
    let to_17 = ["17.3.7", "17.5.5", "17.8.7", "17.11.7"];
    assert_eq!(stops("16.11.10", "17.11.7", &[]), list(&to_17));
    let mut with_messages = vec!["17.1.8"];
    with_messages.extend(to_17);
    assert_eq!(
        stops("16.11.10", "17.11.7", &["large_ci_pipeline_messages"]),
        list(&with_messages)
    );
    assert_eq!(
        stops("17.11.7", "18.9.2", &[]),
        list(&["18.2.8", "18.5.5", "18.8.4", "18.9.2"])
    );
    assert_eq!(
        stops("18.8.4", "19.5.3", &[]),
        list(&["18.11.13", "19.2.5", "19.5.3"])
    );
}

#[test]
fn the_whole_way_from_14_to_19_has_every_stop_and_one_background_migration_check_per_hop() {
    let p = plan("14.0.12", "19.5.3", &[]);
    let hops = p["hops"].as_array().unwrap();
    let to: Vec<&str> = hops.iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(
        to,
        [
            "14.3.6", "14.9.5", "14.10.5", "15.0.5", "15.4.6", "15.11.13", "16.3.9", "16.7.10",
            "16.11.10", "17.3.7", "17.5.5", "17.8.7", "17.11.7", "18.2.8", "18.5.5", "18.8.4",
            "18.11.13", "19.2.5", "19.5.3"
        ]
    );
    // https://docs.gitlab.com/update/background_migrations/: batched
    // background migrations must finish before the next upgrade.
    for h in hops {
        let checks: Vec<&serde_json::Value> = h["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["id"] == "precheck.batched-migrations")
            .collect();
        assert_eq!(
            checks.len(),
            1,
            "hop {} → {}: {checks:?}",
            h["from"],
            h["to"]
        );
    }
    // The PostgreSQL minimum of each major is in the notes of the hop into it.
    let notes = serde_json::to_string(&p).unwrap();
    for needs in [
        "GitLab 16.x requires PostgreSQL 13.6",
        "GitLab 17.x requires PostgreSQL 14.14",
        "GitLab 18.x requires PostgreSQL 16.5",
        "GitLab 19.x requires PostgreSQL 17",
    ] {
        assert!(notes.contains(needs), "{needs}");
    }
}

#[test]
fn a_fact_the_catalog_does_not_declare_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "upshift.toml",
        &manifest("16.3.9", &["npm_package"]),
    );
    let run = upshift(dir.path()).args(["plan", "--to", "16.7.10"]).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("npm_package"), "{}", run.stderr);
}

#[test]
fn the_gitlab_examples_plan() {
    for (example, to, last_stop_before) in [
        (
            "examples/gitlab-omnibus/upshift.toml",
            "16.11.10",
            "16.7.10",
        ),
        ("examples/gitlab-docker/upshift.toml", "17.11.7", "17.8.7"),
    ] {
        let run = upshift(&repo())
            .args(["-m", example, "plan", "--to", to])
            .run();
        assert_eq!(run.code, 0, "{example}: {}", run.stderr);
        assert!(
            run.stdout.contains(&format!("{last_stop_before} → {to}")),
            "{example}:\n{}",
            run.stdout
        );
    }
}
