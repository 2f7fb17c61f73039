//! PostgreSQL against a real server started by the test harness: back up,
//! damage, restore, identical dump; verify test-restores into a temporary
//! database; an unreachable server, a failing `pg_dump` and a dump that does
//! not restore are all reported naming the store; a verify removes the
//! temporary database that a verify killed mid-restore left behind.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{manifest, prepend_path, shim, tags};
use upshift_backup::{BackupError, NoProgress, Repository};
use upshift_testkit::Postgres;

fn pg_manifest(port: u16) -> String {
    format!(
        r#"
[stores.main]
kind = "postgres"
host = "127.0.0.1"
port = {port}
user = "postgres"
database = "app"
"#
    )
}

fn seed(pg: &Postgres) {
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql(
        "app",
        "CREATE TABLE users(id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO users(name) SELECT 'user' || g FROM generate_series(1, 500) g;
         CREATE SCHEMA billing; CREATE TABLE billing.invoices(id int, amount numeric);
         INSERT INTO billing.invoices VALUES (1, 9.5), (2, 10);",
    );
}

#[test]
fn backup_damage_restore_verify() {
    let pg = Postgres::start();
    seed(&pg);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&pg_manifest(pg.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let before = pg.dump("app");
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();

    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        report.stores["main"].detail.contains("2 tables"),
        "{report:?}"
    );
    // The temporary database is gone.
    assert!(!pg
        .psql("postgres", "SELECT datname FROM pg_database")
        .contains("upshift_verify"));

    pg.psql(
        "app",
        "DELETE FROM users WHERE id > 100; DROP TABLE billing.invoices; CREATE TABLE extra(x int);",
    );
    repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    let after = pg.dump("app");
    assert_eq!(after, before);
}

#[test]
fn unreachable_server_names_the_store_and_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let port = upshift_testkit::free_port();
    let m = manifest(&pg_manifest(port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let err = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BackupError::Tool { .. }), "{msg}");
    assert!(
        msg.contains("store `main`") && msg.contains("psql"),
        "{msg}"
    );
    assert!(repo.snapshots().unwrap().is_empty());
}

#[test]
fn failing_dump_mid_stream_leaves_no_snapshot() {
    let pg = Postgres::start();
    seed(&pg);
    let shims = tempfile::tempdir().unwrap();
    shim(
        shims.path(),
        "pg_dump",
        "printf 'PGDMP partial'; echo 'pg_dump: error: disk on fire' >&2; exit 1",
    );
    prepend_path(shims.path());
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&pg_manifest(pg.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let err = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("store `main`") && msg.contains("disk on fire"),
        "{msg}"
    );
    assert!(repo.snapshots().unwrap().is_empty());
}

#[test]
fn verify_catches_a_dump_that_does_not_restore() {
    let pg = Postgres::start();
    seed(&pg);
    let shims = tempfile::tempdir().unwrap();
    shim(
        shims.path(),
        "pg_dump",
        "echo 'this is not a custom-format dump'",
    );
    prepend_path(shims.path());
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&pg_manifest(pg.port));
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(!report.ok());
    let problems = report.problems().join("\n");
    assert!(
        problems.contains(&snap.short_id) && problems.contains("does not restore"),
        "{problems}"
    );
    assert!(!pg
        .psql("postgres", "SELECT datname FROM pg_database")
        .contains("upshift_verify"));
}

fn databases(pg: &Postgres) -> BTreeSet<String> {
    pg.psql("postgres", "SELECT datname FROM pg_database")
        .lines()
        .map(String::from)
        .collect()
}

/// The child process of `a_verify_removes_what_a_killed_verify_left`.
#[test]
fn child_verify() {
    common::child_verify();
}

/// A verify killed with SIGKILL while `pg_restore` fills its temporary
/// database leaves that database behind; the next verify of the same
/// installation drops it before making its own (ending a session still on
/// it), and leaves alone the
/// user's databases, one of another installation, and one whose creator
/// still runs.
#[test]
fn a_verify_removes_what_a_killed_verify_left() {
    let pg = Postgres::start();
    seed(&pg);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let m = common::write_manifest(base, &pg_manifest(pg.port));
    let repo = Repository::for_manifest(&m, base).unwrap();
    repo.backup(&m, base, &tags("1.0.0"), &NoProgress).unwrap();
    pg.psql("postgres", "CREATE DATABASE upshift_verify_notes");
    let app = pg.dump("app");

    // pg_restore reads the dump, then stands still until killed.
    let shims = tempfile::tempdir().unwrap();
    let blocked = shims.path().join("restoring");
    shim(
        shims.path(),
        "pg_restore",
        &format!(
            "cat >/dev/null; echo $$ > '{0}.tmp' && mv '{0}.tmp' '{0}'; exec sleep infinity",
            blocked.display()
        ),
    );
    let before = databases(&pg);
    common::kill_verify_mid_restore("child_verify", base, shims.path(), &blocked);
    let left: Vec<String> = databases(&pg).difference(&before).cloned().collect();
    assert_eq!(
        left.len(),
        1,
        "the killed verify left its database: {left:?}"
    );
    let stale = &left[0];
    let (_, scope) = common::temp_dbs(stale)
        .pop()
        .unwrap_or_else(|| panic!("{stale}: the name does not say who made it"));

    // The runner of this test is alive: its database must stay. So must
    // one of another installation (another scope) whose creator is gone.
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
    for db in [&live, &other] {
        pg.psql("postgres", &format!("CREATE DATABASE {db}"));
    }

    // The killed run's restore may still hold a session on its database,
    // which would block the drop.
    let mut session = std::process::Command::new("psql")
        .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p"])
        .arg(pg.port.to_string())
        .args(["-d", stale, "-c", "SELECT pg_sleep(600)"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sessions = format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{stale}'");
    upshift_testkit::wait_until(
        "a session on the stale database",
        Duration::from_secs(30),
        || pg.psql("postgres", &sessions).trim() == "1",
    );

    let report = repo.verify("latest", &m, base, &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    upshift_testkit::wait_until("the session to be ended", Duration::from_secs(30), || {
        session.try_wait().unwrap().is_some()
    });
    assert!(
        report.stores["main"].detail.contains(stale.as_str()),
        "{report:?}"
    );
    let now = databases(&pg);
    assert!(!now.contains(stale), "{now:?}");
    for kept in [&live, &other, "upshift_verify_notes", "app"] {
        assert!(now.contains(kept), "{kept} is gone: {now:?}");
    }
    assert_eq!(now.len(), before.len() + 2, "{now:?}");
    assert_eq!(pg.dump("app"), app);
}

/// A client inserts rows one by one, each in its own transaction, through
/// the whole backup and verify: the row counts recorded are those of the
/// dumped snapshot, so the verify passes, and every row acknowledged before
/// the backup began is in the restored copy, which holds no gaps.
#[test]
fn backup_while_a_client_writes_verifies_and_keeps_acknowledged_rows() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql("app", "CREATE TABLE events(n bigint PRIMARY KEY)");
    let port = pg.port;
    let writer = common::Writer::start(move |n| {
        let ok = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-U", "postgres", "-p", &port.to_string(), "-d", "app"])
            .args(["-c", &format!("INSERT INTO events VALUES ({n})")])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "insert {n} failed");
    });
    writer.wait_for(5);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(&pg_manifest(pg.port));
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
    let restored = pg.psql("app", "SELECT count(*), coalesce(max(n), 0) FROM events");
    let (count, max) = restored.trim().split_once('|').unwrap();
    let (count, max): (u64, u64) = (count.parse().unwrap(), max.parse().unwrap());
    assert_eq!(count, max, "the restored rows have gaps");
    assert!(
        count >= before,
        "{count} rows restored, {before} acknowledged before the backup"
    );
}
