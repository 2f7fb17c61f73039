//! A test harness that drives real `upshift-demo` processes in a temporary
//! installation root on free loopback ports. No sleeps as synchronisation:
//! waits poll a condition against a deadline.

#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};
use upshift_demo::http;
use upshift_demo::{layout, Release};

/// The binary cargo built: the one that installs releases.
pub const BUILT: &str = env!("CARGO_BIN_EXE_upshift-demo");

pub fn rel(v: &str) -> Release {
    Release::parse(v).unwrap()
}

/// Polls `f` until it returns `Some`, or panics after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// One installation root with its ports.
pub struct Install {
    pub dir: tempfile::TempDir,
    pub auth_port: u16,
    pub notes_port: u16,
}

impl Install {
    /// `upshift-demo init` at `version` on two free ports.
    pub fn init(version: &str) -> Install {
        let (a, b) = (
            TcpListener::bind("127.0.0.1:0").unwrap(),
            TcpListener::bind("127.0.0.1:0").unwrap(),
        );
        let (auth_port, notes_port) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        drop((a, b));
        let dir = tempfile::tempdir().unwrap();
        let me = Install {
            dir,
            auth_port,
            notes_port,
        };
        let out = me.built(&[
            "init",
            "--version",
            version,
            "--auth-port",
            &auth_port.to_string(),
            "--notes-port",
            &notes_port.to_string(),
        ]);
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        me
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self, service: &str) -> PathBuf {
        self.root().join("config").join(format!("{service}.toml"))
    }

    /// Runs the built binary with `--root ROOT` appended.
    pub fn built(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BUILT);
        cmd.args(args)
            .arg("--root")
            .arg(self.root())
            .env_remove(layout::VERSION_ENV);
        cmd.output().unwrap()
    }

    /// The binary of an installed release (`current` for the current one).
    pub fn bin(&self, release: &str) -> PathBuf {
        if release == "current" {
            self.root().join("current/bin/upshift-demo")
        } else {
            self.root()
                .join("releases")
                .join(release)
                .join("bin/upshift-demo")
        }
    }

    /// Runs an installed release's binary to completion.
    pub fn run(&self, release: &str, args: &[&str]) -> Output {
        Command::new(self.bin(release))
            .args(args)
            .env_remove(layout::VERSION_ENV)
            .output()
            .unwrap()
    }

    /// Installs `version` (the "fetch") and flips `current` to it.
    pub fn install_and_switch(&self, version: &str) {
        let out = self.built(&["install", "--version", version]);
        assert!(
            out.status.success(),
            "install: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        layout::switch(self.root(), rel(version)).unwrap();
    }

    /// Rewrites both configs in `version`'s format, keeping the secret (what
    /// upshift's config migration does on a real upgrade).
    pub fn rewrite_config(&self, from: &str, to: &str) {
        let secret = upshift_demo::config::AuthConfig::load(&self.config("auth"), rel(from))
            .unwrap()
            .secret;
        layout::write_config(
            self.root(),
            rel(to),
            self.auth_port,
            self.notes_port,
            &secret,
        )
        .unwrap();
    }

    /// Starts a service of the current release in the background, its
    /// stderr going to `logs/<service>.log`.
    pub fn spawn(&self, service: &str) -> Service {
        let log = self.root().join("logs").join(format!("{service}.log"));
        let child = Command::new(self.bin("current"))
            .args([service, "--config"])
            .arg(self.config(service))
            .env_remove(layout::VERSION_ENV)
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Service {
            child: Some(child),
            log,
        }
    }

    /// Starts a service and waits until its health endpoint answers 200.
    pub fn start(&self, service: &str) -> Service {
        let mut s = self.spawn(service);
        let url = self.url(service, "/health");
        wait_for(30, &format!("{service} to be healthy"), || {
            if let Some(status) = s.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{service} exited with {status}: {}", s.log());
            }
            http::get(&url, None).ok().filter(|r| r.status == 200)
        });
        s
    }

    /// Starts notes alone and waits until it answers its health endpoint
    /// (with 503, since auth is down).
    pub fn start_without_auth(&self) -> Service {
        let s = self.spawn("notes");
        let url = self.url("notes", "/health");
        wait_for(30, "notes to answer", || http::get(&url, None).ok());
        s
    }

    /// Starts a service that must refuse to start; returns its exit code and log.
    pub fn start_refused(&self, service: &str) -> (i32, String) {
        let mut s = self.spawn(service);
        let status = s.wait_exit(30);
        (status.code().unwrap_or(-1), s.log())
    }

    pub fn url(&self, service: &str, path: &str) -> String {
        let port = if service == "auth" {
            self.auth_port
        } else {
            self.notes_port
        };
        format!("http://127.0.0.1:{port}{path}")
    }

    pub fn health(&self, service: &str) -> http::Reply {
        http::get(&self.url(service, "/health"), None).unwrap()
    }

    pub fn token(&self, user: &str) -> String {
        let r = http::post(
            &self.url("auth", "/token"),
            None,
            &format!(r#"{{"user": "{user}"}}"#),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `POST /notes` as `user`; returns the created note.
    pub fn post_note(&self, user: &str, title: &str, body: &str) -> serde_json::Value {
        let body = serde_json::json!({"title": title, "body": body}).to_string();
        let r = http::post(&self.url("notes", "/notes"), Some(&self.token(user)), &body).unwrap();
        assert_eq!(r.status, 201, "{r:?}");
        serde_json::from_str(&r.body).unwrap()
    }

    /// `GET /notes` as `user`.
    pub fn notes(&self, user: &str) -> serde_json::Value {
        let r = http::get(&self.url("notes", "/notes"), Some(&self.token(user))).unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        serde_json::from_str(&r.body).unwrap()
    }

    /// `upshift-demo export` with the built binary.
    pub fn export(&self) -> String {
        let out = Command::new(BUILT)
            .arg("export")
            .arg("--config")
            .arg(self.config("notes"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "export: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A running service; stopped with SIGTERM when dropped.
pub struct Service {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Service {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_exit(&mut self, secs: u64) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let status = wait_for(secs, "the service to exit", || child.try_wait().unwrap());
        self.child = None;
        status
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.wait_exit(10);
        assert!(
            status.success(),
            "exit {status} after SIGTERM: {}",
            self.log()
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
