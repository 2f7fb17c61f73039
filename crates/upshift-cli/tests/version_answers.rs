//! Healthy means the new version answers. The stand-in for an old process
//! still answering on the service's address is a release installed as
//! 1.1.0 that runs as 1.0.0 (its `VERSION` file says so): a health body
//! pattern with `{version}`, or the installation's `version_command`,
//! turns that into a failed start, rolled back; the real 1.1.0 passes.

mod common;

use common::demo::Demo;

/// The demo's install command, then the new release made to run as 1.0.0.
const AS_OLD: &str = " && echo 1.0.0 > releases/{version}/VERSION";

fn edit(demo: &Demo, from: &str, to: &str) {
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    assert!(m.contains(from), "{from}");
    std::fs::write(demo.path("upshift.toml"), m.replacen(from, to, 1)).unwrap();
}

const INSTALL: &str = "install = \"current/bin/upshift-demo install --root . --version {version}";

fn assert_rolled_back(demo: &Demo, run: &common::Run, said: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step health.notes"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(said), "{}", run.stderr);
    assert!(
        run.stderr.contains("1.0.0 is serving again"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.manifest_version(), "1.0.0");
    demo.assert_healthy();
}

#[test]
fn a_health_body_with_the_version_fails_a_start_the_old_version_answers() {
    let demo = Demo::new();
    edit(&demo, "body = \"ok\"", "body = \"^ok {version} \"");
    edit(&demo, INSTALL, &format!("{INSTALL}{AS_OLD}"));
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_rolled_back(
        &demo,
        &run,
        "body does not match `^ok 1\\.1\\.0 `: ok 1.0.0",
    );
    // The real 1.1.0 answers as 1.1.0.
    edit(&demo, AS_OLD, "");
    std::fs::remove_dir_all(demo.path("releases/1.1.0")).unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(demo.version(), "1.1.0");
}

#[test]
fn version_command_fails_a_start_the_old_version_answers() {
    let demo = Demo::new();
    edit(
        &demo,
        "# version_command = \"current/bin/upshift-demo --version\"",
        "version_command = \"current/bin/upshift-demo --version\"",
    );
    edit(&demo, INSTALL, &format!("{INSTALL}{AS_OLD}"));
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_rolled_back(&demo, &run, "says 1.0.0 answers, not 1.1.0");
    edit(&demo, AS_OLD, "");
    std::fs::remove_dir_all(demo.path("releases/1.1.0")).unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A manifest that says 1.1.0 while 1.0.0 runs would plan the wrong hops:
/// with a `version_command`, preflight refuses before anything changes,
/// and says how to fix the manifest.
#[test]
fn a_manifest_that_names_the_wrong_version_is_refused_at_preflight() {
    let demo = Demo::new();
    edit(
        &demo,
        "# version_command = \"current/bin/upshift-demo --version\"",
        "version_command = \"current/bin/upshift-demo --version\"",
    );
    edit(&demo, "version = \"1.0.0\"", "version = \"1.1.0\"");
    let before = demo.export();
    let run = demo.upshift(&["-y", "apply", "--to", "2.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step preflight.health")
            && run.stderr.contains("does not run 1.1.0")
            && run.stderr.contains("set `installation.version`"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(demo.export(), before);
    demo.assert_healthy();
}

/// The same wrong manifest stops `plan` too, with the version that runs
/// and the line to change.
#[test]
fn a_manifest_that_names_the_wrong_version_is_not_planned() {
    let demo = Demo::new();
    edit(
        &demo,
        "# version_command = \"current/bin/upshift-demo --version\"",
        "version_command = \"current/bin/upshift-demo --version\"",
    );
    edit(&demo, "version = \"1.0.0\"", "version = \"1.1.0\"");
    let run = demo.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("reports 1.0.0 running")
            && run.stderr.contains("set `version = \"1.0.0\"`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no plan is printed: {}", run.stdout);
}
