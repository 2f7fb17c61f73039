//! The compose driver against the real Docker engine: the demo product as a
//! compose project (see `compose_harness`) upgraded by upshift with the
//! demo's real catalog, 1.0.0 → 1.1.0 → 2.1.0 → 3.0.0: 2.0.0's config rules
//! rewrite the bind-mounted config files and move the cleartext secret to a
//! 0600 file, 3.0.0's irreversible data step runs in a one-off notes
//! container against the named volume; failures roll back to the old images
//! with the volume as it was.
//!
//! Skipped (passes with a note) when no Docker engine or compose command
//! answers.

mod common;
mod compose_harness;

use std::os::unix::fs::PermissionsExt;

use compose_harness::{docker_works, pos, Install, ALL, SECRET};

macro_rules! need_docker {
    () => {
        if !docker_works() {
            eprintln!("skipped: no Docker engine answers `docker info`, or no compose command");
            return;
        }
    };
}

#[test]
fn compose_upgrade_to_3_keeps_the_notes_and_gets_images_before_stopping() {
    need_docker!();
    let inst = Install::new("up", ALL, "1.0.0", None);
    let alice = inst.token("alice");
    inst.add_note(&alice, "buy milk");
    inst.add_note(&alice, "call bob");
    assert!(inst.health().starts_with("ok 1.0.0"), "{}", inst.health());

    let plan = inst.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("path: 1.0.0 → 1.1.0 → 2.1.0 → 3.0.0"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(".upshift/compose/"),
        "the plan names the override:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("`compose run notes migrate --config /srv/config/notes.toml`"),
        "the plan says the data step runs in a container:\n{}",
        plan.stdout
    );

    let r = inst.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for out in [&plan.stdout, &plan.stderr, &r.stdout, &r.stderr] {
        assert!(!out.contains(SECRET), "a secret was printed:\n{out}");
    }
    assert_eq!(inst.images(), ["auth=IMAGE:3.0.0", "notes=IMAGE:3.0.0"]);
    assert_eq!(inst.health(), "ok 3.0.0 schema 3");
    // The token auth 1.0.0 signed is still good: the secret moved intact.
    assert_eq!(inst.bodies(&alice), ["buy milk", "call bob"]);
    assert_eq!(inst.bodies(&inst.token("alice")), ["buy milk", "call bob"]);
    // No one-off container of the data step is left behind.
    assert_eq!(inst.containers().len(), 2, "{:?}", inst.containers());

    // The bind-mounted config files are the migrated ones (2.x refuses 1.x's).
    let auth = std::fs::read_to_string(inst.dir.join("config/auth.toml")).unwrap();
    assert!(
        auth.contains("secret_file = \"secrets/auth.secret\""),
        "{auth}"
    );
    assert!(!auth.contains(SECRET), "{auth}");
    let notes = std::fs::read_to_string(inst.dir.join("config/notes.toml")).unwrap();
    assert!(notes.contains("[server]"), "{notes}");
    let secret = inst.dir.join("secrets/auth.secret");
    assert_eq!(std::fs::read_to_string(&secret).unwrap().trim(), SECRET);
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let ov = std::fs::read_to_string(
        inst.dir
            .join(format!(".upshift/compose/{}.override.yml", inst.project)),
    )
    .unwrap();
    assert!(ov.contains(&format!("{}:3.0.0", inst.image)), "{ov}");
    let manifest = std::fs::read_to_string(inst.dir.join("upshift.toml")).unwrap();
    assert!(manifest.contains("version = \"3.0.0\""), "{manifest}");

    // Every hop had its release's images on the host (prepare) before
    // anything stopped, and swapped only with its services stopped.
    let j = inst.journal();
    let show = j.join("\n");
    for (hop, to) in [(1, "1.1.0"), (2, "2.1.0"), (3, "3.0.0")] {
        let prepared = pos(&j, &format!("{hop} prepare.artifacts done"));
        assert!(
            prepared < pos(&j, &format!("{hop} stop.notes started")),
            "{show}"
        );
        assert!(
            prepared < pos(&j, &format!("{hop} stop.auth started")),
            "{show}"
        );
        let detail = inst.detail(hop, "prepare.artifacts");
        assert!(
            detail.contains(&format!("{}:{to} present", inst.image)),
            "hop {hop}: {detail}"
        );
        let swapped = pos(&j, &format!("{hop} swap.version done"));
        assert!(
            pos(&j, &format!("{hop} stop.auth done")) < swapped,
            "{show}"
        );
        assert!(
            swapped < pos(&j, &format!("{hop} config.write.auth done")),
            "{show}"
        );
        assert!(
            pos(&j, &format!("{hop} config.write.auth done"))
                < pos(&j, &format!("{hop} start.auth started")),
            "{show}"
        );
    }
    // 3.0.0's migration ran in a container of 3.0.0 on the volume, after the
    // swap and before notes started.
    let migrated = pos(&j, "3 migrate.notes-schema-v3 done");
    assert!(pos(&j, "3 swap.version done") < migrated, "{show}");
    assert!(migrated < pos(&j, "3 start.notes started"), "{show}");
    let detail = inst.detail(3, "migrate.notes-schema-v3");
    assert!(
        detail.contains("/srv/data/notes.db to schema version 3"),
        "{detail}"
    );
}

#[test]
fn missing_image_stops_the_run_before_any_service_stops() {
    need_docker!();
    // Only 1.0.0 is built: 1.1.0 cannot be pulled on this machine.
    let inst = Install::new("nopull", &["1.0.0"], "1.0.0", None);
    let alice = inst.token("alice");
    inst.add_note(&alice, "still here");
    let r = inst.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:1.1.0", inst.image)),
        "{}",
        r.stderr
    );
    let j = inst.journal();
    assert!(
        j.contains(&"1 prepare.artifacts failed".to_string()),
        "{}",
        j.join("\n")
    );
    assert!(!j.iter().any(|l| l.contains(" stop.")), "{}", j.join("\n"));
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
    assert_eq!(inst.bodies(&alice), ["still here"]);
}

#[test]
fn failed_upgrade_rolls_back_to_the_old_images_with_the_same_data() {
    need_docker!();
    let inst = Install::new("fail", &["1.0.0", "1.1.0"], "1.0.0", Some("1.1.0"));
    let alice = inst.token("alice");
    inst.add_note(&alice, "precious");
    inst.add_note(&alice, "also precious");
    let before = inst.export();
    assert!(before.contains("precious"), "{before}");

    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("induced failure"), "{}", r.stderr);

    let j = inst.journal();
    assert!(pos(&j, "1 swap.version done") < pos(&j, "1 migrate.induced-failure failed"));
    assert!(
        j.contains(&"1 rollback done".to_string()),
        "{}",
        j.join("\n")
    );
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
    assert!(inst.health().starts_with("ok 1.0.0"), "{}", inst.health());
    assert_eq!(inst.bodies(&alice), ["also precious", "precious"]);
    assert_eq!(inst.export(), before, "the volume's notes are identical");
    // No override existed before the run, so none exists after it.
    assert!(!inst
        .dir
        .join(format!(".upshift/compose/{}.override.yml", inst.project))
        .exists());
}

#[test]
fn failure_after_the_irreversible_migration_restores_the_volume() {
    need_docker!();
    let inst = Install::new("fail3", &["2.1.0", "3.0.0"], "2.1.0", Some("3.0.0"));
    let alice = inst.token("alice");
    inst.add_note(&alice, "schema two");
    assert_eq!(inst.health(), "ok 2.1.0 schema 2");
    let before = inst.export();
    assert!(before.contains("schema two"), "{before}");

    let r = inst.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("induced failure"), "{}", r.stderr);
    assert!(!r.stderr.contains(SECRET) && !r.stdout.contains(SECRET));

    // The volume really was at schema 3 when the failure came.
    let j = inst.journal();
    assert!(
        pos(&j, "1 migrate.notes-schema-v3 done") < pos(&j, "1 migrate.induced-failure failed"),
        "{}",
        j.join("\n")
    );
    assert!(
        j.contains(&"1 rollback done".to_string()),
        "{}",
        j.join("\n")
    );
    // 2.1.0 refuses a schema-3 database: healthy means the volume was restored.
    assert_eq!(inst.images(), ["auth=IMAGE:2.1.0", "notes=IMAGE:2.1.0"]);
    assert_eq!(inst.health(), "ok 2.1.0 schema 2");
    assert_eq!(inst.bodies(&alice), ["schema two"]);
    assert_eq!(inst.export(), before, "the volume's notes are identical");
}

/// Container id of each running service of the project.
fn container_ids(inst: &Install) -> std::collections::BTreeMap<String, String> {
    compose_harness::docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={}", inst.project),
        "--format",
        "{{.Label \"com.docker.compose.service\"}}={{.ID}}",
    ])
    .lines()
    .filter_map(|l| l.split_once('='))
    .map(|(s, id)| (s.to_string(), id.to_string()))
    .collect()
}

#[test]
fn a_stateless_service_whose_image_and_config_stay_keeps_running() {
    need_docker!();
    let inst = Install::new("keep", &["1.0.0", "1.1.0"], "1.0.0", None);
    // auth keeps 1.0.0's image in 1.1.0 and writes no store.
    let cat = inst.dir.join("cat/demo.toml");
    let text = std::fs::read_to_string(&cat).unwrap();
    let pinned = text.replacen(
        &format!("auth = \"{}:{{version}}\"", inst.image),
        &format!("auth = \"{}:1.0.0\"", inst.image),
        1,
    );
    assert_ne!(pinned, text, "the test catalog names auth's image");
    std::fs::write(&cat, pinned).unwrap();
    let manifest = inst.dir.join("upshift.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen(
            "[services.auth]\n",
            "[services.auth]\nstateless = true\n",
            1,
        ),
    )
    .unwrap();
    let alice = inst.token("alice");
    inst.add_note(&alice, "kept");
    let before = container_ids(&inst);

    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let after = container_ids(&inst);
    assert_eq!(before["auth"], after["auth"], "auth was not recreated");
    assert_ne!(before["notes"], after["notes"], "notes was recreated");
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.1.0"]);
    let stop = inst.detail(1, "stop.auth");
    assert!(
        stop.starts_with("kept running: stateless, same image"),
        "{stop}"
    );
    assert_eq!(inst.detail(1, "start.auth"), "kept running");
    assert!(inst.health().starts_with("ok 1.1.0"), "{}", inst.health());
    assert_eq!(inst.bodies(&alice), ["kept"], "alice's token still works");
}
