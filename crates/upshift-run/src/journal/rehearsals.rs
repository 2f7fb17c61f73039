//! The production journal's record of rehearsals: one row each, naming
//! the plan it rehearsed, its outcome and its report. A rehearsal is not
//! a run: `history`, `resume` and `rollback` never see it.

use rusqlite::params;

use super::Journal;
use crate::error::Result;

/// One rehearsal, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RehearsalRow {
    pub id: String,
    pub installation: String,
    /// [`upshift_core::Plan::id`] of the plan rehearsed.
    pub plan_id: String,
    pub succeeded: bool,
    pub ended_ms: i64,
    /// The saved report, relative to the state directory.
    pub report: String,
}

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rehearsals (
  id TEXT PRIMARY KEY, installation TEXT NOT NULL, plan_id TEXT NOT NULL,
  succeeded INTEGER NOT NULL, ended_ms INTEGER NOT NULL, report TEXT NOT NULL);
";

impl Journal {
    /// Records a finished rehearsal.
    pub fn record_rehearsal(&self, r: &RehearsalRow) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO rehearsals (id, installation, plan_id, succeeded, ended_ms, report)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.id, r.installation, r.plan_id, r.succeeded, r.ended_ms, r.report],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The rehearsals of `plan_id` for `installation`, newest first.
    pub fn rehearsals(&self, installation: &str, plan_id: &str) -> Result<Vec<RehearsalRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, installation, plan_id, succeeded, ended_ms, report FROM rehearsals
                 WHERE installation = ?1 AND plan_id = ?2 ORDER BY ended_ms DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![installation, plan_id], |r| {
                Ok(RehearsalRow {
                    id: r.get(0)?,
                    installation: r.get(1)?,
                    plan_id: r.get(2)?,
                    succeeded: r.get(3)?,
                    ended_ms: r.get(4)?,
                    report: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}
