//! `upshift init`: the manifest it writes loads, lists what is left to
//! fill in, and once filled is one `plan` accepts; `--adopt` describes the
//! real running demo well enough for `status` to find it healthy.

mod common;

use std::path::Path;

use common::demo::Demo;
use common::{upshift, Run};

/// The value the demo has for a key `init` left as a placeholder.
fn demo_value(key: &str) -> String {
    let service = key.split('.').nth(1).unwrap_or("");
    let port = if service == "auth" { 7301 } else { 7302 };
    match key {
        k if k.ends_with(".public_address") => format!("127.0.0.1:{port}"),
        k if k.ends_with(".process.start") => {
            format!("current/bin/upshift-demo {service} --config config/{service}.toml")
        }
        k if k.ends_with(".health.http") => format!("http://127.0.0.1:{port}/health"),
        "stores.data.path" => "data".into(),
        k if k.starts_with("config.") => format!("config/{service}.toml"),
        "release.install" => "current/bin/upshift-demo install --root . --version {version}".into(),
        other => panic!("init left a placeholder the test does not know: {other}"),
    }
}

/// Fills every placeholder the `--json` report of init lists, on its line.
fn fill(manifest: &Path, report: &serde_json::Value) {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for t in report["todo"].as_array().unwrap() {
        let (key, line) = (t["key"].as_str().unwrap(), t["line"].as_u64().unwrap());
        let l = &mut lines[line as usize - 1];
        let start = l
            .find("\"TODO:")
            .unwrap_or_else(|| panic!("line {line}: {l}"));
        let end = start + 1 + l[start + 1..].find('"').unwrap();
        l.replace_range(start..=end, &format!("\"{}\"", demo_value(key)));
    }
    std::fs::write(manifest, lines.join("\n") + "\n").unwrap();
}

fn init(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--json", "init"];
    all.extend_from_slice(args);
    upshift(dir).args(all).run()
}

#[test]
fn init_writes_a_manifest_that_plan_accepts_once_its_todos_are_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let run = init(tmp.path(), &["--product", "demo", "--version", "1.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let manifest = tmp.path().join("upshift.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("docs/manifest.md"), "{text}");
    // Each catalog role of the demo gets its config table.
    assert!(text.contains("role = \"demo-auth\"") && text.contains("role = \"demo-notes\""));
    let todo: Vec<&str> = report["todo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert!(todo.contains(&"services.auth.process.start"), "{todo:?}");
    assert!(todo.contains(&"stores.data.path"), "{todo:?}");

    // It loads as written, so status works; plan refuses the placeholders.
    let status = upshift(tmp.path()).args(["--json", "status"]).run();
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_eq!(status.json()["version"], "1.0.0");
    let refused = upshift(tmp.path()).args(["plan", "--to", "3.0.0"]).run();
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("upshift.toml:")
            && refused.stderr.contains("services.auth.process.start"),
        "{}",
        refused.stderr
    );

    fill(&manifest, &report);
    let plan = upshift(tmp.path())
        .args(["--json", "plan", "--to", "3.0.0"])
        .run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(plan.json()["hops"].as_array().unwrap().len(), 3);
}

#[test]
fn init_refuses_an_unknown_version_and_an_existing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("upshift.toml");
    let run = init(tmp.path(), &["--product", "demo", "--version", "1.5.0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("did you mean 1.1.0"), "{}", run.stderr);
    assert!(
        run.stderr.contains("1.0.0, 1.1.0, 2.0.0, 2.1.0, 3.0.0"),
        "{}",
        run.stderr
    );
    assert!(!manifest.exists(), "nothing was written");
    let typo = init(tmp.path(), &["--product", "dmeo", "--version", "1.0.0"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("did you mean `demo`"),
        "{}",
        typo.stderr
    );

    std::fs::write(&manifest, "# mine\n").unwrap();
    let run = init(tmp.path(), &["--product", "demo", "--version", "1.0.0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), "# mine\n");

    // A release only `--catalog DIR` knows, written over the file with --force.
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml")).unwrap()
        + "\n[[release]]\nversion = \"3.1.0\"\nupgrade_from = \">=3.0.0\"\n";
    std::fs::create_dir(tmp.path().join("cat")).unwrap();
    std::fs::write(tmp.path().join("cat/demo.toml"), cat).unwrap();
    let run = init(
        tmp.path(),
        &[
            "--catalog",
            "cat",
            "--product",
            "demo",
            "--version",
            "3.1.0",
            "--force",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("version = \"3.1.0\""), "{text}");
}

#[test]
fn init_adopt_of_the_running_demo_finds_its_link_pidfiles_and_ports() {
    let demo = Demo::new();
    let auth = demo.public_address("auth");
    let notes = demo.public_address("notes");
    std::fs::rename(demo.path("upshift.toml"), demo.path("shipped.toml")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = demo.dir.to_str().unwrap();
    let run = init(
        elsewhere.path(),
        &["--product", "demo", "--version", "1.0.0", "--adopt", dir],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let found: Vec<&str> = report["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let has = |what: &str| found.iter().any(|f| f.contains(what));
    assert!(has("current -> releases/1.0.0"), "{found:?}");
    assert!(
        has(&format!("from run/auth.pid), listening on {auth}")),
        "{found:?}"
    );
    assert!(
        has(&format!("from run/notes.pid), listening on {notes}")),
        "{found:?}"
    );
    assert!(has("sqlite store notes: data/notes.db"), "{found:?}");
    assert!(
        has("config auth: config/auth.toml, role demo-auth"),
        "{found:?}"
    );

    let manifest = demo.path("upshift.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    for line in [
        format!("public_address = \"{auth}\""),
        "start = \"current/bin/upshift-demo auth --config config/auth.toml\"".to_string(),
        "pidfile = \"run/notes.pid\"".to_string(),
        "link = \"current\"".to_string(),
    ] {
        assert!(text.contains(&line), "{line} not in:\n{text}");
    }

    let status = demo.upshift(&["--json", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let st = status.json();
    assert_eq!(st["version"], "1.0.0");
    let names: Vec<&str> = st["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auth", "notes"]);
    demo.assert_healthy();

    // Only the release's install command is left; then the upgrade plans.
    let todo: Vec<&str> = report["todo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(todo, ["release.install"]);
    fill(&manifest, &report);
    let plan = demo.upshift(&["--json", "plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
}
