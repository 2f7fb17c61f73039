//! `upshift catalog lint`, run as the real binary on the built-in catalogs
//! and on catalogs written here.

mod common;

use common::{repo, upshift, write};

/// Built-in catalogs never lint with an error; those that say when they
/// were checked against upstream cite a source for every fact.
#[test]
fn built_in_catalogs_have_no_errors_and_checked_ones_cite_every_fact() {
    let run = upshift(&repo()).args(["--json", "catalog", "lint"]).run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let reports = run.json();
    let mut products = Vec::new();
    for r in reports.as_array().unwrap() {
        let product = r["product"].as_str().unwrap().to_string();
        for f in r["findings"].as_array().unwrap() {
            assert_ne!(f["severity"], "error", "{product}: {f}");
        }
        products.push(product);
    }
    assert!(products.contains(&"demo".to_string()), "{products:?}");
    for product in &products {
        let show = upshift(&repo())
            .args(["--json", "catalog", "show", product])
            .run()
            .json();
        if show.get("checked").is_some() {
            let strict = upshift(&repo())
                .args(["catalog", "lint", "--strict", product])
                .run();
            assert_eq!(strict.code, 0, "{product}:\n{}", strict.stdout);
        }
    }
}

/// Writes `text` as `DIR/cats/forge.toml`; returns `DIR/cats`.
fn forge_catalog(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let cats = dir.join("cats");
    std::fs::create_dir(&cats).unwrap();
    write(&cats, "forge.toml", text);
    cats
}

#[test]
fn a_catalog_with_a_dead_end_and_an_unreachable_release_fails_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let cats = forge_catalog(
        dir.path(),
        r#"product = "forge"
checked = "2026-12-03"
[[release]]
version = "1.0.0"
[[release]]
version = "1.1.0"
upgrade_from = ">=1.0.0"
source = "https://example.org/paths"
[[release]]
version = "2.0.0"
upgrade_from = ">=1.5.0"
source = "https://example.org/paths"
notes = ["no source here"]
"#,
    );
    let cat = cats.to_str().unwrap();
    let run = upshift(dir.path())
        .args(["--catalog", cat, "catalog", "lint", "forge"])
        .run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for want in [
        "forge (",
        "3 errors, 1 warnings",
        "error[unreachable] release 2.0.0",
        "error[dead-end] release 1.1.0",
        "error[bound-without-release] release 2.0.0",
        "warning[no-source] release 2.0.0: note \"no source here\"",
    ] {
        assert!(run.stdout.contains(want), "{want:?} not in\n{}", run.stdout);
    }
    let json = upshift(dir.path())
        .args(["--json", "--catalog", cat, "catalog", "lint", "forge"])
        .run()
        .json();
    let rules: Vec<&str> = json[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "unreachable",
            "dead-end",
            "bound-without-release",
            "no-source"
        ]
    );
}

#[test]
fn warnings_fail_only_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let cats = forge_catalog(
        dir.path(),
        "product = \"forge\"\n[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"1.1.0\"\nupgrade_from = \">=1.0.0\"\n",
    );
    let cat = cats.to_str().unwrap();
    let lax = upshift(dir.path())
        .args(["--catalog", cat, "catalog", "lint", "forge"])
        .run();
    assert_eq!(lax.code, 0, "{}", lax.stdout);
    assert!(
        lax.stdout.contains("warning[no-checked-date]"),
        "{}",
        lax.stdout
    );
    let strict = upshift(dir.path())
        .args(["--catalog", cat, "catalog", "lint", "--strict", "forge"])
        .run();
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    let unknown = upshift(dir.path())
        .args(["--catalog", cat, "catalog", "lint", "forje"])
        .run();
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("did you mean `forge`?"),
        "{}",
        unknown.stderr
    );
}

/// A note's source is printed under it in the plan, and kept in `--json`.
#[test]
fn a_plan_prints_each_notes_source_under_it() {
    let dir = tempfile::tempdir().unwrap();
    forge_catalog(
        dir.path(),
        "product = \"forge\"\n[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"1.1.0\"\nupgrade_from = \">=1.0.0\"\nnotes = [\"plain\", { text = \"cited\", source = \"https://example.org/forge/1.1\" }]\n",
    );
    write(
        dir.path(),
        "upshift.toml",
        "[installation]\nname = \"f\"\nproduct = \"forge\"\nversion = \"1.0.0\"\ncatalog = \"cats\"\n",
    );
    let run = upshift(dir.path()).args(["plan", "--to", "1.1.0"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("- [1.1.0] cited\n      (https://example.org/forge/1.1)\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("- [1.1.0] plain\n"), "{}", run.stdout);
    let json = upshift(dir.path())
        .args(["--json", "plan", "--to", "1.1.0"])
        .run()
        .json();
    assert_eq!(
        json["hops"][0]["notes"][0]["notes"][1]["source"],
        "https://example.org/forge/1.1"
    );
}
