//! `upshift history` tells what happened, checked against the journal's
//! own events, and a failed run says its error once: with the real demo
//! installation and the real binary.

mod common;

use common::demo::{Demo, Event};

/// `upshift --json history`: the runs, oldest first.
fn history(demo: &Demo) -> Vec<serde_json::Value> {
    let h = demo.upshift(&["--json", "history"]).json();
    h.as_array().expect("a list of runs").clone()
}

/// The first event of `step` in `state`.
fn first<'e>(events: &'e [Event], step: &str, state: &str) -> &'e Event {
    events
        .iter()
        .find(|e| e.step == step && e.state == state)
        .unwrap_or_else(|| panic!("no {step} {state} in {events:#?}"))
}

/// The history table's row of run `id`, split at the column starts of
/// its header; `column` names one.
fn cell(table: &str, id: &str, column: &str) -> String {
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    let row = lines
        .find(|l| l.starts_with(id))
        .unwrap_or_else(|| panic!("no row {id}:\n{table}"));
    let names = [
        "RUN",
        "FROM → TO",
        "STARTED (UTC)",
        "DURATION",
        "WINDOW",
        "OUTCOME",
        "AT",
        "SNAPSHOTS",
        "ERROR",
    ];
    let starts: Vec<usize> = names
        .iter()
        .map(|n| {
            let byte = header
                .find(&format!("{n} "))
                .or_else(|| header.find(n))
                .unwrap_or_else(|| panic!("no column {n}:\n{table}"));
            header[..byte].chars().count()
        })
        .collect();
    let i = names.iter().position(|n| *n == column).unwrap();
    let chars: Vec<char> = row.chars().collect();
    let end = starts.get(i + 1).copied().unwrap_or(chars.len());
    chars[starts[i].min(chars.len())..end.min(chars.len())]
        .iter()
        .collect::<String>()
        .trim()
        .to_string()
}

/// A run to 2.0.0 whose auth exits at once is rolled back automatically:
/// its window is the real downtime, from the first stop until 1.0.0
/// answered again (the rollback done), not 0; the error is in the table
/// (first line) and whole in `--json`.
#[test]
fn an_automatically_rolled_back_run_shows_its_real_window_and_its_error() {
    let demo = Demo::new();
    demo.catalog_where_2_0_0_cannot_start("");
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let runs = history(&demo);
    let r = &runs[0];
    assert_eq!(r["outcome"], "rolled_back", "{r}");
    let events = demo.events(r["id"].as_str().unwrap());
    let down = first(&events, "stop.notes", "started").at_ms;
    let up = first(&events, "rollback", "done").at_ms;
    let span = up - down;
    assert!(span > 0, "{events:#?}");
    let window = r["window_ms"].as_i64().expect("window_ms");
    assert!(window > 0, "{r}");
    assert!(
        (window - span).abs() <= span / 20 + 20,
        "window {window} ms, but the services were down {span} ms: {r}"
    );
    assert_eq!(r["maintenance_ms"], r["window_ms"], "{r}");
    let error = r["error"].as_str().expect("the error is journaled");
    assert!(error.contains("failed at step health.auth"), "{error}");
    assert!(
        error.contains("`listen` moved to `server.listen`"),
        "{error}"
    );
    let table = demo.upshift(&["history"]).stdout;
    let id = r["id"].as_str().unwrap();
    let shown = cell(&table, id, "ERROR");
    assert!(
        shown.starts_with("upgrade 1.0.0 → 2.0.0 failed at step health.auth"),
        "{table}"
    );
    assert!(
        !table.contains("server.listen"),
        "only the first line: {table}"
    );
    assert_eq!(
        cell(&table, id, "WINDOW"),
        format!("{:.1}s", window as f64 / 1000.0)
    );
}

/// A failed run prints its error once, with only the lines the service
/// wrote since this start (the log is appended to across starts), and
/// the result on a line of its own.
#[test]
fn a_failure_says_its_error_once_with_only_this_starts_log() {
    let demo = Demo::new();
    demo.catalog_where_2_0_0_cannot_start("");
    let earlier = "a line an earlier start of auth wrote";
    let log = demo.path("logs/auth.log");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{text}{earlier}\n")).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let err = &run.stderr;
    assert_eq!(
        err.matches("failed at step health.auth").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("`listen` moved to `server.listen`").count(),
        1,
        "{err}"
    );
    assert!(!err.contains(earlier), "an earlier start's log line: {err}");
    assert!(!err.contains("auth: listening"), "1.0.0's log lines: {err}");
    let last = err
        .lines()
        .find(|l| l.contains("`listen` moved to `server.listen`"))
        .unwrap();
    assert!(last.ends_with("(release 2.0.0 cannot start)"), "{err}");
    assert!(
        err.lines()
            .any(|l| l == "rolled back: 1.0.0 is serving again with its data as before"),
        "{err}"
    );
    demo.assert_healthy();
}

/// A process service that exits at once fails its health wait at once,
/// saying it exited, although its check would retry for 10 minutes.
#[test]
fn a_service_that_exits_is_not_waited_for() {
    let demo = Demo::new();
    demo.catalog_where_2_0_0_cannot_start("");
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let auth = m.find("[services.auth.health]").unwrap();
    let at = auth + m[auth..].find("retries = 50").unwrap();
    // 3000 retries at 0.2 s: 10 minutes.
    let patient = format!("{}retries = 3000{}", &m[..at], &m[at + 12..]);
    std::fs::write(demo.path("upshift.toml"), patient).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("auth exited (pid ") && run.stderr.contains("before it became healthy"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("attempts in 600.0s"), "{}", run.stderr);
    assert!(
        run.stderr.contains("(release 2.0.0 cannot start)"),
        "this start's log: {}",
        run.stderr
    );
    demo.assert_healthy();
}

/// DURATION is the run itself; a later `upshift rollback` shows as what
/// happened to it (OUTCOME), not as a longer duration.
#[test]
fn a_later_manual_rollback_is_the_outcome_not_the_duration() {
    let demo = Demo::new();
    let up = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let own = history(&demo)[0].clone();
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    let r = history(&demo)[0].clone();
    let id = r["id"].as_str().unwrap();
    let events = demo.events(id);
    let started = r["started_ms"].as_i64().unwrap();
    let rollback = first(&events, "rollback", "started").at_ms;
    let last_own = events
        .iter()
        .take_while(|e| e.step != "rollback")
        .last()
        .unwrap()
        .at_ms;
    let duration = r["duration_ms"].as_i64().expect("duration_ms");
    assert!(
        duration >= last_own - started && duration < rollback - started,
        "duration {duration} ms: the run's own events end at {} ms, the rollback began at {} ms",
        last_own - started,
        rollback - started
    );
    assert_eq!(
        r["duration_ms"], own["duration_ms"],
        "the rollback moved it"
    );
    assert_eq!(
        r["window_ms"], own["window_ms"],
        "the rollback's downtime is not the run's"
    );
    let done = first(&events, "rollback", "done").at_ms;
    assert_eq!(r["manual_rollback_ms"], done, "{r}");
    let table = demo.upshift(&["history"]).stdout;
    assert!(
        cell(&table, id, "OUTCOME").starts_with("rolled back (manual, "),
        "{table}"
    );
    assert_eq!(
        cell(&table, id, "DURATION"),
        format!("{:.1}s", duration as f64 / 1000.0)
    );
    assert_eq!(cell(&table, id, "AT"), "1.0.0");
}

/// A run killed right after its swap was journaled: the `current` link
/// points at the new release, and so does AT.
#[test]
fn an_interrupted_run_is_at_the_version_installed() {
    let demo = Demo::new();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:swap.version")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(
        crashed.code, -1,
        "killed after the swap: {}",
        crashed.stderr
    );
    assert_eq!(
        demo.version(),
        "1.1.0",
        "the link points at the new release"
    );
    let r = history(&demo)[0].clone();
    assert_eq!(r["outcome"], "running", "{r}");
    assert_eq!(r["at_version"], "1.1.0", "{r}");
    let table = demo.upshift(&["history"]).stdout;
    assert_eq!(cell(&table, r["id"].as_str().unwrap(), "AT"), "1.1.0");
    assert!(
        r["duration_ms"].is_null(),
        "an unfinished run has none: {r}"
    );
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let r = history(&demo)[0].clone();
    assert_eq!(r["at_version"], "1.1.0", "{r}");
    assert!(r["window_ms"].as_i64().unwrap() > 0, "{r}");
}
