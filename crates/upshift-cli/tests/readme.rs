//! The README's tour runs as written: every command of its first `sh`
//! block, in order, in one shell, each checked for exit 0. Two things
//! differ from a reader's shell: `upshift` is this build, and the demo's
//! directory is a temporary one instead of `/tmp/demo` (tests run side by
//! side).

mod common;

use std::process::Command;

/// The tour's code block.
fn tour() -> String {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let at = readme
        .find("## A short tour")
        .expect("the README has a tour");
    let rest = &readme[at..];
    let start = rest.find("```sh\n").expect("the tour has a sh block") + 6;
    let end = rest[start..].find("```").expect("the block ends") + start;
    rest[start..end].to_string()
}

#[test]
fn every_command_of_the_readme_tour_works_as_written() {
    let tour = tour();
    assert!(tour.lines().count() > 10, "{tour}");
    let work = tempfile::tempdir().unwrap();
    let demo = work.path().join("tour-demo");
    // From the repository's root: the examples it names, as they are.
    let root = work.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(common::repo().join("examples"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success());

    let mut script = String::from(
        "set -eo pipefail\nshopt -s expand_aliases\ntrap 'echo \"TOUR FAILED (exit $?): $BASH_COMMAND\" >&2' ERR\n",
    );
    for line in tour.lines() {
        let line = if line.starts_with("alias upshift=") {
            "alias upshift=\"$UPSHIFT_BIN\"".to_string()
        } else {
            line.replace("/tmp/demo", demo.to_str().unwrap())
        };
        script += &line;
        script.push('\n');
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&root)
        .env("UPSHIFT_BIN", env!("CARGO_BIN_EXE_upshift"))
        .env("UPSHIFT_DEMO_BIN", common::demo::demo_bin())
        .env_remove("UPSHIFT_MANIFEST")
        .env_remove("UPSHIFT_CATALOG")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    common::demo::stop_services(&demo);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}\n--- stdout:\n{}",
        stderr
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stdout)
    );
    // The tour ended at 3.0.0 and wrote the adopted manifest.
    assert!(demo.join("adopted.toml").is_file());
    let current = std::fs::read_link(demo.join("current")).unwrap();
    assert!(current.to_string_lossy().contains("3.0.0"), "{current:?}");
}
