//! The fleet's journal in SQLite beside the fleet file, for one worker.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};

use super::journal::{Claim, FleetEvent, FleetJournalError, FleetRun, FleetStore, Result};
use crate::journal::now_ms;

pub struct SqliteFleet {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// One worker only (the fleet command's file lock): every claim succeeds.
struct Alone;
impl Claim for Alone {}

impl SqliteFleet {
    /// Opens (creating) the journal at `path`.
    pub fn open(path: &Path) -> Result<SqliteFleet> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let err = |e: rusqlite::Error| FleetJournalError {
            at: path.display().to_string(),
            why: e.to_string(),
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
        Ok(SqliteFleet {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> FleetJournalError {
        FleetJournalError {
            at: self.path.display().to_string(),
            why: e.to_string(),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FleetStore for SqliteFleet {
    fn join_or_begin(&self, target: &str, _names: &[String]) -> Result<(String, bool)> {
        if let Some(open) = self.runs()?.into_iter().rev().find(|r| r.outcome.is_none()) {
            return Ok((open.id, false));
        }
        let id = format!("fleet-{}", now_ms());
        self.conn()
            .execute(
                "INSERT INTO fleet_runs (id, target, started_ms) VALUES (?1, ?2, ?3)",
                params![id, target, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok((id, true))
    }

    fn record(&self, run: &str, who: &str, event: &str, detail: Option<&str>) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO fleet_events (run_id, installation, event, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, who, event, now_ms(), detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn finish(&self, run: &str, outcome: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE fleet_runs SET finished_ms = ?2, outcome = ?3 WHERE id = ?1",
                params![run, now_ms(), outcome],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn runs(&self) -> Result<Vec<FleetRun>> {
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

    fn events(&self, run: &str) -> Result<Vec<FleetEvent>> {
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

    fn claim(&self, _run: &str, _who: &str) -> Result<Option<Box<dyn Claim>>> {
        Ok(Some(Box::new(Alone)))
    }

    fn shared(&self) -> bool {
        false
    }
}
