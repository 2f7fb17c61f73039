//! `apply` on a compose installation kept in a git checkout of upstream's
//! repository (`compose.upstream`), on the real Docker engine (the demo
//! product of `compose_harness`) and the real git: the swap merges the
//! hop's tag into the production branch, the branch's commit journaled
//! first; a failure after the swap resets the branch to that commit; a
//! kill -9 after the swap resumes without merging twice; a merge that
//! would conflict stops the run before any service stops.
//!
//! Skipped (passes with a note) when no Docker engine or compose command
//! answers.

mod common;
mod compose_harness;

use std::path::Path;
use std::process::Command;

use common::upshift;
use compose_harness::{docker_works, Install};

macro_rules! need_docker {
    () => {
        if !docker_works() {
            eprintln!("skipped: no Docker engine answers `docker info`, or no compose command");
            return;
        }
    };
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Operator")
        .env("GIT_AUTHOR_EMAIL", "ops@example.net")
        .env("GIT_COMMITTER_NAME", "Operator")
        .env("GIT_COMMITTER_EMAIL", "ops@example.net")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Upstream's template of `version`: the demo catalog's compose file.
fn template(version: &str) -> String {
    std::fs::read_to_string(
        common::repo().join(format!("catalogs/demo/{version}/docker-compose.yml")),
    )
    .unwrap()
}

/// Makes the installation's directory a checkout of an "upstream"
/// repository whose tags 1.0.0 and 1.1.0 hold `template/compose.yml`, on
/// a `production` branch from 1.0.0 with the operator's files committed
/// (the manifest naming the checkout). `local_template`, when given, is
/// committed over the template on the branch. Returns the branch's commit.
fn checkout(inst: &Install, local_template: Option<&str>) -> String {
    let dir = &inst.dir;
    git(dir, &["init", "-q", "-b", "master"]);
    std::fs::create_dir_all(dir.join("template")).unwrap();
    for v in ["1.0.0", "1.1.0"] {
        std::fs::write(dir.join("template/compose.yml"), template(v)).unwrap();
        git(dir, &["add", "template"]);
        git(dir, &["commit", "-q", "-m", &format!("Release {v}")]);
        git(dir, &["tag", v]);
    }
    git(dir, &["checkout", "-q", "-b", "production", "1.0.0"]);
    let manifest = dir.join("upshift.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let table = "[services.auth.compose]\n";
    assert!(text.contains(table));
    let text = text.replacen(
        table,
        &format!("{table}upstream = {{ checkout = \".\", paths = [\"template\"] }}\n"),
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(dir.join(".gitignore"), ".upshift/\n").unwrap();
    if let Some(t) = local_template {
        std::fs::write(dir.join("template/compose.yml"), t).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "Production setup"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn head(inst: &Install) -> String {
    git(&inst.dir, &["rev-parse", "HEAD"])
}

fn parents(inst: &Install) -> Vec<String> {
    git(&inst.dir, &["log", "-1", "--format=%P"])
        .split(' ')
        .map(str::to_string)
        .collect()
}

#[test]
fn apply_merges_the_tag_into_the_production_branch_at_the_swap() {
    need_docker!();
    let inst = Install::new("merge", &["1.0.0", "1.1.0"], "1.0.0", None);
    let before = checkout(&inst, None);
    let plan = inst.upshift(&["plan", "--to", "1.1.0"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("merge tag 1.1.0 into the checked-out branch of ."),
        "{}",
        plan.stdout
    );
    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let tag = git(&inst.dir, &["rev-parse", "1.1.0^{commit}"]);
    assert_eq!(parents(&inst), [before, tag]);
    assert_eq!(
        std::fs::read_to_string(inst.dir.join("template/compose.yml")).unwrap(),
        template("1.1.0")
    );
    assert!(inst
        .detail(1, "swap.version")
        .contains("tag 1.1.0 merged into the branch of"));
    assert!(inst
        .detail(1, "prepare.artifacts")
        .contains("tag 1.1.0 merges without conflicts"));
    assert_eq!(inst.images(), ["auth=IMAGE:1.1.0", "notes=IMAGE:1.1.0"]);
}

#[test]
fn a_failure_after_the_swap_resets_the_branch_to_its_commit_before() {
    need_docker!();
    let inst = Install::new("mergefail", &["1.0.0", "1.1.0"], "1.0.0", Some("1.1.0"));
    let before = checkout(&inst, None);
    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("induced failure"), "{}", r.stderr);
    let j = inst.journal();
    assert!(
        j.contains(&"1 swap.version done".to_string()),
        "{}",
        j.join("\n")
    );
    assert!(
        j.contains(&"1 rollback done".to_string()),
        "{}",
        j.join("\n")
    );
    assert_eq!(head(&inst), before);
    assert_eq!(
        std::fs::read_to_string(inst.dir.join("template/compose.yml")).unwrap(),
        template("1.0.0")
    );
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
}

/// Killed right after the swap: `resume` finishes without a second merge;
/// a second run killed there is rolled back to the branch's commit.
#[test]
fn killed_after_the_swap_resume_merges_once_and_rollback_resets() {
    need_docker!();
    let inst = Install::new("mergekill", &["1.0.0", "1.1.0"], "1.0.0", None);
    let before = checkout(&inst, None);
    let crash = |inst: &Install| {
        let r = upshift(&inst.dir)
            .args([
                "-m",
                "upshift.toml",
                "--catalog",
                "cat",
                "-y",
                "apply",
                "--to",
                "1.1.0",
            ])
            .env("UPSHIFT_CRASH_AFTER", "1:swap.version")
            .run();
        assert_eq!(r.code, -1, "killed by SIGKILL: {}{}", r.stdout, r.stderr);
    };
    crash(&inst);
    let merged = head(&inst);
    assert_ne!(merged, before);
    let r = inst.upshift(&["resume"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(head(&inst), merged, "resume merged again");
    assert_eq!(
        git(&inst.dir, &["rev-list", "--count", "--merges", "HEAD"]),
        "1"
    );
    assert_eq!(inst.images(), ["auth=IMAGE:1.1.0", "notes=IMAGE:1.1.0"]);

    let inst = Install::new("mergekill2", &["1.0.0", "1.1.0"], "1.0.0", None);
    let before = checkout(&inst, None);
    crash(&inst);
    let r = inst.upshift(&["-y", "rollback"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(head(&inst), before);
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
}

/// The operator changed the template's image lines, which upstream
/// changes too: the merge would conflict, so nothing stops.
#[test]
fn a_merge_that_would_conflict_stops_the_run_before_any_service_stops() {
    need_docker!();
    let inst = Install::new("mergeconflict", &["1.0.0", "1.1.0"], "1.0.0", None);
    let ours = template("1.0.0").replace(
        "upshift-demo:1.0.0",
        "registry.example.net/demo:1.0.0-patched",
    );
    let before = checkout(&inst, Some(&ours));
    let plan = inst.upshift(&["plan", "--to", "1.1.0"]);
    assert!(
        plan.stdout
            .contains("merge: CONFLICTS in template/compose.yml"),
        "{}",
        plan.stdout
    );
    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("merging tag 1.1.0 conflicts in template/compose.yml"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("merge 1.1.0"), "{}", r.stderr);
    let j = inst.journal();
    assert!(!j.iter().any(|l| l.contains("stop.")), "{}", j.join("\n"));
    assert_eq!(head(&inst), before);
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
}

/// An uncommitted change in a file the merge changes: `git merge` would
/// refuse at the swap, so the run stops before any service stops.
#[test]
fn an_uncommitted_change_in_the_merges_way_stops_the_run_before_any_service_stops() {
    need_docker!();
    let inst = Install::new("mergedirty", &["1.0.0", "1.1.0"], "1.0.0", None);
    let before = checkout(&inst, None);
    let edited = template("1.0.0") + "# not committed\n";
    std::fs::write(inst.dir.join("template/compose.yml"), &edited).unwrap();
    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "uncommitted changes in template/compose.yml, which merging tag 1.1.0 changes"
        ),
        "{}",
        r.stderr
    );
    let j = inst.journal();
    assert!(!j.iter().any(|l| l.contains("stop.")), "{}", j.join("\n"));
    assert_eq!(head(&inst), before);
    assert_eq!(
        std::fs::read_to_string(inst.dir.join("template/compose.yml")).unwrap(),
        edited
    );
}
