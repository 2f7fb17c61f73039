//! A `psql` session holding a repeatable-read transaction open while
//! `pg_dump` runs, so that the row counts recorded with a snapshot and the
//! dump see the same data: the transaction exports its snapshot
//! (`pg_export_snapshot()`), counts rows in it, and `pg_dump --snapshot=ID`
//! dumps exactly that snapshot. The session ends (and the transaction with
//! it) when the last holder drops it, after the archiver read the dump.
//! <https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-SNAPSHOT-SYNCHRONIZATION>
//! <https://www.postgresql.org/docs/current/app-pgdump.html>

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::children::Tracked;
use crate::command::{collect_stderr, Cmd};
use crate::error::{BackupError, Result};

/// How long the counting queries may take before the session is abandoned.
const COUNT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The line `psql` echoes once every answer before it has been printed.
const DONE: &str = "upshift:session-ready";

/// An open session with its exported snapshot.
pub(crate) struct Session {
    child: Mutex<Option<(Child, ChildStdin)>>,
    _tracked: Tracked,
    /// The exported snapshot's id, for `pg_dump --snapshot`.
    pub(crate) snapshot: String,
}

impl Session {
    /// Starts `psql` (`cmd`, connection options set), opens the
    /// transaction, exports its snapshot and runs `query` in it; returns
    /// the session and the query's output lines.
    pub(crate) fn open(cmd: &Cmd, query: &str) -> Result<(Session, Vec<String>)> {
        let (mut child, tracked) = cmd.spawn_piped()?;
        let mut stdin = child.stdin.take().expect("piped");
        let lines = read_lines(child.stdout.take().expect("piped"));
        let stderr = collect_stderr(child.stderr.take().expect("piped"));
        let script = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\n\
             SELECT pg_export_snapshot();\n{query};\n\\echo {DONE}\n"
        );
        let answer = stdin
            .write_all(script.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| e.to_string())
            .and_then(|()| until_done(&lines));
        let mut out = match answer {
            Ok(out) if !out.is_empty() => out,
            other => {
                drop(stdin);
                let _ = child.kill();
                let status = child
                    .wait()
                    .map_err(|e| BackupError::io("cannot wait for", "psql", e))?;
                let mut err = stderr.join().unwrap_or_default();
                if let Err(why) = other {
                    err.extend_from_slice(format!(" ({why})").as_bytes());
                }
                return Err(cmd.failed(status, &err));
            }
        };
        let snapshot = out.remove(0);
        let session = Session {
            child: Mutex::new(Some((child, stdin))),
            _tracked: tracked,
            snapshot,
        };
        Ok((session, out))
    }
}

/// Reads `stdout` line by line on a thread.
fn read_lines(stdout: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The lines before [`DONE`]; an error when `psql` stops (it exits on the
/// first failing statement) or takes longer than [`COUNT_LIMIT`].
fn until_done(lines: &Receiver<String>) -> std::result::Result<Vec<String>, String> {
    let deadline = Instant::now() + COUNT_LIMIT;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line == DONE => return Ok(out),
            Ok(line) if line.is_empty() => {}
            Ok(line) => out.push(line),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("no answer within {COUNT_LIMIT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => return Err("psql ended".into()),
        }
    }
}

impl Drop for Session {
    /// Ends the transaction: `psql` exits at the end of its input.
    fn drop(&mut self) {
        let taken = self.child.lock().map(|mut c| c.take());
        if let Ok(Some((mut child, stdin))) = taken {
            drop(stdin);
            if child.wait().is_err() {
                let _ = child.kill();
            }
        }
    }
}
