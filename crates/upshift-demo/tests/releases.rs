//! The demo product as upshift meets it: real processes, real HTTP, real
//! SQLite, in a temporary installation root.

mod harness;

use harness::{rel, Install, BUILT};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use upshift_demo::{layout, schema};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The runbook by hand, as the executor will run it: 1.0.0 → 1.1.0 (schema
/// 1 → 2 on start) → 2.1.0 (config format 2) → 3.0.0 (migrate, schema 3),
/// every note present at every stop.
#[test]
fn upgrade_path_keeps_every_note() {
    let i = Install::init("1.0.0");
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    assert_eq!(i.health("auth").body, "ok 1.0.0");
    assert_eq!(i.health("notes").body, "ok 1.0.0 schema 1");
    let first = i.post_note("alice", "dropped by 1.0.0", "buy milk");
    assert_eq!(first["title"], "", "1.0.0 has no titles");
    i.post_note("bob", "", "call home");
    i.post_note("alice", "", "water plants");
    assert_eq!(i.notes("alice").as_array().unwrap().len(), 2);
    let unauthorized =
        upshift_demo::http::get(&i.url("notes", "/notes"), Some("alice.forged")).unwrap();
    assert_eq!(unauthorized.status, 401);
    let at_1_0 = i.export();
    notes.stop();
    auth.stop();

    // 1.1.0: same config format; the schema is upgraded on start.
    i.install_and_switch("1.1.0");
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    assert_eq!(i.health("notes").body, "ok 1.1.0 schema 2");
    assert!(std::fs::read_to_string(&notes.log)
        .unwrap()
        .contains("schema version 1 to 2"));
    assert_eq!(i.export(), at_1_0);
    assert_eq!(
        i.post_note("bob", "titled", "from 1.1.0")["title"],
        "titled"
    );
    let at_1_1 = i.export();
    notes.stop();
    auth.stop();

    // 2.1.0: the config moves to format 2 (the secret into a 0600 file).
    i.install_and_switch("2.1.0");
    i.rewrite_config("1.1.0", "2.1.0");
    let mode = std::fs::metadata(i.root().join("secrets/auth.secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    assert_eq!(i.health("notes").body, "ok 2.1.0 schema 2");
    assert_eq!(i.export(), at_1_1);
    notes.stop();
    auth.stop();

    // 3.0.0: the data migration, then start.
    i.install_and_switch("3.0.0");
    let cfg = i.config("notes");
    let out = i.run("current", &["migrate", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    assert_eq!(i.health("notes").body, "ok 3.0.0 schema 3");
    assert_eq!(i.export(), at_1_1);
    let bobs = i.notes("bob");
    assert_eq!(bobs.as_array().unwrap().len(), 2, "{bobs}");
    assert_eq!(bobs[1]["title"], "titled");
    assert_eq!(i.post_note("carol", "new", "from 3.0.0")["id"], 5);
    notes.stop();
    auth.stop();
}

/// Skipping the migration breaks 3.0.0; going back without the snapshot
/// breaks 2.1.0 with the message the catalog's known issue matches.
#[test]
fn schema_steps_cannot_be_skipped() {
    let i = Install::init("2.1.0");
    let db = i.root().join("data/notes.db");
    schema::insert(
        &mut schema::open(&upshift_demo::config::Storage::Sqlite(db)).unwrap(),
        "alice",
        "t",
        "kept",
    )
    .unwrap();
    let at_2 = i.export();
    i.install_and_switch("3.0.0");
    let cfg = i.config("notes");
    let cfg = cfg.to_str().unwrap();

    let (code, log) = i.start_refused("notes");
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("run the notes-schema-v3 migration"), "{log}");

    let out = i.run("2.1.0", &["migrate", "--config", cfg]);
    assert!(
        !out.status.success() && stderr(&out).contains("belongs to 3.0.0; this is 2.1.0"),
        "{}",
        stderr(&out)
    );
    let out = i.run("current", &["migrate", "--config", cfg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrated"));
    let again = i.run("current", &["migrate", "--config", cfg]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already at schema version 3"));
    assert_eq!(i.export(), at_2);

    layout::switch(i.root(), rel("2.1.0")).unwrap();
    let (code, log) = i.start_refused("notes");
    assert_eq!(code, 1, "{log}");
    let known_issue = regex::Regex::new("schema version .* is newer than this release").unwrap();
    assert!(known_issue.is_match(&log), "{log}");
    assert!(
        log.contains("schema version 3 is newer than this release (2.1.0) understands"),
        "{log}"
    );

    // 3.0.0 refuses a schema-1 database too: 1.1.0 must come first.
    let old = Install::init("1.0.0");
    old.install_and_switch("3.0.0");
    old.rewrite_config("1.0.0", "3.0.0");
    let cfg = old.config("notes");
    let out = old.run("current", &["migrate", "--config", cfg.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("upgrade to 1.1.0 first"),
        "{}",
        stderr(&out)
    );
}

/// 2.0.0 refuses a 1.x config and 1.x refuses a 2.x one, naming the key and
/// the file, with exit code 2.
#[test]
fn config_formats_refuse_each_other() {
    let v1 = Install::init("1.1.0");
    v1.install_and_switch("2.0.0");
    for (service, expect) in [
        (
            "auth",
            "auth.toml: `listen` moved to `server.listen` in 2.0.0",
        ),
        (
            "notes",
            "notes.toml: `listen` moved to `server.listen` in 2.0.0",
        ),
    ] {
        let (code, log) = v1.start_refused(service);
        assert_eq!(code, 2, "{log}");
        assert!(log.contains(expect), "{log}");
        assert!(
            log.contains(&v1.root().join("config").display().to_string()),
            "{log}"
        );
    }

    let v2 = Install::init("2.0.0");
    v2.install_and_switch("1.1.0");
    let (code, log) = v2.start_refused("notes");
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("notes.toml: unknown key `server`"), "{log}");

    // A 2.x auth.toml that still carries the cleartext secret.
    layout::switch(v2.root(), rel("2.0.0")).unwrap();
    let auth = v2.config("auth");
    let text = std::fs::read_to_string(&auth).unwrap();
    std::fs::write(&auth, format!("secret = \"cleartext\"\n{text}")).unwrap();
    let (code, log) = v2.start_refused("auth");
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "auth.toml: unknown key `secret`: 2.0.0 reads the shared secret from `secret_file`"
        ),
        "{log}"
    );
}

/// Export is sorted by id and identical while running, stopped and restarted.
#[test]
fn export_is_stable_across_restarts() {
    let i = Install::init("1.1.0");
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    for n in 0..6 {
        i.post_note(
            ["zoe", "adam"][n % 2],
            &format!("t{n}"),
            &format!("body {n}"),
        );
    }
    let running = i.export();
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&running).unwrap();
    let ids: Vec<i64> = parsed.iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        parsed[1],
        serde_json::json!({"id": 2, "owner": "adam", "title": "t1", "body": "body 1"})
    );
    notes.stop();
    auth.stop();
    assert_eq!(i.export(), running);
    let (auth, notes) = (i.start("auth"), i.start("notes"));
    assert_eq!(i.export(), running);
    notes.stop();
    auth.stop();

    // Benchmark data goes straight into the database, and exports the same way.
    let cfg = i.config("notes");
    let out = Command::new(BUILT)
        .args(["seed", "--count", "3", "--body-bytes", "10", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let seeded: Vec<serde_json::Value> = serde_json::from_str(&i.export()).unwrap();
    assert_eq!(seeded.len(), 9);
    assert_eq!(
        (seeded[8]["id"].as_i64(), seeded[8]["owner"].as_str()),
        (Some(9), Some("user2"))
    );
}

/// The notes health check reports auth being down; `--version` reads the
/// installed release; unknown releases and a second init are refused.
#[test]
fn health_version_and_refusals() {
    let i = Install::init("1.0.0");
    let notes = i.start_without_auth();
    let h = i.health("notes");
    assert_eq!(h.status, 503);
    assert!(h.body.contains("auth does not answer"), "{h:?}");
    drop(notes);

    let out = i.run("current", &["--version"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "upshift-demo 1.0.0\n");
    let out = Command::new(i.bin("current"))
        .arg("--version")
        .env(layout::VERSION_ENV, "2.1.0")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "upshift-demo 2.1.0\n");
    let out = Command::new(BUILT)
        .arg("--version")
        .env_remove(layout::VERSION_ENV)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("cannot tell which release this is"),
        "{}",
        stderr(&out)
    );

    let out = i.built(&["install", "--version", "1.2.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown release `1.2.0`"),
        "{}",
        stderr(&out)
    );
    let out = i.built(&["init", "--version", "1.0.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already holds an installation"),
        "{}",
        stderr(&out)
    );
    let out = i.built(&["install", "--version", "1.0.0"]);
    assert!(
        out.status.success(),
        "install is idempotent: {}",
        stderr(&out)
    );
}
