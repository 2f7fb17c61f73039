//! A journal written by the previous version still resumes.
//!
//! `fixtures/journal-v1.sql` and `fixtures/journal-v1-rollback.sql` are
//! `.upshift/journal.db` (schema and rows) exactly as upshift at commit
//! 89236fbbfe4b315ce0035f7d0a88835426585792 left it when it was killed
//! mid-run; each file's header says how it was made. They hold that version's
//! step ids and detail formats: the online snapshot as `<snapshot id>
//! <fingerprint>`, `maintenance.on` as a millisecond timestamp, `swap.version`
//! as `current → releases/2.1.0`, and a started `rollback` record with the
//! JSON detail `{"snapshot":…,"version":…}`.
//!
//! A journal is only meaningful next to the installation it describes, so
//! each test first brings a fresh demo to the same point with today's binary
//! (same plan, same crash point), then puts the v1 journal in place of
//! today's:
//! - the journal file is rebuilt from the fixture (its v1 schema included),
//!   the fixture's run id, timestamps, details and dead lock kept verbatim;
//! - snapshot ids are the one thing that cannot match (a repository's ids are
//!   content hashes), so each fixture snapshot id is replaced by the id of the
//!   fresh repository's snapshot with the same version and phase;
//! - the migrated config files staged for the interrupted hop are moved to
//!   where v1 keeps them for its run, `.upshift/staged/<run id>/<hop>/<name>`.
//!
//! Then `upshift resume` must finish what the v1 journal says is left.

mod common;

use common::demo::Demo;

/// A fixture and what it refers to.
struct Fixture {
    sql: &'static str,
    run_id: &'static str,
    /// Every snapshot the fixture names: full id, version, phase.
    snapshots: [(&'static str, &'static str, &'static str); 3],
}

/// Interrupted right after hop 2 (1.1.0 → 2.1.0) journaled `swap.version` done.
const AFTER_SWAP: Fixture = Fixture {
    sql: include_str!("fixtures/journal-v1.sql"),
    run_id: "r1796166298572-4619",
    snapshots: [
        (
            "4e7aa2defeb5699115f2f1622f929951d4fb024f1a22b17fc46f5f9ce7ff2614",
            "1.0.0",
            "pre-upgrade",
        ),
        (
            "865b40c0898df13618e616fcdfe0b5277bd8c2f142a3ca518c6a997da529f28f",
            "1.1.0",
            "post-upgrade",
        ),
        (
            "19a6f8658b301309fb1dadc2c9738bfa20907c7afbd0f4d3061348bbe7494ca3",
            "1.1.0",
            "pre-upgrade",
        ),
    ],
};

/// Hop 2 failed its health check past the point of no return; the automatic
/// rollback to 1.1.0 was journaled as started, then interrupted.
const ROLLING_BACK: Fixture = Fixture {
    sql: include_str!("fixtures/journal-v1-rollback.sql"),
    run_id: "r1796166445484-5038",
    snapshots: [
        (
            "79c5a045bc87ae207de31317b04aa9c63437a333b32902569fb5cbb4f844936a",
            "1.0.0",
            "pre-upgrade",
        ),
        (
            "8059b523ff27a216c20325a87c59bfa0c38d7186d08a863b42f3ee7e36462097",
            "1.1.0",
            "post-upgrade",
        ),
        (
            "e3714f6418764e8c1d82ed1f1c40e848724bdc3cf1294c8fc59cbcc4900633c4",
            "1.1.0",
            "pre-upgrade",
        ),
    ],
};

/// `maintenance_ms` of the run in the fixture: hop 1's window.
const HOP1_WINDOW_MS: i64 = 248;
/// The detail of hop 2's `maintenance.on` in `journal-v1.sql`: when its
/// window began.
const HOP2_MAINTENANCE_ON_MS: i64 = 1796166302961;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Today's binary runs the demo's `apply --to 2.1.0` and is killed after
/// `crash_after`; the journal it wrote is then replaced by the fixture.
/// `edit` changes the rebuilt v1 journal before anything reads it. Returns
/// the short ids the fixture's snapshots now have, in the fixture's order.
fn replay(demo: &Demo, fx: &Fixture, crash_after: &str, edit: &str) -> Vec<String> {
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", crash_after)],
        &["-y", "apply", "--to", "2.1.0"],
    );
    assert_eq!(
        crashed.code, -1,
        "apply should have been killed after {crash_after}: {}",
        crashed.stderr
    );

    // The staged configs of the fresh run, moved under the fixture's run id.
    let staged = demo.path(".upshift/staged");
    let runs: Vec<_> = std::fs::read_dir(&staged)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run staged its configs: {runs:?}");
    for name in ["auth", "notes"] {
        let f = runs[0].join("1").join(name);
        assert!(
            f.is_file(),
            "hop 2's migrated {name} config is staged at {f:?}"
        );
    }
    std::fs::rename(&runs[0], staged.join(fx.run_id)).unwrap();

    // The fixture's snapshot ids, as ids of this repository.
    let listed = demo.upshift(&["--json", "snapshots"]).json();
    let listed = listed.as_array().unwrap();
    let mut sql = fx.sql.to_string();
    let mut short = Vec::new();
    for (old, version, phase) in fx.snapshots {
        // Oldest first: the last match is the hop's final snapshot (the
        // online one when the data did not change before the stop).
        let new = listed
            .iter()
            .rev()
            .find(|s| s["tags"]["version"] == version && s["tags"]["phase"] == phase)
            .unwrap_or_else(|| panic!("no {version} {phase} snapshot in {listed:?}"));
        let new = new["id"].as_str().unwrap();
        assert!(sql.contains(old), "the fixture names {old}");
        sql = sql.replace(old, new).replace(&old[..8], &new[..8]);
        short.push(new[..8].to_string());
    }

    let journal = demo.path(".upshift/journal.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut p = journal.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    let conn = rusqlite::Connection::open(&journal).unwrap();
    conn.execute_batch(&sql).unwrap();
    conn.execute_batch(edit).unwrap();
    drop(conn);
    short
}

/// The one run `history` lists.
fn the_run(demo: &Demo) -> serde_json::Value {
    let history = demo.upshift(&["--json", "history"]).json();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{history}");
    runs[0].clone()
}

fn snapshots(demo: &Demo) -> Vec<serde_json::Value> {
    demo.upshift(&["--json", "snapshots"])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// Interrupted after the swap of hop 2: `resume` continues at the config
/// writes, starts 2.1.0 and ends the maintenance window that v1's
/// `maintenance.on` detail says began at `HOP2_MAINTENANCE_ON_MS`.
#[test]
fn v1_journal_interrupted_after_the_swap_resumes() {
    let demo = Demo::new();
    let before = demo.export();
    let mut taken = replay(&demo, &AFTER_SWAP, "2:swap.version", "");
    let snaps_before = snapshots(&demo);
    let resumed_at = now_ms();

    let run = demo.upshift(&["-y", "--json", "resume"]);
    assert_eq!(
        run.code, 0,
        "resume of the v1 journal failed: {}",
        run.stderr
    );
    assert_eq!(run.json()["run_id"], AFTER_SWAP.run_id);
    assert_eq!(run.json()["at"], "2.1.0");
    assert_eq!(demo.version(), "2.1.0");
    assert_eq!(demo.manifest_version(), "2.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before, "every note written before is there");
    // The config migrated before the crash was found under the v1 run id.
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    assert!(
        auth.contains("[server]") && auth.contains("secret_file"),
        "{auth}"
    );

    let r = the_run(&demo);
    assert_eq!(r["id"], AFTER_SWAP.run_id);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["at_version"], "2.1.0");
    // Hop 2's window runs from the journaled `maintenance.on` timestamp: an
    // unread detail would leave hop 1's window alone.
    let window = r["maintenance_ms"].as_i64().unwrap();
    assert!(
        window >= HOP1_WINDOW_MS + (resumed_at - HOP2_MAINTENANCE_ON_MS),
        "maintenance window {window} ms does not count hop 2's from {HOP2_MAINTENANCE_ON_MS}: {r}"
    );

    // Only the post-upgrade snapshot is new: the steps v1 journaled done
    // (online and final backups of both hops among them) were not redone.
    let after = snapshots(&demo);
    assert_eq!(after.len(), snaps_before.len() + 1, "{after:?}");
    let new = after.last().unwrap();
    assert_eq!(new["tags"]["version"], "2.1.0");
    assert_eq!(new["tags"]["phase"], "post-upgrade");
    taken.push(new["short_id"].as_str().unwrap().to_string());
    assert_eq!(r["snapshots"], serde_json::json!(taken), "{r}");
}

/// The same v1 journal cut back to the moment hop 2's online backup was
/// journaled done (what v1 had written at that step boundary): `resume`
/// verifies that snapshot first, so it must read `<snapshot id>
/// <fingerprint>` back as a snapshot id.
#[test]
fn v1_journal_interrupted_after_the_online_backup_resumes() {
    let demo = Demo::new();
    let before = demo.export();
    replay(
        &demo,
        &AFTER_SWAP,
        "2:backup.online",
        "DELETE FROM steps WHERE seq > (SELECT seq FROM steps \
           WHERE hop = 1 AND step = 'backup.online' AND state = 'done');
         UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM steps) WHERE name = 'steps';",
    );
    let online = demo
        .upshift(&["--json", "snapshots"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tags"]["version"] == "1.1.0" && s["tags"]["phase"] == "pre-upgrade")
        .count();
    assert_eq!(online, 1, "only hop 2's online snapshot exists yet");

    let run = demo.upshift(&["-y", "resume"]);
    assert_eq!(
        run.code, 0,
        "resume of the v1 journal failed (the online snapshot must be read back from `<id> <fingerprint>`): {}",
        run.stderr
    );
    assert_eq!(demo.version(), "2.1.0");
    assert_eq!(demo.manifest_version(), "2.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before, "every note written before is there");
    let r = the_run(&demo);
    assert_eq!(r["id"], AFTER_SWAP.run_id);
    assert_eq!(r["outcome"], "succeeded");
}

/// Sets every `listen` of a TOML text to an address nothing can listen on.
fn unlistenable(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("listen =") {
                "listen = \"127.0.0.1:notaport\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// An interrupted rollback: `resume` finishes it to where v1's `rollback`
/// record says, 1.1.0 with hop 2's snapshot, not to the run's start (1.0.0).
#[test]
fn v1_journal_with_an_interrupted_rollback_resumes_it() {
    let demo = Demo::new();
    let before = demo.export();
    replay(&demo, &ROLLING_BACK, "2:swap.version", "");
    // On disk as v1 left it: hop 2's config steps had written the migrated
    // files, auth's with the address 2.1.0 could not listen on.
    let staged = demo
        .path(".upshift/staged")
        .join(ROLLING_BACK.run_id)
        .join("1");
    for (name, edit) in [("auth", true), ("notes", false)] {
        let text = std::fs::read_to_string(staged.join(name)).unwrap();
        let text = if edit { unlistenable(&text) } else { text };
        std::fs::write(demo.path(&format!("config/{name}.toml")), text).unwrap();
    }

    let run = demo.upshift(&["-y", "--json", "resume"]);
    assert_eq!(
        run.code, 0,
        "resume of the v1 rollback failed: {}",
        run.stderr
    );
    assert_eq!(run.json()["at"], "1.1.0");
    assert_eq!(demo.version(), "1.1.0", "the rollback record's version");
    assert_eq!(demo.manifest_version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before, "every note written before is there");
    // The snapshot's config is back: only the record's snapshot holds it.
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    assert!(
        !auth.contains("notaport") && !auth.contains("[server]"),
        "{auth}"
    );
    let r = the_run(&demo);
    assert_eq!(r["id"], ROLLING_BACK.run_id);
    assert_eq!(r["outcome"], "rolled_back");
    assert_eq!(r["at_version"], "1.1.0");
}
