//! The temporary databases of test restores (`verify` of a PostgreSQL or
//! MariaDB/MySQL store restores its dump into one, dropped afterwards), and
//! the removal of those a run left behind when it was killed mid-restore.
//!
//! A name says who created it:
//! `upshift_verify_<scope>_<pid>_<start>_<n>`, where `scope` is a hash of
//! the installation's name and this host's name, `pid` and `start` identify
//! the creating process (its start time in clock ticks since boot, so a
//! reused pid is told apart) and `n` counts within the process: at most 56
//! characters, within PostgreSQL's (63) and MySQL's (64) limits.
//!
//! A database is removed as stale only when its name has exactly this
//! shape, its scope is this installation on this host, and its creator is
//! provably gone: no process with that pid, or one that started at another
//! time. Anything else — another installation, another host (whose
//! processes cannot be seen from here), a name of another shape (a user's
//! database, or an earlier upshift's) — is left alone.

use std::sync::atomic::{AtomicU32, Ordering};

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::verify::StoreCheck;

/// What every temporary database's name starts with.
pub(crate) const PREFIX: &str = "upshift_verify_";

/// Hex digits of the scope hash.
const SCOPE_LEN: usize = 8;

/// The temporary databases of one installation, as seen from this process.
pub(crate) struct TempDbs {
    scope: String,
    me: Option<Process>,
}

/// A process, as `/proc/<pid>/stat` identifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Process {
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot.
    start: u64,
}

/// The parts of a temporary database's name.
#[derive(Debug, PartialEq, Eq)]
struct Name<'a> {
    scope: &'a str,
    creator: Process,
}

impl TempDbs {
    /// The temporary databases of `installation` on this host.
    pub(crate) fn new(installation: &str) -> TempDbs {
        TempDbs::with_host(installation, &hostname())
    }

    fn with_host(installation: &str, host: &str) -> TempDbs {
        TempDbs {
            scope: scope_of(installation, host),
            me: this_process(),
        }
    }

    /// A fresh name for a temporary database of this process.
    pub(crate) fn fresh_name(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let me = self.me.unwrap_or(Process {
            pid: std::process::id(),
            start: 0,
        });
        name(&self.scope, me, n)
    }

    /// Whether `db` was left by a run of this installation on this host
    /// that is no longer running. Never true when this process cannot
    /// tell processes apart (no `/proc`).
    fn is_stale(&self, db: &str) -> bool {
        let Some(name) = parse(db) else {
            return false;
        };
        if self.me.is_none() || name.scope != self.scope {
            return false;
        }
        match seen(name.creator.pid) {
            Seen::Gone => true,
            Seen::Running(Some(start)) => start != name.creator.start,
            // Cannot tell: it may be the creator.
            Seen::Running(None) => false,
        }
    }

    /// Drops (with `drop_db`) every database of `existing` that a dead run
    /// of this installation left behind. Best effort: a database that
    /// cannot be dropped is reported, and the test restore goes on.
    pub(crate) fn sweep(
        &self,
        existing: Result<Vec<String>>,
        mut drop_db: impl FnMut(&str) -> Result<()>,
    ) -> Swept {
        let mut swept = Swept::default();
        let names = match existing {
            Ok(n) => n,
            Err(e) => {
                swept
                    .failed
                    .push(format!("cannot list temporary databases: {e}"));
                return swept;
            }
        };
        for db in names.iter().filter(|db| self.is_stale(db)) {
            match drop_db(db) {
                Ok(()) => swept.removed.push(db.clone()),
                Err(e) => swept.failed.push(format!("cannot drop {db}: {e}")),
            }
        }
        swept
    }
}

/// What [`TempDbs::sweep`] did.
#[derive(Debug, Default)]
pub(crate) struct Swept {
    removed: Vec<String>,
    failed: Vec<String>,
}

impl Swept {
    /// `check` with what was removed or could not be, in its detail.
    pub(crate) fn noted(self, mut check: StoreCheck) -> StoreCheck {
        if !self.removed.is_empty() {
            check.detail.push_str(&format!(
                "; removed temporary databases left by interrupted runs: {}",
                self.removed.join(", ")
            ));
        }
        if !self.failed.is_empty() {
            check.detail.push_str(&format!(
                "; temporary databases of interrupted runs not removed: {}",
                self.failed.join("; ")
            ));
        }
        check
    }
}

/// The hash that names `installation` on this host in the databases
/// upshift creates in a server (temporary and frozen ones).
pub(crate) fn scope(installation: &str) -> String {
    scope_of(installation, &hostname())
}

fn scope_of(installation: &str, host: &str) -> String {
    let digest = Sha256::digest(format!("{installation}\n{host}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..SCOPE_LEN].to_string()
}

/// The name of the `n`-th temporary database `creator` makes.
fn name(scope: &str, creator: Process, n: u32) -> String {
    format!("{PREFIX}{scope}_{}_{}_{n}", creator.pid, creator.start)
}

/// The parts of `db` when it has exactly the shape [`TempDbs::fresh_name`] makes.
fn parse(db: &str) -> Option<Name<'_>> {
    let rest = db.strip_prefix(PREFIX)?;
    let mut parts = rest.split('_');
    let (scope, pid, start, n) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let hex = scope.len() == SCOPE_LEN
        && scope
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if parts.next().is_some() || !hex || !digits(pid) || !digits(start) || !digits(n) {
        return None;
    }
    Some(Name {
        scope,
        creator: Process {
            pid: pid.parse().ok()?,
            start: start.parse().ok()?,
        },
    })
}

/// The process `pid` now, as far as this process can see it.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// No such process, or a zombie (it has exited).
    Gone,
    /// Running, started at this many clock ticks after boot; `None` when
    /// the start time cannot be read (another user's, under `hidepid`).
    Running(Option<u64>),
}

fn seen(pid: u32) -> Seen {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return if exists(pid) {
            Seen::Running(None)
        } else {
            Seen::Gone
        };
    };
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    let fields: Vec<&str> = match stat.rsplit_once(") ") {
        Some((_, rest)) => rest.split_whitespace().collect(),
        None => return Seen::Running(None),
    };
    if fields.first() == Some(&"Z") {
        return Seen::Gone;
    }
    // Field 22 overall; the fields after comm start at field 3.
    Seen::Running(fields.get(22 - 3).and_then(|f| f.parse().ok()))
}

/// This process, when its start time can be read.
fn this_process() -> Option<Process> {
    let pid = std::process::id();
    match seen(pid) {
        Seen::Running(Some(start)) => Some(Process { pid, start }),
        _ => None,
    }
}

/// Whether a process `pid` exists (also one this user may not signal).
fn exists(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let signalled = unsafe { libc::kill(pid, 0) } == 0;
    signalled || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// This machine's host name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_every_server_and_parse_back() {
        let dbs = TempDbs::with_host("an-installation-with-a-long-name", "host");
        let a = dbs.fresh_name();
        let b = dbs.fresh_name();
        assert_ne!(a, b);
        // pid_max is at most 2^22; start ticks at 100 Hz stay below 10^13
        // for 3000 years of uptime.
        let longest = Process {
            pid: 1 << 22,
            start: 10u64.pow(13) - 1,
        };
        let longest = name(&dbs.scope, longest, u32::MAX);
        assert!(longest.len() <= 63, "{longest}");
        assert!(parse(&longest).is_some());
        let name = parse(&a).unwrap();
        assert_eq!(name.scope, dbs.scope);
        assert_eq!(Some(name.creator), dbs.me);
        assert!(!dbs.is_stale(&a), "this process is alive");
    }

    #[test]
    fn only_dead_runs_of_this_installation_on_this_host_are_stale() {
        let dbs = TempDbs::with_host("inst", "host");
        let me = dbs.me.unwrap();
        let s = &dbs.scope;
        // A pid that no process has: above the kernel's pid_max.
        let dead = format!("{PREFIX}{s}_4194305_{}_0", me.start);
        assert!(dbs.is_stale(&dead));
        // Our pid, reused by another process (another start time).
        assert!(dbs.is_stale(&format!("{PREFIX}{s}_{}_{}_0", me.pid, me.start + 1)));
        for kept in [
            format!("{PREFIX}{s}_{}_{}_3", me.pid, me.start),
            TempDbs::with_host("other", "host").fresh_name(),
            TempDbs::with_host("inst", "other-host").fresh_name(),
            // Shapes upshift did not make, or not this version.
            format!("{PREFIX}{s}_4194305_1"),
            format!("{PREFIX}{s}_4194305_1_0_x"),
            format!("{PREFIX}{}_4194305_1_0", s.to_uppercase()),
            format!("{PREFIX}4194305_123456789"),
            "upshift_verify_notes".to_string(),
            "app".to_string(),
        ] {
            assert!(!dbs.is_stale(&kept), "{kept}");
        }
    }

    #[test]
    fn sweep_drops_the_stale_and_reports_what_it_could_not() {
        let dbs = TempDbs::with_host("inst", "host");
        let me = dbs.me.unwrap();
        let stale = |n: u32| format!("{PREFIX}{}_4194305_{}_{n}", dbs.scope, me.start);
        let live = dbs.fresh_name();
        let listed = vec![stale(0), live.clone(), "app".into(), stale(1)];
        let mut dropped = Vec::new();
        let swept = dbs.sweep(Ok(listed), |db| {
            dropped.push(db.to_string());
            if db == stale(1) {
                Err(crate::BackupError::bad_store("main", "in use"))
            } else {
                Ok(())
            }
        });
        assert_eq!(dropped, [stale(0), stale(1)]);
        let check = swept.noted(StoreCheck {
            ok: true,
            detail: "restored".into(),
        });
        assert!(check.ok);
        assert!(
            check.detail.contains(&format!(
                "removed temporary databases left by interrupted runs: {}",
                stale(0)
            )),
            "{}",
            check.detail
        );
        assert!(check.detail.contains("in use"), "{}", check.detail);
    }
}
