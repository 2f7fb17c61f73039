//! `upshift start`, `stop` and `restart` on the real demo installation:
//! services really stop (their ports refuse) and really run again (their
//! health answers), under the installation's lock.

mod common;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::demo::{gate, spawn, Demo};
use common::{alive, wait_for};

/// Whether something accepts connections on `addr` now.
fn answers(addr: &str) -> bool {
    TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(500)).is_ok()
}

/// Polls (with a deadline) until `GET /health` on `addr` answers 200.
fn wait_healthy(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = format!("http://{addr}/health");
        if matches!(upshift_demo::http::get(&url, None), Ok(r) if r.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never answered 200");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid(demo: &Demo, service: &str) -> u32 {
    std::fs::read_to_string(demo.path(&format!("run/{service}.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `(service, outcome)` of each row of a `--json` start/stop/restart.
fn outcomes(run: &common::Run) -> Vec<(String, String)> {
    run.json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn stop_then_start_then_restart_really_stop_and_run_the_demo_again() {
    let demo = Demo::new();
    let auth = demo.public_address("auth");
    let notes = demo.public_address("notes");
    let (auth_pid, notes_pid) = (pid(&demo, "auth"), pid(&demo, "notes"));

    let stop = demo.upshift(&["--json", "stop"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    // Reverse dependency order: notes (which needs auth) first.
    assert_eq!(
        outcomes(&stop),
        pairs(&[("notes", "stopped"), ("auth", "stopped")])
    );
    assert!(!answers(&auth) && !answers(&notes), "a port still answers");
    assert!(!alive(auth_pid) && !alive(notes_pid));

    let again = demo.upshift(&["stop"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("notes: already stopped"),
        "{}",
        again.stdout
    );

    let start = demo.upshift(&["--json", "start"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert_eq!(
        outcomes(&start),
        pairs(&[("auth", "started"), ("notes", "started")])
    );
    for row in start.json()["services"].as_array().unwrap() {
        assert_eq!(row["health"], "healthy", "{row}");
    }
    wait_healthy(&auth);
    wait_healthy(&notes);
    demo.assert_healthy();

    let twice = demo.upshift(&["start", "auth"]);
    assert_eq!(twice.code, 0, "{}", twice.stderr);
    assert!(
        twice.stdout.contains("auth: already running"),
        "{}",
        twice.stdout
    );

    let before = pid(&demo, "auth");
    let restart = demo.upshift(&["--json", "restart", "auth"]);
    assert_eq!(restart.code, 0, "{}", restart.stderr);
    assert_eq!(outcomes(&restart), pairs(&[("auth", "restarted")]));
    let after = pid(&demo, "auth");
    assert_ne!(before, after, "restart ran a new process");
    assert!(!alive(before), "the old auth is gone");
    wait_healthy(&auth);
    assert!(!demo.export().is_empty(), "the notes are served again");
}

#[test]
fn stop_of_an_unknown_service_exits_2_with_the_services() {
    let demo = Demo::new();
    let run = demo.upshift(&["stop", "nots"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `notes`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("auth, notes"), "{}", run.stderr);
    assert!(alive(pid(&demo, "notes")), "nothing was stopped");
}

#[test]
fn start_and_stop_wait_for_the_lock_of_a_run_and_refuse_its_unfinished_end() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let hook = format!("\n[hooks]\npre_upgrade = \"{}\"\n", gate("hook"));
    std::fs::write(demo.path("upshift.toml"), format!("{m}{hook}")).unwrap();
    let mut apply = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("hook.reached"));

    for cmd in ["stop", "start"] {
        let run = demo.upshift(&[cmd]);
        assert_eq!(run.code, 4, "{cmd}: {}", run.stderr);
        assert!(run.stderr.contains("is locked by run"), "{}", run.stderr);
    }
    assert!(
        answers(&demo.public_address("auth")),
        "stop stopped nothing"
    );

    // The run dies before anything changed: it stays unfinished.
    apply.kill().unwrap();
    apply.wait().unwrap();
    std::fs::write(demo.path("hook.go"), "").unwrap();
    let run = demo.upshift(&["stop", "notes"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("upshift resume") && run.stderr.contains("upshift rollback"),
        "{}",
        run.stderr
    );
    assert!(alive(pid(&demo, "notes")), "nothing was stopped");
}

#[test]
fn a_server_started_by_hand_is_named_and_can_be_handed_over() {
    let demo = Demo::new();
    let auth = demo.public_address("auth");
    let stop = demo.upshift(&["stop", "auth"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    // The operator starts auth by hand, as the manifest's start command does.
    let mut by_hand = Command::new("current/bin/upshift-demo")
        .args(["auth", "--config", "config/auth.toml"])
        .current_dir(&demo.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&auth);

    let start = demo.upshift(&["start", "auth"]);
    assert_eq!(start.code, 1, "{}", start.stderr);
    let hand = by_hand.id();
    for says in [
        "not started by upshift",
        &format!("pid {hand}"),
        &format!("echo {hand} > run/auth.pid"),
    ] {
        assert!(start.stderr.contains(says), "{says}: {}", start.stderr);
    }
    let stop = demo.upshift(&["stop", "auth"]);
    assert!(
        stop.stdout
            .contains("not started by upshift, so not stopped"),
        "{}",
        stop.stdout
    );
    assert!(answers(&auth));

    // Handed over by its pid: upshift stops it, then runs its own.
    std::fs::write(demo.path("run/auth.pid"), format!("{hand}\n")).unwrap();
    let stop = demo.upshift(&["stop", "auth"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    by_hand.wait().unwrap();
    assert!(!answers(&auth), "the hand-started auth still answers");
    let start = demo.upshift(&["start", "auth"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    wait_healthy(&auth);
    assert_ne!(pid(&demo, "auth"), hand);
}
