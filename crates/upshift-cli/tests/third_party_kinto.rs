//! A server upshift did not write, driven from its example alone:
//! `examples/kinto` (Kinto from PyPI, a virtualenv per release, on the
//! harness's real PostgreSQL) upgraded from 24.1.1 to 25.0.3, whose
//! `kinto migrate` takes the storage schema from version 25 to 26.
//!
//! - an upgrade under a client writing records every few milliseconds
//!   keeps every acknowledged record and leaves schema 26; `upshift
//!   rollback` then brings 24.1.1 back with schema 25 and the records of
//!   before the upgrade;
//! - a new release that never passes its health check, after the
//!   migration ran, is rolled back by the run itself, data included.
//!
//! The releases install with pip: from the wheels in `KINTO_WHEELS` (by
//! default `/var/cache/upshift-test/wheels`, which
//! scripts/install-test-deps.sh fills) when that directory exists, from
//! PyPI otherwise.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::demo::stop_services;
use common::{repo, upshift, Run};
use upshift_testkit::{free_port, wait_until, Postgres};

const OLD: &str = "24.1.1";
const NEW: &str = "25.0.3";
const RECORDS: &str = "/v1/buckets/b/collections/c/records";

/// The wheel directory pip installs from, when there is one.
fn wheels() -> Option<String> {
    let dir = std::env::var("KINTO_WHEELS")
        .unwrap_or_else(|_| "/var/cache/upshift-test/wheels".to_string());
    Path::new(&dir).is_dir().then_some(dir)
}

/// One HTTP/1.1 request to Kinto; the status and body of the reply.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let timeout = Duration::from_secs(5);
    let addr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Writes record `id` (PUT); whether Kinto acknowledged it.
fn put_record(port: u16, id: &str) -> bool {
    let body = format!(r#"{{"data": {{"mark": "{id}"}}}}"#);
    matches!(
        http(port, "PUT", &format!("{RECORDS}/{id}"), Some(&body)),
        Some((200 | 201, _))
    )
}

/// An installation of examples/kinto in a temp dir, at 24.1.1, running.
struct Kinto {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    port: u16,
}

impl Kinto {
    /// Copies the example, points it at `pg` and a free port, installs
    /// 24.1.1 as the example's README says, creates the schema
    /// (`kinto migrate`) and starts it with `upshift start`.
    fn new(pg: &Postgres) -> Kinto {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kinto");
        let example = repo().join("examples/kinto");
        for sub in ["catalog", "config"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let port = free_port();
        let retarget = |text: String| {
            text.replace("8888", &port.to_string())
                .replace("5432", &pg.port.to_string())
        };
        for f in ["upshift.toml", "config/kinto.ini", "catalog/kinto.toml"] {
            let text = std::fs::read_to_string(example.join(f)).unwrap();
            std::fs::write(dir.join(f), retarget(text)).unwrap();
        }
        pg.psql("postgres", "CREATE DATABASE kinto");
        let k = Kinto {
            _tmp: tmp,
            dir,
            port,
        };
        k.sh(&format!(
            "python3 -m venv releases/{OLD} && releases/{OLD}/bin/pip install -q \
             ${{KINTO_WHEELS:+--no-index --find-links \"$KINTO_WHEELS\"}} 'kinto[postgresql]=={OLD}' \
             && ln -s releases/{OLD} current && current/bin/kinto migrate --ini config/kinto.ini"
        ));
        let run = k.upshift(&["start"]);
        assert_eq!(run.code, 0, "upshift start: {}{}", run.stdout, run.stderr);
        k.assert_serves(OLD);
        assert_eq!(pg_schema(pg), "25", "24.1.1 creates storage schema 25");
        assert!(
            matches!(
                http(port, "PUT", "/v1/buckets/b", None),
                Some((200 | 201, _))
            ),
            "create the bucket"
        );
        assert!(
            matches!(
                http(port, "PUT", "/v1/buckets/b/collections/c", None),
                Some((200 | 201, _))
            ),
            "create the collection"
        );
        k
    }

    /// Runs `sh -c SCRIPT` in the installation; it must succeed.
    fn sh(&self, script: &str) {
        let mut c = Command::new("sh");
        c.args(["-c", script]).current_dir(&self.dir);
        match wheels() {
            Some(w) => c.env("KINTO_WHEELS", w),
            None => c.env_remove("KINTO_WHEELS"),
        };
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{script}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn upshift(&self, args: &[&str]) -> Run {
        let mut u = upshift(&self.dir).args(["-m", "upshift.toml"]).args(args);
        if let Some(w) = wheels() {
            u = u.env("KINTO_WHEELS", &w);
        }
        u.run()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The release Kinto itself reports at `/v1/`, and that its
    /// heartbeat answers 200.
    fn assert_serves(&self, version: &str) {
        let (status, body) = http(self.port, "GET", "/v1/__heartbeat__", None)
            .unwrap_or_else(|| panic!("Kinto answers on {}", self.port));
        assert_eq!(status, 200, "heartbeat: {body}");
        let (_, root) = http(self.port, "GET", "/v1/", None).unwrap();
        let root: serde_json::Value = serde_json::from_str(&root).unwrap();
        assert_eq!(root["project_version"], version, "{root}");
        assert_eq!(
            std::fs::read_link(self.path("current")).unwrap(),
            Path::new("releases").join(version)
        );
        let st = self.upshift(&["--json", "status"]).json();
        assert_eq!(st["version"], version, "{st}");
    }

    /// The ids of the records Kinto serves now, every page: sorted by id,
    /// each page fetched past the last id seen.
    fn served_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        loop {
            let after = ids
                .last()
                .map(|id| format!("&gt_id={id}"))
                .unwrap_or_default();
            let path = format!("{RECORDS}?_sort=id&_limit=1000{after}");
            let (status, body) = http(self.port, "GET", &path, None).expect("Kinto answers");
            assert_eq!(status, 200, "{body}");
            let page: serde_json::Value = serde_json::from_str(&body).unwrap();
            let page = page["data"].as_array().unwrap();
            ids.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_string()));
            if page.len() < 1000 {
                return ids;
            }
        }
    }
}

impl Drop for Kinto {
    fn drop(&mut self) {
        stop_services(&self.dir);
    }
}

/// The storage schema version Kinto reads (the highest recorded).
fn pg_schema(pg: &Postgres) -> String {
    pg.psql(
        "kinto",
        "SELECT max(value::int) FROM metadata WHERE name = 'storage_schema_version'",
    )
    .trim()
    .to_string()
}

/// The ids of the records in the database itself.
fn stored_ids(pg: &Postgres) -> Vec<String> {
    pg.psql(
        "kinto",
        "SELECT id FROM objects WHERE resource_name = 'record' \
         AND parent_id = '/buckets/b/collections/c' ORDER BY id",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// A client writing a record every few milliseconds until stopped,
/// keeping the ids Kinto acknowledged.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(port: u16, prefix: &'static str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let id = format!("{prefix}-{n:06}");
                    if put_record(port, &id) {
                        acked.lock().unwrap().push(id);
                    }
                    // Pacing, not synchronisation: a write every ~5 ms.
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Writer {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits (with a deadline) until `more` writes beyond now are acknowledged.
    fn wait_for_more(&self, more: usize) {
        let want = self.count() + more;
        wait_until(
            "Kinto to acknowledge more writes",
            Duration::from_secs(60),
            || self.count() >= want,
        );
    }

    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.acked.lock().unwrap().clone()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn missing<'a>(acked: &'a [String], have: &[String]) -> Vec<&'a String> {
    let have: std::collections::HashSet<&String> = have.iter().collect();
    acked.iter().filter(|id| !have.contains(id)).collect()
}

#[test]
fn upgrade_under_writes_keeps_every_record_and_rollback_brings_back_the_old_schema() {
    let started = Instant::now();
    let pg = Postgres::start();
    let kinto = Kinto::new(&pg);

    let writer = Writer::start(kinto.port, "w");
    writer.wait_for_more(50);
    let before_apply = writer.count();
    let run = kinto.upshift(&["-y", "apply", "--to", NEW]);
    assert_eq!(run.code, 0, "apply: {}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("ok     migrate.kinto-schema"),
        "the catalog's data step ran: {}",
        run.stderr
    );
    // Writes go on against the new release.
    writer.wait_for_more(50);
    let acked = writer.finish();
    assert!(acked.len() > before_apply + 50);
    eprintln!(
        "{} writes acknowledged, {before_apply} of them before the run",
        acked.len()
    );

    kinto.assert_serves(NEW);
    assert_eq!(pg_schema(&pg), "26", "kinto migrate took the schema to 26");
    let stored = stored_ids(&pg);
    assert_eq!(
        missing(&acked, &stored),
        Vec::<&String>::new(),
        "every acknowledged write is stored"
    );
    assert_eq!(
        missing(&acked, &kinto.served_ids()),
        Vec::<&String>::new(),
        "and served by 25.0.3"
    );
    // Every write acknowledged before the run started is in the snapshot
    // a rollback restores; one made on 25.0.3 is not.
    let before: Vec<String> = acked[..before_apply].to_vec();
    assert!(put_record(kinto.port, "after-upgrade"));

    let run = kinto.upshift(&["-y", "rollback"]);
    assert_eq!(run.code, 0, "rollback: {}{}", run.stdout, run.stderr);
    kinto.assert_serves(OLD);
    assert_eq!(pg_schema(&pg), "25", "the schema as 24.1.1 left it");
    let served = kinto.served_ids();
    assert_eq!(
        missing(&before, &served),
        Vec::<&String>::new(),
        "24.1.1 serves every record of before the upgrade"
    );
    assert!(
        !served.iter().any(|id| id == "after-upgrade"),
        "the data is the snapshot's: the write made on 25.0.3 is not in it"
    );
    // 24.1.1 takes writes again on its restored schema.
    assert!(put_record(kinto.port, "after-rollback"));
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn a_new_release_that_never_gets_healthy_after_the_migration_is_rolled_back_with_its_data() {
    let started = Instant::now();
    let pg = Postgres::start();
    let kinto = Kinto::new(&pg);
    let written: Vec<String> = (1..=30).map(|n| format!("seed-{n:03}")).collect();
    for id in &written {
        assert!(put_record(kinto.port, id), "write {id}");
    }

    // A health check 25.0.3 cannot pass: it answers the heartbeat, but the
    // check refuses its version, as when a new release comes up broken.
    let manifest = std::fs::read_to_string(kinto.path("upshift.toml")).unwrap();
    let http_line = format!(
        "http = \"http://127.0.0.1:{}/v1/__heartbeat__\"",
        kinto.port
    );
    assert!(manifest.contains(&http_line), "{manifest}");
    let check = format!(
        "command = '''test \"$(current/bin/kinto version)\" != {NEW} && current/bin/python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{}/v1/__heartbeat__', timeout=2)\"'''",
        kinto.port
    );
    let manifest = manifest
        .replace(&http_line, &check)
        .replace("retries = 60", "retries = 6");
    std::fs::write(kinto.path("upshift.toml"), manifest).unwrap();
    let run = kinto.upshift(&["status"]);
    assert_eq!(run.code, 0, "24.1.1 passes the check: {}", run.stderr);

    let run = kinto.upshift(&["-y", "apply", "--to", NEW]);
    assert_eq!(run.code, 1, "apply: {}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("ok     migrate.kinto-schema"),
        "the migration ran before the failure: {}",
        run.stderr
    );
    let err = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("an error line: {}", run.stderr));
    assert!(err.contains("health.kinto"), "{err}");

    kinto.assert_serves(OLD);
    assert_eq!(pg_schema(&pg), "25", "the snapshot put schema 25 back");
    assert_eq!(stored_ids(&pg), written, "every record, and nothing else");
    assert_eq!(kinto.served_ids(), written);
    let st = kinto.upshift(&["--json", "status"]).json();
    assert_eq!(st["services"][0]["state"], "healthy", "{st}");
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn the_example_catalog_cites_a_source_for_every_fact() {
    let run = upshift(&repo().join("examples/kinto"))
        .args(["-m", "upshift.toml", "catalog", "lint", "--strict", "kinto"])
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}
