//! The soak test: kill -9 of upshift at a random time of a 1.0.0 → 3.0.0
//! run of the demo (with the services killed too, as a power loss, in
//! half of the runs), while a client writes a note every few milliseconds
//! through the HTTP API; then `resume` or `rollback`, picked at random.
//! Every run must end healthy at the expected version with every
//! acknowledged note present: in the installation, or, after a manual
//! rollback, in the safety snapshot it took of what it replaced.
//!
//! Ignored by plain `cargo nextest run`: `scripts/test` (and so CI) runs it
//! short, two runs of each kind; `scripts/soak [RUNS]` runs it long (about
//! 5 minutes for 50 runs on 2 cores). `SOAK_RUNS` is runs per test,
//! `SOAK_SEED` repeats a sequence.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::demo::{spawn, stop_services, Demo};
use common::writer::{titles, Writer};

/// A small deterministic generator (xorshift64*), seeded per test.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn restic(demo: &Demo, args: &[&str]) -> Vec<u8> {
    let out = Command::new("restic")
        .args(["--no-cache", "-r"])
        .arg(demo.path(".upshift/repo"))
        .arg("--password-file")
        .arg(demo.path(".upshift/repo.key"))
        .args(args)
        .output()
        .expect("restic runs (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The notes database of every `pre-rollback` safety snapshot, as bytes
/// (SQLite keeps text as it is, so a title is found by its bytes).
fn safety_snapshot_databases(demo: &Demo) -> Vec<Vec<u8>> {
    let listed = demo.upshift(&["--json", "snapshots"]).json();
    let list = listed
        .as_array()
        .or_else(|| listed["snapshots"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut dbs = Vec::new();
    for snap in list
        .iter()
        .filter(|s| s.to_string().contains("pre-rollback"))
    {
        let id = snap["id"].as_str().expect("a snapshot id");
        let ls = restic(demo, &["ls", "--json", id]);
        let db = String::from_utf8_lossy(&ls)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["path"].as_str().map(str::to_string))
            .find(|p| p.ends_with("notes.db"))
            .expect("the snapshot holds notes.db");
        dbs.push(restic(demo, &["dump", id, &db]));
    }
    dbs
}

/// Reads the run's stderr on a thread and waits (with a deadline) until
/// its first step is reported done; the text read so far is returned.
fn first_step_done(apply: &mut std::process::Child) -> Arc<Mutex<String>> {
    use std::io::BufRead;
    let text = Arc::new(Mutex::new(String::new()));
    let stderr = apply.stderr.take().expect("piped");
    {
        let text = text.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text.lock().unwrap().contains("] ok ") {
        assert!(
            Instant::now() < deadline,
            "no step done in 60 s: {}",
            text.lock().unwrap()
        );
        if apply.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    text
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One run: returns what happened, for the table printed at the end.
fn one_run(run: usize, rng: &mut Rng, kill_within_ms: u64, power_loss: bool) -> String {
    let demo = new_demo();
    let writer = Writer::start(&demo, format!("soak{run}"));
    writer.wait_for_more(3);
    let delay = rng.below(kill_within_ms);
    let mut apply = spawn(&demo, &["-y", "apply", "--to", "3.0.0"]);
    // The random time counts from the run's first step (the run is in the
    // journal by then): a kill before it leaves nothing to resume.
    let begun = first_step_done(&mut apply);
    let deadline = Instant::now() + Duration::from_millis(delay);
    let finished_first = loop {
        if let Some(status) = apply.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    match finished_first {
        Some(status) => assert_eq!(
            status.code(),
            Some(0),
            "run {run}: apply failed: {}",
            begun.lock().unwrap()
        ),
        None => {
            apply.kill().unwrap();
            apply.wait().unwrap();
            if power_loss {
                stop_services(&demo.dir);
            }
        }
    }
    let finish = if rng.below(2) == 0 {
        "resume"
    } else {
        "rollback"
    };
    let done = demo.upshift(&["-y", finish]);
    if finish == "resume" && finished_first.is_some() {
        assert_eq!(
            done.code, 2,
            "run {run}: nothing to resume: {}",
            done.stderr
        );
    } else {
        assert_eq!(done.code, 0, "run {run}: {finish}: {}", done.stderr);
    }
    let expected = if finish == "resume" { "3.0.0" } else { "1.0.0" };
    // Serving again: a few more writes go through before the checks.
    writer.wait_for_more(3);
    let acked = writer.finish();
    assert_eq!(demo.version(), expected, "run {run} after {finish}");
    assert_eq!(
        demo.manifest_version(),
        expected,
        "run {run} after {finish}"
    );
    demo.assert_healthy();
    let present: std::collections::HashSet<String> = titles(&demo).into_iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|t| !present.contains(*t)).collect();
    let safety = if missing.is_empty() || finish != "rollback" {
        Vec::new()
    } else {
        safety_snapshot_databases(&demo)
    };
    let lost: Vec<&&String> = missing
        .iter()
        .filter(|t| !safety.iter().any(|db| contains(db, t.as_bytes())))
        .collect();
    assert!(
        lost.is_empty(),
        "run {run} (kill after {delay} ms, power loss {power_loss}, then {finish}): \
         {} of {} acknowledged notes lost: {lost:?}\n{}",
        lost.len(),
        acked.len(),
        done.stderr
    );
    format!(
        "{run:>3}  kill at {delay:>5} ms  {:<10}  {finish:<8}  {:>4} acked  {:>3} only in the safety snapshot  -> {expected}",
        if finished_first.is_some() {
            "finished"
        } else if power_loss {
            "power loss"
        } else {
            "kill -9"
        },
        acked.len(),
        missing.len(),
    )
}

/// A fresh demo installation. Its setup picks free ports, which another
/// installation of the soak (running beside it) may take back between the
/// pick and the start while its own services are down: the setup then
/// fails, loudly, and is tried again.
fn new_demo() -> Demo {
    let mut last = String::new();
    for _ in 0..3 {
        match Demo::try_new() {
            Ok(d) => return d,
            Err(e) => {
                eprintln!("soak: demo setup failed, trying again: {e}");
                last = e;
            }
        }
    }
    panic!("{last}")
}

/// How long an uninterrupted 1.0.0 → 3.0.0 run takes with the writer on.
fn calibrate() -> u64 {
    let demo = new_demo();
    let writer = Writer::start(&demo, "calibrate".into());
    writer.wait_for_more(3);
    let t = Instant::now();
    let run = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    let ms = t.elapsed().as_millis() as u64;
    assert_eq!(run.code, 0, "{}", run.stderr);
    writer.wait_for_more(3);
    let acked = writer.finish();
    let present: std::collections::HashSet<String> = titles(&demo).into_iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|t| !present.contains(*t)).collect();
    assert!(
        missing.is_empty(),
        "an uninterrupted run lost {} of {} acknowledged notes: {missing:?}\n{}",
        missing.len(),
        acked.len(),
        run.stderr
    );
    ms
}

fn soak(power_loss: bool, salt: u64) {
    let runs: usize = std::env::var("SOAK_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Rng((seed ^ salt) | 1);
    let full = calibrate();
    eprintln!(
        "soak: seed {seed}, power loss {power_loss}, {runs} runs, an uninterrupted run takes {full} ms"
    );
    for run in 0..runs {
        eprintln!("{}", one_run(run, &mut rng, full + full / 10, power_loss));
    }
    eprintln!("soak: {runs} of {runs} runs ended healthy with every acknowledged note");
}

#[test]
#[ignore = "about 8 minutes; run with scripts/soak"]
fn soak_kill_9_then_resume_or_rollback() {
    soak(false, 0x5eed);
}

#[test]
#[ignore = "about 8 minutes; run with scripts/soak"]
fn soak_power_loss_then_resume_or_rollback() {
    soak(true, 0x0ff);
}
