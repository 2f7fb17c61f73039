//! `upshift demo --fleet`: the demo's two services as a fleet of three
//! installations — one `auth`, and two `notes` installations whose users'
//! tokens are checked by that auth (`auth_url`) — upgraded together by
//! `upshift fleet apply`: auth first, then the notes installations one at
//! a time, every installation backed up before any stops.

use std::path::{Path, PathBuf};

use super::demo::{count, demo_binary, free_ports, get_token, list_notes, DEMO_MANIFEST, TIMEOUT};
use crate::cli::DemoArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;

/// The fleet file's first line, by which a later `demo --fleet` knows it may replace the directory.
const HEADER: &str = "# The demo fleet";

/// The installations: `auth`, then the notes installations that use it.
const NOTES: [&str; 2] = ["notes-a", "notes-b"];

pub fn run(settings: &Settings, args: &DemoArgs) -> Result<i32, CliError> {
    let dir = prepare(&args.dir)?;
    let bin = demo_binary()?;
    let ports = free_ports(5)?;
    let auth_url = format!("http://127.0.0.1:{}", ports[0]);
    crate::printer::note!(
        settings.printer,
        "setting up the demo fleet in {}: auth, and {} using it",
        dir.display(),
        NOTES.join(" and ")
    );
    install(
        settings,
        &bin,
        &dir.join("auth"),
        ports[0],
        ports[1],
        Part::Auth,
    )?;
    let mut written = Vec::new();
    for (i, name) in NOTES.iter().enumerate() {
        let port = ports[2 + i];
        install(
            settings,
            &bin,
            &dir.join(name),
            ports[0],
            port,
            Part::Notes(name),
        )?;
        let notes_url = format!("http://127.0.0.1:{port}");
        write_notes(&auth_url, &notes_url, name)?;
        written.push((name.to_string(), notes_url));
    }
    let fleet = dir.join("fleet.toml");
    std::fs::write(&fleet, fleet_file()).map_err(|e| fail("cannot write the fleet file", e))?;
    let p = settings.printer;
    p.human(format!(
        "The demo fleet runs at 1.0.0: auth on {auth_url}, {}.\n",
        written
            .iter()
            .map(|(n, u)| format!("{n} on {u}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let f = fleet.display();
    if args.no_upgrade {
        p.json(&serde_json::json!({ "dir": dir, "fleet": fleet, "auth_url": auth_url, "notes": written }));
        p.human(format!("Try next:\n  upshift fleet plan {f} --to 3.0.0\n  upshift -y fleet apply {f} --to 3.0.0\n  upshift fleet status {f}"));
        return Ok(code::OK);
    }
    super::fleet::plan_run(settings, &fleet, Some("3.0.0"))?;
    p.human("\nUpgrading the fleet (progress on stderr)...");
    let yes = Settings {
        yes: true,
        ..settings.clone()
    };
    let exit = super::fleet::apply(&yes, &fleet, Some("3.0.0"))?;
    if exit != code::OK {
        return Ok(exit);
    }
    for (name, url) in &written {
        let token = get_token(&auth_url).map_err(|e| fail("auth after the upgrade", e))?;
        let notes =
            list_notes(url, &token).map_err(|e| fail(&format!("{name} after the upgrade"), e))?;
        if count(&notes) != 3 {
            return Err(fail(
                &format!("{name} lost notes"),
                format!("{} of 3 left", count(&notes)),
            ));
        }
    }
    p.human(format!("\nEvery installation of the fleet is at 3.0.0, each notes installation with its 3 notes.\nTry next:\n  upshift fleet status {f}\n  upshift fleet history {f}\n  upshift fleet rollback {f}      # every installation back to 1.0.0"));
    Ok(code::OK)
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("demo fleet: {what}: {e}"))
}

/// Which of the demo's services an installation runs.
#[derive(Clone, Copy)]
enum Part<'a> {
    Auth,
    Notes(&'a str),
}

impl Part<'_> {
    fn name(self) -> String {
        match self {
            Part::Auth => "auth".into(),
            Part::Notes(n) => n.to_string(),
        }
    }

    /// The tables of the demo manifest this installation does not have.
    fn drops(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Part::Auth => &[
                ("services", "notes"),
                ("stores", "notes"),
                ("config", "notes"),
                ("relocate", "notes"),
            ],
            Part::Notes(_) => &[
                ("services", "auth"),
                ("config", "auth"),
                ("relocate", "auth"),
            ],
        }
    }
}

/// The demo manifest cut down to one part, named after it.
fn manifest(part: Part, auth_port: u16, notes_port: u16) -> Result<String, CliError> {
    let text = DEMO_MANIFEST
        .replace("127.0.0.1:7301", &format!("127.0.0.1:{auth_port}"))
        .replace("127.0.0.1:7302", &format!("127.0.0.1:{notes_port}"));
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| fail("the demo manifest", e))?;
    for (table, key) in part.drops() {
        if let Some(t) = doc.get_mut(table).and_then(|t| t.as_table_like_mut()) {
            t.remove(key);
        }
    }
    if let Part::Notes(_) = part {
        // Its auth is another installation's, upgraded (and started) before it.
        if let Some(n) = doc["services"]["notes"].as_table_like_mut() {
            n.remove("depends_on");
        }
    }
    doc["installation"]["name"] = toml_edit::value(part.name());
    Ok(doc.to_string())
}

/// One installation of the fleet at 1.0.0, started.
fn install(
    settings: &Settings,
    bin: &Path,
    dir: &Path,
    auth_port: u16,
    notes_port: u16,
    part: Part,
) -> Result<(), CliError> {
    let init = std::process::Command::new(bin)
        .args(["init", "--root"])
        .arg(dir)
        .args(["--version", "1.0.0", "--auth-port", &auth_port.to_string()])
        .args(["--notes-port", &notes_port.to_string()])
        .output()
        .map_err(|e| fail("cannot run upshift-demo", e))?;
    if !init.status.success() {
        return Err(fail("init failed", String::from_utf8_lossy(&init.stderr)));
    }
    let path = dir.join("upshift.toml");
    std::fs::write(&path, manifest(part, auth_port, notes_port)?)
        .map_err(|e| fail("cannot write a manifest", e))?;
    let s = Settings {
        manifest: path,
        manifest_given: true,
        yes: true,
        ..settings.clone()
    };
    let loaded = s.load()?;
    let here = upshift_run::Target::local(&s.manifest_dir());
    for name in loaded.manifest.start_order() {
        upshift_run::deploy::start_outside_run(&loaded, &here, &s.state(), name)
            .map_err(|e| fail("start", e))?;
        if let Some(h) = &loaded.manifest.services[name].health {
            upshift_run::health::wait(h, &here)
                .map_err(|e| fail(&format!("{} {name} did not become healthy", part.name()), e))?;
        }
    }
    Ok(())
}

/// Three notes in a notes installation, by a token of the shared auth.
fn write_notes(auth: &str, notes: &str, name: &str) -> Result<(), CliError> {
    let token = get_token(auth).map_err(|e| fail("auth", e))?;
    for (title, body) in [
        ("groceries", "milk, eggs, coffee"),
        ("upgrade", "auth first, then the others one at a time"),
        ("where", name),
    ] {
        let note = serde_json::json!({ "title": title, "body": body }).to_string();
        match upshift_run::health::http(
            "POST",
            &format!("{notes}/notes"),
            Some(&token),
            Some(&note),
            TIMEOUT,
        ) {
            Ok((s, _)) if s < 300 => {}
            Ok((s, b)) => return Err(fail("writing a note", format!("{s} {b}"))),
            Err(e) => return Err(fail("writing a note", e)),
        }
    }
    Ok(())
}

fn fleet_file() -> String {
    let mut f = format!(
        "{HEADER}: one auth installation and two notes installations whose\n# tokens it checks. `uses` makes auth go first; the notes installations\n# follow one at a time.\n\n[rollout]\nmax_parallel = 1\non_failure = \"keep\"\n\n[installations.auth]\nmanifest = \"auth/upshift.toml\"\n"
    );
    for n in NOTES {
        f.push_str(&format!(
            "\n[installations.{n}]\nmanifest = \"{n}/upshift.toml\"\nuses = [\"auth\"]\n"
        ));
    }
    f
}

/// An empty directory; a previous demo fleet there is stopped and replaced.
fn prepare(dir: &Path) -> Result<PathBuf, CliError> {
    let fleet = dir.join("fleet.toml");
    if fleet.is_file() {
        let text = std::fs::read_to_string(&fleet).unwrap_or_default();
        if !text.starts_with(HEADER) {
            return Err(CliError::BadInput(format!(
                "{} holds another fleet; choose another directory with `--dir`",
                dir.display()
            )));
        }
        for part in std::iter::once("auth").chain(NOTES) {
            super::demo::stop_pidfiles(&dir.join(part).join("run"));
        }
        std::fs::remove_dir_all(dir)
            .map_err(|e| fail(&format!("cannot clear {}", dir.display()), e))?;
    } else if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(CliError::BadInput(format!(
            "{} is not empty; choose another directory with `--dir`",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| fail(&format!("cannot create {}", dir.display()), e))?;
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()))
}
