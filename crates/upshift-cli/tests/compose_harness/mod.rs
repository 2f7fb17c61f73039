//! The demo product as a compose project on the real Docker engine, for
//! `tests/compose.rs`: auth + notes, the notes SQLite in a named volume,
//! `config/` and `secrets/` bind-mounted (the demo's images keep the
//! installation under `/srv`), upgraded by upshift with the demo's real
//! catalog (`catalogs/demo.toml`) plus the images of each release.
//!
//! No image can be pulled on these machines, so the harness builds the
//! demo's releases as local images `FROM scratch` holding a statically
//! linked `upshift-demo` (built once into `target/static`), one tag per
//! version, `UPSHIFT_DEMO_VERSION` set by the image.
//!
//! Every installation uses its own project, volume and image names, and
//! removes them on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{repo, upshift, Run};

/// Every release of the demo catalog.
pub const ALL: &[&str] = &["1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"];

/// The shared secret of every installation (must never be printed).
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

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

pub fn docker_works() -> bool {
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

pub fn docker(args: &[&str]) -> String {
    run(Command::new("docker").args(args))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The operator's compose file. It already mounts `./secrets`, which 2.0.0's
/// upstream template adds (the plan shows that diff; the operator merged it).
const COMPOSE: &str = r#"services:
  auth:
    image: IMAGE:START
    command: ["auth", "--config", "/srv/config/auth.toml"]
    volumes: ["./config:/srv/config:ro", "./secrets:/srv/secrets:ro"]
    ports: ["127.0.0.1:AUTH_PORT:7301"]
  notes:
    image: IMAGE:START
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
version = "START"

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

/// A data step that fails, appended to one release's data steps.
const FAILING_STEP: &str = r#"
[[release.data_steps]]
id = "induced-failure"
description = "a data step that fails (induced by the test)"
run = "echo 'induced failure' >&2; exit 1"
"#;

/// The demo's real catalog with this installation's own image names and, when `fail_in` names a release, a failing data step
/// after that release's own.
fn catalog(image: &str, fail_in: Option<&str>) -> String {
    let src = std::fs::read_to_string(repo().join("catalogs/demo.toml")).unwrap();
    let images =
        format!("images = {{ auth = \"{image}:{{version}}\", notes = \"{image}:{{version}}\" }}\n");
    let mut parts: Vec<String> = src.split("[[release]]").map(str::to_string).collect();
    let ours =
        "images = { auth = \"upshift-demo:{version}\", notes = \"upshift-demo:{version}\" }\n";
    assert!(
        parts[0].contains(ours),
        "catalogs/demo.toml names its images"
    );
    parts[0] = parts[0].replacen(ours, &images, 1);
    if let Some(v) = fail_in {
        let block = parts
            .iter_mut()
            .find(|p| p.contains(&format!("version = \"{v}\"")))
            .unwrap_or_else(|| panic!("no release {v} in catalogs/demo.toml"));
        block.push_str(FAILING_STEP);
    }
    parts.join("[[release]]")
}

/// The config files a release of format 1 (1.x) or 2 (2.x on) reads.
fn config_files(start: &str) -> [(&'static str, String); 2] {
    if start.starts_with("1.") {
        [
            (
                "config/auth.toml",
                format!("# auth service, release {start}\nlisten = \"0.0.0.0:7301\"\nsecret = \"{SECRET}\"\n"),
            ),
            (
                "config/notes.toml",
                format!("# notes service, release {start}\nlisten = \"0.0.0.0:7302\"\nauth_url = \"http://auth:7301\"\ndatabase = \"data/notes.db\"\n"),
            ),
        ]
    } else {
        [
            (
                "config/auth.toml",
                format!("# auth service, release {start}\nsecret_file = \"secrets/auth.secret\"\n\n[server]\nlisten = \"0.0.0.0:7301\"\n"),
            ),
            (
                "config/notes.toml",
                format!("# notes service, release {start}\nauth_url = \"http://auth:7301\"\ndatabase = \"data/notes.db\"\n\n[server]\nlisten = \"0.0.0.0:7302\"\n"),
            ),
        ]
    }
}

/// One compose installation of the demo: its directory, names and ports.
pub struct Install {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub project: String,
    pub image: String,
    auth: u16,
    notes: u16,
    start: String,
    versions: Vec<&'static str>,
}

impl Install {
    /// Builds images for `versions` and starts release `start` with
    /// `compose up`; `fail_in` puts a failing data step into that release.
    pub fn new(
        tag: &str,
        versions: &[&'static str],
        start: &str,
        fail_in: Option<&str>,
    ) -> Install {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let unique = format!("upshift-compose-{tag}-{}", std::process::id());
        let (auth, notes) = (free_port(), free_port());
        let subst = |t: &str| {
            t.replace("IMAGE", &unique)
                .replace("PROJECT", &unique)
                .replace("START", start)
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
            start: start.to_string(),
            versions: Vec::new(),
        };
        let bin = static_demo();
        for v in versions {
            inst.build_image(&bin, v);
            inst.versions.push(v);
        }
        for sub in ["config", "secrets"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for (path, text) in config_files(start) {
            std::fs::write(dir.join(path), text).unwrap();
        }
        if !start.starts_with("1.") {
            std::fs::write(dir.join("secrets/auth.secret"), SECRET).unwrap();
        }
        std::fs::write(dir.join("docker-compose.yml"), subst(COMPOSE)).unwrap();
        std::fs::write(dir.join("upshift.toml"), subst(MANIFEST)).unwrap();
        std::fs::create_dir_all(dir.join("cat")).unwrap();
        std::fs::write(dir.join("cat/demo.toml"), catalog(&unique, fail_in)).unwrap();
        for v in ALL {
            let t = format!("demo/{v}/docker-compose.yml");
            std::fs::create_dir_all(dir.join("cat").join(&t).parent().unwrap()).unwrap();
            std::fs::copy(repo().join("catalogs").join(&t), dir.join("cat").join(&t)).unwrap();
        }
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

    pub fn compose(&self, args: &[&str]) -> String {
        run(compose_cmd()
            .args(["-p", &self.project, "-f", "docker-compose.yml"])
            .args(args)
            .current_dir(&self.dir))
    }

    /// Polls notes' health (which asks auth) until it answers 200, for 20 s.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http("GET", &self.notes_url("/health"), None, None).is_ok_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "notes did not become healthy: {}",
            self.compose(&["logs", "--no-color"])
        );
    }

    fn notes_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.notes)
    }

    pub fn token(&self, user: &str) -> String {
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

    pub fn add_note(&self, token: &str, body: &str) {
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
    pub fn bodies(&self, token: &str) -> Vec<String> {
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

    pub fn health(&self) -> String {
        http("GET", &self.notes_url("/health"), None, None)
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The image of each running container of the project, by service.
    pub fn images(&self) -> Vec<String> {
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

    /// Every container of the project, running or not (`docker ps -a`).
    pub fn containers(&self) -> Vec<String> {
        Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.project))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every note in the volume as canonical JSON (`upshift-demo export`
    /// in a container of the starting release, services running or not).
    pub fn export(&self) -> String {
        docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &format!("{}_notes-data:/srv/data", self.project),
            "-v",
            &format!("{}:/srv/config:ro", self.dir.join("config").display()),
            &format!("{}:{}", self.image, self.start),
            "export",
            "--config",
            "/srv/config/notes.toml",
        ])
    }

    pub fn upshift(&self, args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml", "--catalog", "cat"];
        all.extend_from_slice(args);
        upshift(&self.dir).args(all).run()
    }

    /// The journal of the last run: `HOP STEP STATE` lines in order (hops from 1).
    pub fn journal(&self) -> Vec<String> {
        self.events().into_iter().map(|(line, _)| line).collect()
    }

    /// The detail journaled when `step` of `hop` (from 1) was done.
    pub fn detail(&self, hop: usize, step: &str) -> String {
        let line = format!("{hop} {step} done");
        self.events()
            .into_iter()
            .find(|(l, _)| *l == line)
            .and_then(|(_, d)| d)
            .unwrap_or_else(|| panic!("no detail for `{line}`"))
    }

    fn events(&self) -> Vec<(String, Option<String>)> {
        let j = upshift_run::Journal::open(&self.dir.join(".upshift/journal.db")).unwrap();
        let run = j.runs("demo-compose").unwrap().pop().expect("a run");
        j.events(&run.id)
            .unwrap()
            .into_iter()
            .map(|e| {
                let line = format!("{} {} {:?}", e.hop + 1, e.step, e.state).to_lowercase();
                (line, e.detail.map(|d| d.to_string()))
            })
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
        for id in self.containers() {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
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
pub fn http(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
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
pub fn pos(journal: &[String], line: &str) -> usize {
    journal
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("`{line}` not in the journal:\n{}", journal.join("\n")))
}
