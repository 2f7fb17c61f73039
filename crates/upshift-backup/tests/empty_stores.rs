//! Stores with nothing in them yet (a fresh installation): an empty
//! directory, a `paths` list of empty directories, next to a store that has
//! data; an empty SQLite database. They back up, verify and restore (to
//! empty directories). A SQLite database that does not exist is refused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{manifest, tags, tree};
use rusqlite::Connection;
use upshift_backup::{NoProgress, Repository};

fn is_empty_dir(p: &Path) -> bool {
    p.is_dir() && std::fs::read_dir(p).unwrap().next().is_none()
}

#[test]
fn an_empty_directory_store_alone_backs_up_verifies_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::create_dir_all(base.join("artifacts")).unwrap();
    std::fs::set_permissions(base.join("artifacts"), PermissionsExt::from_mode(0o2750)).unwrap();
    let m = manifest("[stores.artifacts]\nkind = \"files\"\npath = \"artifacts\"\n");
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();

    let report = repo.verify(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        report.stores["artifacts"]
            .detail
            .contains("0 files, 0 bytes"),
        "{report:?}"
    );

    // Files written since are removed; a missing directory is recreated.
    std::fs::write(base.join("artifacts/new.bin"), "later").unwrap();
    repo.restore("latest", &m, base, &NoProgress).unwrap();
    assert!(is_empty_dir(&base.join("artifacts")));
    std::fs::remove_dir(base.join("artifacts")).unwrap();
    repo.restore("latest", &m, base, &NoProgress).unwrap();
    assert!(is_empty_dir(&base.join("artifacts")));

    // restic reads the directory's entry, mode included.
    upshift_testkit::require("restic", "the restic CLI (Debian package restic)");
    let target = base.join("by-restic");
    let out = std::process::Command::new("restic")
        .args(["--no-cache", "-r"])
        .arg(base.join(".upshift/repo"))
        .arg("--password-file")
        .arg(base.join(".upshift/repo.key"))
        .args(["restore", &snap.id, "--target"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = target.join("stores/artifacts/0/artifacts");
    assert!(is_empty_dir(&restored));
    let mode = std::fs::metadata(&restored).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o2750, "{mode:o}");
}

#[test]
fn empty_directories_beside_stores_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    for d in ["cache", "uploads", "data/a", "data/b/nested"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    std::fs::write(base.join("data/b/nested/x.txt"), "x\n").unwrap();
    let m = manifest(
        r#"
[stores.cache]
kind = "files"
path = "cache"

[stores.data]
kind = "files"
paths = ["data/a", "data/b", "uploads"]
"#,
    );
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    let report = repo.verify(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());

    let before = tree(&base.join("data"));
    std::fs::write(base.join("cache/c"), "c").unwrap();
    std::fs::write(base.join("data/a/y"), "y").unwrap();
    std::fs::remove_dir_all(base.join("uploads")).unwrap();
    std::fs::remove_dir_all(base.join("data/b")).unwrap();
    repo.restore(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(is_empty_dir(&base.join("cache")));
    assert!(is_empty_dir(&base.join("data/a")));
    assert!(is_empty_dir(&base.join("uploads")));
    assert_eq!(tree(&base.join("data")), before);
}

#[test]
fn an_empty_sqlite_database_backs_up_verifies_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // What an application leaves when it opened its database but has not
    // created its tables yet: a file of 0 bytes.
    std::fs::write(base.join("app.db"), "").unwrap();
    let m = manifest("[stores.db]\nkind = \"sqlite\"\npath = \"app.db\"\n");
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    let report = repo.verify(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());

    Connection::open(base.join("app.db"))
        .unwrap()
        .execute_batch("CREATE TABLE later(x); INSERT INTO later VALUES (1);")
        .unwrap();
    repo.restore(&snap.id, &m, base, &NoProgress).unwrap();
    let tables: i64 = Connection::open(base.join("app.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0);
}

/// A database that does not exist is refused, not backed up as "nothing":
/// the running service (which a backup requires) has created its database,
/// so a missing file means a wrong `path`, and a snapshot of "nothing"
/// would let a restore replace the real database with an empty one.
#[test]
fn a_missing_sqlite_database_is_refused_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let m = manifest("[stores.db]\nkind = \"sqlite\"\npath = \"data/app.db\"\n");
    let repo = Repository::for_manifest(&m, base).unwrap();
    let err = repo
        .backup(&m, base, &tags("1.0.0"), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data/app.db") && err.contains("does not exist"),
        "{err}"
    );
    assert!(repo.snapshots().unwrap().is_empty());
}
