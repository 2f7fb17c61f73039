//! A snapshot repository damaged on disk (bytes overwritten in the middle
//! of a pack under `data/`): `verify`, `restore`, `snapshots` and `backup`
//! end with a short, clear error, and nothing `rustic_core` prints when it
//! panics or fails (thread panics, index dumps, backtraces) reaches the
//! user.

mod common;

use std::path::{Path, PathBuf};

use common::{upshift, write, Run};

const MANIFEST: &str = r#"
[installation]
name = "files"
product = "demo"
version = "1.0.0"

[stores.data]
kind = "files"
path = "data"
"#;

/// An installation whose one files store has many directories (one tree
/// each, so `rustic_core` reads trees on several threads), backed up.
fn installation() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    for d in 0..400 {
        std::fs::create_dir_all(dir.join(format!("data/d{d}/e"))).unwrap();
        write(&dir, &format!("data/d{d}/e/f"), &format!("{d}\n"));
    }
    write(&dir, "upshift.toml", MANIFEST);
    let b = run(&dir, &["backup"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    (tmp, dir)
}

fn run(dir: &Path, args: &[&str]) -> Run {
    upshift(dir)
        .args(["-m", "upshift.toml"])
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .run()
}

/// The pack files of the repository, largest first.
fn packs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join(".upshift/repo/data"))
        .unwrap()
        .flat_map(|sub| std::fs::read_dir(sub.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    out
}

/// Overwrites bytes at `at` in `file` (packs are read-only).
fn damage(file: &Path, at: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    assert!(bytes.len() > at + 64, "{} is too small", file.display());
    bytes[at..at + 64].fill(b'X');
    std::fs::remove_file(file).unwrap();
    std::fs::write(file, bytes).unwrap();
}

fn assert_clean(what: &str, r: &Run) {
    for noise in [
        "panicked at",
        "Backtrace",
        "rustic_core::",
        "Caused by",
        "RUST_BACKTRACE",
    ] {
        assert!(
            !r.stderr.contains(noise),
            "{what}: {noise} in:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr.len() < 2_000,
        "{what}: {} bytes:\n{}",
        r.stderr.len(),
        r.stderr
    );
}

#[test]
fn a_damaged_pack_gives_short_errors_and_no_panic_output() {
    let (_tmp, dir) = installation();
    // The largest pack holds the trees of the 400 directories.
    damage(&packs(&dir)[0], 1000);
    let v = run(&dir, &["verify"]);
    assert_eq!(v.code, 1, "{}", v.stderr);
    assert!(v.stderr.contains("does not verify"), "{}", v.stderr);
    assert_clean("verify", &v);
    std::fs::remove_dir_all(dir.join("data")).unwrap();
    let r = run(&dir, &["-y", "restore", "latest"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(".upshift/repo is damaged") && r.stderr.contains("upshift verify"),
        "{}",
        r.stderr
    );
    assert_clean("restore", &r);
    assert_clean("snapshots", &run(&dir, &["snapshots"]));
}
