//! The planner against the built-in catalogs and hand-made edge cases.

use upshift_core::plan::{PlanError, StepKind};
use upshift_core::{load, plan, CatalogSet};

fn manifest(product: &str, version: &str) -> String {
    format!("[installation]\nname = \"t\"\nproduct = \"{product}\"\nversion = \"{version}\"\n")
}

fn path_of(product: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let src = manifest(product, from);
    let loaded = load("t.toml", &src, &CatalogSet::built_in()).unwrap();
    plan(&loaded, to)
        .unwrap()
        .hops
        .into_iter()
        .map(|h| (h.from, h.to))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn demo_path_stops_at_newest_allowed_release() {
    assert_eq!(
        path_of("demo", "1.0.0", "3.0.0"),
        pairs(&[("1.0.0", "1.1.0"), ("1.1.0", "2.1.0"), ("2.1.0", "3.0.0")])
    );
}

#[test]
fn mender_34_to_40_passes_every_minor_at_its_newest_patch() {
    // 3.6 is reached from 3.3 or 3.4 (https://docs.mender.io/3.6/server-installation/upgrading-from-previous-versions/upgrading-from-3.3-to-3.6),
    // so 3.5 is no stop on the way from 3.4.
    assert_eq!(
        path_of("mender", "3.4.0", "4.0.0"),
        pairs(&[("3.4.0", "3.6.3"), ("3.6.3", "3.7.7"), ("3.7.7", "4.0.0")])
    );
    assert_eq!(
        path_of("mender", "3.5.0", "4.0.0"),
        pairs(&[("3.5.0", "3.6.3"), ("3.6.3", "3.7.7"), ("3.7.7", "4.0.0")])
    );
    // Mender's old image tag form is accepted for the current version and the target.
    assert_eq!(
        path_of("mender", "mender-3.7.2", "v4.0"),
        pairs(&[("3.7.2", "4.0.0")])
    );
}

/// 1.x one step at a time to 1.3 (https://docs.mattermost.com/administration/legacy-upgrade.html),
/// "You can upgrade to v2.0.0 directly from v1.3.x or v1.4.x"
/// (https://docs.mattermost.com/administration/upgrade.html), then 2.1.
#[test]
fn mattermost_legacy_releases_step_by_step() {
    let hops = path_of("mattermost", "1.2.1", "2.1.0");
    assert_eq!(
        hops,
        pairs(&[("1.2.1", "1.3.0"), ("1.3.0", "2.0.0"), ("2.0.0", "2.1.0")])
    );
}

#[test]
fn every_hop_has_reasons_and_marks_the_point_of_no_return() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo/upshift.toml"
    ))
    .unwrap();
    let loaded = load("demo.toml", &src, &CatalogSet::built_in()).unwrap();
    let p = plan(&loaded, "3.0.0").unwrap();
    for hop in &p.hops {
        assert!(hop.reasons.len() >= 2, "{hop:?}");
        let swap = hop
            .steps
            .iter()
            .position(|s| s.kind == StepKind::Swap)
            .expect("a swap step");
        assert!(hop.steps[..swap].iter().all(|s| !s.point_of_no_return));
        assert!(hop.steps[swap..].iter().all(|s| s.point_of_no_return));
        // Services stop in reverse dependency order and start in dependency order.
        let ids: Vec<String> = hop.steps.iter().map(|s| s.id.to_string()).collect();
        let at = |id: &str| ids.iter().position(|x| *x == id).unwrap();
        assert!(at("stop.notes") < at("stop.auth"));
        assert!(at("health.auth") < at("start.notes"));
        assert!(at("backup.rollback_point") < at("swap.version"));
        assert!(at("prepare.artifacts") < at("maintenance.on"));
    }
    let last = p.hops.last().unwrap();
    assert!(last.steps.iter().any(
        |s| s.kind == StepKind::DataMigration && s.id.to_string() == "migrate.notes-schema-v3"
    ));
    assert!(p.hops[1]
        .reasons
        .iter()
        .any(|r| r.contains("passes over 2.0.0")));
}

#[test]
fn already_there_is_an_empty_plan() {
    let loaded = load(
        "t.toml",
        &manifest("demo", "3.0.0"),
        &CatalogSet::built_in(),
    )
    .unwrap();
    assert!(plan(&loaded, "3.0").unwrap().hops.is_empty());
}

#[test]
fn downgrade_unknown_target_and_no_path_are_refused() {
    let loaded = load(
        "t.toml",
        &manifest("demo", "2.1.0"),
        &CatalogSet::built_in(),
    )
    .unwrap();
    let e = plan(&loaded, "1.1.0").unwrap_err();
    assert!(
        matches!(e, PlanError::Downgrade { .. }) && e.is_bad_input(),
        "{e}"
    );
    let e = plan(&loaded, "2.5.0").unwrap_err();
    assert!(e.to_string().contains("2.1.0, 3.0.0"), "{e}");
    let e = plan(&loaded, "latest-ish").unwrap_err();
    assert!(matches!(e, PlanError::BadTarget { .. }), "{e}");

    let cat = "product = \"gap\"\n[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"2.0.0\"\nupgrade_from = \">=1.5.0\"\n";
    let set = CatalogSet::default()
        .with_files([("gap.toml", cat)])
        .unwrap();
    let loaded = load("t.toml", &manifest("gap", "1.0.0"), &set).unwrap();
    let e = plan(&loaded, "2.0.0").unwrap_err();
    assert!(!e.is_bad_input());
    assert_eq!(e.to_string(), "no upgrade path from 1.0.0 to 2.0.0: 2.0.0 accepts upgrades only from `>=1.5.0`, and the newest release reachable from 1.0.0 is 1.0.0");
}

#[test]
fn saved_plan_round_trips_and_goes_stale() {
    let src = manifest("demo", "1.0.0");
    let loaded = load("t.toml", &src, &CatalogSet::built_in()).unwrap();
    let p = plan(&loaded, "3.0.0").unwrap();
    let text = serde_json::to_string(&p).unwrap();
    let back = upshift_core::Plan::from_json("p.json", &text).unwrap();
    assert_eq!(back, p);
    back.check_fresh(&loaded).unwrap();

    let edited = load(
        "t.toml",
        &format!("{src}# edited\n"),
        &CatalogSet::built_in(),
    )
    .unwrap();
    assert!(back
        .check_fresh(&edited)
        .unwrap_err()
        .to_string()
        .contains("manifest changed"));

    let mut cat = upshift_core::catalog::BUILT_IN[0].1.to_string();
    cat.push_str("\n[[release]]\nversion = \"3.1.0\"\nupgrade_from = \">=3.0.0\"\n");
    let set = CatalogSet::built_in()
        .with_files([("demo.toml", cat.as_str())])
        .unwrap();
    let newer = load("t.toml", &src, &set).unwrap();
    assert!(back
        .check_fresh(&newer)
        .unwrap_err()
        .to_string()
        .contains("catalog changed"));

    let bad = upshift_core::Plan::from_json("p.json", "{\n  \"format\": 3\n}").unwrap_err();
    assert_eq!((bad.file.as_str(), bad.line), ("p.json", 2));
}

/// A saved plan edited by hand keeps its fingerprints, so only planning
/// again tells it apart; each edit is refused naming the first difference.
#[test]
fn edited_saved_plans_are_refused_naming_the_difference() {
    use upshift_core::plan::{StalePlan, StepId};
    let src = manifest("demo", "1.0.0");
    let loaded = load("t.toml", &src, &CatalogSet::built_in()).unwrap();
    let p = plan(&loaded, "3.0.0").unwrap();
    assert_eq!(p.check_unedited(&loaded).unwrap(), p);
    let refused = |edit: &dyn Fn(&mut upshift_core::Plan)| {
        let mut e = p.clone();
        edit(&mut e);
        match e.check_unedited(&loaded) {
            Err(StalePlan::Edited { difference, .. }) => difference,
            other => panic!("an edited plan was not refused: {other:?}"),
        }
    };

    let d = refused(&|e| e.to = "9.9.9".into());
    assert_eq!(d, "`to`: saved 9.9.9, planned 3.0.0");

    let final_at = p.hops[0]
        .steps
        .iter()
        .position(|s| s.id == StepId::BackupFinal)
        .unwrap();
    let d = refused(&|e| {
        e.hops[0].steps.retain(|s| s.id != StepId::BackupFinal);
    });
    assert_eq!(
        d,
        format!(
            "hop 1 step {}: the saved plan has no `backup.final`",
            final_at + 1
        )
    );

    let d = refused(&|e| {
        for s in &mut e.hops[1].steps {
            s.point_of_no_return = false;
        }
    });
    assert!(
        d.starts_with("hop 2 step ") && d.ends_with("(swap.version): point_of_no_return cleared"),
        "{d}"
    );

    let d = refused(&|e| {
        e.hops.remove(1);
    });
    assert_eq!(
        d,
        "hop 2: the saved plan has no hop 1.1.0 → 2.1.0 (it goes 2.1.0 → 3.0.0)"
    );
    let d = refused(&|e| {
        e.hops.pop();
    });
    assert_eq!(d, "the saved plan has no hop 3 (2.1.0 → 3.0.0)");
    let d = refused(&|e| e.hops[2].steps[0].description = "trust me".into());
    assert!(
        d.starts_with("hop 3 step 1 (preflight.health): description"),
        "{d}"
    );

    let msg = StalePlan::Edited {
        difference: d,
        to: "3.0.0".into(),
    }
    .to_string();
    assert!(msg.contains("upshift plan --to 3.0.0"), "{msg}");
}

#[test]
fn a_pre_check_several_crossed_releases_share_runs_once_per_hop() {
    let check = |d: &str| {
        format!(
            "[[release.pre_checks]]\nid = \"migrations\"\ndescription = \"{d}\"\nrun = \"true\"\n"
        )
    };
    let cat = format!(
        "product = \"shared\"\n[[release]]\nversion = \"1.0.0\"\n{}[[release]]\nversion = \"1.1.0\"\n{}[[release]]\nversion = \"1.2.0\"\n{}[[release.pre_checks]]\nid = \"other\"\ndescription = \"another check\"\n",
        check("as 1.0.0 says"),
        check("as 1.1.0 says"),
        check("as 1.2.0 says"),
    );
    let set = CatalogSet::default()
        .with_files([("shared.toml", cat.as_str())])
        .unwrap();
    let loaded = load("t.toml", &manifest("shared", "1.0.0"), &set).unwrap();
    let p = plan(&loaded, "1.2.0").unwrap();
    assert_eq!(p.hops.len(), 1);
    let checks: Vec<(String, String)> = p.hops[0]
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::PreCheck)
        .map(|s| (s.id.to_string(), s.description.clone()))
        .collect();
    // Crossed: 1.1.0 and 1.2.0; the shared check once, as the oldest states
    // it, naming every release that asks for it.
    assert_eq!(
        checks,
        [
            (
                "precheck.migrations",
                "as 1.1.0 says (required by 1.1.0, 1.2.0)",
            ),
            ("precheck.other", "another check (required by 1.2.0)")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let ids: Vec<String> = p.hops[0].steps.iter().map(|s| s.id.to_string()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

/// A catalog with a conditional stop: 1.1.x is required only for
/// installations that state `big`.
const CONDITIONAL: &str = r#"
product = "c"
[facts]
big = "a large instance"
[[release]]
version = "1.0.0"
[[release]]
version = "1.1.0"
upgrade_from = ">=1.0.0"
[[release]]
version = "1.1.3"
upgrade_from = ">=1.0.0"
stop_if = ["big"]
[[release]]
version = "1.2.0"
upgrade_from = ">=1.0.0"
"#;

fn conditional_path(facts: &str) -> Result<Vec<(String, String)>, String> {
    conditional_path_from("1.0.0", facts)
}

fn conditional_path_from(from: &str, facts: &str) -> Result<Vec<(String, String)>, String> {
    let cats = CatalogSet::default()
        .with_files([("c.toml", CONDITIONAL)])
        .unwrap();
    let src = format!("{}facts = [{facts}]\n", manifest("c", from));
    let loaded = load("t.toml", &src, &cats).map_err(|e| e.to_string())?;
    let p = plan(&loaded, "1.2.0").unwrap();
    if let Some(h) = p.hops.first().filter(|_| p.hops.len() > 1) {
        assert!(
            h.reasons
                .iter()
                .any(|r| r.contains("1.1.x is a required stop") && r.contains("`big`")),
            "{:?}",
            h.reasons
        );
    }
    Ok(p.hops.into_iter().map(|h| (h.from, h.to)).collect())
}

#[test]
fn a_conditional_stop_holds_only_for_installations_that_state_its_fact() {
    assert_eq!(conditional_path("").unwrap(), pairs(&[("1.0.0", "1.2.0")]));
    assert_eq!(
        conditional_path("\"big\"").unwrap(),
        pairs(&[("1.0.0", "1.1.3"), ("1.1.3", "1.2.0")])
    );
    // From inside the stop's line, the path still lands on the stop itself.
    assert_eq!(
        conditional_path_from("1.1.0", "\"big\"").unwrap(),
        pairs(&[("1.1.0", "1.1.3"), ("1.1.3", "1.2.0")])
    );
    assert_eq!(
        conditional_path_from("1.1.0", "").unwrap(),
        pairs(&[("1.1.0", "1.2.0")])
    );
    // A fact the catalog does not declare is refused, at its line.
    let e = conditional_path("\"bigg\"").unwrap_err();
    assert!(
        e.contains("t.toml:5") && e.contains("did you mean `big`"),
        "{e}"
    );
}

#[test]
fn a_stop_if_naming_an_undeclared_fact_is_refused_at_its_line() {
    let src = CONDITIONAL.replace("[\"big\"]", "[\"huge\"]");
    let e = CatalogSet::default()
        .with_files([("c.toml", src.as_str())])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("c.toml:13") && e.contains("`huge` is not among"),
        "{e}"
    );
}

#[test]
fn notes_may_carry_their_source() {
    let src = CONDITIONAL.replace(
        "stop_if = [\"big\"]",
        "stop_if = [\"big\"]\nnotes = [\"plain\", { text = \"cited\", source = \"https://e.org/n\" }]",
    );
    let cats = CatalogSet::default()
        .with_files([("c.toml", src.as_str())])
        .unwrap();
    let r = &cats.get("c").unwrap().releases[2];
    assert_eq!(r.notes[0].text, "plain");
    assert_eq!(r.notes[0].source, None);
    assert_eq!(r.notes[1].source.as_deref(), Some("https://e.org/n"));
}

/// Mattermost's catalog lists the newest patch of each minor line; an
/// installation on an earlier one is planned from its own version, as a
/// patch of its line, with a warning. Catalogs that list every patch
/// (the demo's) still refuse an unknown version.
#[test]
fn an_unlisted_patch_is_planned_as_a_patch_of_its_line_where_the_catalog_says_so() {
    let loaded = load(
        "t.toml",
        &manifest("mattermost", "9.11.3"),
        &CatalogSet::built_in(),
    )
    .unwrap();
    let p = plan(&loaded, "10.11.21").unwrap();
    let hops: Vec<(String, String)> = p
        .hops
        .iter()
        .map(|h| (h.from.clone(), h.to.clone()))
        .collect();
    assert_eq!(
        hops,
        // Later releases accept only the line's newest patch.
        pairs(&[
            ("9.11.3", "9.11.18"),
            ("9.11.18", "10.5.14"),
            ("10.5.14", "10.11.21")
        ])
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("9.11.3 is not listed") && w.contains("patch of 9.11")),
        "{:?}",
        p.warnings
    );
    // Its line's newest patch is crossed, so its notes and rules apply.
    assert!(
        p.hops[0].crosses.contains(&"9.11.18".to_string()),
        "{:?}",
        p.hops[0].crosses
    );
    // A line the catalog does not list at all is still refused.
    let e = load(
        "t.toml",
        &manifest("mattermost", "9.12.0"),
        &CatalogSet::built_in(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has no release 9.12.0"), "{e}");
    let e = load(
        "t.toml",
        &manifest("demo", "1.0.5"),
        &CatalogSet::built_in(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has no release 1.0.5"), "{e}");
}

/// Where every store is PostgreSQL (or SQLite on this machine), the
/// rollback point is frozen in place (`backup.rollback_point`) and made
/// durable after `maintenance.off` (`backup.durable`); with any other
/// store, the final backup and its verify stay in the window.
#[test]
fn the_rollback_point_is_frozen_in_the_server_only_when_every_store_is_postgres() {
    let ids = |stores: &str| -> Vec<String> {
        let src = format!("{}{stores}", manifest("demo", "1.0.0"));
        let loaded = load("t.toml", &src, &CatalogSet::built_in()).unwrap();
        plan(&loaded, "1.1.0").unwrap().hops[0]
            .steps
            .iter()
            .map(|s| s.id.to_string())
            .collect()
    };
    let pg = "\n[stores.db]\nkind = \"postgres\"\ndatabase = \"app\"\n";
    let frozen = ids(pg);
    let at = |s: &str| frozen.iter().position(|x| x == s);
    assert!(
        at("backup.final").is_none() && at("backup.verify").is_none(),
        "{frozen:?}"
    );
    assert!(
        at("backup.rollback_point") < at("swap.version"),
        "{frozen:?}"
    );
    assert!(at("maintenance.off") < at("backup.durable"), "{frozen:?}");
    assert!(at("backup.durable") < at("backup.post"), "{frozen:?}");
    let mixed = ids(&format!(
        "{pg}\n[stores.files]\nkind = \"files\"\npath = \"data\"\n"
    ));
    assert!(mixed.contains(&"backup.final".to_string()), "{mixed:?}");
    assert!(
        !mixed.contains(&"backup.rollback_point".to_string()),
        "{mixed:?}"
    );
    assert!(!mixed.contains(&"backup.durable".to_string()), "{mixed:?}");
    // A SQLite database on this machine: its kept online copy, patched.
    let lite = ids("\n[stores.db]\nkind = \"sqlite\"\npath = \"data/notes.db\"\n");
    assert!(
        lite.contains(&"backup.rollback_point".to_string()),
        "{lite:?}"
    );
    assert!(!lite.contains(&"backup.final".to_string()), "{lite:?}");
}
