//! Files, SQLite and config files: back up, damage, restore, compare; the
//! key file; a wrong key; a corrupted pack caught by verify; and the
//! repository read by Debian's `restic`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{manifest, tags, tree};
use rusqlite::Connection;
use upshift_backup::{BackupError, KeySource, NoProgress, Repository};

const MANIFEST: &str = r#"
[stores.uploads]
kind = "files"
path = "data/uploads"

[stores.db]
kind = "sqlite"
path = "data/app.db"

[config.app]
path = "app.yaml"
format = "yaml"
"#;

fn setup(base: &Path) {
    let up = base.join("data/uploads/sub");
    std::fs::create_dir_all(&up).unwrap();
    std::fs::write(base.join("data/uploads/a.txt"), "alpha\n").unwrap();
    std::fs::write(up.join("b.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(base.join("app.yaml"), "port: 8080\n").unwrap();
    let c = Connection::open(base.join("data/app.db")).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO users(name) VALUES ('ann'),('bob'),('cy');
         CREATE TABLE posts(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO posts(body) VALUES ('hi');",
    )
    .unwrap();
}

fn users(base: &Path) -> Vec<String> {
    let c = Connection::open(base.join("data/app.db")).unwrap();
    let mut s = c.prepare("SELECT name FROM users ORDER BY id").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn backup_damage_restore_verify() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    setup(base);
    let m = manifest(MANIFEST);
    let repo = Repository::for_manifest(&m, base).unwrap();
    let key = base.join(".upshift/repo.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let before_files = tree(&base.join("data/uploads"));
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    let listed = repo.snapshots().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, snap.id);
    assert_eq!(listed[0].tags.version, "1.0.0");
    assert_eq!(listed[0].stores, ["db", "uploads"]);

    let report = repo.verify(&snap.short_id, &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());

    // Damage: edit, delete, add files; change the database and the config.
    std::fs::write(base.join("data/uploads/a.txt"), "ALPHA\n").unwrap();
    std::fs::remove_file(base.join("data/uploads/sub/b.bin")).unwrap();
    std::fs::write(base.join("data/uploads/new.txt"), "intruder").unwrap();
    std::fs::write(base.join("app.yaml"), "port: 9090\n").unwrap();
    Connection::open(base.join("data/app.db"))
        .unwrap()
        .execute_batch("DELETE FROM users WHERE name='bob'; DROP TABLE posts;")
        .unwrap();

    let restored = repo.restore("latest", &m, base, &NoProgress).unwrap();
    assert_eq!(tree(&base.join("data/uploads")), before_files);
    assert_eq!(
        std::fs::read_to_string(base.join("app.yaml")).unwrap(),
        "port: 8080\n"
    );
    assert_eq!(users(base), ["ann", "bob", "cy"]);
    assert!(
        restored.stores["uploads"].contains("1 removed"),
        "{restored:?}"
    );

    // A second restore over identical data rewrites nothing.
    let again = repo.restore(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(
        again.stores["uploads"].contains("0 files restored"),
        "{again:?}"
    );
}

#[test]
fn wrong_key_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("repo");
    for (name, key) in [("good", "good-key\n"), ("bad", "bad-key\n")] {
        let p = dir.path().join(name);
        std::fs::write(&p, key).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Repository::open_or_init(&repo_dir, &KeySource::File(dir.path().join("good"))).unwrap();
    let err =
        Repository::open_or_init(&repo_dir, &KeySource::File(dir.path().join("bad"))).unwrap_err();
    assert!(matches!(err, BackupError::WrongKey { .. }), "{err}");
    assert!(err.is_bad_input());
    assert!(!err.to_string().contains("bad-key"));
}

#[test]
fn a_key_file_open_to_others_is_refused_with_the_chmod() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "some-key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = Repository::open_or_init(&dir.path().join("repo"), &KeySource::File(key.clone()))
        .unwrap_err();
    assert!(matches!(err, BackupError::KeyExposed { .. }), "{err}");
    assert!(err.is_bad_input());
    assert!(
        err.to_string()
            .contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    assert!(!dir.path().join("repo").exists(), "nothing is created");
}

/// Many first openings at once (threads here; processes in the CLI tests):
/// one key file, one repository, and every caller opens it.
#[test]
fn concurrent_first_openings_make_one_repository_with_one_key() {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let repo_dir = dir.path().join("repo");
        let key = KeySource::Generated(dir.path().join("repo.key"));
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            let opened: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        Repository::open_or_init(&repo_dir, &key).map(|_| ())
                    })
                })
                .collect();
            for t in opened {
                t.join().unwrap().unwrap();
            }
        });
        let keys = std::fs::read_dir(repo_dir.join("keys")).unwrap().count();
        assert_eq!(keys, 1, "one key in the repository");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files remain: {leftovers:?}"
        );
        let mode = std::fs::metadata(dir.path().join("repo.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(Repository::open_or_init(&repo_dir, &key)
            .unwrap()
            .snapshots()
            .unwrap()
            .is_empty());
    }
}

#[test]
fn verify_catches_a_corrupted_pack() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    setup(base);
    let m = manifest(MANIFEST);
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    // Flip bytes in the middle of the largest pack file (the data pack).
    let data = base.join(".upshift/repo/data");
    let mut packs: Vec<std::path::PathBuf> = Vec::new();
    for sub in std::fs::read_dir(&data).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            packs.push(f.unwrap().path());
        }
    }
    packs.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let p = packs.last().unwrap();
    let mut bytes = std::fs::read(p).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xff;
    bytes[mid + 1] ^= 0xff;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(p, bytes).unwrap();
    let report = repo.verify(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(!report.ok());
    let problems = report.problems().join("\n");
    assert!(problems.contains(&snap.short_id), "{problems}");
    assert!(problems.to_lowercase().contains("pack"), "{problems}");
}

#[test]
fn restic_lists_upshift_snapshots_and_tags() {
    upshift_testkit::require("restic", "the restic CLI (Debian package restic)");
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    setup(base);
    let m = manifest(MANIFEST);
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    let out = std::process::Command::new("restic")
        .args(["--no-cache", "-r"])
        .arg(base.join(".upshift/repo"))
        .arg("--password-file")
        .arg(base.join(".upshift/repo.key"))
        .args(["snapshots", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let snaps = json.as_array().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["id"], snap.id);
    let tags: Vec<&str> = snaps[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for want in [
        "upshift",
        "installation=test-inst",
        "product=demo",
        "version=1.0.0",
        "phase=pre-upgrade",
        "run=run-1",
        "config=abc123",
    ] {
        assert!(tags.contains(&want), "{want} missing from {tags:?}");
    }
    // restic can read the data back too.
    let out = std::process::Command::new("restic")
        .args(["--no-cache", "-r"])
        .arg(base.join(".upshift/repo"))
        .arg("--password-file")
        .arg(base.join(".upshift/repo.key"))
        .args(["dump", &snap.id, "/config/app/0/app.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "port: 8080\n");
}

/// A log in a files store is appended to, line by line, through the whole
/// backup and verify: the snapshot records what it stored, so the verify
/// passes, and the restored log is the log as it was, a prefix of what it
/// became.
#[test]
fn a_file_appended_to_during_the_backup_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    std::fs::create_dir_all(base.join("data/logs")).unwrap();
    std::fs::write(base.join("data/a.txt"), "alpha\n").unwrap();
    std::fs::write(base.join("data/b.bin"), vec![3u8; 200_000]).unwrap();
    let log = base.join("data/logs/app.log");
    std::fs::write(&log, "").unwrap();
    let appended = log.clone();
    let writer = common::Writer::start(move |n| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&appended)
            .unwrap();
        f.write_all(format!("request {n} served\n").as_bytes())
            .unwrap();
    });
    writer.wait_for(100);
    let m = manifest("[stores.data]\nkind = \"files\"\npath = \"data\"\n");
    let repo = Repository::for_manifest(&m, &base).unwrap();
    let before = writer.acked();
    let snap = repo.backup(&m, &base, &tags("1.0.0"), &NoProgress).unwrap();
    let report = repo.verify(&snap.id, &m, &base, &NoProgress).unwrap();
    let during = writer.stop();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(during > before, "the log did not grow during the backup");

    let grown = std::fs::read(&log).unwrap();
    std::fs::remove_dir_all(base.join("data")).unwrap();
    repo.restore(&snap.id, &m, &base, &NoProgress).unwrap();
    let restored = std::fs::read(&log).unwrap();
    assert!(
        grown.starts_with(&restored),
        "the restored log is not the log as it was"
    );
    let lines = restored.iter().filter(|b| **b == b'\n').count() as u64;
    assert!(
        lines >= before,
        "{lines} lines restored, {before} written before the backup"
    );
}

/// `exclude` globs leave matching files and directories (with all they
/// hold) out of the snapshot; what they leave in verifies and restores,
/// and a restore leaves what they match as it is.
#[test]
fn exclude_globs_keep_matching_files_out_of_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    for (p, text) in [
        ("data/a.txt", "alpha"),
        ("data/x.log", "log"),
        ("data/sub/y.log", "log"),
        ("data/sub/keep.txt", "kept"),
        ("data/cache/big.bin", "cached"),
        ("data/cached.txt", "kept too"),
    ] {
        std::fs::create_dir_all(base.join(p).parent().unwrap()).unwrap();
        std::fs::write(base.join(p), text).unwrap();
    }
    let m = manifest(
        "[stores.data]\nkind = \"files\"\npath = \"data\"\nexclude = [\"*.log\", \"cache\"]\n",
    );
    let repo = Repository::for_manifest(&m, base).unwrap();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    let report = repo.verify(&snap.id, &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        report.stores["data"].detail.contains("3 files"),
        "{report:?}"
    );

    let snapshot = repo.snapshots().unwrap();
    assert_eq!(snapshot[0].total_bytes, 5 + 4 + 8, "{snapshot:?}");

    std::fs::write(base.join("data/a.txt"), "changed").unwrap();
    std::fs::write(base.join("data/new.txt"), "appeared").unwrap();
    std::fs::create_dir(base.join("data/newdir")).unwrap();
    std::fs::write(base.join("data/x.log"), "log, longer now").unwrap();
    repo.restore(&snap.id, &m, base, &NoProgress).unwrap();
    let got = tree(&base.join("data"));
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "a.txt",
            "cache/big.bin",
            "cached.txt",
            "sub/keep.txt",
            "sub/y.log",
            "x.log"
        ]
    );
    assert_eq!(got["a.txt"], b"alpha");
    assert_eq!(got["x.log"], b"log, longer now");
    assert!(!base.join("data/newdir").exists());
}

/// Every byte report, as (store, done, total).
#[derive(Default)]
struct Bytes(std::sync::Mutex<Vec<(String, u64, Option<u64>)>>);

impl upshift_backup::Progress for Bytes {
    fn bytes(&self, store: &str, done: u64, total: Option<u64>) {
        self.0.lock().unwrap().push((store.into(), done, total));
    }
}

impl Bytes {
    /// The last report of `store`.
    fn last(&self, store: &str) -> (u64, Option<u64>) {
        let seen = self.0.lock().unwrap();
        let last = seen.iter().rev().find(|s| s.0 == store);
        let (_, done, total) = last.unwrap_or_else(|| panic!("no bytes of {store}: {seen:?}"));
        (*done, *total)
    }
}

/// Backup reports the bytes it read of each store, of the walked total;
/// verify the pack data it read and each dump it test-restores; restore
/// the bytes it compared or wrote.
#[test]
fn backup_verify_and_restore_report_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    setup(base);
    let m = manifest(MANIFEST);
    let repo = Repository::for_manifest(&m, base).unwrap();
    let db = std::fs::metadata(base.join("data/app.db")).unwrap().len();

    let backup = Bytes::default();
    let snap = repo.backup(&m, base, &tags("1.0.0"), &backup).unwrap();
    assert_eq!(backup.last("uploads"), (300_006, Some(300_006)));
    let (read, total) = backup.last("db");
    assert_eq!(total, Some(read), "the copy of the database, read whole");
    assert!(read >= db, "{read} < {db}");
    assert_eq!(backup.last("config"), (11, Some(11)));

    let verify = Bytes::default();
    assert!(repo.verify(&snap.id, &m, base, &verify).unwrap().ok());
    let (data, total) = verify.last("data");
    assert!(data > 0 && Some(data) == total, "{data} of {total:?}");
    assert_eq!(
        verify.last("db"),
        (read, Some(read)),
        "the dump test-restored"
    );

    let restore = Bytes::default();
    std::fs::write(base.join("data/uploads/a.txt"), "changed\n").unwrap();
    repo.restore(&snap.id, &m, base, &restore).unwrap();
    assert_eq!(restore.last("uploads"), (300_006, Some(300_006)));
    assert_eq!(
        std::fs::read_to_string(base.join("data/uploads/a.txt")).unwrap(),
        "alpha\n"
    );
}

/// A SQLite database that a client writes to all the time gets its online
/// backup: copied in slices, SQLite's backup would start over at every
/// write between two slices and, on a busy server, never finish. 40 MB
/// (ten thousand pages, many slices of the old size), a write every
/// millisecond; the snapshot verifies and holds every row acknowledged
/// before the backup began.
#[test]
fn a_sqlite_database_written_to_all_the_time_gets_its_online_backup() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    std::fs::create_dir_all(base.join("data")).unwrap();
    let db = base.join("data/app.db");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);
         CREATE TABLE events(id INTEGER PRIMARY KEY, n INTEGER);",
    )
    .unwrap();
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..640 {
        c.execute("INSERT INTO blobs(body) VALUES (?1)", [&chunk])
            .unwrap();
    }
    drop(c);
    let path = db.clone();
    let writer = common::Writer::start(move |n| {
        let c = Connection::open(&path).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c.execute("INSERT INTO events(n) VALUES (?1)", [n as i64])
            .unwrap();
    });
    writer.wait_for(50);
    let m = manifest("[stores.db]\nkind = \"sqlite\"\npath = \"data/app.db\"\n");
    let repo = Repository::for_manifest(&m, &base).unwrap();
    let before = writer.acked();
    let snap = repo.backup(&m, &base, &tags("1.0.0"), &NoProgress).unwrap();
    let report = repo.verify(&snap.id, &m, &base, &NoProgress).unwrap();
    let during = writer.stop();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        during > before,
        "the client did not write during the backup"
    );
    std::fs::remove_dir_all(base.join("data")).unwrap();
    repo.restore(&snap.id, &m, &base, &NoProgress).unwrap();
    let c = Connection::open(&db).unwrap();
    let kept: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(
        kept as u64 >= before,
        "{kept} rows restored, {before} acknowledged before the backup"
    );
    let blobs: i64 = c
        .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blobs, 640);
}
