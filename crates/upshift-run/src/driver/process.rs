//! `driver = "process"`: upshift starts the program in the background with
//! its output appended to the log, records its pid, and stops it with
//! SIGTERM, then SIGKILL after `stop_timeout` seconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use upshift_core::manifest::Service;

use crate::proc::{pid_alive, sh, signal};

fn pidfile(name: &str, svc: &Service, root: &Path) -> PathBuf {
    let p = svc
        .process
        .as_ref()
        .and_then(|p| p.pidfile.clone())
        .unwrap_or_else(|| format!("run/{name}.pid"));
    root.join(p)
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Starts the service unless its recorded pid is alive (idempotent).
pub fn start(name: &str, svc: &Service, root: &Path) -> Result<(), String> {
    let conf = svc
        .process
        .as_ref()
        .ok_or_else(|| format!("service `{name}` has no [services.{name}.process] table"))?;
    let pidfile = pidfile(name, svc, root);
    if read_pid(&pidfile).is_some_and(pid_alive) {
        return Ok(());
    }
    let log = super::log_path(name, svc, root);
    for dir in [log.parent(), pidfile.parent()].into_iter().flatten() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let workdir = conf
        .workdir
        .as_ref()
        .map_or(root.to_path_buf(), |w| root.join(w));
    // The shell backgrounds the program and exits; the program is reaped by init.
    let cmd = format!(
        "{} </dev/null >>\"$UPSHIFT_LOG\" 2>&1 & echo $!",
        conf.start
    );
    let out = sh(&cmd, &workdir, &[("UPSHIFT_LOG", &log.to_string_lossy())])
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid: u32 = out
        .stdout
        .trim()
        .parse()
        .map_err(|_| format!("cannot start {name}: {}", out.stderr.trim()))?;
    let tmp = pidfile.with_extension("pid.tmp");
    std::fs::write(&tmp, format!("{pid}\n"))
        .and_then(|_| std::fs::rename(&tmp, &pidfile))
        .map_err(|e| format!("cannot write {}: {e}", pidfile.display()))?;
    Ok(())
}

/// Stops the service: SIGTERM, then SIGKILL after the timeout (idempotent).
pub fn stop(name: &str, svc: &Service, root: &Path) -> Result<(), String> {
    let pidfile = pidfile(name, svc, root);
    let Some(pid) = read_pid(&pidfile) else {
        return Ok(());
    };
    let grace = Duration::from_secs(
        svc.process
            .as_ref()
            .and_then(|p| p.stop_timeout)
            .unwrap_or(10),
    );
    if pid_alive(pid) {
        signal(pid, libc::SIGTERM);
        if !wait_gone(pid, grace) {
            signal(pid, libc::SIGKILL);
            if !wait_gone(pid, Duration::from_secs(5)) {
                return Err(format!(
                    "{name} (pid {pid}) did not stop, even after SIGKILL"
                ));
            }
        }
    }
    let _ = std::fs::remove_file(&pidfile);
    Ok(())
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !pid_alive(pid)
}
