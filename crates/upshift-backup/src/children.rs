//! Children: every program a locked upshift command starts (a dump, a
//! restore, a hook, a data step) is recorded while it runs, by pid and
//! start time, with upshift's own pid and start time, so that when upshift
//! is killed the next command that takes the lock can find what it left
//! running and stop it before it acts (an orphaned schema migration must
//! not keep migrating a database that a rollback is restoring).
//!
//! The record is one small file per child in a directory beside the
//! journal, written by whichever layer starts the program (this crate's
//! tools, the runner's shell commands) without a journal handle; it is
//! removed when the child has been waited for. A file whose child is gone
//! (after a power loss, say) or whose pid now names another process (its
//! start time differs) is stale and removed.
//!
//! Nothing is recorded until [`record_in`] names the directory: commands
//! that take no lock (`status`) start nothing that a later command stops.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// From now on, this process records its children in `dir`.
pub fn record_in(dir: &Path) {
    *DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.to_path_buf());
}

/// The record of one running child; removed when dropped (after the wait).
#[must_use = "the record is removed when this is dropped"]
pub struct Tracked {
    file: Option<PathBuf>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Records the child `pid`, started to run `what`. A record that cannot
/// be written is no reason to fail the step: the child is simply not
/// stopped after a crash, as before.
pub fn track(pid: u32, what: &str) -> Tracked {
    let dir = DIR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(dir) = dir else {
        return Tracked { file: None };
    };
    let me = std::process::id();
    let (Some(started), Some(my_start)) = (start_time(pid), start_time(me)) else {
        return Tracked { file: None };
    };
    let record = Record {
        pid,
        started,
        parent: me,
        parent_started: my_start,
        what: first_line(what),
    };
    let file = dir.join(pid.to_string());
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, record.to_text()))
        .is_ok();
    Tracked {
        file: written.then_some(file),
    }
}

/// A child left running by an upshift process that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub pid: u32,
    /// Its command (first line, as started).
    pub what: String,
    file: PathBuf,
}

impl Left {
    /// Forgets the record (after the child was stopped).
    pub fn forget(&self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The children recorded in `dir` that still run while the upshift that
/// started them does not. Records of children that are gone are removed.
pub fn left_in(dir: &Path) -> Vec<Left> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let file = entry.path();
        let record = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| Record::from_text(&t));
        let Some(r) = record else {
            let _ = std::fs::remove_file(&file);
            continue;
        };
        if start_time(r.parent) == Some(r.parent_started) {
            continue; // its upshift still runs: not ours to stop
        }
        if start_time(r.pid) != Some(r.started) {
            let _ = std::fs::remove_file(&file);
            continue; // gone, or the pid was reused
        }
        left.push(Left {
            pid: r.pid,
            what: r.what,
            file,
        });
    }
    left.sort_by_key(|l| l.pid);
    left
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`, see https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html);
/// `None` when no such process lives (zombies included).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted from the last ')'.
    let rest = stat.rsplit_once(") ")?.1;
    let fields: Vec<&str> = rest.split(' ').collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    // `rest` starts at field 3 (state); start time is field 22.
    fields.get(22 - 3)?.parse().ok()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// The text of one record: `pid started parent parent_started` on the
/// first line, the command on the second.
struct Record {
    pid: u32,
    started: u64,
    parent: u32,
    parent_started: u64,
    what: String,
}

impl Record {
    fn to_text(&self) -> String {
        format!(
            "{} {} {} {}\n{}\n",
            self.pid, self.started, self.parent, self.parent_started, self.what
        )
    }

    fn from_text(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        let nums: Vec<u64> = lines
            .next()?
            .split(' ')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        let [pid, started, parent, parent_started] = nums[..] else {
            return None;
        };
        Some(Record {
            pid: u32::try_from(pid).ok()?,
            started,
            parent: u32::try_from(parent).ok()?,
            parent_started,
            what: lines.next().unwrap_or("").to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_is_read_and_a_missing_pid_has_none() {
        assert!(start_time(std::process::id()).is_some());
        assert_eq!(start_time(u32::MAX - 1), None);
    }

    #[test]
    fn a_child_of_a_live_upshift_is_not_left_and_a_dead_one_is_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let started = start_time(pid).unwrap();
        // Recorded by this (live) process: not left.
        let mine = Record {
            pid,
            started,
            parent: std::process::id(),
            parent_started: start_time(std::process::id()).unwrap(),
            what: "sleep 30".into(),
        };
        std::fs::write(d.path().join(pid.to_string()), mine.to_text()).unwrap();
        assert!(left_in(d.path()).is_empty());
        // Recorded by an upshift that is gone: left, with its command.
        let orphan = Record {
            parent: u32::MAX - 1,
            ..mine
        };
        std::fs::write(d.path().join(pid.to_string()), orphan.to_text()).unwrap();
        let left = left_in(d.path());
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].pid, left[0].what.as_str()), (pid, "sleep 30"));
        // The child ends: its record is removed, and so is a garbled one.
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::write(d.path().join("garbled"), "x y\n").unwrap();
        assert!(left_in(d.path()).is_empty());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_reused_pid_is_not_taken_for_the_child() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let wrong_start = Record {
            pid: me,
            started: start_time(me).unwrap() + 1,
            parent: u32::MAX - 1,
            parent_started: 1,
            what: "pg_restore".into(),
        };
        std::fs::write(d.path().join(me.to_string()), wrong_start.to_text()).unwrap();
        assert!(left_in(d.path()).is_empty());
    }
}
