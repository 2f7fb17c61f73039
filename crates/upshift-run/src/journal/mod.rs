//! The journal: a durable record of every run and every step transition,
//! written before the step acts. SQLite in WAL mode with `synchronous=FULL`,
//! so a power loss after a write returns leaves the write on disk. It is
//! checked when opened ([`integrity`]); a run checks at every step that the
//! journal it writes is still the one at its path ([`Journal::whereabouts`]).

mod figures;
mod integrity;
mod presence;
mod rehearsals;

pub use figures::{hop_window_ms, Figures, RunView};
pub use presence::Whereabouts;
pub use rehearsals::RehearsalRow;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use upshift_core::plan::StepId;

use crate::detail::Detail;
use crate::error::{Result, RunError};

/// State of one step, as journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Started,
    Done,
    Failed,
    Undone,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Started => "started",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Undone => "undone",
        }
    }
    fn parse(s: &str) -> Option<StepState> {
        [
            StepState::Started,
            StepState::Done,
            StepState::Failed,
            StepState::Undone,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Running,
    RollingBack,
    Succeeded,
    RolledBack,
    Failed,
    RollbackFailed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::RollingBack => "rolling_back",
            Outcome::Succeeded => "succeeded",
            Outcome::RolledBack => "rolled_back",
            Outcome::Failed => "failed",
            Outcome::RollbackFailed => "rollback_failed",
        }
    }
    fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Running,
            Outcome::RollingBack,
            Outcome::Succeeded,
            Outcome::RolledBack,
            Outcome::Failed,
            Outcome::RollbackFailed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
    /// Whether an operator (or `resume`) still has to finish this run.
    pub fn unfinished(self) -> bool {
        matches!(
            self,
            Outcome::Running | Outcome::RollingBack | Outcome::RollbackFailed
        )
    }
}

/// One run, as listed by `history`.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub installation: String,
    pub product: String,
    pub from: String,
    pub to: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub maintenance_ms: i64,
    pub outcome: Outcome,
    /// Where the installation was left (`to`, `from`, or an intermediate version).
    pub at_version: Option<String>,
    pub error: Option<String>,
    pub snapshots: Vec<String>,
    #[serde(skip)]
    pub plan_json: String,
}

/// One journaled step event.
#[derive(Debug, Clone, Serialize)]
pub struct StepEvent {
    pub seq: i64,
    pub hop: usize,
    pub step: StepId,
    pub state: StepState,
    pub at_ms: i64,
    pub detail: Option<Detail>,
}

/// The lock's holder.
#[derive(Debug, Clone, Serialize)]
pub struct LockHolder {
    pub run_id: String,
    pub owner: String,
    pub host: String,
    pub pid: u32,
    pub acquired_ms: i64,
    pub heartbeat_ms: i64,
}

/// A SQLite error of the journal at `path`: damage when SQLite says the
/// file is damaged or not a database, else the error itself.
fn classify(path: &Path, source: rusqlite::Error) -> RunError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match source.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => RunError::JournalDamaged {
            path: path.to_path_buf(),
            what: source.to_string(),
        },
        _ => RunError::Journal {
            path: path.to_path_buf(),
            source,
        },
    }
}

const LOCK_SELECT: &str =
    "SELECT run_id, owner, host, pid, acquired_ms, heartbeat_ms FROM locks WHERE installation = ?1";

fn lock_row(r: &rusqlite::Row) -> rusqlite::Result<LockHolder> {
    Ok(LockHolder {
        run_id: r.get(0)?,
        owner: r.get(1)?,
        host: r.get(2)?,
        pid: r.get::<_, i64>(3)? as u32,
        acquired_ms: r.get(4)?,
        heartbeat_ms: r.get(5)?,
    })
}

/// An open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// The file this handle opened (device and inode).
    file: Option<presence::FileId>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, installation TEXT NOT NULL, product TEXT NOT NULL,
  from_version TEXT NOT NULL, to_version TEXT NOT NULL, plan_json TEXT NOT NULL,
  started_ms INTEGER NOT NULL, ended_ms INTEGER, maintenance_ms INTEGER NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL, at_version TEXT, error TEXT, snapshots TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS steps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id),
  hop INTEGER NOT NULL, step TEXT NOT NULL, state TEXT NOT NULL, at_ms INTEGER NOT NULL, detail TEXT);
CREATE INDEX IF NOT EXISTS steps_run ON steps(run_id, seq);
CREATE TABLE IF NOT EXISTS locks (
  installation TEXT PRIMARY KEY, run_id TEXT NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, acquired_ms INTEGER NOT NULL, heartbeat_ms INTEGER NOT NULL);
";

impl Journal {
    /// Opens (creating if needed) the journal at `path`, after checking it:
    /// a damaged one is [`RunError::JournalDamaged`].
    pub fn open(path: &Path) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        let j = Journal {
            conn,
            path: path.to_path_buf(),
            file: presence::FileId::of(path),
        };
        j.prepare()?;
        Ok(j)
    }

    /// Opens the journal at `path` only if it exists.
    pub fn open_existing(path: &Path) -> Result<Option<Journal>> {
        match path.exists() {
            true => Journal::open(path).map(Some),
            false => Ok(None),
        }
    }

    /// Settings, the check, then the schema. A damaged journal is left
    /// exactly as found: no checkpoint when this connection closes, which
    /// would drop the log frames SQLite could not read.
    fn prepare(&self) -> Result<()> {
        use rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE as NO_CKPT;
        let err = |e| classify(&self.path, e);
        let c = &self.conn;
        c.set_db_config(NO_CKPT, true).map_err(err)?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        c.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        let wal = presence::side_file(&self.path, "-wal");
        if let Some(what) = integrity::damage(c, &wal).map_err(err)? {
            return Err(self.damaged_file(what));
        }
        c.set_db_config(NO_CKPT, false).map_err(err)?;
        c.execute_batch(SCHEMA).map_err(err)?;
        c.execute_batch(rehearsals::SCHEMA).map_err(err)
    }

    fn damaged_file(&self, what: String) -> RunError {
        RunError::JournalDamaged {
            path: self.path.clone(),
            what,
        }
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> RunError {
        classify(&self.path, source)
    }

    /// Records a new run as running.
    pub fn begin_run(&self, r: &RunRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO runs (id, installation, product, from_version, to_version, plan_json, started_ms, outcome, at_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?4)",
                params![r.id, r.installation, r.product, r.from, r.to, r.plan_json, r.started_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Appends a step transition. Called *before* the step acts (`Started`)
    /// and after it finished (`Done`/`Failed`/`Undone`).
    pub fn record(
        &self,
        run: &str,
        hop: usize,
        step: &StepId,
        state: StepState,
        detail: Option<&Detail>,
    ) -> Result<()> {
        let detail = detail.map(Detail::to_text);
        self.conn
            .execute(
                "INSERT INTO steps (run_id, hop, step, state, at_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, hop as i64, step.to_string(), state.as_str(), now_ms(), detail],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every step event of a run, in order.
    pub fn events(&self, run: &str) -> Result<Vec<StepEvent>> {
        let mut st = self
            .conn
            .prepare("SELECT seq, hop, step, state, at_ms, detail FROM steps WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        type Row = (i64, i64, String, String, i64, Option<String>);
        let rows = st
            .query_map([run], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let rows: Vec<Row> = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(seq, hop, step, state, at_ms, detail)| {
                let step: StepId = step.parse().map_err(|e| self.damaged(seq, e))?;
                let state = StepState::parse(&state)
                    .ok_or_else(|| self.damaged(seq, format!("unknown step state `{state}`")))?;
                let detail = detail
                    .map(|d| Detail::read(&step, state, &d))
                    .transpose()
                    .map_err(|e| self.damaged(seq, e))?;
                Ok(StepEvent {
                    seq,
                    hop: hop as usize,
                    step,
                    state,
                    at_ms,
                    detail,
                })
            })
            .collect()
    }

    fn damaged(&self, seq: i64, why: impl std::fmt::Display) -> RunError {
        RunError::Damaged {
            path: self.path.clone(),
            what: format!("step event {seq}: {why}"),
        }
    }

    /// Sets the run's outcome and where the installation is. `error`
    /// replaces the run's error when given; a success clears it; else the
    /// error stays (a rollback after a failure keeps why the run failed).
    /// The first end stays the run's end: a later rollback does not move it.
    pub fn set_outcome(
        &self,
        run: &str,
        outcome: Outcome,
        at_version: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let ended = (!outcome.unfinished()).then(now_ms);
        let cleared = outcome == Outcome::Succeeded;
        self.conn
            .execute(
                "UPDATE runs SET outcome = ?2, at_version = ?3,
                   error = CASE WHEN ?6 THEN NULL ELSE COALESCE(?4, error) END,
                   ended_ms = COALESCE(ended_ms, ?5) WHERE id = ?1",
                params![run, outcome.as_str(), at_version, error, ended, cleared],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A run with the figures read from its events (window, duration,
    /// version installed).
    pub fn view(&self, run: RunRecord) -> Result<RunView> {
        let events = self.events(&run.id)?;
        Ok(RunView::of(run, &events))
    }

    /// Remembers a snapshot taken by the run.
    pub fn add_snapshot(&self, run: &str, snapshot: &str) -> Result<()> {
        let r = self
            .run(run)?
            .ok_or_else(|| RunError::NothingToDo(format!("no run {run}")))?;
        let mut list = r.snapshots;
        if !list.iter().any(|s| s == snapshot) {
            list.push(snapshot.to_string());
        }
        let text = serde_json::to_string(&list).expect("strings serialise");
        self.conn
            .execute(
                "UPDATE runs SET snapshots = ?2 WHERE id = ?1",
                params![run, text],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn row(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
        let snaps: String = r.get(12)?;
        Ok(RunRecord {
            id: r.get(0)?,
            installation: r.get(1)?,
            product: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
            plan_json: r.get(5)?,
            started_ms: r.get(6)?,
            ended_ms: r.get(7)?,
            maintenance_ms: r.get(8)?,
            outcome: {
                let text: String = r.get(9)?;
                Outcome::parse(&text).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        9,
                        rusqlite::types::Type::Text,
                        format!("unknown run outcome `{text}`").into(),
                    )
                })?
            },
            at_version: r.get(10)?,
            error: r.get(11)?,
            snapshots: serde_json::from_str(&snaps).unwrap_or_default(),
        })
    }

    const COLS: &'static str = "id, installation, product, from_version, to_version, plan_json, started_ms, ended_ms, maintenance_ms, outcome, at_version, error, snapshots";

    /// One run by id (or unique id prefix).
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        let sql = format!("SELECT {} FROM runs WHERE id = ?1 OR id LIKE ?1 || '%' ORDER BY started_ms DESC LIMIT 1", Self::COLS);
        self.conn
            .query_row(&sql, [id], Self::row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every run of an installation, oldest first.
    pub fn runs(&self, installation: &str) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {} FROM runs WHERE installation = ?1 ORDER BY started_ms, rowid",
            Self::COLS
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([installation], Self::row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The newest run that did not finish, if any.
    pub fn unfinished(&self, installation: &str) -> Result<Option<RunRecord>> {
        Ok(self
            .runs(installation)?
            .into_iter()
            .rev()
            .find(|r| r.outcome.unfinished()))
    }

    /// Takes the installation's lock for `holder`, atomically. Returns the
    /// current holder instead when someone else has it.
    pub fn try_lock(
        &mut self,
        installation: &str,
        holder: &LockHolder,
    ) -> Result<Result<(), LockHolder>> {
        let path = self.path.clone();
        let err = |source| classify(&path, source);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let current = tx
            .query_row(LOCK_SELECT, [installation], lock_row)
            .optional()
            .map_err(err)?;
        if let Some(c) = current {
            return Ok(Err(c));
        }
        tx.execute(
            "INSERT INTO locks (installation, run_id, owner, host, pid, acquired_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![installation, holder.run_id, holder.owner, holder.host, holder.pid as i64, holder.acquired_ms, holder.heartbeat_ms],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Ok(()))
    }

    /// The current lock holder, if any.
    pub fn lock_holder(&self, installation: &str) -> Result<Option<LockHolder>> {
        self.conn
            .query_row(LOCK_SELECT, [installation], lock_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Removes the lock if `pid` holds it (or unconditionally with `None`).
    pub fn unlock(&self, installation: &str, pid: Option<u32>) -> Result<bool> {
        let n = match pid {
            Some(p) => self.conn.execute(
                "DELETE FROM locks WHERE installation = ?1 AND pid = ?2",
                params![installation, p as i64],
            ),
            None => self
                .conn
                .execute("DELETE FROM locks WHERE installation = ?1", [installation]),
        }
        .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Refreshes the heartbeat of the lock `pid` holds.
    pub fn heartbeat(&self, installation: &str, pid: u32) -> Result<()> {
        self.conn
            .execute(
                "UPDATE locks SET heartbeat_ms = ?3 WHERE installation = ?1 AND pid = ?2",
                params![installation, pid as i64, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
