//! The tarball strategy (Mattermost's release tarballs) end to end with the real binary: releases
//! are real `.tar.gz` files unpacked by the manifest's `install` command into
//! `releases/<version>/`, the service is run by the `command` driver (start
//! and stop scripts, like `sudo start mattermost`), `carry` copies the config
//! file and the local data directory from the old release into the new one,
//! and the `current` link flips. A release whose start fails is rolled back:
//! the link points at the old release again, its config untouched.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{upshift, Run};

/// The stand-in server of one release: serves nothing, records which
/// release runs and the config it read, in `run/serving`.
const SERVER: &str = r#"#!/bin/sh
here=$(cd "$(dirname "$0")/.." && pwd -P)
case "$1" in
  start) mkdir -p run && { cat "$here/VERSION"; cat "$here/config/config.json"; } > run/serving ;;
  stop) rm -f run/serving ;;
esac
"#;

/// A release that cannot start (its stop still works, as stop must).
const BROKEN: &str = r#"#!/bin/sh
case "$1" in
  start) echo "panic: cannot read the database schema" >&2; exit 1 ;;
  stop) rm -f run/serving ;;
esac
"#;

const CATALOG: &str = r#"
product = "tarapp"
[[release]]
version = "0.9.0"
[[release]]
version = "1.0.0"
[[release]]
version = "2.0.0"
upgrade_from = ">=1.0.0"
"#;

const MANIFEST: &str = r#"
[installation]
name = "tarapp"
product = "tarapp"
version = "1.0.0"

[services.app]
driver = "command"
[services.app.command]
start = "current/bin/server start"
stop = "current/bin/server stop"
[services.app.health]
command = "test -s run/serving"
interval = 0.1
retries = 5

[stores.files]
kind = "files"
path = "current/data"

[config.server]
path = "current/config/config.json"
format = "json"

[maintenance]
page = false

[release]
dir = "releases"
link = "current"
install = "tar -xzf dist/tarapp-{version}.tar.gz -C {dir}/{version} --strip-components=1"
carry = ["config/config.json", "data"]
"#;

const OLD_CONFIG: &str =
    "{\n  \"SiteURL\": \"https://chat.example.com\",\n  \"ListenAddress\": \":8065\"\n}\n";

struct Install {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Install {
    /// `tarapp` 1.0.0 unpacked from its tarball, configured, started; the
    /// 2.0.0 tarball waiting in `dist/` (`broken`: its server cannot start).
    fn new(broken: bool) -> Install {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        for (v, script) in [
            ("1.0.0", SERVER),
            ("2.0.0", if broken { BROKEN } else { SERVER }),
        ] {
            tarball(&dir, v, script);
        }
        std::fs::create_dir_all(dir.join("releases/1.0.0")).unwrap();
        sh(
            &dir,
            "tar -xzf dist/tarapp-1.0.0.tar.gz -C releases/1.0.0 --strip-components=1",
        );
        // The operator's config and local files, in the running release.
        std::fs::write(dir.join("releases/1.0.0/config/config.json"), OLD_CONFIG).unwrap();
        std::fs::create_dir_all(dir.join("releases/1.0.0/data/uploads")).unwrap();
        std::fs::write(dir.join("releases/1.0.0/data/uploads/cat.png"), "meow").unwrap();
        std::fs::set_permissions(
            dir.join("releases/1.0.0/data/uploads/cat.png"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        // An older release left from before: pruned after a successful run.
        std::fs::create_dir_all(dir.join("releases/0.9.0/bin")).unwrap();
        std::os::unix::fs::symlink("releases/1.0.0", dir.join("current")).unwrap();
        std::fs::create_dir(dir.join("cat")).unwrap();
        std::fs::write(dir.join("cat/tarapp.toml"), CATALOG).unwrap();
        std::fs::write(dir.join("upshift.toml"), MANIFEST).unwrap();
        sh(&dir, "current/bin/server start");
        Install { _tmp: tmp, dir }
    }

    fn upshift(&self, args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml", "--catalog", "cat"];
        all.extend_from_slice(args);
        upshift(&self.dir).args(all).run()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn link(&self) -> PathBuf {
        std::fs::read_link(self.dir.join("current")).unwrap()
    }
}

/// `dist/tarapp-VERSION.tar.gz`: `tarapp-VERSION/{bin/server, VERSION,
/// config/config.json (the shipped default), data/}`.
fn tarball(dir: &Path, version: &str, script: &str) {
    let top = dir.join("build").join(format!("tarapp-{version}"));
    std::fs::create_dir_all(top.join("bin")).unwrap();
    std::fs::create_dir_all(top.join("config")).unwrap();
    std::fs::create_dir_all(top.join("data")).unwrap();
    std::fs::write(top.join("bin/server"), script).unwrap();
    std::fs::set_permissions(
        top.join("bin/server"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(top.join("VERSION"), format!("{version}\n")).unwrap();
    std::fs::write(top.join("config/config.json"), "{\"SiteURL\": \"\"}\n").unwrap();
    std::fs::create_dir_all(dir.join("dist")).unwrap();
    sh(
        dir,
        &format!("tar -czf dist/tarapp-{version}.tar.gz -C build tarapp-{version}"),
    );
}

fn sh(dir: &Path, cmd: &str) {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plan_says_what_is_carried_and_what_is_pruned() {
    let inst = Install::new(false);
    let plan = inst.upshift(&["--json", "plan", "--to", "2.0.0"]).json();
    let steps = plan["hops"][0]["steps"].as_array().unwrap();
    let swap = steps.iter().find(|s| s["id"] == "swap.version").unwrap();
    assert_eq!(
        swap["description"],
        "switch the installation from 1.0.0 to 2.0.0: copy config/config.json, data from releases/1.0.0 into releases/2.0.0, then point `current` at releases/2.0.0"
    );
    let last = steps.last().unwrap();
    assert_eq!(last["id"], "releases.prune");
    assert_eq!(
        last["description"],
        "keep releases/2.0.0 and releases/1.0.0 (for rollback); remove older releases under releases/"
    );
}

#[test]
fn upgrade_unpacks_the_tarball_carries_config_and_data_and_prunes() {
    let inst = Install::new(false);
    let run = inst.upshift(&["-y", "--json", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["at"], "2.0.0");
    assert_eq!(inst.link(), Path::new("releases/2.0.0"));
    // The new release runs with the old config, not the default it shipped.
    assert_eq!(
        inst.read("releases/2.0.0/config/config.json"),
        OLD_CONFIG,
        "the config file is carried over"
    );
    assert_eq!(inst.read("run/serving"), format!("2.0.0\n{OLD_CONFIG}"));
    assert_eq!(inst.read("releases/2.0.0/data/uploads/cat.png"), "meow");
    let mode = std::fs::metadata(inst.dir.join("releases/2.0.0/data/uploads/cat.png"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "modes are kept");
    // The previous release stays for rollback; older ones are removed.
    assert_eq!(inst.read("releases/1.0.0/config/config.json"), OLD_CONFIG);
    assert!(!inst.dir.join("releases/0.9.0").exists(), "0.9.0 is pruned");
    let status = inst.upshift(&["--json", "status"]).json();
    assert_eq!(status["version"], "2.0.0");
    assert_eq!(status["services"][0]["state"], "healthy");

    // `upshift rollback` needs the kept release.
    let back = inst.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(inst.link(), Path::new("releases/1.0.0"));
    assert_eq!(inst.read("run/serving"), format!("1.0.0\n{OLD_CONFIG}"));
}

#[test]
fn a_release_that_cannot_start_rolls_back_to_the_old_one_with_its_config() {
    let inst = Install::new(true);
    let run = inst.upshift(&["-y", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step start.app"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot read the database schema"),
        "the failing command's stderr is shown: {}",
        run.stderr
    );
    assert_eq!(inst.link(), Path::new("releases/1.0.0"), "the link is back");
    assert_eq!(inst.read("releases/1.0.0/config/config.json"), OLD_CONFIG);
    assert_eq!(inst.read("releases/1.0.0/data/uploads/cat.png"), "meow");
    assert_eq!(
        inst.read("run/serving"),
        format!("1.0.0\n{OLD_CONFIG}"),
        "1.0.0 serves again with its config"
    );
    assert!(
        inst.dir.join("releases/0.9.0").exists(),
        "nothing is pruned after a failed run"
    );
    let h = inst.upshift(&["--json", "history"]).json();
    assert_eq!(h[0]["outcome"], "rolled_back");
}
