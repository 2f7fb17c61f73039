//! `apply`, `resume` and `rollback`.

mod backup;
mod config;
mod fingerprint;
mod handover;
mod interrupt;
mod journaling;
mod reconcile;
mod rollback;
mod rollback_point;
mod runner;
mod space;
mod steps;

use std::path::PathBuf;

use serde::Serialize;
use upshift_core::manifest::Loaded;
use upshift_core::Plan;

use crate::error::{Result, RunError};
use crate::host::Target;
use crate::journal::{now_ms, Journal, Outcome, RunRecord};
use crate::lock;
use crate::state::StateDir;

pub use config::{config_preview, ConfigChange};
pub use runner::Runner;

/// Where things are for one installation.
pub struct Setup<'a> {
    pub loaded: &'a Loaded,
    /// The manifest file (its `installation.version` is kept current).
    pub manifest_path: PathBuf,
    /// The manifest's directory on this machine: the repository's path in
    /// `[backup]` is relative to it.
    pub manifest_dir: PathBuf,
    /// upshift's own files for this installation (journal, staged configs,
    /// mirror, compose overrides), beside the manifest.
    pub state: StateDir,
    /// The installation's machine and directory (`manifest_dir` itself
    /// unless `installation.host` names another machine).
    pub target: Target,
    pub progress: &'a dyn Progress,
}

/// Live progress of a run (the CLI prints it on stderr).
pub trait Progress {
    /// A step changed state.
    fn step(&self, event: &StepProgress);
    /// A free-form line (rollback progress, warnings).
    fn note(&self, text: &str);
    /// Progress of one backup, verify or restore inside a step (a spinner
    /// naming the store on a terminal); nothing by default.
    fn backup(&self) -> Box<dyn upshift_backup::Progress + '_> {
        Box::new(upshift_backup::NoProgress)
    }
}

/// One step's change of state, for [`Progress`].
#[derive(Debug, Clone)]
pub struct StepProgress<'a> {
    /// 1-based hop number and the number of hops.
    pub hop: usize,
    pub hops: usize,
    pub from: &'a str,
    pub to: &'a str,
    pub step: &'a str,
    pub description: &'a str,
    /// `started`, `done` or `failed`.
    pub state: &'a str,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub from: String,
    pub to: String,
    /// The version serving now.
    pub at: String,
    pub outcome: Outcome,
    pub maintenance_ms: i64,
    pub snapshots: Vec<String>,
}

fn new_run_id() -> String {
    format!("r{}-{:04x}", now_ms(), std::process::id() & 0xffff)
}

/// Applies `plan`. Refuses while another run holds the lock (exit 4) or an
/// earlier run is unfinished (exit 3).
pub fn apply(setup: &Setup, plan: &Plan) -> Result<RunSummary> {
    crate::signals::install();
    let mut journal = Journal::open(&setup.state.journal())?;
    let inst = &setup.loaded.manifest.installation.name;
    setup.target.reach()?;
    let run_id = new_run_id();
    let _guard = locked(setup, &mut journal, inst, &run_id, false)?;
    if let Some(r) = journal.unfinished(inst)? {
        return Err(unfinished(&journal, &r));
    }
    if plan.hops.is_empty() {
        return Err(RunError::NothingToDo(format!(
            "{inst} is already at {}: nothing to do",
            plan.to
        )));
    }
    let record = RunRecord {
        id: run_id.clone(),
        installation: inst.clone(),
        product: plan.product.clone(),
        from: plan.from.clone(),
        to: plan.to.clone(),
        started_ms: now_ms(),
        ended_ms: None,
        maintenance_ms: 0,
        outcome: Outcome::Running,
        at_version: Some(plan.from.clone()),
        error: None,
        snapshots: Vec::new(),
        plan_json: serde_json::to_string(plan).expect("plans serialise"),
    };
    journal.begin_run(&record)?;
    Runner::new(setup, journal, run_id, plan.clone())?.run()
}

/// Finishes the interrupted run.
pub fn resume(setup: &Setup) -> Result<RunSummary> {
    crate::signals::install();
    let mut journal = Journal::open(&setup.state.journal())?;
    let inst = &setup.loaded.manifest.installation.name;
    let Some(r) = journal.unfinished(inst)? else {
        return Err(RunError::NothingToDo(format!(
            "{inst} has no interrupted run to resume (see `upshift history`)"
        )));
    };
    setup.target.reach()?;
    let _guard = locked(setup, &mut journal, inst, &r.id, true)?;
    let plan = journaled_plan(&r)?;
    let mut runner = Runner::new(setup, journal, r.id.clone(), plan)?;
    match r.outcome {
        Outcome::RollingBack | Outcome::RollbackFailed => runner.resume_rollback(),
        _ => {
            runner.reconcile()?;
            runner.run()
        }
    }
}

/// Rolls back the unfinished run, or else `run_id` (default: the last run),
/// to the version it started from, with the data of the snapshot taken then.
/// With `to`, to that version instead, one the run passed through (with
/// the data of the snapshot taken just before the hop that left it).
pub fn rollback(setup: &Setup, run_id: Option<&str>, to: Option<&str>) -> Result<RunSummary> {
    // A rollback runs to its end: a signal is remembered, not obeyed.
    crate::signals::install();
    let mut journal = Journal::open(&setup.state.journal())?;
    let inst = &setup.loaded.manifest.installation.name;
    let r = run_to_roll_back(&journal, inst, run_id)?;
    let plan = journaled_plan(&r)?;
    let back_to = rollback_target(&r, &plan, to)?;
    setup.target.reach()?;
    let _guard = locked(setup, &mut journal, inst, &r.id, true)?;
    Runner::new(setup, journal, r.id.clone(), plan)?.rollback_run(back_to)
}

/// Where a rollback of run `r` goes: `to`, or the run's start; as the
/// index of the hop that left that version. Only versions the run passed
/// through, older than the one serving, are accepted.
fn rollback_target(r: &RunRecord, plan: &Plan, to: Option<&str>) -> Result<usize> {
    let Some(to) = to else { return Ok(0) };
    let now = r.at_version.clone().unwrap_or_else(|| r.to.clone());
    let here = plan
        .hops
        .iter()
        .position(|h| h.to == now)
        .map_or(plan.hops.len(), |h| h + 1);
    match plan.hops.iter().position(|h| h.from == to) {
        Some(k) if k < here => Ok(k),
        _ => {
            let passed: Vec<&str> = plan.hops[..here.min(plan.hops.len())]
                .iter()
                .map(|h| h.from.as_str())
                .collect();
            let passed = if passed.is_empty() {
                "none".to_string()
            } else {
                passed.join(", ")
            };
            Err(RunError::BadTarget(format!(
                "run {} cannot go back to {to} from {now}: `--to` takes a version it passed through before {now} ({passed})",
                r.id
            )))
        }
    }
}

/// What `rollback` would do, for the question asked before it: the run,
/// the versions, and whether the data is kept or replaced. Refuses what
/// `rollback` would refuse, before anything is asked.
pub fn rollback_preview(setup: &Setup, run_id: Option<&str>, to: Option<&str>) -> Result<String> {
    let journal = Journal::open(&setup.state.journal())?;
    let inst = &setup.loaded.manifest.installation.name;
    let r = run_to_roll_back(&journal, inst, run_id)?;
    let plan = journaled_plan(&r)?;
    let k = rollback_target(&r, &plan, to)?;
    let back_to = plan.hops.get(k).map_or(r.from.clone(), |h| h.from.clone());
    let now = r.at_version.clone().unwrap_or_else(|| r.to.clone());
    let head = format!("Roll {inst} back from {now} to {back_to} (run {})?", r.id);
    if !rollback::ponr_crossed(&journal.events(&r.id)?, &plan, k) {
        return Ok(format!("{head} Its data was not changed: it is kept."));
    }
    Ok(if rollback::keeps_data(setup, &now, &back_to) {
        format!(
            "{head} {back_to} runs on the data as it is (the catalog says so): the data is kept, the software and config go back; a safety snapshot is taken first."
        )
    } else {
        format!(
            "{head} Data written since the snapshot taken before {back_to} was left is replaced by it; a safety snapshot of the data as it is now is taken first."
        )
    })
}

/// The run `rollback` acts on: `run_id`, else the unfinished run, else
/// the last one; refused when it is already back at its start.
fn run_to_roll_back(journal: &Journal, inst: &str, run_id: Option<&str>) -> Result<RunRecord> {
    let r = match (run_id, journal.unfinished(inst)?) {
        (Some(id), _) => journal.run(id)?.ok_or_else(|| {
            RunError::NothingToDo(format!(
                "no run `{id}` in {} (see `upshift history`)",
                journal.path().display()
            ))
        })?,
        (None, Some(r)) => r,
        (None, None) => journal
            .runs(inst)?
            .into_iter()
            .next_back()
            .ok_or_else(|| RunError::NothingToDo(format!("{inst} has no runs to roll back")))?,
    };
    // Done already only when the run's start version serves: a run whose
    // later hop failed and was undone stands at an intermediate version,
    // and goes back to its start from there.
    let at_start = r.at_version.as_deref().is_none_or(|v| v == r.from);
    if matches!(r.outcome, Outcome::RolledBack | Outcome::Failed) && at_start {
        return Err(RunError::NothingToDo(format!(
            "run {} is already rolled back: {} serves",
            r.id,
            r.at_version.unwrap_or(r.from)
        )));
    }
    if let Some(u) = journal.unfinished(inst)? {
        if u.id != r.id {
            return Err(unfinished(journal, &u));
        }
    }
    Ok(r)
}

fn journaled_plan(r: &RunRecord) -> Result<Plan> {
    serde_json::from_str(&r.plan_json).map_err(|e| {
        RunError::Failed(format!(
            "run {}: the journaled plan is unreadable: {e}",
            r.id
        ))
    })
}

/// Takes the lock, saying which programs a killed upshift had left
/// running and that were stopped first.
fn locked(
    setup: &Setup,
    journal: &mut Journal,
    installation: &str,
    run_id: &str,
    takeover: bool,
) -> Result<lock::LockGuard> {
    let guard = lock::acquire(journal, installation, run_id, takeover)?;
    for line in &guard.stopped {
        setup.progress.note(line);
    }
    Ok(guard)
}

/// Refuses while a run of `installation` is unfinished (exit 3, naming
/// `upshift resume` and `upshift rollback`): commands that start or stop
/// services outside a run would change what the run's journal says.
pub fn refuse_unfinished(journal: &Journal, installation: &str) -> Result<()> {
    match journal.unfinished(installation)? {
        Some(r) => Err(unfinished(journal, &r)),
        None => Ok(()),
    }
}

fn unfinished(journal: &Journal, r: &RunRecord) -> RunError {
    let at = journal
        .events(&r.id)
        .ok()
        .and_then(|ev| {
            ev.last().map(|e| {
                format!("hop {} step {} ({:?})", e.hop + 1, e.step, e.state).to_lowercase()
            })
        })
        .unwrap_or_else(|| "its start".into());
    RunError::Unfinished {
        run_id: r.id.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        at,
    }
}
