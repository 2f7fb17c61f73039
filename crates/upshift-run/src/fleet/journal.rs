//! The fleet's journal: one row per event of a rollout (an installation's
//! backup, its apply, a rollback), written before and after each acts, so
//! `fleet status` and `fleet history` can say where a rollout is, and
//! the order the installations were upgraded in can be checked.
//!
//! Two stores hold it: SQLite beside the fleet file (one worker, guarded
//! by a file lock) and PostgreSQL (`[journal] url = "postgres://…"`), which
//! several workers on several machines share: each takes an installation
//! by a row lock held for as long as it works on it, so none is upgraded
//! twice and a dead worker's installation (its connection gone, its lock
//! released) is taken over by another.

use serde::Serialize;

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

#[derive(Debug, thiserror::Error)]
#[error("the fleet journal {at}: {why}")]
pub struct FleetJournalError {
    /// The file, or the database without its password.
    pub at: String,
    pub why: String,
}

pub type Result<T> = std::result::Result<T, FleetJournalError>;

/// Held while a worker works on one installation of a rollout; dropped,
/// the installation is free for another worker.
pub trait Claim: Send {}

/// Where a fleet's journal is kept.
pub trait FleetStore: Send + Sync {
    /// The rollout every worker of this fleet joins: the unfinished one,
    /// or a new one to `target`, whose installations are `names`.
    fn join_or_begin(&self, target: &str, names: &[String]) -> Result<(String, bool)>;
    fn record(&self, run: &str, who: &str, event: &str, detail: Option<&str>) -> Result<()>;
    fn finish(&self, run: &str, outcome: &str) -> Result<()>;
    /// Every rollout, oldest first.
    fn runs(&self) -> Result<Vec<FleetRun>>;
    /// The events of rollout `run`, in order.
    fn events(&self, run: &str) -> Result<Vec<FleetEvent>>;
    /// Takes installation `who` of rollout `run`, or `None` when another
    /// worker holds it.
    fn claim(&self, run: &str, who: &str) -> Result<Option<Box<dyn Claim>>>;
    /// Whether other workers may share this journal.
    fn shared(&self) -> bool;
}

/// A fleet's journal, in whichever store the fleet names.
pub struct FleetJournal {
    store: Box<dyn FleetStore>,
}

impl FleetJournal {
    pub fn new(store: Box<dyn FleetStore>) -> FleetJournal {
        FleetJournal { store }
    }

    pub fn join_or_begin(&self, target: &str, names: &[String]) -> Result<(String, bool)> {
        self.store.join_or_begin(target, names)
    }

    pub fn record(&self, run: &str, who: &str, event: &str, detail: Option<&str>) -> Result<()> {
        self.store.record(run, who, event, detail)
    }

    pub fn finish(&self, run: &str, outcome: &str) -> Result<()> {
        self.store.finish(run, outcome)
    }

    pub fn runs(&self) -> Result<Vec<FleetRun>> {
        self.store.runs()
    }

    pub fn events(&self, run: &str) -> Result<Vec<FleetEvent>> {
        self.store.events(run)
    }

    pub fn claim(&self, run: &str, who: &str) -> Result<Option<Box<dyn Claim>>> {
        self.store.claim(run, who)
    }

    pub fn shared(&self) -> bool {
        self.store.shared()
    }

    /// The newest rollout that has not finished, if any.
    pub fn unfinished(&self) -> Result<Option<FleetRun>> {
        Ok(self.runs()?.into_iter().rev().find(|r| r.outcome.is_none()))
    }

    /// Rollout `run`, if it exists.
    pub fn run(&self, run: &str) -> Result<Option<FleetRun>> {
        Ok(self.runs()?.into_iter().find(|r| r.id == run))
    }

    /// The last event of installation `who` in rollout `run`.
    pub fn last(&self, run: &str, who: &str) -> Result<Option<String>> {
        Ok(self
            .events(run)?
            .into_iter()
            .rev()
            .find(|e| e.installation == who)
            .map(|e| e.event))
    }
}
