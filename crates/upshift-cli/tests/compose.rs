//! The compose driver against the real Docker engine: the demo product as a
//! compose project (auth + notes, the notes SQLite in a named volume, the
//! config files bind-mounted), upgraded 1.0.0 → 1.1.0 by upshift.
//!
//! No image can be pulled on these machines, so the harness builds the
//! demo's releases as local images `FROM scratch` holding a statically
//! linked `upshift-demo` (built once into `target/static`), one tag per
//! version, `UPSHIFT_DEMO_VERSION` set by the image. 1.0.0 → 1.1.0 is the
//! hop of this slice: 1.1.0 changes the schema on start with the same
//! config format (2.0.0's new config format is the config issue's, already
//! covered by the process-driver tests).
//!
//! Every test uses its own project, volume and image names, and removes
//! them on drop. Skipped (passes with a note) when no Docker engine or compose
//! command answers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{repo, upshift, Run};

/// Builds `upshift-demo` statically linked, once per test process.
fn static_demo() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = repo().join("target/static");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "-p",
                "upshift-demo",
                "--target",
                "x86_64-unknown-linux-gnu",
            ])
            .current_dir(repo())
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "static build of upshift-demo failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("x86_64-unknown-linux-gnu/debug/upshift-demo")
    })
    .clone()
}

/// `docker compose` or `docker-compose`, as upshift's driver picks it.
fn compose_cmd() -> Command {
    let prog = upshift_run::driver::compose::program().expect("a compose command");
    let mut c = Command::new(&prog[0]);
    c.args(&prog[1..]);
    c
}

fn docker_works() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
        && upshift_run::driver::compose::program().is_ok()
}

/// Runs a command, panicking with its stderr when it fails; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker(args: &[&str]) -> String {
    run(Command::new("docker").args(args))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const COMPOSE: &str = r#"services:
  auth:
    image: IMAGE:1.0.0
    command: ["auth", "--config", "/srv/config/auth.toml"]
    volumes: ["./config:/srv/config:ro"]
    ports: ["127.0.0.1:AUTH_PORT:7301"]
  notes:
    image: IMAGE:1.0.0
    command: ["notes", "--config", "/srv/config/notes.toml"]
    volumes: ["./config:/srv/config:ro", "notes-data:/srv/data"]
    ports: ["127.0.0.1:NOTES_PORT:7302"]
    depends_on: [auth]
volumes:
  notes-data: {}
"#;

const MANIFEST: &str = r#"
[installation]
name = "demo-compose"
product = "demo"
version = "1.0.0"

[services.auth]
driver = "compose"
public_address = "127.0.0.1:AUTH_PORT"
[services.auth.compose]
project = "PROJECT"
files = ["docker-compose.yml"]
[services.auth.health]
http = "http://127.0.0.1:AUTH_PORT/health"
interval = 0.2
retries = 100

[services.notes]
driver = "compose"
depends_on = ["auth"]
public_address = "127.0.0.1:NOTES_PORT"
[services.notes.compose]
project = "PROJECT"
files = ["docker-compose.yml"]
[services.notes.health]
http = "http://127.0.0.1:NOTES_PORT/health"
body = "ok"
interval = 0.2
retries = 100

[stores.notes]
kind = "volume"
volume = "PROJECT_notes-data"

[config.auth]
path = "config/auth.toml"
format = "toml"
role = "demo-auth"

[config.notes]
path = "config/notes.toml"
format = "toml"
role = "demo-notes"

[maintenance]
page = false

[backup]
repository = ".upshift/repo"
"#;

/// The demo catalog's first two releases, with the images of each release
/// (catalog-wide templates); `FAIL` becomes a failing data step.
const CATALOG: &str = r#"
product = "demo"
name = "upshift demo (compose)"
images = { auth = "IMAGE:{version}", notes = "IMAGE:{version}" }

[[release]]
version = "1.0.0"

[[release]]
version = "1.1.0"
upgrade_from = ">=1.0.0"
notes = ["Adds note titles (schema version 2, added automatically on start)."]
FAIL
"#;

const FAILING_STEP: &str = r#"
[[release.data_steps]]
id = "induced-failure"
description = "a data step that fails (induced by the test)"
run = "echo 'induced failure' >&2; exit 1"
"#;

/// One compose installation of the demo: its directory, names and ports.
struct Install {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    project: String,
    image: String,
    auth: u16,
    notes: u16,
    versions: Vec<&'static str>,
}

impl Install {
    /// Builds images for `versions` and starts 1.0.0 with `docker-compose up`.
    fn new(tag: &str, versions: &[&'static str], fail: bool) -> Install {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let unique = format!("upshift-compose-{tag}-{}", std::process::id());
        let (auth, notes) = (free_port(), free_port());
        let subst = |t: &str| {
            t.replace("IMAGE", &unique)
                .replace("PROJECT", &unique)
                .replace("AUTH_PORT", &auth.to_string())
                .replace("NOTES_PORT", &notes.to_string())
        };
        let mut inst = Install {
            _tmp: tmp,
            dir: dir.clone(),
            project: unique.clone(),
            image: unique.clone(),
            auth,
            notes,
            versions: Vec::new(),
        };
        let bin = static_demo();
        for v in versions {
            inst.build_image(&bin, v);
            inst.versions.push(v);
        }
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::write(
            dir.join("config/auth.toml"),
            "# auth service, release 1.0.0\nlisten = \"0.0.0.0:7301\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("config/notes.toml"),
            "# notes service, release 1.0.0\nlisten = \"0.0.0.0:7302\"\nauth_url = \"http://auth:7301\"\ndatabase = \"data/notes.db\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("docker-compose.yml"), subst(COMPOSE)).unwrap();
        std::fs::write(dir.join("upshift.toml"), subst(MANIFEST)).unwrap();
        std::fs::create_dir_all(dir.join("cat")).unwrap();
        let catalog = CATALOG.replace("FAIL", if fail { FAILING_STEP } else { "" });
        std::fs::write(dir.join("cat/demo.toml"), subst(&catalog)).unwrap();
        inst.compose(&["up", "-d"]);
        inst.wait_healthy();
        inst
    }

    /// `IMAGE:VERSION`: `FROM scratch` with the static binary.
    fn build_image(&self, bin: &Path, version: &str) {
        let ctx = tempfile::tempdir().unwrap();
        std::fs::copy(bin, ctx.path().join("upshift-demo")).unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!(
                "FROM scratch\nCOPY upshift-demo /bin/upshift-demo\nENV UPSHIFT_DEMO_VERSION={version}\nENTRYPOINT [\"/bin/upshift-demo\"]\n"
            ),
        )
        .unwrap();
        run(Command::new("docker")
            .args(["build", "-q", "-t", &format!("{}:{version}", self.image)])
            .arg(ctx.path())
            .env("DOCKER_BUILDKIT", "0"));
    }

    fn compose(&self, args: &[&str]) -> String {
        run(compose_cmd()
            .args(["-p", &self.project, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(&self.dir))
    }

    fn wait_healthy(&self) {
        for _ in 0..100 {
            if http("GET", &self.notes_url("/health"), None, None).is_ok_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!(
            "notes did not become healthy: {}",
            self.compose(&["logs", "--no-color"])
        );
    }

    fn notes_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.notes)
    }

    fn token(&self, user: &str) -> String {
        let (status, body) = http(
            "POST",
            &format!("http://127.0.0.1:{}/token", self.auth),
            None,
            Some(&format!("{{\"user\": \"{user}\"}}")),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    fn add_note(&self, token: &str, body: &str) {
        let (status, reply) = http(
            "POST",
            &self.notes_url("/notes"),
            Some(token),
            Some(&serde_json::json!({"title": "t", "body": body}).to_string()),
        )
        .unwrap();
        assert_eq!(status, 201, "{reply}");
    }

    /// The bodies of `token`'s notes, through the HTTP API.
    fn bodies(&self, token: &str) -> Vec<String> {
        let (status, body) = http("GET", &self.notes_url("/notes"), Some(token), None).unwrap();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let list = v
            .as_array()
            .or_else(|| v["notes"].as_array())
            .unwrap_or_else(|| panic!("{body}"));
        let mut out: Vec<String> = list
            .iter()
            .map(|n| n["body"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    fn health(&self) -> String {
        http("GET", &self.notes_url("/health"), None, None)
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The image of each running container of the project, by service.
    fn images(&self) -> Vec<String> {
        let out = docker(&[
            "ps",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--format",
            "{{.Label \"com.docker.compose.service\"}}={{.Image}}",
        ]);
        let mut v: Vec<String> = out
            .lines()
            .map(|l| l.replace(&self.image, "IMAGE"))
            .collect();
        v.sort();
        v
    }

    /// Every note in the volume as canonical JSON (`upshift-demo export`
    /// in a container of the old release, services running or not).
    fn export(&self) -> String {
        docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{}_notes-data:/srv/data", self.project),
            "-v",
            &format!("{}:/srv/config:ro", self.dir.join("config").display()),
            &format!("{}:1.0.0", self.image),
            "export",
            "--config",
            "/srv/config/notes.toml",
        ])
    }

    fn upshift(&self, args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml", "--catalog", "cat"];
        all.extend_from_slice(args);
        upshift(&self.dir).args(all).run()
    }

    /// The journal of the last run: `step state` lines in order.
    fn journal(&self) -> Vec<String> {
        let j = upshift_run::Journal::open(&self.dir.join(".upshift/journal.db")).unwrap();
        let run = j.runs("demo-compose").unwrap().pop().expect("a run");
        j.events(&run.id)
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {:?}", e.step, e.state).to_lowercase())
            .collect()
    }
}

impl Drop for Install {
    fn drop(&mut self) {
        let _ = compose_cmd()
            .args([
                "-p",
                &self.project,
                "-f",
                "docker-compose.yml",
                "down",
                "-v",
                "-t",
                "2",
            ])
            .current_dir(&self.dir)
            .output();
        // Containers the override created are the project's too; `down`
        // with the user's file alone still removes them by label.
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.project),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        let _ = Command::new("docker")
            .args([
                "volume",
                "rm",
                "-f",
                &format!("{}_notes-data", self.project),
            ])
            .output();
        for v in &self.versions {
            let _ = Command::new("docker")
                .args(["rmi", "-f", &format!("{}:{v}", self.image)])
                .output();
        }
    }
}

/// A minimal HTTP/1.1 client: (status, body).
fn http(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let body = body.unwrap_or("");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("malformed reply: {reply}")))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Position of `line` in the journal, panicking with the journal when absent.
fn pos(journal: &[String], line: &str) -> usize {
    journal
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("`{line}` not in the journal:\n{}", journal.join("\n")))
}

macro_rules! need_docker {
    () => {
        if !docker_works() {
            eprintln!("skipped: no Docker engine answers `docker info`, or no compose command");
            return;
        }
    };
}

#[test]
fn compose_upgrade_keeps_the_notes_and_gets_images_before_stopping() {
    need_docker!();
    let inst = Install::new("up", &["1.0.0", "1.1.0"], false);
    let alice = inst.token("alice");
    inst.add_note(&alice, "buy milk");
    inst.add_note(&alice, "call bob");
    assert!(inst.health().starts_with("ok 1.0.0"), "{}", inst.health());

    let plan = inst.upshift(&["plan", "--to", "1.1.0"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(".upshift/compose/"),
        "the plan names the override:\n{}",
        plan.stdout
    );

    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(inst.images(), ["auth=IMAGE:1.1.0", "notes=IMAGE:1.1.0"]);
    assert!(inst.health().starts_with("ok 1.1.0"), "{}", inst.health());
    assert_eq!(inst.bodies(&alice), ["buy milk", "call bob"]);
    let ov = std::fs::read_to_string(
        inst.dir
            .join(format!(".upshift/compose/{}.override.yml", inst.project)),
    )
    .unwrap();
    assert!(ov.contains(&format!("{}:1.1.0", inst.image)), "{ov}");

    // The images of 1.1.0 were on the host (prepare) before anything stopped.
    let j = inst.journal();
    let prepared = pos(&j, "prepare.artifacts done");
    assert!(prepared < pos(&j, "stop.notes started"), "{}", j.join("\n"));
    assert!(prepared < pos(&j, "stop.auth started"), "{}", j.join("\n"));
    assert!(pos(&j, "stop.notes done") < pos(&j, "swap.version done"));
}

#[test]
fn missing_image_stops_the_run_before_any_service_stops() {
    need_docker!();
    // Only 1.0.0 is built: 1.1.0 cannot be pulled on this machine.
    let inst = Install::new("nopull", &["1.0.0"], false);
    let alice = inst.token("alice");
    inst.add_note(&alice, "still here");
    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:1.1.0", inst.image)),
        "{}",
        r.stderr
    );
    let j = inst.journal();
    assert!(
        j.contains(&"prepare.artifacts failed".to_string()),
        "{}",
        j.join("\n")
    );
    assert!(
        !j.iter().any(|l| l.starts_with("stop.")),
        "{}",
        j.join("\n")
    );
    assert_eq!(inst.images(), ["auth=IMAGE:1.0.0", "notes=IMAGE:1.0.0"]);
    assert_eq!(inst.bodies(&alice), ["still here"]);
}

#[test]
fn failed_upgrade_rolls_back_to_the_old_images_with_the_same_data() {
    need_docker!();
    let inst = Install::new("fail", &["1.0.0", "1.1.0"], true);
    let alice = inst.token("alice");
    inst.add_note(&alice, "precious");
    inst.add_note(&alice, "also precious");
    let before = inst.export();
    assert!(before.contains("precious"), "{before}");

    let r = inst.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("induced failure"), "{}", r.stderr);

    let j = inst.journal();
    assert!(pos(&j, "swap.version done") < pos(&j, "migrate.induced-failure failed"));
    assert!(j.contains(&"rollback done".to_string()), "{}", j.join("\n"));
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
