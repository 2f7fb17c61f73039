//! A full disk: refused before the run when the repository lacks room for
//! the snapshot; inside the window, the old version serving again; and
//! when the journal itself cannot be written, the state said (exit 3),
//! the lock kept, and `rollback` finishing once there is room again.
//! Each disk is a small tmpfs the test mounts (it needs root, as the
//! project's test command runs) and unmounts when it ends.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::demo::Demo;

/// A tmpfs of `size` mounted at a directory, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount(8) runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }

    /// Fills the disk, leaving `leave` bytes free.
    fn fill(&self, leave: u64) {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 << 10];
        while f.write_all(&chunk).is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(leave)).unwrap();
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// The demo's manifest with the repository at `repo` and `extra` appended.
fn manifest(demo: &Demo, repo: &str, extra: &str) {
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let m = m.replace(
        "repository = \".upshift/repo\"",
        &format!("repository = \"{repo}\""),
    );
    assert!(m.contains(repo));
    std::fs::write(demo.path("upshift.toml"), format!("{m}{extra}")).unwrap();
}

fn assert_lock(demo: &Demo, held: bool) {
    let st = demo.upshift(&["--json", "status"]).json();
    assert_eq!(!st["lock"].is_null(), held, "{st}");
}

#[test]
fn a_repository_without_room_is_refused_before_anything_changes() {
    let demo = Demo::new();
    let disk = SmallDisk::mount(&demo.path("small"), "8m");
    manifest(&demo, "small/repo", "");
    disk.fill(200 << 10);
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("not enough disk space for the snapshot under")
            && run.stderr.contains("it needs about")
            && run.stderr.contains("KiB are free"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(
        !demo.path("releases/1.1.0").exists(),
        "refused before the install"
    );
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert_lock(&demo, false);
    // The same disk with room: the run fits.
    disk.free();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(demo.version(), "1.1.0");
}

#[test]
fn a_full_repository_disk_inside_the_window_starts_the_old_version_again() {
    let demo = Demo::new();
    let _disk = SmallDisk::mount(&demo.path("small"), "8m");
    // After the online backup: a note (so the final backup has to write),
    // then the repository's disk fills up. A files store beside the
    // database keeps the final backup in the window (a SQLite-only
    // installation's rollback point is its kept online copy, patched).
    let seed = "current/bin/upshift-demo seed --config config/notes.toml --count 1";
    let fill = "head -c 100000000 /dev/zero > small/filler 2>/dev/null; true";
    manifest(
        &demo,
        "small/repo",
        &format!("\n[hooks]\npre_upgrade = \"{seed} && {fill}\"\n\n[stores.settings]\nkind = \"files\"\npath = \"config\"\n"),
    );
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step backup.final")
            && run.stderr.contains("not enough disk space"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1.0.0 is serving again"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert_lock(&demo, false);
    let h = demo.upshift(&["--json", "history"]).json();
    assert_eq!(h[0]["outcome"], "failed", "{h}");
}

/// `.upshift/` (journal and repository) on a tmpfs: the demo's setup
/// wrote neither yet (only where its services' logs began).
fn state_on_small_disk(demo: &Demo, size: &str) -> SmallDisk {
    let state = demo.path(".upshift");
    for written in ["journal.db", "repo"] {
        let p = state.join(written);
        assert!(!p.exists(), "{} exists", p.display());
    }
    SmallDisk::mount(&state, size)
}

#[test]
fn a_full_journal_disk_after_the_swap_says_where_it_stands_and_rollback_finishes() {
    let demo = Demo::new();
    let before = demo.export();
    let disk = state_on_small_disk(&demo, "32m");
    // A data step of 1.1.0 (after the swap) that fills the journal's disk.
    let fill = "head -c 100000000 /dev/zero > .upshift/filler 2>/dev/null; true";
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace(
            "[[release]]\nversion = \"2.0.0\"",
            &format!(
                "[[release.data_steps]]\nid = \"fill\"\ndescription = \"fill the disk\"\nrun = \"{fill}\"\n\n[[release]]\nversion = \"2.0.0\""
            ),
        );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step migrate.fill")
            && run.stderr.contains("the journal could not record this")
            && run
                .stderr
                .contains("now: auth does not answer, notes does not answer")
            && run.stderr.contains("its lock stays held")
            && run.stderr.contains("upshift rollback"),
        "{}",
        run.stderr
    );
    assert_lock(&demo, true);
    disk.free();
    let back = demo.upshift(&["-y", "--catalog", "cat", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
    assert_lock(&demo, false);
}
