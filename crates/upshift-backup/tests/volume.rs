//! A Docker named volume: back up through the helper container (built
//! locally from a static busybox, nothing pulled), damage, restore, compare.

mod common;

use std::process::Command;

use common::{manifest, tags};
use upshift_backup::{ensure_helper_image, NoProgress, Repository};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_volume(image: &str, volume: &str, script: &str) -> String {
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{volume}:/v"),
        image,
        "sh",
        "-c",
        script,
    ])
}

struct Volume(String);
impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

#[test]
fn backup_damage_restore() {
    upshift_testkit::require("docker", "the Docker engine");
    let image = ensure_helper_image("test").unwrap();
    let name = format!("upshift-test-{}", std::process::id());
    docker(&["volume", "create", &name]);
    let _guard = Volume(name.clone());
    let bb = "/bin/busybox";
    in_volume(&image, &name, &format!(
        "{bb} mkdir -p /v/d && echo one > /v/a.txt && echo two > /v/d/b.txt && {bb} dd if=/dev/urandom of=/v/d/r.bin bs=1k count=64 2>/dev/null"
    ));
    let listing = format!("cd /v && {bb} find . -type f | {bb} sort | {bb} xargs {bb} md5sum");
    let before = in_volume(&image, &name, &listing);

    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&format!(
        "[stores.vol]\nkind = \"volume\"\nvolume = \"{name}\"\n"
    ));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());

    in_volume(
        &image,
        &name,
        &format!("echo changed > /v/a.txt && {bb} rm /v/d/r.bin && echo new > /v/new.txt"),
    );
    assert_ne!(in_volume(&image, &name, &listing), before);
    repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert_eq!(in_volume(&image, &name, &listing), before);
}
