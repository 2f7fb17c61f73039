//! The manifest names its catalog (`[installation] catalog`), and a run
//! keeps the catalog it used, so `history`, `rollback` and `resume` work
//! when that directory is gone.

mod common;

use common::demo::Demo;

/// The demo's catalog as a product of the operator's own (`notes-app`),
/// whose 3.0.0 migration fails, in `cat/` of the installation; the
/// manifest names it.
fn own_product(demo: &Demo) {
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace("product = \"demo\"", "product = \"notes-app\"")
        .replace(
            "run = \"current/bin/upshift-demo migrate --config config/notes.toml\"",
            "run = \"exit 1\"",
        );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/notes-app.toml"), cat).unwrap();
    let manifest = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let named = manifest.replace(
        "product = \"demo\"",
        "product = \"notes-app\"\ncatalog = \"cat\"",
    );
    assert_ne!(named, manifest);
    std::fs::write(demo.path("upshift.toml"), named).unwrap();
}

#[test]
fn the_manifests_catalog_is_used_without_flags_and_a_lost_one_still_rolls_back() {
    let demo = Demo::new();
    let before = demo.export();
    own_product(&demo);
    let plan = demo.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("2.1.0"), "{}", plan.stdout);

    let run = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(demo.version(), "2.1.0", "{}", run.stderr);

    // The directory is lost: the recorded catalog answers.
    std::fs::remove_dir_all(demo.path("cat")).unwrap();
    let history = demo.upshift(&["--json", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert!(
        history.stderr.contains("the last run recorded"),
        "says which catalog it used: {}",
        history.stderr
    );
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    demo.assert_serves("1.0.0", &before);
}

#[test]
fn a_catalog_directory_that_is_not_there_is_named_with_its_line() {
    let demo = Demo::new();
    own_product(&demo);
    std::fs::remove_dir_all(demo.path("cat")).unwrap();
    let plan = demo.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("upshift.toml:") && plan.stderr.contains("catalog = \"cat\""),
        "names the manifest's line: {}",
        plan.stderr
    );
}

#[test]
fn the_catalog_flag_wins_over_the_manifests() {
    let demo = Demo::new();
    own_product(&demo);
    // A flag's directory without `notes-app`: the product is unknown.
    std::fs::create_dir(demo.path("other")).unwrap();
    let plan = demo.upshift(&["--catalog", "other", "plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(plan.stderr.contains("unknown product"), "{}", plan.stderr);
}

/// Commands that take a product by name (`config migrate`, `catalog show`)
/// find it in the manifest's catalog too; `init --catalog` writes it.
#[test]
fn the_manifests_catalog_serves_config_migrate_and_init_records_it() {
    let demo = Demo::new();
    own_product(&demo);
    let show = demo.upshift(&["catalog", "show", "notes-app"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let migrate = demo.upshift(&[
        "config",
        "migrate",
        "--product",
        "notes-app",
        "--from",
        "1.0.0",
        "--to",
        "2.1.0",
        "config/notes.toml",
    ]);
    assert_eq!(migrate.code, 0, "{}", migrate.stderr);
    assert!(migrate.stdout.contains("+[server]"), "{}", migrate.stdout);

    let init = demo.upshift(&[
        "--catalog",
        "cat",
        "init",
        "--product",
        "notes-app",
        "--version",
        "1.0.0",
        "--out",
        "new.toml",
    ]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let written = std::fs::read_to_string(demo.path("new.toml")).unwrap();
    assert!(written.contains("catalog = \"cat\""), "{written}");
}
