//! MariaDB against a real server started by the test harness: back up,
//! damage, restore, identical dump; verify loads the dump into a temporary
//! schema; a dump that does not load is caught.

mod common;

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
