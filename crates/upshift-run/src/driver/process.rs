//! `driver = "process"`: upshift starts the program in the background with
//! its output appended to the log, records its pid, and stops it with
//! SIGTERM, then SIGKILL after `stop_timeout` seconds. On a remote host the
//! same happens there, through ssh.

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use upshift_core::manifest::{ProcessDriver, Service};

use crate::error::{StepError, StepResult};
use crate::host::Target;

/// Where the pid of service `name` is kept (`pidfile`, default `run/NAME.pid`).
pub fn pidfile(name: &str, conf: &ProcessDriver, t: &Target) -> PathBuf {
    let p = conf
        .pidfile
        .clone()
        .unwrap_or_else(|| format!("run/{name}.pid"));
    t.path(p)
}

fn read_pid(t: &Target, path: &std::path::Path) -> Option<u32> {
    t.host.read_to_string(path).ok()?.trim().parse().ok()
}

/// A start of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Its recorded pid was alive: nothing was done.
    AlreadyRunning,
    /// Launched; its output is appended to its log from this byte on.
    Launched { log_from: u64 },
}

/// The live pid the service's pidfile names, if it names one.
pub fn running(name: &str, conf: &ProcessDriver, t: &Target) -> Option<u32> {
    read_pid(t, &pidfile(name, conf, t)).filter(|p| t.host.pid_alive(*p))
}

/// Starts the service unless its recorded pid is alive (idempotent).
/// With `listener` (socket activation, this machine only), the program
/// inherits it as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID` its own pid.
pub fn start(
    name: &str,
    conf: &ProcessDriver,
    svc: &Service,
    t: &Target,
    listener: Option<BorrowedFd<'_>>,
) -> StepResult<Started> {
    let pidfile = pidfile(name, conf, t);
    if running(name, conf, t).is_some() {
        return Ok(Started::AlreadyRunning);
    }
    let listener = listener.filter(|_| !t.is_remote());
    // The socket it is handed is upshift's own, on its public address.
    if let Some(taken) = port_taken(svc, t).filter(|_| listener.is_none()) {
        return Err(
            StepError::msg(format!("cannot start {name}: {taken}")).hint(Some(format!(
                "that is not the {name} upshift started ({} names no live process): \
             stop it, then run the command again",
                pidfile.display()
            ))),
        );
    }
    let log = super::log_path(name, svc, t);
    for dir in [log.parent(), pidfile.parent()].into_iter().flatten() {
        t.host
            .create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let workdir = conf.workdir.as_ref().map_or(t.dir.clone(), |w| t.path(w));
    // The program runs in a session of its own (setsid), so it outlives
    // upshift, its terminal and a Ctrl-C there; its pid leads its process
    // group, which `stop` signals whole (workers included). The session's
    // shell writes its own pid to the pidfile before it runs the program
    // (a plain command is exec'd, so that pid is the program's own): a
    // kill of upshift at any moment never leaves an untracked copy.
    let inner = if simple(&conf.start) {
        format!("exec {}", conf.start)
    } else {
        conf.start.clone()
    };
    let tmp = pidfile.with_extension("pid.new");
    use crate::host::q;
    // LISTEN_PID names the session's shell, which execs the program (a
    // compound start command must end in `exec PROGRAM` for it to match).
    let activation = if listener.is_some() {
        "export LISTEN_PID=$$ && "
    } else {
        ""
    };
    let recorded = format!(
        "echo $$ > {} && mv -f {} {} && {activation}{inner}",
        q(&tmp),
        q(&tmp),
        q(&pidfile)
    );
    // The log's length before the launch is printed: what this start
    // writes begins there (the log is appended to across starts).
    let cmd = format!(
        "from=$(wc -c <\"$UPSHIFT_LOG\" 2>/dev/null || echo 0); setsid sh -c {} </dev/null >>\"$UPSHIFT_LOG\" 2>&1 & echo $from",
        q(&recorded)
    );
    // A pidfile naming a dead process is stale: the new one replaces it.
    t.host
        .remove_file(&pidfile)
        .map_err(|e| format!("cannot remove {}: {e}", pidfile.display()))?;
    let log_env = log.to_string_lossy();
    let env = [("UPSHIFT_LOG", log_env.as_ref())];
    let out = match listener {
        Some(fd) => crate::proc::sh_passing(&cmd, &workdir, &env, fd),
        None => t.host.sh(&cmd, &workdir, &env),
    }
    .map_err(|e| format!("cannot start {name}: {e}"))?;
    if !out.ok {
        return Err(format!("cannot start {name}: {}", out.stderr.trim()).into());
    }
    let log_from = out.stdout.trim().parse().unwrap_or(0);
    match wait_for_pid(t, &pidfile, Duration::from_secs(10)) {
        Some(_) => Ok(Started::Launched { log_from }),
        None => Err(format!(
            "cannot start {name}: its session never wrote {} (see {})",
            pidfile.display(),
            log.display()
        )
        .into()),
    }
}

/// Why the service is known not to run: its pidfile names a process
/// that is gone. `None` while it runs, or when no pidfile says.
pub fn exited(name: &str, conf: &ProcessDriver, t: &Target) -> Option<String> {
    let pid = read_pid(t, &pidfile(name, conf, t))?;
    (!t.host.pid_alive(pid)).then(|| format!("{name} exited (pid {pid} is gone)"))
}

/// Waits (with a deadline) until `pidfile` names a pid.
fn wait_for_pid(t: &Target, pidfile: &std::path::Path, within: Duration) -> Option<u32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(pid) = read_pid(t, pidfile) {
            return Some(pid);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The service's public address, when another process already listens
/// there: a stray copy left by a kill before its pidfile was written, or
/// an old version, would answer the health check for the new one. Only
/// the public address is checked (a health check may go through a proxy
/// that rightly listens), and only on this machine (the holder is read
/// from /proc).
fn port_taken(svc: &Service, t: &Target) -> Option<String> {
    if t.is_remote() {
        return None;
    }
    let addr = svc.public_address.as_deref()?;
    let port: u16 = addr.rsplit_once(':')?.1.parse().ok()?;
    let holder = crate::proc::port_holder(port)?;
    Some(format!("its address {addr} is already held by {holder}"))
}

/// Stops the service: SIGTERM, then SIGKILL after the timeout (idempotent).
pub fn stop(name: &str, conf: &ProcessDriver, t: &Target) -> StepResult<()> {
    let pidfile = pidfile(name, conf, t);
    let Some(pid) = read_pid(t, &pidfile) else {
        return Ok(());
    };
    let grace = conf
        .stop_timeout
        .map_or(Duration::from_secs(10), |t| t.duration());
    if t.host.group_alive(pid) {
        t.host.signal_group(pid, libc::SIGTERM);
        if !wait_gone(t, pid, grace) {
            t.host.signal_group(pid, libc::SIGKILL);
            if !wait_gone(t, pid, Duration::from_secs(5)) {
                return Err(format!("{name} (pid {pid}) did not stop, even after SIGKILL").into());
            }
        }
    }
    t.host
        .remove_file(&pidfile)
        .map_err(|e| StepError::msg(format!("cannot remove {}: {e}", pidfile.display())))
}

/// Waits until no process of the group `pid` leads is left.
fn wait_gone(t: &Target, pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !t.host.group_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !t.host.group_alive(pid)
}

/// A start command the shell can `exec` as it is: one program with its
/// arguments, no shell syntax, no `VAR=value` prefix, no builtin.
fn simple(cmd: &str) -> bool {
    let first = cmd.split_whitespace().next().unwrap_or("");
    !first.is_empty()
        && !first.contains('=')
        && !matches!(
            first,
            "cd" | "exec" | "export" | "set" | "." | "source" | "ulimit" | "umask"
        )
        && !cmd.chars().any(|c| ";&|()<>`$\n\\'\"{}*?".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes whose process group is `pgid`.
    fn members(pgid: u32) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|st| {
                    let rest: Vec<&str> = st.rsplit(") ").next().unwrap_or("").split(' ').collect();
                    rest.first() != Some(&"Z") && rest.get(2) == Some(&pgid.to_string().as_str())
                })
            })
            .collect()
    }

    /// A server that runs its workers as children (gunicorn-style) stops
    /// whole: the stop signals the group, not only the recorded pid.
    /// A process service `srv` with no address or health check.
    fn plain_service() -> Service {
        let m = upshift_core::manifest::parse_manifest(
            "upshift.toml",
            "[installation]\nname = \"t\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n[services.srv]\ndriver = \"process\"\n[services.srv.process]\nstart = \"x\"\n",
        )
        .unwrap();
        m.services["srv"].clone()
    }

    /// The pidfile exists before the program runs (its session's shell
    /// writes it first): a kill of upshift right after the launch can
    /// never leave a copy that nothing tracks.
    #[test]
    fn the_pidfile_is_written_before_the_program_runs() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::local(dir.path());
        let conf = ProcessDriver {
            start: "cp run/srv.pid seen.pid; exec sleep 300".into(),
            pidfile: None,
            workdir: None,
            stop_timeout: Some(upshift_core::manifest::Seconds::from_secs(5)),
            socket_activation: false,
        };
        let svc = plain_service();
        // A stale pidfile from an earlier, dead copy is replaced.
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/srv.pid"), "999999999\n").unwrap();
        start("srv", &conf, &svc, &t, None).unwrap();
        let recorded = std::fs::read_to_string(dir.path().join("run/srv.pid")).unwrap();
        let seen = dir.path().join("seen.pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen.exists() {
            assert!(Instant::now() < deadline, "the program never ran");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), recorded);
        let pid: u32 = recorded.trim().parse().unwrap();
        assert!(crate::proc::pid_alive(pid));
        stop("srv", &conf, &t).unwrap();
        assert!(!crate::proc::group_alive(pid));
    }

    #[test]
    fn stop_ends_the_workers_a_service_forked() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::local(dir.path());
        let conf = ProcessDriver {
            start: "sleep 300 & sleep 301 & wait".into(),
            pidfile: None,
            workdir: None,
            stop_timeout: Some(upshift_core::manifest::Seconds::from_secs(5)),
            socket_activation: false,
        };
        let svc = plain_service();
        start("srv", &conf, &svc, &t, None).unwrap();
        let pid: u32 = std::fs::read_to_string(dir.path().join("run/srv.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The shell and its two workers, in a group (and session) of their own.
        let deadline = Instant::now() + Duration::from_secs(10);
        while members(pid).len() < 3 {
            assert!(
                Instant::now() < deadline,
                "workers never started: {:?}",
                members(pid)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        stop("srv", &conf, &t).unwrap();
        assert!(members(pid).is_empty(), "left running: {:?}", members(pid));
    }

    #[test]
    fn only_plain_commands_are_execd() {
        assert!(super::simple(
            "current/bin/upshift-demo auth --config config/auth.toml"
        ));
        for compound in [
            "cd app && ./run",
            "FOO=1 ./bin",
            "./a; ./b",
            "./a | tee x",
            "echo $HOME",
        ] {
            assert!(!super::simple(compound), "{compound}");
        }
    }
}
