//! One run per installation: a lock row in the journal with owner, host,
//! pid and a heartbeat refreshed by a background thread.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Result, RunError};
use crate::journal::{now_ms, Journal, LockHolder};
use crate::proc::pid_alive;

/// A heartbeat older than this marks a lock held from another host as stale.
pub const STALE_AFTER_MS: i64 = 60_000;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn owner() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", unsafe { libc::getuid() }))
}

/// Why a holder looks dead, if it does. On this host only a gone process
/// is dead: a run suspended for minutes (SIGSTOP, a laptop's lid) still
/// holds its lock. From another host, only the heartbeat can tell.
pub fn staleness(h: &LockHolder) -> Option<String> {
    if h.host == hostname() {
        if !pid_alive(h.pid) {
            return Some(format!("process {} is not running on this host", h.pid));
        }
        // A live holder refreshes its heartbeat every second: only a silent
        // pid can have been reused (a wall clock stepped forward would
        // otherwise make a live holder's start look later than its lock).
        let silent = now_ms() - h.heartbeat_ms > STALE_AFTER_MS;
        return (silent && started_after(h.pid, h.acquired_ms)).then(|| {
            format!(
                "pid {} now belongs to a program started after the lock was taken",
                h.pid
            )
        });
    }
    let age = now_ms() - h.heartbeat_ms;
    (age > STALE_AFTER_MS).then(|| format!("its last heartbeat was {}s ago", age / 1000))
}

/// Whether process `pid` started after `ms` (Unix time, milliseconds): a
/// pid that holds a lock must have started before taking it, so a later
/// start means the pid was reused. The boot time is known to the second
/// only, hence the two seconds of slack.
fn started_after(pid: u32, ms: i64) -> bool {
    let Some(ticks) = upshift_backup::children::start_time(pid) else {
        return false;
    };
    let boot_s = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<i64>().ok())
    });
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let (Some(boot_s), true) = (boot_s, hz > 0) else {
        return false;
    };
    let started_ms = boot_s * 1000 + (ticks as i64) * 1000 / hz as i64;
    started_ms > ms + 2000
}

/// Holds the lock until dropped, refreshing its heartbeat.
pub struct LockGuard {
    journal: PathBuf,
    installation: String,
    pid: u32,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Programs a killed upshift had left running, stopped when the lock
    /// was taken (one line each, for the operator).
    pub stopped: Vec<String>,
}

/// Takes the lock for `run_id`. With `takeover`, a stale lock left by a
/// crashed run is taken over (that is what `resume` and `rollback` are for);
/// without it, a stale lock is reported with the command that breaks it.
pub fn acquire(
    journal: &mut Journal,
    installation: &str,
    run_id: &str,
    takeover: bool,
) -> Result<LockGuard> {
    let pid = std::process::id();
    let me = LockHolder {
        run_id: run_id.into(),
        owner: owner(),
        host: hostname(),
        pid,
        acquired_ms: now_ms(),
        heartbeat_ms: now_ms(),
    };
    for _ in 0..2 {
        match journal.try_lock(installation, &me)? {
            Ok(()) => {
                let mut guard = start_heartbeat(journal, installation, pid);
                let state = crate::state::StateDir::of_journal(journal.path());
                guard.stopped = crate::orphans::take_over(&state)?;
                return Ok(guard);
            }
            Err(h) => match staleness(&h) {
                Some(_) if takeover || left_by_a_command(journal, &h)? => {
                    journal.unlock(installation, Some(h.pid))?;
                }
                Some(why) => {
                    return Err(RunError::StaleLock {
                        installation: installation.into(),
                        run_id: h.run_id,
                        owner: h.owner,
                        host: h.host,
                        pid: h.pid,
                        why,
                    })
                }
                None => {
                    return Err(RunError::Locked {
                        installation: installation.into(),
                        run_id: h.run_id,
                        owner: h.owner,
                        host: h.host,
                        pid: h.pid,
                        since: format!("{}s ago", (now_ms() - h.acquired_ms) / 1000),
                    })
                }
            },
        }
    }
    Err(RunError::Failed(format!(
        "could not take the lock of {installation}: it changed hands while trying"
    )))
}

/// Whether a dead holder was a command that leaves nothing to finish (a
/// backup, restore or verify killed midway), not a run that `resume` or
/// `rollback` must end: its lock can go without asking.
fn left_by_a_command(journal: &Journal, h: &LockHolder) -> Result<bool> {
    Ok(match journal.run(&h.run_id)? {
        Some(r) => !r.outcome.unfinished(),
        None => true,
    })
}

fn start_heartbeat(journal: &Journal, installation: &str, pid: u32) -> LockGuard {
    let (tx, rx) = mpsc::channel::<()>();
    let path = journal.path().to_path_buf();
    let inst = installation.to_string();
    let thread = std::thread::spawn(move || {
        let Ok(j) = Journal::open(&path) else { return };
        // A timer, not synchronisation: wake every second until told to stop.
        while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT_EVERY) {
            let _ = j.heartbeat(&inst, pid);
        }
    });
    LockGuard {
        journal: journal.path().to_path_buf(),
        installation: installation.into(),
        pid,
        stop: Some(tx),
        thread: Some(thread),
        stopped: Vec::new(),
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A journal deleted meanwhile is not created anew just to unlock.
        if let Ok(Some(j)) = Journal::open_existing(&self.journal) {
            let _ = j.unlock(&self.installation, Some(self.pid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: String, pid: u32, heartbeat_ms: i64) -> LockHolder {
        LockHolder {
            run_id: "r".into(),
            owner: "o".into(),
            host,
            pid,
            acquired_ms: 0,
            heartbeat_ms,
        }
    }

    #[test]
    fn a_live_process_here_holds_its_lock_however_old_its_heartbeat() {
        let me = std::process::id();
        let mut mine = holder(hostname(), me, 0);
        mine.acquired_ms = now_ms();
        assert_eq!(staleness(&mine), None);
        // A pid no process has (beyond the kernel's pid_max).
        assert!(staleness(&holder(hostname(), 0x7fff_fff0, now_ms())).is_some());
        assert!(staleness(&holder("elsewhere".into(), me, 0)).is_some());
        assert_eq!(staleness(&holder("elsewhere".into(), me, now_ms())), None);
    }

    /// A lock taken (by its record) long before the process with that pid
    /// started: the pid was reused, the lock is stale.
    #[test]
    fn a_reused_pid_does_not_hold_the_lock() {
        let me = std::process::id();
        let mut old = holder(hostname(), me, now_ms() - 3_600_000);
        old.acquired_ms = now_ms() - 3_600_000;
        let why = staleness(&old).expect("stale");
        assert!(why.contains("started after the lock was taken"), "{why}");
        // Its heartbeat fresh, the holder is the live process, whatever the
        // clocks say.
        old.heartbeat_ms = now_ms();
        assert_eq!(staleness(&old), None);
    }
}
