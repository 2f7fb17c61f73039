//! `upshift demo`: set up the demo installation at 1.0.0, start it, write
//! notes, show the plan, upgrade to 3.0.0 and check the notes survived.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::demo_postgres;

use upshift_run::health::http;

use crate::cli::DemoArgs;
use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

/// The demo manifest, as shipped in `examples/demo/upshift.toml`.
pub(super) const DEMO_MANIFEST: &str = include_str!("../../../../examples/demo/upshift.toml");
pub(super) const TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(settings: &Settings, args: &DemoArgs) -> Result<i32, CliError> {
    if args.fleet {
        return super::demo_fleet::run(settings, args);
    }
    let dir = prepare_dir(&args.dir)?;
    let bin = demo_binary()?;
    let ports = free_ports(3)?;
    let (auth_port, notes_port, pg_port) = (ports[0], ports[1], ports[2]);
    let postgres = args.store == "postgres";
    crate::printer::note!(
        settings.printer,
        "setting up the demo installation (auth + notes 1.0.0, notes in {}) in {}",
        if postgres { "PostgreSQL" } else { "SQLite" },
        dir.display()
    );
    let cluster = if postgres {
        let password = random_hex()?;
        let secrets = dir.join("secrets");
        std::fs::create_dir_all(&secrets)
            .and_then(|_| {
                std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700))
            })
            .and_then(|_| {
                let file = dir.join(demo_postgres::PASSWORD_FILE);
                std::fs::write(&file, format!("{password}\n"))?;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            })
            .map_err(|e| CliError::Failed(format!("demo: {}: {e}", secrets.display())))?;
        crate::printer::note!(
            settings.printer,
            "starting a PostgreSQL cluster of the demo's own in {} on 127.0.0.1:{pg_port}",
            dir.join("postgres").display()
        );
        Some(demo_postgres::Cluster::start(&dir, pg_port, &password)?)
    } else {
        None
    };
    let result = run_with(
        settings,
        args,
        &dir,
        &bin,
        (auth_port, notes_port),
        cluster.as_ref(),
    );
    if result.is_err() {
        if let Some(c) = &cluster {
            c.stop();
        }
    }
    result
}

fn run_with(
    settings: &Settings,
    args: &DemoArgs,
    dir: &Path,
    bin: &Path,
    (auth_port, notes_port): (u16, u16),
    cluster: Option<&demo_postgres::Cluster>,
) -> Result<i32, CliError> {
    let fail = |what: &str, e: String| CliError::Failed(format!("demo: {what}: {e}"));
    let mut init = std::process::Command::new(bin);
    init.args(["init", "--root"]).arg(dir).args([
        "--version",
        "1.0.0",
        "--auth-port",
        &auth_port.to_string(),
        "--notes-port",
        &notes_port.to_string(),
    ]);
    if let Some(c) = cluster {
        init.args([
            "--pg-database",
            demo_postgres::ROLE,
            "--pg-user",
            demo_postgres::ROLE,
        ])
        .args(["--pg-host", "127.0.0.1", "--pg-port", &c.port.to_string()])
        .args(["--pg-password-file", demo_postgres::PASSWORD_FILE]);
    }
    let init = init
        .output()
        .map_err(|e| fail("cannot run upshift-demo", e.to_string()))?;
    if !init.status.success() {
        return Err(fail(
            "init failed",
            String::from_utf8_lossy(&init.stderr).into_owned(),
        ));
    }
    let mut manifest = DEMO_MANIFEST
        .replace("127.0.0.1:7301", &format!("127.0.0.1:{auth_port}"))
        .replace("127.0.0.1:7302", &format!("127.0.0.1:{notes_port}"));
    if let Some(c) = cluster {
        let sqlite = "[stores.notes]\nkind = \"sqlite\"\npath = \"data/notes.db\"\n";
        assert!(manifest.contains(sqlite), "the demo manifest's notes store");
        manifest = manifest.replace(sqlite, &demo_postgres::store_table(c.port));
    }
    let manifest_path = dir.join("upshift.toml");
    std::fs::write(&manifest_path, manifest)
        .map_err(|e| fail("cannot write the manifest", e.to_string()))?;
    let demo = Settings {
        manifest: manifest_path.clone(),
        yes: true,
        ..settings.clone()
    };
    let loaded = demo.load()?;
    let here = upshift_run::Target::local(&demo.manifest_dir());
    for name in loaded.manifest.start_order() {
        let svc = &loaded.manifest.services[name];
        upshift_run::deploy::start_outside_run(&loaded, &here, &demo.state(), name)
            .map_err(|e| fail("start", e.to_string()))?;
        if let Some(h) = &svc.health {
            upshift_run::health::wait(h, &here)
                .map_err(|e| fail(&format!("{name} did not become healthy"), e.to_string()))?;
        }
    }
    let auth = format!("http://127.0.0.1:{auth_port}");
    let notes = format!("http://127.0.0.1:{notes_port}");
    let token = get_token(&auth).map_err(|e| fail("auth", e))?;
    for (title, body) in [
        ("groceries", "milk, eggs, coffee"),
        ("upgrade", "read the release notes first"),
        ("ideas", "a tool that upgrades servers safely"),
    ] {
        let note = serde_json::json!({ "title": title, "body": body }).to_string();
        match http(
            "POST",
            &format!("{notes}/notes"),
            Some(&token),
            Some(&note),
            TIMEOUT,
        ) {
            Ok((s, _)) if s < 300 => {}
            Ok((s, b)) => return Err(fail("writing a note", format!("{s} {b}"))),
            Err(e) => return Err(fail("writing a note", e.to_string())),
        }
    }
    let before = list_notes(&notes, &token).map_err(|e| fail("reading notes", e))?;
    let p = settings.printer;
    p.human(format!(
        "The demo installation runs at 1.0.0 with {} notes: auth on {auth}, notes on {notes}.\n",
        count(&before)
    ));
    let m = manifest_path.display();
    let pg_json = cluster.map(|c| {
        serde_json::json!({ "port": c.port, "data": c.data, "database": demo_postgres::ROLE, "stop": c.stop_command() })
    });
    let stop_pg = cluster.map_or(String::new(), |c| {
        format!("\n  {}      # stop the demo's PostgreSQL", c.stop_command())
    });
    if let Some(c) = cluster {
        p.human(format!(
            "Its notes are kept in PostgreSQL on 127.0.0.1:{} (database `notes`, data in {}).\n",
            c.port,
            c.data.display()
        ));
    }
    if args.no_upgrade {
        p.json(&serde_json::json!({ "dir": dir, "manifest": manifest_path, "version": "1.0.0", "auth_url": auth, "notes_url": notes, "notes_written": count(&before), "postgres": pg_json }));
        p.human(format!("Try next:\n  upshift -m {m} plan --to 3.0.0\n  upshift -m {m} apply --to 3.0.0\n  upshift -m {m} status{stop_pg}"));
        return Ok(code::OK);
    }
    let plan = upshift_core::plan(&loaded, "3.0.0")?;
    p.human(crate::render::plan(&plan, &loaded.catalog));
    p.human("\nUpgrading (progress on stderr)...");
    let progress = StepLines::new(settings.printer);
    let setup = super::setup(&demo, &loaded, &progress)?;
    let summary = upshift_run::apply(&setup, &plan)?;
    let token = get_token(&auth).map_err(|e| fail("auth after the upgrade", e))?;
    let after =
        list_notes(&notes, &token).map_err(|e| fail("reading notes after the upgrade", e))?;
    if count(&after) != count(&before) {
        return Err(fail(
            "notes were lost",
            format!("{} before, {} after", count(&before), count(&after)),
        ));
    }
    p.json(&serde_json::json!({ "dir": dir, "run": summary, "notes_before": count(&before), "notes_after": count(&after), "postgres": pg_json }));
    p.human(format!(
        "\n{} is at {} and healthy; all {} notes are there. Maintenance window: {:.1}s in total.\n",
        loaded.manifest.installation.name,
        summary.at,
        count(&after),
        summary.maintenance_ms as f64 / 1000.0
    ));
    if !p.json {
        super::history::run(&demo)?;
    }
    p.human(format!(
        "\nTry next:\n  upshift -m {m} status\n  upshift -m {m} history\n  upshift -m {m} snapshots\n  upshift -m {m} rollback      # back to 1.0.0, notes as they were\n  kill $(cat {d}/run/*.pid)      # stop the demo services{stop_pg}",
        d = dir.display()
    ));
    Ok(code::OK)
}

pub(super) fn count(notes: &serde_json::Value) -> usize {
    notes
        .as_array()
        .map_or_else(|| notes["notes"].as_array().map_or(0, Vec::len), Vec::len)
}

pub(super) fn get_token(auth: &str) -> Result<String, String> {
    let (s, body) = http(
        "POST",
        &format!("{auth}/token"),
        None,
        Some(r#"{"user": "demo"}"#),
        TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("{s}: {e}: {body}"))?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no token in {body}"))
}

pub(super) fn list_notes(notes: &str, token: &str) -> Result<serde_json::Value, String> {
    let (s, body) = http("GET", &format!("{notes}/notes"), Some(token), None, TIMEOUT)
        .map_err(|e| e.to_string())?;
    if s != 200 {
        return Err(format!("{s}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
}

/// The `upshift-demo` binary: beside this executable, or `UPSHIFT_DEMO_BIN`.
pub(super) fn demo_binary() -> Result<PathBuf, CliError> {
    if let Some(p) = std::env::var_os("UPSHIFT_DEMO_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find this executable: {e}")))?;
    let bin = exe.with_file_name("upshift-demo");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(CliError::Failed(format!(
            "the demo product is not built: expected {} (run `cargo build --release -p upshift-demo`, or use scripts/demo)",
            bin.display()
        )))
    }
}

/// An empty directory for the demo; a previous demo there is stopped and replaced.
fn prepare_dir(dir: &Path) -> Result<PathBuf, CliError> {
    let manifest = dir.join("upshift.toml");
    if manifest.is_file() {
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        if !text.starts_with("# The demo installation") {
            return Err(CliError::BadInput(format!(
                "{} holds another installation; choose another directory with `--dir`",
                dir.display()
            )));
        }
        // A previous `--store postgres` demo's cluster: stopped before its
        // directory goes.
        demo_postgres::stop_data_dir(&dir.join("postgres/data"));
        stop_pidfiles(&dir.join("run"));
        std::fs::remove_dir_all(dir).map_err(|e| {
            CliError::Failed(format!(
                "cannot clear the previous demo in {}: {e}",
                dir.display()
            ))
        })?;
    } else if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(CliError::BadInput(format!(
            "{} is not empty; choose another directory with `--dir`",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
}

/// Stops every process named by a pidfile in `run` (a previous demo's services).
pub(super) fn stop_pidfiles(run: &Path) {
    for pid in std::fs::read_dir(run).into_iter().flatten().flatten() {
        if let Some(pid) = std::fs::read_to_string(pid.path())
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            upshift_run::proc::terminate(pid);
        }
    }
}

/// `n` distinct free ports on 127.0.0.1 (all held while choosing, so
/// none can be chosen twice).
pub(super) fn free_ports(n: usize) -> Result<Vec<u16>, CliError> {
    let err = |e: std::io::Error| CliError::Failed(format!("no free port on 127.0.0.1: {e}"));
    let held = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()).map_err(err))
        .collect()
}

/// 24 random bytes from /dev/urandom, as hex.
fn random_hex() -> Result<String, CliError> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError::Failed(format!("/dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
