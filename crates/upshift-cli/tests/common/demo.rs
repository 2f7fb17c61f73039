//! A live demo installation for executor tests: `upshift demo --no-upgrade`
//! in a temp dir (real processes on free loopback ports), stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{upshift, Run};

/// The `upshift-demo` binary, built on demand when the test run did not build it.
pub fn demo_bin() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_upshift"));
    let bin = exe.with_file_name("upshift-demo");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-q", "-p", "upshift-demo"])
            .current_dir(super::repo())
            .status()
            .expect("cargo runs");
        assert!(ok.success(), "building upshift-demo failed");
    }
    assert!(bin.is_file(), "no upshift-demo at {}", bin.display());
    bin
}

pub struct Demo {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Demo {
    /// A demo installation at 1.0.0, running, with three notes.
    pub fn new() -> Demo {
        Demo::try_new().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Demo::new`], with the setup's failure as an error.
    pub fn try_new() -> Result<Demo, String> {
        Demo::try_new_with(&[])
    }

    /// Like [`Demo::try_new`], with more `upshift demo` arguments
    /// (`--store postgres`).
    pub fn try_new_with(extra: &[&str]) -> Result<Demo, String> {
        let mut args = vec!["--no-upgrade"];
        args.extend_from_slice(extra);
        let (run, demo) = Demo::run_demo(&args);
        if run.code != 0 {
            return Err(format!(
                "demo setup failed ({}): {}\n{}",
                run.code, run.stdout, run.stderr
            ));
        }
        Ok(demo)
    }

    /// Runs `upshift demo --dir DEMO ARGS` in a fresh temporary directory
    /// (which every user may enter: the demo's PostgreSQL runs as `nobody`
    /// under root), whatever its outcome; the installation is stopped when
    /// the [`Demo`] is dropped.
    pub fn run_demo(args: &[&str]) -> (Run, Demo) {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = tmp.path().join("demo");
        let run = upshift(tmp.path())
            .env("UPSHIFT_DEMO_BIN", demo_bin().to_str().unwrap())
            .args(["demo", "--dir", "demo"])
            .args(args)
            .run();
        let dir = dir.canonicalize().unwrap_or(dir);
        (run, Demo { dir, _tmp: tmp })
    }

    /// Runs `upshift -m <manifest> ARGS` in the installation.
    pub fn upshift(&self, args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml"];
        all.extend_from_slice(args);
        upshift(&self.dir).args(all).run()
    }

    /// Like [`Demo::upshift`] with extra environment.
    pub fn upshift_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml"];
        all.extend_from_slice(args);
        let mut u = upshift(&self.dir).args(all);
        for (k, v) in env {
            u = u.env(k, v);
        }
        u.run()
    }

    /// Every note, as the schema-independent export of the running release.
    pub fn export(&self) -> String {
        let out = Command::new(self.dir.join("current/bin/upshift-demo"))
            .args(["export", "--config", "config/notes.toml"])
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The release `current` points at.
    pub fn version(&self) -> String {
        std::fs::read_to_string(self.dir.join("current/VERSION"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Asserts every service answers its health check now.
    pub fn assert_healthy(&self) {
        let st = self.upshift(&["--json", "status"]).json();
        for s in st["services"].as_array().unwrap() {
            assert_eq!(s["state"], "healthy", "{}", st);
        }
    }

    /// Asserts the installation serves `version`, healthy, with exactly
    /// the notes `notes` (an earlier [`Demo::export`]).
    pub fn assert_serves(&self, version: &str, notes: &str) {
        assert_eq!(self.version(), version);
        self.assert_healthy();
        assert_eq!(self.export(), notes, "the notes at {version}");
    }

    /// The manifest's `installation.version`.
    pub fn manifest_version(&self) -> String {
        self.upshift(&["--json", "status"]).json()["version"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The `public_address` of `service` in the manifest.
    pub fn public_address(&self, service: &str) -> String {
        let m = std::fs::read_to_string(self.path("upshift.toml")).unwrap();
        let table = m
            .split(&format!("[services.{service}]"))
            .nth(1)
            .unwrap_or_else(|| panic!("no [services.{service}] in the manifest"));
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with("public_address"))
            .expect("a public_address");
        line.split('"').nth(1).unwrap().to_string()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Adds `count` notes through the running release's own `seed`.
    pub fn seed(&self, count: u32) {
        let ok = Command::new(self.path("current/bin/upshift-demo"))
            .args(["seed", "--config", "config/notes.toml", "--count"])
            .arg(count.to_string())
            .current_dir(&self.dir)
            .status()
            .unwrap();
        assert!(ok.success(), "seeding notes failed");
    }

    /// Runs restic itself on the installation's repository (opened with
    /// its key file); returns stdout, and fails the test when restic does.
    pub fn restic(&self, args: &[&str]) -> String {
        let out = Command::new("restic")
            .args(["--no-cache", "-r"])
            .arg(self.path(".upshift/repo"))
            .arg("--password-file")
            .arg(self.path(".upshift/repo.key"))
            .args(args)
            .output()
            .expect("restic runs (scripts/install-test-deps.sh installs it)");
        assert!(
            out.status.success(),
            "restic {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        stop_services(&self.dir);
        stop_postgres(&self.dir);
    }
}

/// Stops (immediate shutdown) the cluster `upshift demo --store postgres`
/// started in `dir/postgres`, if it runs, as the data directory's owner.
pub fn stop_postgres(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let data = dir.join("postgres/data");
    let Ok(meta) = std::fs::metadata(data.join("postmaster.pid")) else {
        return;
    };
    let Some(pg_ctl) = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pg_ctl"))
        .find(|p| p.is_file())
    else {
        return;
    };
    let as_owner = Command::new("setpriv")
        .arg(format!("--reuid={}", meta.uid()))
        .arg(format!("--regid={}", meta.gid()))
        .args(["--clear-groups", "--"])
        .arg(&pg_ctl)
        .arg("-D")
        .arg(&data)
        .args(["-m", "immediate", "-w", "stop"])
        .current_dir("/")
        .output();
    // Not root: the cluster is the invoking user's own.
    if !as_owner.is_ok_and(|o| o.status.success()) {
        let _ = Command::new(&pg_ctl)
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Stops whatever the pidfiles of `dir` name.
pub fn stop_services(dir: &Path) {
    for e in std::fs::read_dir(dir.join("run"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some(pid) = std::fs::read_to_string(e.path())
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            // The whole process group: a service runs in a session of its own.
            let _ = Command::new("kill")
                .args(["-9", "--", &format!("-{pid}")])
                .status();
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

/// Starts `upshift -m upshift.toml ARGS` in the installation, in a process
/// group of its own (as a shell puts a foreground job), without waiting.
pub fn spawn(demo: &Demo, args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new(env!("CARGO_BIN_EXE_upshift"))
        .args(["-m", "upshift.toml"])
        .args(args)
        .current_dir(&demo.dir)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Step ids of hop `hop` (1-based) of the demo's 1.0.0 → 3.0.0 plan.
pub fn steps_of(hop: usize) -> Vec<String> {
    let demo_plan = upshift(&super::repo())
        .args([
            "-m",
            "examples/demo/upshift.toml",
            "--json",
            "plan",
            "--to",
            "3.0.0",
        ])
        .run()
        .json();
    demo_plan["hops"][hop - 1]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// A shell command that says it runs (`NAME.reached`), then waits until the
/// test lets it go (`NAME.go`).
pub fn gate(name: &str) -> String {
    format!("touch {name}.reached; while [ ! -e {name}.go ]; do sleep 0.02; done")
}

/// Waits for a spawned upshift: its exit code and stderr.
pub fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Demo {
    /// The window's `announce` command becomes the gate `window`: a run
    /// stops there, inside the window, before any service is stopped.
    pub fn gate_the_window(&self) {
        let m = std::fs::read_to_string(self.path("upshift.toml")).unwrap();
        let gated = m.replace(
            "retry_after = 60",
            &format!("retry_after = 60\nannounce = \"{}\"", gate("window")),
        );
        assert_ne!(gated, m);
        std::fs::write(self.path("upshift.toml"), gated).unwrap();
    }

    /// A catalog in `cat/` whose 1.1.0 has a data step that is the gate
    /// `migrate`: a run stops there, after the swap (pass `--catalog cat`).
    pub fn gate_a_data_step(&self) {
        let cat = std::fs::read_to_string(super::repo().join("catalogs/demo.toml"))
            .unwrap()
            .replace(
                "[[release]]\nversion = \"2.0.0\"",
                &format!(
                    "[[release.data_steps]]\nid = \"gate\"\ndescription = \"wait for the test\"\nrun = \"{}\"\n\n[[release]]\nversion = \"2.0.0\"",
                    gate("migrate")
                ),
            );
        assert!(cat.contains("migrate.go"));
        std::fs::create_dir(self.path("cat")).unwrap();
        std::fs::write(self.path("cat/demo.toml"), cat).unwrap();
    }
}

/// One journaled step event, as the journal's `steps` table holds it.
#[derive(Debug, Clone)]
pub struct Event {
    pub hop: i64,
    pub step: String,
    pub state: String,
    pub at_ms: i64,
}

impl Demo {
    /// A catalog in `cat/` (pass `--catalog cat`) whose 2.0.0 accepts
    /// 1.0.0 and has no config rules: its auth refuses the 1.x config and
    /// exits at once, so a run to 2.0.0 fails at `health.auth`, past the
    /// point of no return. `extra` is added to the 2.0.0 release table.
    pub fn catalog_where_2_0_0_cannot_start(&self, extra: &str) {
        let mut cat = std::fs::read_to_string(super::repo().join("catalogs/demo.toml")).unwrap();
        let start = cat.find("[[release.config_rules]]").unwrap();
        let end = cat.find("[[release]]\nversion = \"2.1.0\"").unwrap();
        cat.replace_range(start..end, "");
        let from = "version = \"2.0.0\"\nupgrade_from = \">=1.1.0\"";
        assert!(cat.contains(from), "the demo catalog changed");
        let cat = cat.replace(
            from,
            &format!("version = \"2.0.0\"\nupgrade_from = \">=1.0.0\"\n{extra}"),
        );
        std::fs::create_dir_all(self.path("cat")).unwrap();
        std::fs::write(self.path("cat/demo.toml"), cat).unwrap();
    }

    /// Every step event the journal holds for run `run`, in order.
    pub fn events(&self, run: &str) -> Vec<Event> {
        let db = rusqlite::Connection::open(self.path(".upshift/journal.db")).unwrap();
        let mut st = db
            .prepare("SELECT hop, step, state, at_ms FROM steps WHERE run_id = ?1 ORDER BY seq")
            .unwrap();
        st.query_map([run], |r| {
            Ok(Event {
                hop: r.get(0)?,
                step: r.get(1)?,
                state: r.get(2)?,
                at_ms: r.get(3)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}
