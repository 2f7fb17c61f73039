//! Bad manifests and catalogs exit 2 with file, line, column and a fix.

mod common;

use common::{demo_manifest, upshift, write};

fn plan_with(manifest: &str) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", manifest);
    upshift(dir.path()).args(["plan", "--to", "3.0.0"]).run()
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let run = plan_with(&demo_manifest().replace("\nname = \"demo\"", "\nnmae = \"demo\""));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown key `nmae`"), "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:9:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `name`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn dependency_cycle_is_printed() {
    let run = plan_with(&demo_manifest().replace(
        "[services.auth]\n",
        "[services.auth]\ndepends_on = [\"notes\"]\n",
    ));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cycle: auth → notes → auth"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("upshift.toml:38:15"), "{}", run.stderr);
}

#[test]
fn unknown_dependency_is_named() {
    let run =
        plan_with(&demo_manifest().replace("depends_on = [\"auth\"]", "depends_on = [\"auht\"]"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("service `notes` depends on `auht`, which is not a service"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `auth`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_host_that_is_not_an_ssh_url_names_the_line_and_the_form() {
    let run = plan_with(&demo_manifest().replace(
        "version = \"1.0.0\"        # the version running now",
        "version = \"1.0.0\"\nhost = \"deploy@notes:/srv/demo\"",
    ));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:12:8"), "{}", run.stderr);
    assert!(
        run.stderr.contains("not an ssh:// address")
            && run
                .stderr
                .contains("ssh://deploy@notes.example.org:22/srv/notes"),
        "{}",
        run.stderr
    );
    let run = plan_with(&demo_manifest().replace(
        "version = \"1.0.0\"        # the version running now",
        "version = \"1.0.0\"\nhost = \"ssh://deploy@notes:22\"",
    ));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("names no directory"), "{}", run.stderr);
}

#[test]
fn unknown_version_lists_the_nearest() {
    let run = plan_with(&demo_manifest().replace("version = \"1.0.0\"", "version = \"1.0.5\""));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("has no release 1.0.5"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("upshift.toml:11:11"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("nearest known versions are: 1.0.0, 1.1.0, 2.0.0, 2.1.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_product_lists_the_known_ones() {
    let run = plan_with(&demo_manifest().replace("product = \"demo\"", "product = \"mendr\""));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown product `mendr`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `mender`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn cleartext_secret_is_refused_without_echoing_it() {
    let secret = "hunter2-s3cr3t";
    let run = plan_with(&format!(
        "{}\n[stores.db]\nkind = \"postgres\"\ndatabase = \"notes\"\npassword = \"{secret}\"\n",
        demo_manifest()
    ));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("use `env:NAME` or `file:PATH`"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(secret) && !run.stdout.contains(secret),
        "the secret was printed:\n{}",
        run.stderr
    );
}

#[test]
fn missing_manifest_says_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = upshift(dir.path()).args(["plan", "--to", "3.0.0"]).run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no manifest at upshift.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn broken_catalog_is_located() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &demo_manifest());
    std::fs::create_dir(dir.path().join("cat")).unwrap();
    write(
        &dir.path().join("cat"),
        "demo.toml",
        "product = \"demo\"\n[[release]]\nversion = \"1.0.0\"\nupgrade_form = \">=1\"\n",
    );
    let run = upshift(dir.path())
        .args(["--catalog", "cat", "plan", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cat/demo.toml:4:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `upgrade_from`?"),
        "{}",
        run.stderr
    );
}

/// The demo catalog in `cat/` beside the demo manifest, its text changed by `edit`.
fn with_demo_catalog(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &demo_manifest());
    std::fs::create_dir(dir.path().join("cat")).unwrap();
    let src = include_str!("../../../catalogs/demo.toml");
    let edited = edit(src);
    assert_ne!(edited, src, "the edit changed nothing");
    write(&dir.path().join("cat"), "demo.toml", &edited);
    dir
}

#[test]
fn an_unknown_rule_op_is_refused_when_the_catalog_loads() {
    let dir = with_demo_catalog(|s| s.replacen("op = \"move\"", "op = \"mv\"", 1));
    // Neither `catalog show` nor `plan` gets as far as an apply would.
    for args in [
        &["--catalog", "cat", "catalog", "show", "demo"][..],
        &["--catalog", "cat", "plan", "--to", "3.0.0"][..],
    ] {
        let run = upshift(dir.path()).args(args.iter().copied()).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("release 2.0.0: config rule #1: unknown rule op `mv`"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("cat/demo.toml:41:6"), "{}", run.stderr);
        assert!(
            run.stderr.contains("did you mean `move`?"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn an_unknown_key_of_a_rule_names_its_line_and_the_right_key() {
    let dir = with_demo_catalog(|s| s.replacen("from = \"listen\"", "frm = \"listen\"", 1));
    let run = upshift(dir.path())
        .args(["--catalog", "cat", "plan", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown field `frm`"), "{}", run.stderr);
    assert!(run.stderr.contains("cat/demo.toml:42:7"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `from`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_errors_are_one_document_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", "[installation]\nname = 1\n");
    let run = upshift(dir.path()).args(["--json", "status"]).run();
    assert_eq!(run.code, 2);
    let doc = run.json();
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upshift.toml:2:8"),
        "{doc}"
    );
}

#[test]
fn command_keys_no_driver_reads_are_refused_with_what_to_use() {
    let manifest = r#"
[installation]
name = "t"
product = "demo"
version = "1.0.0"

[services.app]
driver = "command"

[services.app.command]
start = "make up"
stop = "make down"
install = "make install"
"#;
    let run = plan_with(manifest);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`install`") && run.stderr.contains("[release]"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_driver_without_its_table_names_the_table_to_add() {
    let manifest = r#"
[installation]
name = "t"
product = "demo"
version = "1.0.0"

[services.app]
driver = "compose"
"#;
    let run = plan_with(manifest);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("[services.NAME.compose]") && run.stderr.contains("project"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_config_name_cannot_leave_the_state_directory() {
    let manifest = demo_manifest().replace("[config.notes]", "[config.\"../../../../escaped\"]");
    let run = plan_with(&manifest);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("plain name"), "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
}

/// A JSON file nested 20,000 deep used to overflow the stack (exit 134);
/// it is refused as bad input naming the file, the position and the limit.
#[test]
fn config_migrate_refuses_a_file_nested_too_deep() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    write(
        dir.path(),
        "deep.json",
        &format!("{}{}\n", "[".repeat(n), "]".repeat(n)),
    );
    let run = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "demo",
            "--from",
            "1.0.0",
            "--to",
            "3.0.0",
            "deep.json",
        ])
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("deep.json:1:257"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nested deeper than 256 levels"),
        "{}",
        run.stderr
    );
}

/// Manifests nested far too deep are refused as bad input, not a crash.
#[test]
fn a_manifest_nested_20000_deep_is_refused() {
    let n = 20_000;
    let run = plan_with(&format!(
        "{}\n[extra]\nx = {}1{}\n",
        demo_manifest(),
        "{a = ".repeat(n),
        "}".repeat(n)
    ));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
    assert!(run.stderr.contains("recursion limit"), "{}", run.stderr);
}

/// A restore deletes what appeared under a store's directory since the
/// snapshot, so a store path must name the store, not climb out of the
/// installation or name all of it.
#[test]
fn a_store_path_cannot_leave_the_installation() {
    for (path, why) in [
        ("../../x", "climbs out with `..`"),
        (".", "is the whole installation"),
        (".upshift/repo", "inside `.upshift/`"),
        ("/", "root of the file system"),
    ] {
        let manifest = format!(
            "{}\n[stores.uploads]\nkind = \"files\"\npath = \"{path}\"\n",
            demo_manifest()
        );
        let run = plan_with(&manifest);
        assert_eq!(run.code, 2, "{path}: {}", run.stderr);
        assert!(run.stderr.contains(why), "{path}: {}", run.stderr);
        assert!(
            run.stderr.contains("upshift.toml:"),
            "{path}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("absolute if it lives elsewhere"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_duration_without_a_known_unit_names_the_line_and_the_forms() {
    let run = plan_with(&demo_manifest().replacen("interval = 0.2", "interval = \"2 weeks\"", 1));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:32:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid duration \"2 weeks\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\"200ms\", \"15s\", \"15m\", \"1h\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_exclude_glob_exits_2_at_its_line_with_an_example() {
    let manifest = r#"
[installation]
name = "t"
product = "demo"
version = "1.0.0"

[stores.uploads]
kind = "files"
path = "data"
exclude = ["*.log", "cache/[x"]
"#;
    let run = plan_with(manifest);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:10:21"), "{}", run.stderr);
    assert!(
        run.stderr.contains("`cache/[x`") && run.stderr.contains("`*.log` or `cache/**`"),
        "{}",
        run.stderr
    );
}

#[test]
fn durations_take_units_or_numbers_of_seconds() {
    let manifest = demo_manifest()
        .replacen("interval = 0.2", "interval = \"200ms\"", 1)
        .replace("stop_timeout = 10 ", "stop_timeout = \"15s\"")
        .replace("retry_after = 60", "retry_after = \"1m\"");
    assert!(manifest.contains("\"15s\"") && manifest.contains("\"1m\""));
    let run = plan_with(&format!("{manifest}\n[hooks]\ntimeout = \"1h\"\n"));
    assert_eq!(run.code, 0, "{}", run.stderr);
}
