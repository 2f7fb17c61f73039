//! Shared test helpers: manifests from TOML, tags, file checksums.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use upshift_backup::{Phase, Tags};
use upshift_core::manifest::{parse_manifest, Manifest};

/// Parses a manifest; `[installation]` is prepended.
pub fn manifest(body: &str) -> Manifest {
    let src = format!(
        "[installation]\nname = \"test-inst\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n{body}"
    );
    parse_manifest("upshift.toml", &src).unwrap_or_else(|d| panic!("manifest: {d:?}"))
}

pub fn tags(version: &str) -> Tags {
    Tags {
        installation: "test-inst".into(),
        product: "demo".into(),
        version: version.into(),
        phase: Phase::PreUpgrade,
        run_id: "run-1".into(),
        config_fingerprint: "abc123".into(),
    }
}

/// Relative path → file content, for every regular file under `dir`.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.insert(
                p.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
}

/// Puts `dir` first on PATH (for shims that imitate failing tools).
pub fn prepend_path(dir: &Path) {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&old));
    // SAFETY: nextest runs each test in its own process; set before threads start.
    unsafe { std::env::set_var("PATH", std::env::join_paths(paths).unwrap()) };
}

/// Writes an executable shell script `dir/name`.
pub fn shim(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The environment variable that makes a [`child_verify`] test run.
pub const CHILD_VERIFY: &str = "UPSHIFT_TEST_CHILD_VERIFY";

/// The body of a test that does nothing unless [`kill_verify_mid_restore`]
/// started it: then it verifies the latest snapshot of the installation in
/// the directory [`CHILD_VERIFY`] names (its manifest in `upshift.toml`).
pub fn child_verify() {
    let Some(base) = std::env::var_os(CHILD_VERIFY) else {
        return;
    };
    let base = Path::new(&base);
    let m = manifest(&std::fs::read_to_string(base.join("upshift.toml")).unwrap());
    let repo = upshift_backup::Repository::for_manifest(&m, base).unwrap();
    let _ = repo.verify("latest", &m, base, &upshift_backup::NoProgress);
}

/// Writes `body` (without `[installation]`) as `base/upshift.toml`, for
/// [`child_verify`], and returns the parsed manifest.
pub fn write_manifest(base: &Path, body: &str) -> Manifest {
    std::fs::write(base.join("upshift.toml"), body).unwrap();
    manifest(body)
}

/// Runs test `child_test` of this test binary (a [`child_verify`]) in its
/// own process group with `shims` first on PATH, waits until the file
/// `blocked` appears (a shim of the restore tool writes it once the dump
/// is read, then stands still), and kills the whole group with SIGKILL:
/// a `kill -9` of upshift and its tools in the middle of a test restore.
pub fn kill_verify_mid_restore(child_test: &str, base: &Path, shims: &Path, blocked: &Path) {
    use std::os::unix::process::CommandExt;
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![shims.to_path_buf()];
    paths.extend(std::env::split_paths(&old));
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child_test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VERIFY, base)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    upshift_testkit::wait_until(
        "the test restore to start",
        std::time::Duration::from_secs(60),
        || {
            let exited = child.try_wait().unwrap();
            assert!(exited.is_none(), "the verify ended on its own: {exited:?}");
            blocked.exists()
        },
    );
    let group = format!("-{}", child.id());
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    // The blocked tool ran in a group of its own (as upshift starts them):
    // it outlives the kill, as after a real crash. Stop it, so it does not
    // outlive the test (it holds the test runner's inherited files).
    let pid = std::fs::read_to_string(blocked).unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status();
}

/// The start time of process `pid` (clock ticks after boot, field 22 of
/// `/proc/<pid>/stat`).
pub fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    rest.split_whitespace()
        .nth(22 - 3)
        .unwrap()
        .parse()
        .unwrap()
}

/// The names of temporary databases among `names` that have the shape
/// `upshift_verify_<scope>_<pid>_<start>_<n>`, as (name, scope).
pub fn temp_dbs(names: &str) -> Vec<(String, String)> {
    names
        .lines()
        .filter_map(|n| {
            let parts: Vec<&str> = n.strip_prefix("upshift_verify_")?.split('_').collect();
            (parts.len() == 4).then(|| (n.to_string(), parts[0].to_string()))
        })
        .collect()
}

/// A client writing continuously on its own thread: it calls `write(n)`
/// for n = 1, 2, … until stopped, counting the writes that returned
/// (each one acknowledged by the server).
pub struct Writer {
    acked: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn start(write: impl Fn(u64) + Send + 'static) -> Writer {
        use std::sync::atomic::Ordering::SeqCst;
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (a, s) = (acked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(SeqCst) {
                n += 1;
                write(n);
                a.store(n, SeqCst);
            }
        });
        Writer {
            acked,
            stop,
            thread: Some(thread),
        }
    }

    /// How many writes the server has acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` writes were acknowledged.
    pub fn wait_for(&self, n: u64) {
        upshift_testkit::wait_until(
            "the client's writes",
            std::time::Duration::from_secs(60),
            || self.acked() >= n,
        );
    }

    /// Stops the client; returns how many writes were acknowledged.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("the client panicked");
        }
        self.acked()
    }
}
