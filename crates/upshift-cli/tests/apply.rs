//! The executor end to end with the real binary and the real demo product
//! (processes, HTTP, SQLite, a restic-format repository): upgrade, automatic
//! rollback, locks, saved plans.

mod common;

use common::alive;

use common::demo::Demo;

#[test]
fn upgrade_to_3_keeps_every_note_and_rollback_restores_1() {
    let demo = Demo::new();
    let before = demo.export();
    assert!(before.contains("milk, eggs, coffee"));
    let run = demo.upshift(&["-y", "--json", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["at"], "3.0.0");
    assert_eq!(summary["outcome"], "succeeded");
    assert!(summary["maintenance_ms"].as_i64().unwrap() > 0);
    assert_eq!(demo.version(), "3.0.0");
    assert_eq!(
        demo.manifest_version(),
        "3.0.0",
        "the manifest follows the installation"
    );
    demo.assert_healthy();
    assert_eq!(
        demo.export(),
        before,
        "notes survive three hops and an irreversible schema change"
    );
    // 2.0.0 wanted the secret as a file: it is one, 0600, and no longer in the config.
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    assert!(
        auth.contains("secret_file") && !auth.contains("\nsecret ="),
        "{auth}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(demo.path("secrets/auth.secret"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let history = demo.upshift(&["--json", "history"]).json();
    assert_eq!(history[0]["outcome"], "succeeded");
    // The one data step, the notes schema migration of 3.0.0, timed.
    let data = &history[0]["data_steps"];
    assert_eq!(data.as_array().map(Vec::len), Some(1), "{history}");
    assert_eq!(data[0]["step"], "migrate.notes-schema-v3", "{history}");
    assert_eq!(data[0]["hop"], 3, "{history}");
    assert!(
        data[0]["ms"].as_i64().is_some_and(|ms| ms >= 0),
        "{history}"
    );
    let text = demo.upshift(&["history"]).stdout;
    assert!(text.contains("hop 3: migrate.notes-schema-v3 "), "{text}");
    // Per hop: online and post-upgrade snapshots, plus a final one when the
    // data changed between the online backup and the stop.
    let taken: Vec<&str> = history[0]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!((6..=9).contains(&taken.len()), "{history}");
    let listed = demo.upshift(&["--json", "snapshots"]).json();
    for id in &taken {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["short_id"] == *id),
            "snapshot {id} is not in the repository"
        );
    }

    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    demo.assert_serves("1.0.0", &before);
}

/// A catalog in which 3.0.0 accepts 1.0.0 directly: the plan skips the
/// schema-2 stop, so the 3.0.0 migration refuses a schema-1 database after
/// the point of no return. upshift restores the snapshot and 1.0.0.
#[test]
fn failing_migration_rolls_back_with_data_identical() {
    let demo = Demo::new();
    let before = demo.export();
    let cat = upshift_core_catalog().replace(
        "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
        "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
    );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("failed at step migrate.notes-schema-v3"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1.0.0 is serving again"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(demo.manifest_version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
    let h = demo.upshift(&["--json", "history"]).json();
    assert_eq!(h[0]["outcome"], "rolled_back");
}

/// A failure after the new version serves users again (here the
/// post_upgrade hook, after a note was written on the new version) rolls
/// nothing back: the note stays, 1.1.0 serves, and `resume` finishes once
/// the cause is fixed.
#[test]
fn a_failure_after_maintenance_off_keeps_the_new_version_and_its_writes() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let seed = "current/bin/upshift-demo seed --config config/notes.toml --count 1";
    let failing = format!("{m}\n[hooks]\npost_upgrade = \"{seed} && exit 7\"\n");
    std::fs::write(demo.path("upshift.toml"), &failing).unwrap();
    let before = demo.export();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("1.1.0 serves users again") && run.stderr.contains("upshift resume"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("restoring the snapshot"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.version(), "1.1.0");
    assert_eq!(demo.manifest_version(), "1.1.0");
    demo.assert_healthy();
    let written = demo.export();
    assert_ne!(written, before, "the note written on 1.1.0 is there");
    // The cause fixed, resume finishes the run and keeps the note.
    let now = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let fixed = now.replace(&format!("{seed} && exit 7"), "true");
    assert_ne!(fixed, now);
    std::fs::write(demo.path("upshift.toml"), fixed).unwrap();
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(demo.export(), written);
    let h = demo.upshift(&["--json", "history"]).json();
    assert_eq!(h[0]["outcome"], "succeeded", "{h}");
}

/// A failure in the last hop of 1.0.0 → 3.0.0 leaves 2.1.0 serving (the
/// hop is undone); `upshift rollback` then takes the run back to its start
/// with the data of before the first hop.
#[test]
fn rollback_after_a_later_hop_failed_returns_to_the_runs_start() {
    let demo = Demo::new();
    let before = demo.export();
    let cat = upshift_core_catalog().replace(
        "run = \"current/bin/upshift-demo migrate --config config/notes.toml\"",
        "run = \"exit 1\"",
    );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(demo.version(), "2.1.0", "{}", run.stderr);
    let back = demo.upshift(&["-y", "--catalog", "cat", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(demo.manifest_version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
}

/// A manual rollback replaces what users wrote on the new version, so it
/// first keeps that in a safety snapshot, named in its output and listed.
#[test]
fn manual_rollback_keeps_a_safety_snapshot_of_the_current_data() {
    let demo = Demo::new();
    let before = demo.export();
    assert_eq!(demo.upshift(&["-y", "apply", "--to", "1.1.0"]).code, 0);
    let seeded = std::process::Command::new(demo.path("current/bin/upshift-demo"))
        .args(["seed", "--config", "config/notes.toml", "--count", "1"])
        .current_dir(&demo.dir)
        .status()
        .unwrap();
    assert!(seeded.success());
    let written = demo.export();
    assert_ne!(written, before);
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(back.stderr.contains("safety snapshot"), "{}", back.stderr);
    // Taken with the services stopped: no write lands between it and the stop.
    let stopped = back.stderr.find("rollback: stopping notes").unwrap();
    let safety = back.stderr.find("taking a safety snapshot").unwrap();
    assert!(stopped < safety, "{}", back.stderr);
    assert_eq!(
        demo.export(),
        before,
        "the rollback restored the data of 1.0.0"
    );
    let snaps = demo.upshift(&["--json", "snapshots"]).json();
    let list = snaps
        .as_array()
        .or_else(|| snaps["snapshots"].as_array())
        .unwrap()
        .clone();
    let safety: Vec<_> = list
        .iter()
        .filter(|s| s.to_string().contains("pre-rollback"))
        .collect();
    assert_eq!(safety.len(), 1, "{snaps}");
    assert!(safety[0].to_string().contains("1.1.0"), "{snaps}");
}

/// Two releases one hop crosses (2.0.0 and 2.1.0) each have a data step
/// with the same id: each runs its own release's command, in order.
#[test]
fn data_steps_with_the_same_id_in_two_releases_each_run_their_own() {
    let demo = Demo::new();
    let step = |v: &str| {
        format!("[[release.data_steps]]\nid = \"mark\"\ndescription = \"mark {v}\"\nrun = \"echo {v} >> marks.txt\"\n\n")
    };
    let cat = upshift_core_catalog()
        .replace(
            "[[release]]\nversion = \"2.1.0\"",
            &format!("{}[[release]]\nversion = \"2.1.0\"", step("2.0.0")),
        )
        .replace(
            "[[release]]\nversion = \"3.0.0\"",
            &format!("{}[[release]]\nversion = \"3.0.0\"", step("2.1.0")),
        );
    assert_eq!(cat.matches("id = \"mark\"").count(), 2);
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let plan = demo
        .upshift(&["--json", "--catalog", "cat", "plan", "--to", "2.1.0"])
        .json();
    let ids: Vec<String> = plan["hops"][1]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .filter(|id| id.starts_with("migrate."))
        .collect();
    assert_eq!(ids, ["migrate.mark@2.0.0", "migrate.mark@2.1.0"], "{plan}");
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "2.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let marks = std::fs::read_to_string(demo.path("marks.txt")).unwrap();
    assert_eq!(marks, "2.0.0\n2.1.0\n");
}

/// The `on_failure` hook runs once the failed hop is undone, told the
/// versions and the error.
#[test]
fn on_failure_hook_runs_after_the_rollback() {
    let demo = Demo::new();
    let cat = upshift_core_catalog().replace(
        "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
        "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
    );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let manifest = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let hook = "\n[hooks]\non_failure = 'echo \"$UPSHIFT_FROM $UPSHIFT_TO $UPSHIFT_ERROR\" > on_failure.txt'\n";
    std::fs::write(demo.path("upshift.toml"), manifest + hook).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "3.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let said = std::fs::read_to_string(demo.path("on_failure.txt")).expect("the hook ran");
    assert!(
        said.starts_with(
            "1.0.0 3.0.0 upgrade 1.0.0 → 3.0.0 failed at step migrate.notes-schema-v3"
        ),
        "{said}"
    );
    demo.assert_healthy();
}

/// 2.0.0 without its config rules never gets healthy (it refuses the 1.x
/// config): the failure shows the service's log, and 1.0.0 serves again.
#[test]
fn release_that_never_gets_healthy_rolls_back() {
    let demo = Demo::new();
    let before = demo.export();
    demo.catalog_where_2_0_0_cannot_start(
        "known_issues = [{ pattern = \"moved to `server.listen`\", hint = \"the 2.0.0 config rules did not run\" }]",
    );
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "2.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step health.auth"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`listen` moved to `server.listen` in 2.0.0"),
        "the log tail is shown: {}",
        run.stderr
    );
    demo.assert_serves("1.0.0", &before);
}

#[test]
fn a_second_apply_exits_4_while_the_first_runs() {
    let demo = Demo::new();
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_upshift"))
        .args(["-m", "upshift.toml", "-y", "apply", "--to", "3.0.0"])
        .current_dir(&demo.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (with a deadline) until the first run holds the lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let st = demo.upshift(&["--json", "status"]).json();
        if st["lock"].is_object() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first apply never took the lock"
        );
    }
    let second = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stderr.contains("is locked by run"),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(demo.version(), "3.0.0");
}

#[test]
fn saved_plans_are_applied_exactly_or_refused() {
    let demo = Demo::new();
    assert_eq!(
        demo.upshift(&["plan", "--to", "1.1.0", "--out", "p.json"])
            .code,
        0
    );
    std::fs::write(
        demo.path("bad.json"),
        "{\n  \"format\": \"upshift-plan/1\",\n  oops\n}",
    )
    .unwrap();
    let bad = demo.upshift(&["-y", "apply", "--plan", "bad.json"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("bad.json:3:"), "{}", bad.stderr);
    // Editing the manifest makes the saved plan stale.
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    std::fs::write(demo.path("upshift.toml"), format!("{m}\n# edited\n")).unwrap();
    let stale = demo.upshift(&["-y", "apply", "--plan", "p.json"]);
    assert_eq!(stale.code, 2, "{}", stale.stderr);
    assert!(
        stale
            .stderr
            .contains("the manifest changed since the plan was made"),
        "{}",
        stale.stderr
    );
    std::fs::write(demo.path("upshift.toml"), m).unwrap();
    let ok = demo.upshift(&["-y", "apply", "--plan", "p.json"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(demo.version(), "1.1.0");
}

/// A hand-edited saved plan keeps the fingerprints of the manifest and the
/// catalog, so apply plans again and refuses any difference before it acts:
/// a target the catalog does not have, a removed backup, a cleared point of
/// no return, a deleted hop. The installation is left as it was, and the
/// unedited plan still applies.
#[test]
fn hand_edited_saved_plans_are_refused_and_change_nothing() {
    let demo = Demo::new();
    let made = demo.upshift(&["plan", "--to", "3.0.0", "--out", "p.json"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.path("p.json")).unwrap()).unwrap();
    let before = demo.export();
    let config = std::fs::read_to_string(demo.path("config/notes.toml")).unwrap();
    let steps = |hop: usize| saved["hops"][hop]["steps"].as_array().unwrap().clone();
    let final_at = steps(0)
        .iter()
        .position(|s| s["id"] == "backup.rollback_point")
        .unwrap();
    let swap_at = steps(1)
        .iter()
        .position(|s| s["id"] == "swap.version")
        .unwrap();

    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit, String)> = vec![
        (
            "to",
            Box::new(|p| p["to"] = "9.9.9".into()),
            "`to`: saved 9.9.9, planned 3.0.0".to_string(),
        ),
        (
            "backup",
            Box::new(|p| {
                p["hops"][0]["steps"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|s| s["id"] != "backup.rollback_point")
            }),
            format!(
                "hop 1 step {}: the saved plan has no `backup.rollback_point`",
                final_at + 1
            ),
        ),
        (
            "point_of_no_return",
            Box::new(|p| {
                for s in p["hops"][1]["steps"].as_array_mut().unwrap() {
                    s["point_of_no_return"] = false.into();
                }
            }),
            format!(
                "hop 2 step {} (swap.version): point_of_no_return cleared",
                swap_at + 1
            ),
        ),
        (
            "hop",
            Box::new(|p| {
                p["hops"].as_array_mut().unwrap().remove(1);
            }),
            "hop 2: the saved plan has no hop 1.1.0 → 2.1.0 (it goes 2.1.0 → 3.0.0)".to_string(),
        ),
    ];
    for (name, edit, difference) in edits {
        let mut p = saved.clone();
        edit(&mut p);
        assert_ne!(p, saved, "{name}");
        let file = format!("{name}.json");
        std::fs::write(demo.path(&file), serde_json::to_string_pretty(&p).unwrap()).unwrap();
        let run = demo.upshift(&["-y", "apply", "--plan", &file]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(&difference), "{name}: {}", run.stderr);
        assert!(run.stderr.contains("edited"), "{name}: {}", run.stderr);
        assert_eq!(demo.version(), "1.0.0", "{name}");
        assert_eq!(demo.manifest_version(), "1.0.0", "{name}");
        assert_eq!(
            std::fs::read_to_string(demo.path("config/notes.toml")).unwrap(),
            config,
            "{name}"
        );
        let history = demo.upshift(&["--json", "history"]).json();
        assert_eq!(history, serde_json::json!([]), "{name}: no run was started");
        demo.assert_healthy();
        assert_eq!(demo.export(), before, "{name}");
    }
    let ok = demo.upshift(&["-y", "apply", "--plan", "p.json"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(demo.version(), "3.0.0");
    assert_eq!(demo.export(), before);
}

/// A config file of the installation nested 20,000 deep used to overflow
/// the stack while apply rendered it; now the render refuses it as bad
/// input before the window opens and the installation is left as it was.
#[test]
fn apply_refuses_a_config_file_nested_too_deep_and_changes_nothing() {
    let demo = Demo::new();
    let before = demo.export();
    let n = 20_000;
    std::fs::write(
        demo.path("config/extra.json"),
        format!("{{\"a\": {}{}}}\n", "[".repeat(n), "]".repeat(n)),
    )
    .unwrap();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    std::fs::write(
        demo.path("upshift.toml"),
        format!("{m}\n[config.extra]\npath = \"config/extra.json\"\nformat = \"json\"\n"),
    )
    .unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("extra.json:1:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nested deeper than 256 levels"),
        "{}",
        run.stderr
    );
    demo.assert_serves("1.0.0", &before);
}

/// While services are down, their public address answers 503 with the
/// page: the installation and product, the manifest's message, when it
/// should be back by the catalog's estimate of the window (1 hour here),
/// `Retry-After` counting down to it and a reload. The probe runs as a data
/// step of 1.1.0, i.e. after the swap and before the services start again.
#[test]
fn maintenance_page_answers_503_while_services_are_down() {
    let demo = Demo::new();
    let st = demo.upshift(&["--json", "status"]).json();
    let url = st["services"][1]["health"]
        .as_str()
        .unwrap()
        .trim_start_matches("http ")
        .to_string();
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}\nprintf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3\ncat <&3 > page.txt\n");
    std::fs::write(demo.path("probe.sh"), probe).unwrap();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap().replace(
        "retry_after = 60",
        "retry_after = 60\nannounce = \"echo \\\"announce $UPSHIFT_FROM $UPSHIFT_TO\\\" >> hooks.txt\"\noff = \"echo off >> hooks.txt\"",
    );
    std::fs::write(demo.path("upshift.toml"), m).unwrap();
    let cat = upshift_core_catalog().replace(
        "[[release]]\nversion = \"2.0.0\"",
        "[[release.data_steps]]\nid = \"probe\"\ndescription = \"probe the page\"\nrun = \"bash probe.sh\"\n\n[[release]]\nversion = \"2.0.0\"",
    );
    let cat = cat.replace(
        "window = \"10s\"\ncompose_template = \"demo/1.1.0/",
        "window = \"1h\"\ncompose_template = \"demo/1.1.0/",
    );
    assert!(cat.contains("bash probe.sh") && cat.contains("window = \"1h\""));
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), &cat).unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}\n{cat}", run.stderr);
    let page = std::fs::read_to_string(demo.path("page.txt")).unwrap();
    assert!(
        page.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{page}"
    );
    let retry: u64 = page
        .split("\r\nRetry-After: ")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {page}"));
    assert!(
        (3000..=3600).contains(&retry),
        "counts down the 1h window: {page}"
    );
    assert!(page.contains("\r\nRefresh: 30\r\n"), "{page}");
    assert!(
        page.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
        "{page}"
    );
    for shown in [
        "<h1>demo is being upgraded</h1>",
        "upshift demo (auth + notes)",
        "The notes service is being upgraded",
        "<meta http-equiv=\"refresh\" content=\"30\">",
        " UTC, in about ",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let hooks = std::fs::read_to_string(demo.path("hooks.txt")).unwrap();
    assert_eq!(
        hooks, "announce 1.0.0 1.1.0\noff\n",
        "announce before the stop, off at the end"
    );
    demo.assert_healthy();
}

fn upshift_core_catalog() -> String {
    std::fs::read_to_string(common::repo().join("catalogs/demo.toml")).unwrap()
}

/// An installation that is not healthy is not upgraded: preflight stops
/// the run before anything changes (exit 1).
#[test]
fn unhealthy_installation_is_not_touched() {
    let demo = Demo::new();
    common::demo::stop_services(&demo.dir);
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step preflight.health"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(demo.manifest_version(), "1.0.0");
    let h = demo.upshift(&["--json", "history"]).json();
    assert_eq!(h[0]["outcome"], "failed");
}

/// A write that lands after the online backup (here by the pre_upgrade hook,
/// which runs between the online backup and the stop) must be in the final
/// snapshot: a rollback then brings back exactly the data of the stop.
#[test]
fn a_write_after_the_online_backup_survives_a_rollback() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let m = format!("{m}\n[hooks]\npre_upgrade = \"current/bin/upshift-demo seed --config config/notes.toml --count 1\"\n");
    std::fs::write(demo.path("upshift.toml"), m).unwrap();
    let before = demo.export();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = demo.export();
    assert_ne!(after, before, "the hook added a note");
    assert!(
        !run.stderr
            .contains("did not change since the online backup"),
        "{}",
        run.stderr
    );
    assert_eq!(demo.upshift(&["-y", "rollback"]).code, 0);
    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(
        demo.export(),
        after,
        "the note written after the online backup is kept"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`), the backups,
/// verifications and restores inside a run show which store they are on.
#[test]
fn a_run_on_a_terminal_shows_backup_progress_per_store() {
    let demo = Demo::new();
    let upshift = env!("CARGO_BIN_EXE_upshift");
    let out = std::process::Command::new("script")
        .args(["-qefc"])
        .arg(format!("{upshift} -m upshift.toml -y apply --to 1.1.0"))
        .arg("/dev/null")
        .current_dir(&demo.dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux `script` runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // Each backup and verify of the hop reports the `notes` store.
    assert!(
        text.matches("notes: ok").count() >= 2,
        "no per-store progress on the terminal:\n{text}"
    );
    assert_eq!(demo.version(), "1.1.0");
}

/// Staged configs (which may hold secrets) are 0600 while the run needs
/// them and gone once it ended.
#[test]
fn staged_configs_are_private_and_removed_after_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let demo = Demo::new();
    let run = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:prepare.config.notes")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_ne!(run.code, 0, "the crash point was reached: {}", run.stderr);
    let staged: Vec<std::path::PathBuf> = walk(&demo.path(".upshift/staged"));
    assert!(!staged.is_empty(), "configs were staged");
    for f in &staged {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let resumed = demo.upshift(&["-y", "resume"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        walk(&demo.path(".upshift/staged")).is_empty(),
        "staged configs removed after the run"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A files store with nothing in it yet (a fresh artifact root) is backed
/// up, verified and restored like any other: the upgrade goes through and
/// a rollback leaves the directory empty.
#[test]
fn an_empty_files_store_does_not_stop_the_upgrade() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let m = format!("{m}\n[stores.artifacts]\nkind = \"files\"\npath = \"artifacts\"\n");
    std::fs::write(demo.path("upshift.toml"), m).unwrap();
    std::fs::create_dir(demo.path("artifacts")).unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(demo.version(), "1.1.0");
    std::fs::write(demo.path("artifacts/built-on-1.1.0"), "x").unwrap();
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "1.0.0");
    let left: Vec<_> = std::fs::read_dir(demo.path("artifacts")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A stop step that stopped its service and then failed (here the
/// maintenance page cannot take the service's address: it is not an
/// address of this machine) is undone by starting the service again and
/// checking it answers, before the run says the old version serves.
#[test]
fn a_stop_that_fails_after_stopping_is_undone_by_starting_the_service_again() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let addr = demo.public_address("notes");
    let port = addr.rsplit_once(':').unwrap().1;
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine.
    let unbindable = m.replace(
        &format!("public_address = \"{addr}\""),
        &format!("public_address = \"192.0.2.1:{port}\""),
    );
    assert_ne!(unbindable, m);
    std::fs::write(demo.path("upshift.toml"), unbindable).unwrap();
    let before = demo.export();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("192.0.2.1"), "{}", run.stderr);
    demo.assert_serves("1.0.0", &before);
}

/// A hook that runs past `[hooks] timeout` is stopped, its workers too,
/// and the hop fails before anything changed.
#[test]
fn a_hook_past_its_timeout_is_stopped_with_its_workers() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let hook = "sleep 300 & echo $! > worker.pid; wait";
    std::fs::write(
        demo.path("upshift.toml"),
        format!("{m}\n[hooks]\ntimeout = 1\npre_upgrade = '{hook}'\n"),
    )
    .unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("did not finish within 1 s"),
        "{}",
        run.stderr
    );
    let worker: u32 = std::fs::read_to_string(demo.path("worker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(worker), "the hook's worker was stopped with it");
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
}

/// A data step that runs past its `timeout` fails the hop, which rolls
/// back with the data as before.
#[test]
fn a_data_step_past_its_timeout_fails_and_rolls_back() {
    let demo = Demo::new();
    let step = "[[release.data_steps]]\nid = \"slow\"\ndescription = \"a slow migration\"\nrun = \"sleep 300\"\ntimeout = 1\n\n";
    let cat = upshift_core_catalog().replace(
        "[[release]]\nversion = \"2.0.0\"",
        &format!("{step}[[release]]\nversion = \"2.0.0\""),
    );
    assert!(cat.contains("id = \"slow\""));
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let before = demo.export();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("did not finish within 1 s"),
        "{}",
        run.stderr
    );
    demo.assert_serves("1.0.0", &before);
}

/// The catalog says 1.1.0 runs on 2.1.0's data (same schema): a rollback
/// from 2.1.0 to 1.1.0 keeps a note written on 2.1.0, puts the software
/// and config back, and says so before and while it does. (The rollback
/// from 1.1.0 to 1.0.0, which the catalog does not declare, restores the
/// old data: `manual_rollback_keeps_a_safety_snapshot_of_the_current_data`.)
#[test]
fn a_rollback_within_the_declared_compatibility_keeps_writes_made_on_the_new_version() {
    let demo = Demo::new();
    assert_eq!(demo.upshift(&["-y", "apply", "--to", "1.1.0"]).code, 0);
    let config_before = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    let plan = demo.upshift(&["plan", "--to", "2.1.0"]);
    assert!(
        plan.stdout
            .contains("`upshift rollback` after it keeps the data"),
        "{}",
        plan.stdout
    );
    let run = demo.upshift(&["-y", "apply", "--to", "2.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_ne!(
        std::fs::read_to_string(demo.path("config/auth.toml")).unwrap(),
        config_before,
        "2.x rewrote the config"
    );
    let seeded = std::process::Command::new(demo.path("current/bin/upshift-demo"))
        .args(["seed", "--config", "config/notes.toml", "--count", "1"])
        .current_dir(&demo.dir)
        .status()
        .unwrap();
    assert!(seeded.success());
    let written = demo.export();
    // Without a terminal and without -y the question is printed, then refused.
    let asked = demo.upshift(&["rollback"]);
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    assert!(
        asked.stderr.contains("from 2.1.0 to 1.1.0") && asked.stderr.contains("the data is kept"),
        "{}",
        asked.stderr
    );
    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(back.stderr.contains("keeping the data"), "{}", back.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), written, "the note written on 2.1.0 is kept");
    assert_eq!(
        std::fs::read_to_string(demo.path("config/auth.toml")).unwrap(),
        config_before,
        "the config is 1.1.0's again"
    );
}

/// Runs `upshift ARGS` while a client writes notes through the API; the
/// run must exit `code`, and every note the service acknowledged (before,
/// during and after it) must be there afterwards.
fn every_acknowledged_note_survives(demo: &Demo, args: &[&str], code: i32) -> String {
    let writer = common::writer::Writer::start(demo, "w".into());
    writer.wait_for_more(3);
    let run = demo.upshift(args);
    assert_eq!(run.code, code, "{}", run.stderr);
    writer.wait_for_more(3);
    let acked = writer.finish();
    let present: std::collections::HashSet<String> =
        common::writer::titles(demo).into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|t| !present.contains(*t)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    run.stderr
}

/// A client writes a note every few milliseconds through the whole run:
/// the online backup verifies, the upgrade to 3.0.0 succeeds, and every
/// note the service acknowledged is there afterwards.
#[test]
fn an_upgrade_under_a_writing_client_keeps_every_acknowledged_note() {
    let demo = Demo::new();
    every_acknowledged_note_survives(&demo, &["-y", "apply", "--to", "3.0.0"], 0);
    assert_eq!(demo.version(), "3.0.0");
}

/// The same client through a run whose migration fails past the point of
/// no return: the snapshot taken after the stop is restored, so every
/// note acknowledged before the stop (and after the old version came
/// back) is there.
#[test]
fn a_failed_migration_under_a_writing_client_keeps_every_acknowledged_note() {
    let demo = Demo::new();
    let cat = upshift_core_catalog().replace(
        "version = \"3.0.0\"\nupgrade_from = \">=2.1.0\"",
        "version = \"3.0.0\"\nupgrade_from = \">=1.0.0\"",
    );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), cat).unwrap();
    let stderr = every_acknowledged_note_survives(
        &demo,
        &["-y", "--catalog", "cat", "apply", "--to", "3.0.0"],
        1,
    );
    assert!(stderr.contains("1.0.0 is serving again"), "{stderr}");
    assert_eq!(demo.version(), "1.0.0");
}

/// `rollback --to` a version the run passed through: from 3.0.0 to 2.1.0
/// with the data of the snapshot taken before the hop that left 2.1.0;
/// then a plain `rollback` goes on to the run's start. A version the run
/// did not pass through is refused (exit 2) with the ones it did.
#[test]
fn rollback_to_an_intermediate_version_lands_there_with_that_hops_data() {
    let demo = Demo::new();
    let before = demo.export();
    assert_eq!(demo.upshift(&["-y", "apply", "--to", "3.0.0"]).code, 0);
    let seeded = std::process::Command::new(demo.path("current/bin/upshift-demo"))
        .args(["seed", "--config", "config/notes.toml", "--count", "1"])
        .current_dir(&demo.dir)
        .status()
        .unwrap();
    assert!(seeded.success());
    assert_ne!(demo.export(), before);

    let refused = demo.upshift(&["-y", "rollback", "--to", "2.0.0"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("1.0.0, 1.1.0, 2.1.0"),
        "{}",
        refused.stderr
    );

    let back = demo.upshift(&["-y", "rollback", "--to", "2.1.0"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(demo.version(), "2.1.0");
    assert_eq!(demo.manifest_version(), "2.1.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before, "the data as it was at 2.1.0");

    let start = demo.upshift(&["-y", "rollback"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    demo.assert_serves("1.0.0", &before);
}
