//! `backup`, `snapshots`, `verify`, `restore` through the real binary, on the
//! live demo installation (SQLite store and config files, restic-format repo).

mod common;

use common::demo::{stop_services, Demo};

#[test]
fn backup_damage_restore_gives_the_same_notes() {
    let demo = Demo::new();
    let before = demo.export();
    let b = demo.upshift(&["--json", "backup"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let id = b.json()["short_id"].as_str().unwrap().to_string();
    assert_eq!(b.json()["verified"], true);

    let list = demo.upshift(&["--json", "snapshots"]).json();
    let snaps = list.as_array().unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["tags"]["version"], "1.0.0");
    assert_eq!(snaps[0]["tags"]["phase"], "manual");
    let table = demo.upshift(&["snapshots"]);
    assert!(
        table.stdout.contains(&id) && table.stdout.contains("manual"),
        "{}",
        table.stdout
    );

    let v = demo.upshift(&["verify", &id]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("verified"), "{}", v.stdout);

    // Restore refuses while the services answer.
    let refused = demo.upshift(&["-y", "restore", &id]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("refusing to restore while auth, notes running"),
        "{}",
        refused.stderr
    );

    // Damage the data and a config file with the services stopped, then restore.
    stop_services(&demo.dir);
    std::fs::write(demo.path("data/notes.db"), b"not a database").unwrap();
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    std::fs::write(demo.path("config/auth.toml"), "# emptied\n").unwrap();
    let r = demo.upshift(&["-y", "restore", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(demo.path("config/auth.toml")).unwrap(),
        auth
    );
    assert_eq!(demo.export(), before);
}

#[test]
fn verify_without_snapshots_and_a_wrong_key_are_clear() {
    let demo = Demo::new();
    let none = demo.upshift(&["verify"]);
    assert_ne!(none.code, 0);
    assert!(!none.stderr.is_empty());
    assert_eq!(demo.upshift(&["backup"]).code, 0);
    // Another key file: the repository cannot be opened, and that is bad input (exit 2).
    let key = demo.path(".upshift/repo.key");
    let original = std::fs::read(&key).unwrap();
    std::fs::write(&key, "a-different-key\n").unwrap();
    let wrong = demo.upshift(&["snapshots"]);
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(
        !wrong.stderr.contains("a-different-key"),
        "the key is never printed: {}",
        wrong.stderr
    );
    std::fs::write(&key, original).unwrap();
    assert_eq!(demo.upshift(&["snapshots"]).code, 0);
}

/// A backup whose snapshot does not verify (here `pg_dump` writes something
/// that is not a dump) is no success: `upshift backup` says which store
/// fails and exits 1; the snapshot stays listed, to look into.
#[test]
fn backup_that_does_not_verify_exits_1() {
    let pg = upshift_testkit::Postgres::start();
    pg.psql("postgres", "CREATE DATABASE app");
    pg.psql("app", "CREATE TABLE t(x int); INSERT INTO t VALUES (1)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let manifest = format!(
        "[installation]\nname = \"pg\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n\
         [stores.main]\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\n\
         user = \"postgres\"\ndatabase = \"app\"\n",
        pg.port
    );
    common::write(dir, "upshift.toml", &manifest);
    let shims = dir.join("shims");
    std::fs::create_dir(&shims).unwrap();
    let shim = common::write(&shims, "pg_dump", "#!/bin/sh\necho 'not a dump'\n");
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", shims.display(), std::env::var("PATH").unwrap());
    let run = |args: &[&str]| {
        common::upshift(dir)
            .args(["-m", "upshift.toml"])
            .args(args)
            .env("PATH", &path)
            .run()
    };
    let b = run(&["backup"]);
    assert_eq!(b.code, 1, "{}", b.stderr);
    assert!(
        b.stderr.contains("does not verify") && b.stderr.contains("store `main`"),
        "{}",
        b.stderr
    );
    let listed = run(&["--json", "snapshots"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}
