//! The fleet's journal: one row per event of a rollout (an installation's
//! backup, its apply, a rollback), written before and after each acts, so
//! `fleet status` and `fleet history` can say where a rollout is, and
//! the order the installations were upgraded in can be checked.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::journal::now_ms;

/// What happened to one installation, or to the rollout.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FleetEvent {
    pub run_id: String,
    /// The installation, or `""` for the rollout itself.
    pub installation: String,
    /// `backup.started`, `apply.done`, `rollback.failed`, `rollout.stopped`, …
    pub event: String,
    pub at_ms: i64,
    pub detail: Option<String>,
}

/// One rollout of the fleet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FleetRun {
    pub id: String,
    pub target: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// `done`, `failed`, `rolled back`; none while it runs (or if it was killed).
    pub outcome: Option<String>,
}

/// The journal of a fleet, beside its fleet file (`.upshift-fleet/journal.db`).
pub struct FleetJournal {
    conn: Mutex<Connection>,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("the fleet journal {path}: {source}")]
pub struct FleetJournalError {
    pub path: PathBuf,
    #[source]
    pub source: rusqlite::Error,
}

type Result<T> = std::result::Result<T, FleetJournalError>;

impl FleetJournal {
    /// Opens (creating) the journal at `path`.
    pub fn open(path: &Path) -> Result<FleetJournal> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let err = |source| FleetJournalError {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;
             CREATE TABLE IF NOT EXISTS fleet_runs (
                 id TEXT PRIMARY KEY, target TEXT NOT NULL, started_ms INTEGER NOT NULL,
                 finished_ms INTEGER, outcome TEXT);
             CREATE TABLE IF NOT EXISTS fleet_events (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
                 installation TEXT NOT NULL, event TEXT NOT NULL, at_ms INTEGER NOT NULL,
                 detail TEXT);",
        )
        .map_err(err)?;
        Ok(FleetJournal {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> FleetJournalError {
        FleetJournalError {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a rollout and returns its id.
    pub fn begin(&self, target: &str) -> Result<String> {
        let id = format!("fleet-{}", now_ms());
        self.conn()
            .execute(
                "INSERT INTO fleet_runs (id, target, started_ms) VALUES (?1, ?2, ?3)",
                params![id, target, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Records an event of installation `who` (or of the rollout, `""`).
    pub fn record(&self, run: &str, who: &str, event: &str, detail: Option<&str>) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO fleet_events (run_id, installation, event, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, who, event, now_ms(), detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Ends the rollout with `outcome`.
    pub fn finish(&self, run: &str, outcome: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE fleet_runs SET finished_ms = ?2, outcome = ?3 WHERE id = ?1",
                params![run, now_ms(), outcome],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every rollout, oldest first.
    pub fn runs(&self) -> Result<Vec<FleetRun>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT id, target, started_ms, finished_ms, outcome FROM fleet_runs ORDER BY started_ms, id")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(FleetRun {
                    id: r.get(0)?,
                    target: r.get(1)?,
                    started_ms: r.get(2)?,
                    finished_ms: r.get(3)?,
                    outcome: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The newest rollout that has not finished, if any.
    pub fn unfinished(&self) -> Result<Option<FleetRun>> {
        Ok(self.runs()?.into_iter().rev().find(|r| r.outcome.is_none()))
    }

    /// The events of rollout `run`, in order.
    pub fn events(&self, run: &str) -> Result<Vec<FleetEvent>> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT run_id, installation, event, at_ms, detail FROM fleet_events WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run], |r| {
                Ok(FleetEvent {
                    run_id: r.get(0)?,
                    installation: r.get(1)?,
                    event: r.get(2)?,
                    at_ms: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The last event of installation `who` in rollout `run`.
    pub fn last(&self, run: &str, who: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT event FROM fleet_events WHERE run_id = ?1 AND installation = ?2 ORDER BY seq DESC LIMIT 1",
                params![run, who],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
