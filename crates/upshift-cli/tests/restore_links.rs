//! A store whose directory was replaced by a symbolic link after the
//! snapshot (to another directory holding other data): `restore` refuses
//! before it writes anything, names the link and the fix, and the files in
//! the link's target are untouched. Real files and SQLite stores, the real
//! binary.

mod common;

use std::path::{Path, PathBuf};

use common::{upshift, write, Run};

const MANIFEST: &str = r#"
[installation]
name = "links"
product = "demo"
version = "1.0.0"

[stores.uploads]
kind = "files"
path = "uploads"

[stores.db]
kind = "sqlite"
path = "db/app.db"
"#;

fn run(dir: &Path, args: &[&str]) -> Run {
    upshift(dir).args(["-m", "upshift.toml"]).args(args).run()
}

/// An installation with both stores, backed up; and `elsewhere/`, another
/// directory with a file that is not the installation's.
fn installation() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    std::fs::create_dir_all(dir.join("uploads/a")).unwrap();
    write(&dir, "uploads/a/cat.png", "meow");
    std::fs::create_dir(dir.join("db")).unwrap();
    let db = rusqlite::Connection::open(dir.join("db/app.db")).unwrap();
    db.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(db);
    write(&dir, "upshift.toml", MANIFEST);
    let b = run(&dir, &["backup"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    std::fs::create_dir(dir.join("elsewhere")).unwrap();
    write(&dir, "elsewhere/canary", "not the installation's");
    (tmp, dir)
}

/// Replaces `rel` with a link to `elsewhere/`.
fn replace_with_link(dir: &Path, rel: &str) {
    std::fs::rename(dir.join(rel), dir.join(format!("{rel}.moved"))).unwrap();
    std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join(rel)).unwrap();
}

fn assert_refused(dir: &Path, link: &str) {
    let r = run(dir, &["-y", "restore", "latest"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let path = dir.join(link).display().to_string();
    assert!(
        r.stderr.contains(&format!("{path} is a symbolic link"))
            && r.stderr.contains(&format!("rm {path}")),
        "{}",
        r.stderr
    );
    let left: Vec<_> = std::fs::read_dir(dir.join("elsewhere"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["canary"], "the link's target was written to");
    assert_eq!(
        std::fs::read_to_string(dir.join("elsewhere/canary")).unwrap(),
        "not the installation's"
    );
}

#[test]
fn restore_refuses_a_files_store_replaced_by_a_link() {
    let (_tmp, dir) = installation();
    replace_with_link(&dir, "uploads");
    assert_refused(&dir, "uploads");
    // Without the link, the restore puts the directory back.
    std::fs::remove_file(dir.join("uploads")).unwrap();
    let r = run(&dir, &["-y", "restore", "latest"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("uploads/a/cat.png")).unwrap(),
        "meow"
    );
}

#[test]
fn restore_refuses_an_sqlite_directory_replaced_by_a_link() {
    let (_tmp, dir) = installation();
    std::fs::remove_file(dir.join("uploads/a/cat.png")).unwrap();
    replace_with_link(&dir, "db");
    assert_refused(&dir, "db");
    assert!(
        !dir.join("uploads/a/cat.png").exists(),
        "refused before any store was restored"
    );
}
