//! MariaDB against a real server started by the test harness: back up,
//! damage, restore, identical dump; verify loads the dump into a temporary
//! schema; a dump that does not load is caught; a verify removes the
//! temporary schema that a verify killed mid-load left behind.

mod common;

use std::collections::BTreeSet;

use common::{manifest, prepend_path, shim, tags};
use upshift_backup::{NoProgress, Repository};
use upshift_testkit::MariaDb;

fn my_manifest(port: u16) -> String {
    format!(
        r#"
[stores.shop]
kind = "mysql"
host = "127.0.0.1"
port = {port}
user = "root"
database = "shop"
"#
    )
}

fn seed(db: &MariaDb) {
    db.sql(None, "CREATE DATABASE shop");
    db.sql(
        Some("shop"),
        "CREATE TABLE items(id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40), price DECIMAL(8,2));
         INSERT INTO items(name, price) VALUES ('a', 1.5), ('b', 2), ('c', 3.25);
         CREATE TABLE audit(id INT PRIMARY KEY AUTO_INCREMENT, item INT);
         CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO audit(item) VALUES (NEW.id);
         CREATE PROCEDURE cheap() SELECT * FROM items WHERE price < 2;",
    );
}

#[test]
fn backup_damage_restore_verify() {
    let db = MariaDb::start();
    seed(&db);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&my_manifest(db.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let before = db.dump("shop");
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();

    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(!db.sql(None, "SHOW DATABASES").contains("upshift_verify"));

    db.sql(
        Some("shop"),
        "DELETE FROM items WHERE id = 2; DROP PROCEDURE cheap; CREATE TABLE extra(x INT);",
    );
    repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert_eq!(db.dump("shop"), before);
}

#[test]
fn verify_catches_a_dump_that_does_not_load() {
    let db = MariaDb::start();
    seed(&db);
    let shims = tempfile::tempdir().unwrap();
    shim(
        shims.path(),
        "mariadb-dump",
        "echo 'CREATE TABLE broken (;'",
    );
    prepend_path(shims.path());
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&my_manifest(db.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(!report.ok());
    let problems = report.problems().join("\n");
    assert!(
        problems.contains("store `shop`") && problems.contains("does not restore"),
        "{problems}"
    );
    assert!(!db.sql(None, "SHOW DATABASES").contains("upshift_verify"));
}

fn schemas(db: &MariaDb) -> BTreeSet<String> {
    db.sql(None, "SHOW DATABASES")
        .lines()
        .map(String::from)
        .collect()
}

/// The child process of `a_verify_removes_what_a_killed_verify_left`.
#[test]
fn child_verify() {
    common::child_verify();
}

/// A verify killed with SIGKILL while the client loads the dump leaves its
/// temporary schema behind; the next verify of the same installation drops
/// it, and leaves alone the user's schemas, one of another installation,
/// and one whose creator still runs.
#[test]
fn a_verify_removes_what_a_killed_verify_left() {
    let db = MariaDb::start();
    seed(&db);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let m = common::write_manifest(base, &my_manifest(db.port));
    let repo = Repository::for_manifest(&m, base).unwrap();
    repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    db.sql(None, "CREATE DATABASE upshift_verify_notes");
    let shop = db.dump("shop");

    // The client runs queries (`-e`) for real; loading a dump, it reads
    // it and then stands still until killed.
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v mariadb"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let shims = tempfile::tempdir().unwrap();
    let blocked = shims.path().join("loading");
    shim(
        shims.path(),
        "mariadb",
        &format!(
            "for a in \"$@\"; do [ \"$a\" = -e ] && exec '{0}' \"$@\"; done\n\
             cat >/dev/null; echo $$ > '{1}.tmp' && mv '{1}.tmp' '{1}'; exec sleep infinity",
            real.trim(),
            blocked.display()
        ),
    );
    let before = schemas(&db);
    common::kill_verify_mid_restore("child_verify", base, shims.path(), &blocked);
    let left: Vec<String> = schemas(&db).difference(&before).cloned().collect();
    assert_eq!(left.len(), 1, "the killed verify left its schema: {left:?}");
    let stale = &left[0];
    let (_, scope) = common::temp_dbs(stale)
        .pop()
        .unwrap_or_else(|| panic!("{stale}: the name does not say who made it"));

    let runner = std::os::unix::process::parent_id();
    let live = format!(
        "upshift_verify_{scope}_{runner}_{}_0",
        common::start_ticks(runner)
    );
    let other_scope = if scope.as_str() == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    let other = format!("upshift_verify_{other_scope}_4194305_1_0");
    for s in [&live, &other] {
        db.sql(None, &format!("CREATE DATABASE {s}"));
    }

    let report = repo.verify("latest", &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        report.stores["shop"].detail.contains(stale.as_str()),
        "{report:?}"
    );
    let now = schemas(&db);
    assert!(!now.contains(stale), "{now:?}");
    for kept in [&live, &other, "upshift_verify_notes", "shop"] {
        assert!(now.contains(kept), "{kept} is gone: {now:?}");
    }
    assert_eq!(now.len(), before.len() + 2, "{now:?}");
    assert_eq!(db.dump("shop"), shop);
}

/// A client inserts rows one by one through the whole backup and verify:
/// the rows expected are those of the dump itself (its own consistent
/// transaction), so the verify passes, and every row acknowledged before
/// the backup began is in the restored copy, which holds no gaps.
#[test]
fn backup_while_a_client_writes_verifies_and_keeps_acknowledged_rows() {
    let db = MariaDb::start();
    db.sql(None, "CREATE DATABASE shop");
    db.sql(
        Some("shop"),
        "CREATE TABLE events(n BIGINT PRIMARY KEY) ENGINE=InnoDB",
    );
    let port = db.port;
    let writer = common::Writer::start(move |n| {
        let ok = std::process::Command::new("mariadb")
            .args(["--protocol=TCP", "-h", "127.0.0.1", "-u", "root"])
            .arg(format!("--port={port}"))
            .args(["shop", "-e", &format!("INSERT INTO events VALUES ({n})")])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "insert {n} failed");
    });
    writer.wait_for(5);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&my_manifest(db.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let before = writer.acked();
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    let during = writer.stop();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        during > before,
        "the client wrote nothing during the backup"
    );

    repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    let restored = db.sql(
        Some("shop"),
        "SELECT COUNT(*), COALESCE(MAX(n), 0) FROM events",
    );
    let (count, max) = restored.trim().split_once('\t').unwrap();
    let (count, max): (u64, u64) = (count.parse().unwrap(), max.parse().unwrap());
    assert_eq!(count, max, "the restored rows have gaps");
    assert!(
        count >= before,
        "{count} rows restored, {before} acknowledged before the backup"
    );
}
