//! `upshift rehearse` end to end with the real binary and the demo product:
//! a staging copy materialized from a fresh snapshot, upgraded by the real
//! executor on its own ports while production keeps serving, then torn
//! down; failures reported with their step and log; `[apply]
//! require_rehearsal`; a killed or interrupted rehearsal leaves nothing
//! running.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::demo::{spawn, Demo};
use upshift_demo::http;

/// A client reading production's notes until stopped: every request it
/// made, and those that did not get a 200.
struct Poller {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<(usize, Vec<String>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(demo: &Demo) -> Poller {
        let auth = format!("http://{}/token", demo.public_address("auth"));
        let notes = format!("http://{}/notes", demo.public_address("notes"));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new((0, Vec::new())));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let reply = http::post(&auth, None, r#"{"user": "poller"}"#).unwrap();
                let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
                let token = v["token"].as_str().unwrap().to_string();
                while !stop.load(Ordering::SeqCst) {
                    let r = http::get(&notes, Some(&token));
                    let mut s = seen.lock().unwrap();
                    s.0 += 1;
                    match r {
                        Ok(r) if r.status == 200 => {}
                        Ok(r) => s.1.push(format!("{} {}", r.status, r.body)),
                        Err(e) => s.1.push(e.to_string()),
                    }
                    drop(s);
                    // Pacing, not synchronisation: a request every ~10 ms.
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Poller {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// Stops it: how many requests it made, and the failed ones.
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.seen.lock().unwrap().clone()
    }
}

/// Processes whose working directory lies under `dir`.
fn processes_under(dir: &std::path::Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
        })
        .filter(|pid| common::alive(*pid))
        .collect()
}

/// Asserts nothing of a staging copy is left: no process, no directory,
/// every port free again.
fn assert_no_staging(demo: &Demo, ports: &[u16]) {
    let staging = demo.path(".upshift/staging");
    let left = processes_under(&staging);
    assert!(left.is_empty(), "staging processes still run: {left:?}");
    assert!(
        std::fs::read_dir(&staging).map_or(true, |mut d| d.next().is_none()),
        "{} still holds a copy",
        staging.display()
    );
    for p in ports {
        std::net::TcpListener::bind(("127.0.0.1", *p))
            .unwrap_or_else(|e| panic!("staging port {p} is still held: {e}"));
    }
}

/// What production is, to compare after a rehearsal.
fn production(demo: &Demo) -> (String, String, String, serde_json::Value) {
    (
        demo.version(),
        std::fs::read_to_string(demo.path("upshift.toml")).unwrap(),
        demo.export(),
        demo.upshift(&["--json", "history"]).json(),
    )
}

#[test]
fn a_rehearsal_upgrades_a_staging_copy_while_production_serves_untouched() {
    let demo = Demo::new();
    let before = production(&demo);
    let poller = Poller::start(&demo);
    let run = demo.upshift(&["-y", "--json", "rehearse", "--to", "3.0.0"]);
    let (requests, failed) = poller.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["succeeded"], true, "{r}");
    let hops = r["hops"].as_array().unwrap();
    let path: Vec<&str> = hops.iter().map(|h| h["to"].as_str().unwrap()).collect();
    assert_eq!(path, ["1.1.0", "2.1.0", "3.0.0"]);
    for h in hops {
        assert!(h["window_ms"].as_i64().unwrap() > 0, "{h}");
        assert_eq!(h["healthy"], true, "{h}");
        assert!(!h["steps"].as_array().unwrap().is_empty());
    }
    let data = &hops[2]["data_steps"][0];
    assert_eq!(data["step"], "migrate.notes-schema-v3", "{r}");
    assert_eq!(data["state"], "done");

    assert!(requests > 10, "the client made {requests} requests");
    assert!(failed.is_empty(), "production failed requests: {failed:?}");
    let after = production(&demo);
    assert_eq!(after, before, "production changed");
    demo.assert_healthy();

    let ports: Vec<u16> = r["staging"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u16)
        .collect();
    assert!(!ports.is_empty());
    assert_no_staging(&demo, &ports);

    // The report is saved, and `plan` shows it with its measured window.
    let id = r["id"].as_str().unwrap();
    assert!(demo
        .path(&format!(".upshift/rehearsals/{id}.json"))
        .is_file());
    let plan = demo.upshift(&["--json", "plan", "--to", "3.0.0"]).json();
    assert_eq!(plan["rehearsal"]["id"], id, "{plan}");
    assert_eq!(plan["rehearsal"]["window_ms"], r["window_ms"]);
    let text = demo.upshift(&["plan", "--to", "3.0.0"]);
    assert!(text.stdout.contains("Measured window"), "{}", text.stdout);
    // The estimate names the time of each data step the rehearsal ran.
    assert_eq!(
        plan["rehearsal"]["hop_data_steps"][2][0]["step"], "migrate.notes-schema-v3",
        "{plan}"
    );
    assert!(
        text.stdout.contains("2.1.0 → 3.0.0")
            && text.stdout.contains("of which migrate.notes-schema-v3 "),
        "{}",
        text.stdout
    );
}

/// The demo catalog with 3.0.0 accepting 1.0.0: its migration refuses a
/// schema-1 database after the point of no return.
fn failing_catalog(demo: &Demo) {
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace(
            "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
            "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
        );
    std::fs::create_dir_all(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
}

#[test]
fn a_failed_rehearsal_is_reported_and_apply_requires_a_successful_one() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let required = format!("{m}\n[apply]\nrequire_rehearsal = {{ within_days = 7 }}\n");
    std::fs::write(demo.path("upshift.toml"), required).unwrap();
    failing_catalog(&demo);
    let before = production(&demo);

    let run = demo.upshift(&[
        "-y",
        "--json",
        "--catalog",
        "cat",
        "rehearse",
        "--to",
        "3.0.0",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["succeeded"], false);
    assert_eq!(r["failure"]["step"], "migrate.notes-schema-v3", "{r}");
    assert!(
        !r["failure"]["log"].as_array().unwrap().is_empty(),
        "the failing step's log: {r}"
    );
    assert!(
        run.stderr.contains("migrate.notes-schema-v3"),
        "{}",
        run.stderr
    );
    assert_eq!(production(&demo), before, "production changed");
    demo.assert_healthy();
    assert_no_staging(&demo, &[]);

    let apply = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(apply.code, 2, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("require_rehearsal"),
        "{}",
        apply.stderr
    );
    assert!(apply.stderr.contains("failed"), "{}", apply.stderr);
    // The normal catalog's plan is another plan: never rehearsed.
    let apply = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(apply.code, 2, "{}", apply.stderr);
    assert!(
        apply.stderr.contains("upshift rehearse --to 3.0.0"),
        "{}",
        apply.stderr
    );
    assert_eq!(demo.version(), "1.0.0");

    let ok = demo.upshift(&["-y", "rehearse", "--to", "3.0.0"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let apply = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert_eq!(demo.version(), "3.0.0");
}

fn kill(args: &[&str]) {
    let ok = std::process::Command::new("kill")
        .args(args)
        .status()
        .unwrap();
    assert!(ok.success(), "kill {args:?}");
}

/// Waits until a staging copy's services run; returns the copy's directory.
fn staging_running(demo: &Demo) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copies: Vec<_> = std::fs::read_dir(demo.path(".upshift/staging"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        if let Some(c) = copies.iter().find(|c| c.join("run/notes.pid").is_file()) {
            return c.clone();
        }
        assert!(Instant::now() < deadline, "no staging copy started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_rehearsal_killed_with_sigkill_leaves_nothing_after_the_next_command() {
    let demo = Demo::new();
    let child = spawn(&demo, &["-y", "rehearse", "--to", "3.0.0"]);
    let copy = staging_running(&demo);
    kill(&["-KILL", &child.id().to_string()]);
    let (_, _) = common::demo::finish(child);
    let next = demo.upshift(&["backup"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert!(
        next.stderr.contains("removed the staging copy"),
        "{}",
        next.stderr
    );
    assert!(!copy.exists(), "{} is still there", copy.display());
    assert_no_staging(&demo, &[]);
    demo.assert_serves("1.0.0", &demo.export());
}

#[test]
fn an_interrupted_rehearsal_tears_its_copy_down_itself() {
    let demo = Demo::new();
    let child = spawn(&demo, &["-y", "rehearse", "--to", "3.0.0"]);
    staging_running(&demo);
    // Ctrl-C: SIGINT to the whole foreground process group.
    kill(&["-INT", "--", &format!("-{}", child.id())]);
    let (code, stderr) = common::demo::finish(child);
    assert_eq!(code, 1, "{stderr}");
    assert_no_staging(&demo, &[]);
    let next = demo.upshift(&["backup"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_no_staging(&demo, &[]);
    demo.assert_healthy();
    assert_eq!(demo.version(), "1.0.0");
}

/// `--staging MANIFEST`: the operator's own staging installation (another
/// demo on its own ports) gets production's data and config, keeps its own
/// addresses, is upgraded, and is left stopped, not removed.
#[test]
fn a_rehearsal_on_the_operators_staging_installation_keeps_its_own_addresses() {
    let prod = Demo::new();
    let staging = Demo::new();
    prod.seed(5);
    let notes = prod.export();
    let before = production(&prod);
    let own_notes = staging.public_address("notes");
    let own_auth = staging.public_address("auth");
    let manifest = staging.path("upshift.toml");
    let run = prod.upshift(&[
        "-y",
        "--json",
        "rehearse",
        "--to",
        "3.0.0",
        "--staging",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["succeeded"], true, "{r}");
    assert_eq!(r["staging"]["kept"], true);
    assert_eq!(production(&prod), before, "production changed");
    prod.assert_healthy();

    // The staging installation: at 3.0.0, stopped, with production's notes
    // and its own addresses.
    assert_eq!(staging.version(), "3.0.0");
    assert!(
        processes_under(&staging.dir).is_empty(),
        "staging still runs"
    );
    let config = std::fs::read_to_string(staging.path("config/notes.toml")).unwrap();
    assert!(config.contains(&own_notes), "{config}");
    assert!(config.contains(&own_auth), "{config}");
    assert!(!config.contains(&prod.public_address("notes")), "{config}");
    let exported: serde_json::Value = serde_json::from_str(&staging.export()).unwrap();
    let theirs: serde_json::Value = serde_json::from_str(&notes).unwrap();
    assert_eq!(
        exported.as_array().unwrap().len(),
        theirs.as_array().unwrap().len()
    );
}

/// A staging manifest that shares production's addresses is refused
/// before anything is written.
#[test]
fn a_staging_manifest_on_productions_addresses_is_refused() {
    let prod = Demo::new();
    let other = tempfile::tempdir().unwrap();
    let m = std::fs::read_to_string(prod.path("upshift.toml")).unwrap();
    let copy = other.path().join("upshift.toml");
    std::fs::write(&copy, m).unwrap();
    let run = prod.upshift(&[
        "-y",
        "rehearse",
        "--to",
        "3.0.0",
        "--staging",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("an address of the source"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 1);
}

/// Runs SQL as the demo's notes role against database `notes` of its
/// PostgreSQL cluster; unaligned tuples.
fn psql(demo: &Demo, sql: &str) -> String {
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let store = m.split("[stores.notes]").nth(1).expect("a notes store");
    let port = store
        .lines()
        .find_map(|l| l.trim().strip_prefix("port = "))
        .expect("a port")
        .trim()
        .to_string();
    let password = std::fs::read_to_string(demo.path("secrets/notes-db.password")).unwrap();
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", "notes", "-d", "notes", "-p", &port])
        .args(["-c", sql])
        .env("PGPASSWORD", password.trim())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// With the notes in PostgreSQL the staging copy gets a database of its
/// own on the same server, dropped with it; production's is untouched.
#[test]
fn a_rehearsal_of_a_postgresql_installation_uses_and_drops_its_own_database() {
    let demo = Demo::try_new_with(&["--store", "postgres"]).unwrap_or_else(|e| panic!("{e}"));
    let before = production(&demo);
    let tables = "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'";
    let prod_tables = psql(&demo, tables);
    let poller = Poller::start(&demo);
    let run = demo.upshift(&["-y", "--json", "rehearse", "--to", "3.0.0"]);
    let (requests, failed) = poller.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["succeeded"], true);
    assert!(requests > 10 && failed.is_empty(), "{requests} {failed:?}");
    assert_eq!(production(&demo), before, "production changed");
    assert_eq!(
        psql(&demo, tables),
        prod_tables,
        "production's schema changed"
    );
    let dbs = psql(
        &demo,
        "SELECT datname FROM pg_database WHERE datname LIKE '%rehearsal%'",
    );
    assert!(dbs.trim().is_empty(), "left: {dbs}");
    assert_no_staging(&demo, &[]);
}

/// `--keep`: the staging copy stays, stopped, at the target version, and
/// the next production command leaves it alone.
#[test]
fn a_kept_staging_copy_stays_stopped_at_the_target_version() {
    let demo = Demo::new();
    let run = demo.upshift(&["-y", "--json", "rehearse", "--to", "3.0.0", "--keep"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["staging"]["kept"], true);
    let dir = std::path::PathBuf::from(r["staging"]["dir"].as_str().unwrap());
    assert!(processes_under(&dir).is_empty(), "the kept copy still runs");
    let version = std::fs::read_to_string(dir.join("current/VERSION")).unwrap();
    assert_eq!(version.trim(), "3.0.0");
    let st = common::upshift(&dir)
        .args(["--json", "status"])
        .run()
        .json();
    assert_eq!(st["version"], "3.0.0", "{st}");
    assert_eq!(demo.upshift(&["backup"]).code, 0);
    assert!(
        dir.join("upshift.toml").is_file(),
        "the kept copy was removed"
    );
    assert_eq!(demo.version(), "1.0.0");
}
