//! Programs a killed upshift left running (a data step, `pg_restore`,
//! `psql`, a hook): found in the record of children beside the journal and
//! stopped, whole process group, before the next locked command acts. An
//! orphaned migration that keeps migrating while a rollback restores the
//! database would corrupt it.

use std::time::{Duration, Instant};

use upshift_backup::children;

use crate::error::{Result, RunError};
use crate::proc;
use crate::state::StateDir;

/// How long an orphan gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);
/// How long a SIGKILLed group may take to go.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Stops every child a dead upshift left in `state`, then records this
/// process's own children there. Returns one line per child stopped.
pub fn take_over(state: &StateDir) -> Result<Vec<String>> {
    let mut stopped = crate::rehearsal::sweep(state);
    stopped.extend(stop_left_in(&state.children())?);
    children::record_in(&state.children());
    Ok(stopped)
}

/// Stops every child a dead upshift left recorded in `dir`; one line each.
pub(crate) fn stop_left_in(dir: &std::path::Path) -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    for left in children::left_in(dir) {
        stop(left.pid).map_err(|()| {
            RunError::Failed(format!(
                "pid {} (`{}`), left running by an upshift that was killed, does not stop \
                 even on SIGKILL; stop it (`kill -9 -- -{}`), then run the command again",
                left.pid, left.what, left.pid
            ))
        })?;
        left.forget();
        stopped.push(format!(
            "stopped pid {} (`{}`), left running by an upshift that was killed",
            left.pid, left.what
        ));
    }
    Ok(stopped)
}

/// SIGTERM to the group, then SIGKILL; `Err` if it outlives both.
fn stop(pid: u32) -> std::result::Result<(), ()> {
    proc::signal_group(pid, libc::SIGTERM);
    if gone_within(pid, TERM_GRACE) {
        return Ok(());
    }
    proc::signal_group(pid, libc::SIGKILL);
    if gone_within(pid, KILL_GRACE) {
        Ok(())
    } else {
        Err(())
    }
}

fn gone_within(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if !proc::group_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
