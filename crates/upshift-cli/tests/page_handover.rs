//! What a user polling the public addresses sees through a whole `upshift
//! apply` of the demo (1.0.0 → 1.1.0, real processes): the product, then
//! the maintenance page, then the new version, and never a reset. With
//! socket activation the page holds each service's own listening socket
//! from its stop and hands it to the new version, so nothing is ever
//! refused; without it, refusals happen only between the page letting go
//! of the address and the new version listening.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::demo::{finish, spawn, Demo};
use common::wait_for;
use upshift_testkit::{wait_until, Poller, Sample, Seen, Tally};

const SERVICES: [&str; 2] = ["auth", "notes"];

/// Opts every service of the demo into socket activation.
fn with_socket_activation(demo: &Demo) {
    let path = demo.path("upshift.toml");
    let mut m = std::fs::read_to_string(&path).unwrap();
    for s in SERVICES {
        let table = format!("[services.{s}.process]\n");
        assert!(m.contains(&table), "the demo manifest changed");
        m = m.replace(&table, &format!("{table}socket_activation = true\n"));
    }
    std::fs::write(path, m).unwrap();
}

/// One client per service, GETting its health path every 20 ms, each
/// having seen the product answer before the run begins.
fn poll_all(demo: &Demo) -> Vec<(&'static str, Poller)> {
    let pollers: Vec<_> = SERVICES
        .iter()
        .map(|s| {
            let p = Poller::start(
                &demo.public_address(s),
                "/health",
                Duration::from_millis(20),
            );
            (*s, p)
        })
        .collect();
    wait_until("the first answers", Duration::from_secs(10), || {
        pollers.iter().all(|(_, p)| p.count() >= 3)
    });
    pollers
}

/// Runs the apply with the clients polling, and a few more requests after
/// it, so each client sees the new version answer. The run waits at a data
/// step (after every stop, before every start) until each client has seen
/// the page, however short the window would otherwise be.
fn apply_while_polling(demo: &Demo) -> Vec<(&'static str, Tally)> {
    demo.gate_a_data_step();
    let pollers = poll_all(demo);
    let child = spawn(demo, &["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("migrate.reached"));
    wait_until("the page on every address", Duration::from_secs(30), || {
        pollers
            .iter()
            .all(|(_, p)| p.count_of(|s| *s == Seen::Page) > 0)
    });
    std::fs::write(demo.path("migrate.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "apply failed: {stderr}");
    let after: Vec<usize> = pollers.iter().map(|(_, p)| p.count()).collect();
    wait_until("answers after the run", Duration::from_secs(10), || {
        pollers
            .iter()
            .zip(&after)
            .all(|((_, p), n)| p.count() >= n + 5)
    });
    assert_eq!(demo.version(), "1.1.0");
    pollers.into_iter().map(|(s, p)| (s, p.finish())).collect()
}

/// Asserts a client saw the product, the page, the product again (last),
/// and nothing broken.
fn assert_served_throughout(service: &str, t: &Tally) {
    eprintln!("{service}: {}", t.summary());
    assert_eq!(t.broken(), 0, "{service}: {:?}", t.unanswered());
    assert!(
        t.page() > 0,
        "{service} never showed the page: {}",
        t.summary()
    );
    assert!(matches!(t.samples[0].seen, Seen::Product(200)), "{service}");
    assert!(
        matches!(t.samples.last().unwrap().seen, Seen::Product(200)),
        "{service}"
    );
}

#[test]
fn with_socket_activation_no_connection_is_ever_refused() {
    let demo = Demo::new();
    with_socket_activation(&demo);
    for (service, t) in apply_while_polling(&demo) {
        assert_served_throughout(service, &t);
        assert_eq!(t.refused(), 0, "{service}: {:?}", t.unanswered());
        let log = std::fs::read_to_string(demo.path(&format!("logs/{service}.log"))).unwrap();
        assert!(
            log.contains("inherited the listening socket"),
            "{service} was not handed the page's socket: {log}"
        );
    }
}

/// The journal's (start began, health done) times of `service`, in ms.
fn start_gap(demo: &Demo, service: &str) -> (i64, i64) {
    let db = rusqlite::Connection::open(demo.path(".upshift/journal.db")).unwrap();
    let at = |step: String, state: &str| -> i64 {
        db.query_row(
            "SELECT at_ms FROM steps WHERE step = ?1 AND state = ?2 ORDER BY seq DESC LIMIT 1",
            [step, state.to_string()],
            |r| r.get(0),
        )
        .unwrap()
    };
    (
        at(format!("start.{service}"), "started"),
        at(format!("health.{service}"), "done"),
    )
}

fn ms(s: &Sample) -> i64 {
    s.at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn without_socket_activation_refusals_are_confined_to_the_start_gap() {
    let demo = Demo::new();
    let plan = demo.upshift(&["plan", "--to", "1.1.0"]);
    assert!(
        plan.stdout
            .contains("connections there are refused until notes listens"),
        "the plan does not say: {}",
        plan.stdout
    );
    for (service, t) in apply_while_polling(&demo) {
        assert_served_throughout(service, &t);
        let (from, to) = start_gap(&demo, service);
        for s in t.unanswered() {
            assert_eq!(s.seen, Seen::Refused, "{service}");
            assert!(
                (from..=to).contains(&ms(s)),
                "{service} refused at {} ms, outside its start ({from}..{to} ms)",
                ms(s)
            );
        }
    }
}

/// upshift is killed (SIGKILL) right after it stopped notes, while the page
/// holds notes's socket: the socket dies with it. `resume` serves the page
/// again (binding the address anew), finishes, and hands that socket to
/// the new version.
#[test]
fn a_kill_while_the_page_holds_the_socket_is_resumed() {
    let demo = Demo::new();
    with_socket_activation(&demo);
    let before = demo.export();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:stop.notes")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1, "not killed: {}", crashed.stderr);
    let log = demo.path("logs/notes.log");
    let inherited = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("inherited the listening socket")
            .count()
    };
    assert_eq!(inherited(), 0);
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "resume failed: {}", resumed.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
    assert_eq!(inherited(), 1, "notes did not get the page's socket");
}
