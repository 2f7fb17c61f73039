//! The Mender compose example planned against a real git checkout of an
//! integration repository, as Mender's upgrade guide has operators keep
//! it (https://docs.mender.io/3.6/server-installation/upgrading): a
//! production branch from the 3.6.3 tag with the operator's changes
//! committed, upstream's releases as tags. Each hop of the plan shows the
//! images it deploys, what `git merge <tag>` brings into `template/`
//! and `docker-compose.yml`, and that `apply` merges it at the swap. The repository is built here with the real
//! git, each release's files carrying the images the built-in catalog
//! lists for it, so the test follows the catalog.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo, upshift, Run};
use serde_json::Value;
use upshift_core::CatalogSet;

const RELEASES: [&str; 3] = ["3.6.3", "3.7.7", "4.0.1"];
const HOSTNAME: &str = "mender.example.com";
const LOCAL_HOSTNAME: &str = "mender.prod.example.net";

/// The catalog's images of `version`, by compose service.
fn images(version: &str) -> Vec<(String, String)> {
    let set = CatalogSet::built_in();
    let cat = set.get("mender").expect("a built-in mender catalog");
    let v = cat.parse_version(version).unwrap();
    cat.images_for(&v).into_iter().collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Mender")
        .env("GIT_AUTHOR_EMAIL", "release@mender.example")
        .env("GIT_COMMITTER_NAME", "Mender")
        .env("GIT_COMMITTER_EMAIL", "release@mender.example")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Upstream's `docker-compose.yml` of `version`: every Mender service with its image.
fn compose_file(version: &str) -> String {
    let mut out = String::from("services:\n");
    for (service, image) in images(version) {
        out += &format!("  {service}:\n    image: {image}\n    restart: on-failure\n");
    }
    out
}

/// Upstream's `template/prod.yml` of `version`: the images again, and the
/// settings the production installation guide has operators edit.
fn prod_template(version: &str, hostname: &str) -> String {
    let mut out = String::from("services:\n");
    for (service, image) in images(version) {
        out += &format!("  {service}:\n    image: {image}\n");
    }
    out += &format!(
        "  mender-api-gateway:\n    networks:\n      mender:\n        aliases: [{hostname}]\n"
    );
    out
}

/// An integration repository with one tagged commit per release, and a
/// `production` branch from 3.6.3 holding the operator's setup (this
/// example's manifest, `upstream` uncommented) and their own hostname.
struct Integration {
    _dir: tempfile::TempDir,
    top: PathBuf,
}

impl Integration {
    fn new() -> Integration {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("integration");
        std::fs::create_dir_all(top.join("template")).unwrap();
        git(&top, &["init", "-q", "-b", "master"]);
        for v in RELEASES {
            std::fs::write(top.join("docker-compose.yml"), compose_file(v)).unwrap();
            std::fs::write(top.join("template/prod.yml"), prod_template(v, HOSTNAME)).unwrap();
            git(&top, &["add", "-A"]);
            git(&top, &["commit", "-q", "-m", &format!("Release {v}")]);
            git(&top, &["tag", v]);
        }
        git(&top, &["checkout", "-q", "-b", "production", "3.6.3"]);
        let production = top.join("production");
        std::fs::create_dir_all(&production).unwrap();
        std::fs::write(
            production.join("prod.yml"),
            prod_template("3.6.3", LOCAL_HOSTNAME),
        )
        .unwrap();
        for f in ["upshift.toml", "docker-compose.yml"] {
            let text =
                std::fs::read_to_string(repo().join("examples/mender-compose").join(f)).unwrap();
            let text = if f == "upshift.toml" {
                uncomment_upstream(&text)
            } else {
                text
            };
            std::fs::write(production.join(f), text).unwrap();
        }
        git(&top, &["add", "-A"]);
        git(&top, &["commit", "-q", "-m", "Production setup"]);
        Integration { _dir: dir, top }
    }

    fn production(&self) -> PathBuf {
        self.top.join("production")
    }

    /// Commits `text` to `path` on the production branch.
    fn commit(&self, path: &str, text: &str, message: &str) {
        std::fs::write(self.top.join(path), text).unwrap();
        git(&self.top, &["commit", "-q", "-a", "-m", message]);
    }

    fn edit_manifest(&self, from: &str, to: &str) {
        let path = self.production().join("upshift.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} not in the manifest");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn plan(&self, json: bool) -> Run {
        let mut args = vec!["plan", "--to", "4.0.1"];
        if json {
            args.insert(0, "--json");
        }
        upshift(&self.production()).args(args).run()
    }
}

/// The example's `upstream` line, uncommented as its comments say.
fn uncomment_upstream(text: &str) -> String {
    let line = "# upstream = { checkout = \"..\"";
    assert_eq!(
        text.matches(line).count(),
        1,
        "the example shows `upstream` once"
    );
    text.replacen(line, "upstream = { checkout = \"..\"", 1)
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .to_string()
}

/// The `(from, to)` image of every service in a hop's `images`.
fn hop_images(hop: &Value) -> Vec<(String, String, String)> {
    hop["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (text(&i["service"]), text(&i["from"]), text(&i["to"])))
        .collect()
}

/// The catalog's image changes from `a` to `b`, as (service, from, to).
fn catalog_changes(a: &str, b: &str) -> Vec<(String, String, String)> {
    let old: std::collections::BTreeMap<_, _> = images(a).into_iter().collect();
    images(b)
        .into_iter()
        .map(|(s, to)| (s.clone(), old[&s].clone(), to))
        .collect()
}

#[test]
fn each_hop_shows_its_images_and_what_merging_its_tag_brings_in() {
    let repo = Integration::new();
    let run = repo.plan(true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = run.json();
    let hops = p["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 2, "{p}");
    for (n, hop) in hops.iter().enumerate() {
        let (a, b) = (RELEASES[n], RELEASES[n + 1]);
        let mut shown = hop_images(hop);
        shown.sort();
        assert_eq!(shown, catalog_changes(a, b), "hop {a} → {b}");
        let ups = hop["upstream"]
            .as_array()
            .expect("an upstream change per hop");
        assert_eq!(ups.len(), 1);
        let u = &ups[0];
        assert_eq!(u["project"], "menderproduction");
        assert_eq!(u["tag"], b);
        assert_eq!(u["from"], if n == 0 { "HEAD" } else { RELEASES[n] });
        let top = repo.top.canonicalize().unwrap();
        assert_eq!(u["repository"], top.display().to_string());
        assert_eq!(
            text(&u["command"]),
            format!(
                "git -C {} diff {}...{b} -- template docker-compose.yml",
                top.display(),
                if n == 0 { "HEAD" } else { a }
            )
        );
        assert_eq!(u["merge"]["outcome"], "clean", "{u}");
        // Every image that changes is a `-`/`+` pair in both files, and
        // nothing else changed upstream.
        let changed: Vec<_> = catalog_changes(a, b)
            .into_iter()
            .filter(|(_, old, new)| old != new)
            .collect();
        assert!(!changed.is_empty());
        let diff = text(&u["diff"]);
        for (service, old, new) in &changed {
            // Twice per file for an image two services share
            // (4.0's `workflows` runs the server and the worker).
            let times = |image: &String, side: fn(&(String, String, String)) -> &String| {
                2 * changed.iter().filter(|c| side(c) == image).count()
            };
            let removed = format!("\n-    image: {old}\n");
            let added = format!("\n+    image: {new}\n");
            assert_eq!(
                diff.matches(&removed).count(),
                times(old, |c| &c.1),
                "{service}: {diff}"
            );
            assert_eq!(
                diff.matches(&added).count(),
                times(new, |c| &c.2),
                "{service}: {diff}"
            );
        }
        let files: Vec<(String, u64, u64)> = u["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    text(&f["path"]),
                    f["added"].as_u64().unwrap(),
                    f["removed"].as_u64().unwrap(),
                )
            })
            .collect();
        let k = changed.len() as u64;
        assert_eq!(
            files,
            [
                ("docker-compose.yml".to_string(), k, k),
                ("template/prod.yml".to_string(), k, k)
            ]
        );
        // The operator's own hostname is theirs: kept by the merge, never
        // shown as a change upstream makes.
        assert!(
            !diff.contains(LOCAL_HOSTNAME) && !diff.contains("production/"),
            "{diff}"
        );
    }
    let local = &hops[0]["upstream"][0]["local"];
    assert_eq!(local["commits"], 1, "{local}");
    assert_eq!(
        local["files"],
        serde_json::json!([
            "production/docker-compose.yml",
            "production/prod.yml",
            "production/upshift.toml"
        ])
    );
    assert!(hops[1]["upstream"][0].get("local").is_none());
}

/// The human plan: per hop the tag, how much changed, the diff, the
/// branch's own commit, and that the merge is the operator's, with its
/// command.
#[test]
fn the_plan_text_shows_the_template_diff_and_the_merge_to_run() {
    let repo = Integration::new();
    let run = repo.plan(false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    let top = repo.top.canonicalize().unwrap().display().to_string();
    let k = catalog_changes("3.6.3", "3.7.7")
        .iter()
        .filter(|(_, a, b)| a != b)
        .count();
    for line in [
        format!("upstream files of menderproduction (git checkout {top}): tag 3.7.7, 2 files changed, +{} -{}", 2 * k, 2 * k),
        format!("review: git -C {top} diff HEAD...3.7.7 -- template docker-compose.yml"),
        "your branch: 1 commit that 3.7.7 does not have (production/docker-compose.yml, production/prod.yml, production/upshift.toml): the merge keeps your changes".to_string(),
        "merge: `git merge 3.7.7` has no conflicts".to_string(),
        format!("`upshift apply` merges it into the checked-out branch at the swap, after the final backup (`git -C {top} merge 3.7.7`); a rollback resets the branch to its commit before"),
        "merge tag 3.7.7 into the checked-out branch of .. (compose project menderproduction; its commit is journaled, a rollback resets the branch to it)".to_string(),
        "upstream files of menderproduction".to_string(),
        format!("(`git -C {top} merge 4.0.1`)"),
        "+    image: docker.io/mendersoftware/deployments:mender-3.7.7".to_string(),
        "+    image: docker.io/mendersoftware/deployments:v4.0.1".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    // The first hop's section comes before its steps, the second's after.
    let first = out.find("tag 3.7.7").unwrap();
    let second = out.find("tag 4.0.1").unwrap();
    let hop2 = out.find("Hop 2 of 2").unwrap();
    assert!(first < hop2 && hop2 < second, "{out}");
}

/// A production change on a line upstream also changes: the merge of
/// 3.7.7 conflicts there, and the plan says so (and that the next merge
/// cannot be told until it is resolved). The diff is still upstream's.
#[test]
fn a_conflicting_local_change_is_reported_as_a_conflict() {
    let repo = Integration::new();
    let pinned = prod_template("3.6.3", HOSTNAME).replace(
        "docker.io/mendersoftware/deployments:mender-3.6.3",
        "registry.example.net/deployments:mender-3.6.3-patched",
    );
    repo.commit(
        "template/prod.yml",
        &pinned,
        "Our patched deployments image",
    );
    let run = repo.plan(true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = run.json();
    let first = &p["hops"][0]["upstream"][0];
    assert_eq!(
        first["merge"],
        serde_json::json!({"outcome": "conflicts", "files": ["template/prod.yml"]})
    );
    assert_eq!(first["local"]["commits"], 2);
    let diff = text(&first["diff"]);
    assert!(
        diff.contains("-    image: docker.io/mendersoftware/deployments:mender-3.6.3\n"),
        "{diff}"
    );
    assert!(!diff.contains("patched"), "{diff}");
    let second = &p["hops"][1]["upstream"][0];
    assert_eq!(second["merge"]["outcome"], "unknown");
    assert!(text(&second["merge"]["why"]).contains("merging 3.7.7 conflicts first"));
    let human = repo.plan(false);
    assert!(
        human.stdout.contains("merge: CONFLICTS in template/prod.yml: `git merge 3.7.7` stops for you to resolve them\n    `upshift apply` stops before the window: merge it yourself first"),
        "{}",
        human.stdout
    );
}

/// A tag the checkout has not fetched, or a form upstream does not use,
/// stops the plan at the manifest's line with the fetch to run; a
/// catalog-wide form set in the manifest (`v{version}`) is then followed.
#[test]
fn a_missing_tag_names_the_fetch_and_a_tag_form_is_followed() {
    let repo = Integration::new();
    repo.edit_manifest("paths = [", "tag = \"v{version}\", paths = [");
    let run = repo.plan(false);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("has no tag `v3.7.7`"), "{}", run.stderr);
    assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
    assert!(run.stderr.contains("fetch origin --tags"), "{}", run.stderr);
    for v in ["3.7.7", "4.0.1"] {
        git(&repo.top, &["tag", &format!("v{v}"), v]);
    }
    let run = repo.plan(true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["hops"][1]["upstream"][0]["tag"], "v4.0.1");
}

/// A `checkout` outside any git repository is refused at its line.
#[test]
fn a_checkout_that_is_not_a_git_repository_is_refused() {
    let repo = Integration::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let path = elsewhere.path().display().to_string();
    repo.edit_manifest("checkout = \"..\"", &format!("checkout = \"{path}\""));
    let run = repo.plan(false);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is not in a git checkout"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
}

/// Tags that git would read as an option or a revision expression never
/// reach it: the manifest is refused at the `tag` line.
#[test]
fn hostile_tags_are_refused_before_git_sees_them() {
    let repo = Integration::new();
    let marker = repo.top.join("upload-pack-ran");
    for tag in [
        format!("--upload-pack=touch {}", marker.display()),
        "../x".to_string(),
        "{version}^{tree}".to_string(),
        "-c core.pager=touch".to_string(),
    ] {
        let repo = Integration::new();
        repo.edit_manifest("paths = [", &format!("tag = {tag:?}, paths = ["));
        let run = repo.plan(false);
        assert_eq!(run.code, 2, "{tag}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("is not a tag name"),
            "{tag}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("upshift.toml:"), "{}", run.stderr);
    }
    assert!(!marker.exists());
}

/// A saved plan keeps each hop's upstream diff for review, and stays
/// applicable: the diff is read from the checkout, not planned, so
/// `apply --plan` does not compare it.
#[test]
fn a_saved_plan_keeps_the_diff_and_stays_applicable() {
    let repo = Integration::new();
    let saved = repo.production().join("saved-plan.json");
    let run = upshift(&repo.production())
        .args(["plan", "--to", "4.0.1", "--out", saved.to_str().unwrap()])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&saved).unwrap();
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(plan["hops"][0]["upstream"][0]["tag"], "3.7.7");
    let show = upshift(&repo.production())
        .args(["--json", "show", saved.to_str().unwrap()])
        .run();
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    assert_eq!(show.json()["applicable"], true, "{}", show.stdout);
    assert!(show
        .stdout
        .contains("+    image: docker.io/mendersoftware/deployments:v4.0.1"));
}

/// A catalog copy whose 4.0.1 names its own tag (`upstream_tag`): the
/// plan looks for that tag; a hostile one is refused when the catalog loads.
#[test]
fn a_releases_upstream_tag_in_the_catalog_names_its_tag() {
    let repo = Integration::new();
    let cat = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(common::repo().join("catalogs/mender.toml")).unwrap();
    let at = "version = \"4.0.1\"\n";
    assert_eq!(src.matches(at).count(), 1);
    let with = |tag: &str| src.replacen(at, &format!("{at}upstream_tag = \"{tag}\"\n"), 1);
    let plan = |json: bool| {
        let mut args = vec![
            "--catalog",
            cat.path().to_str().unwrap(),
            "plan",
            "--to",
            "4.0.1",
        ];
        if json {
            args.insert(0, "--json");
        }
        upshift(&repo.production()).args(args).run()
    };
    std::fs::write(cat.path().join("mender.toml"), with("integration-4.0.1")).unwrap();
    let run = plan(false);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("has no tag `integration-4.0.1`"),
        "{}",
        run.stderr
    );
    git(&repo.top, &["tag", "integration-4.0.1", "4.0.1"]);
    let run = plan(true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = run.json();
    assert_eq!(p["hops"][0]["upstream"][0]["tag"], "3.7.7");
    assert_eq!(p["hops"][1]["upstream"][0]["tag"], "integration-4.0.1");

    std::fs::write(cat.path().join("mender.toml"), with("--upload-pack=x")).unwrap();
    let run = plan(false);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("`upstream_tag`: `--upload-pack=x` is not a tag name"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mender.toml:"), "{}", run.stderr);
}
