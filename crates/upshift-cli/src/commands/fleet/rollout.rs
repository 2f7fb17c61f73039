//! `fleet apply`, `resume`, `rollback`, `status` and `history`: the
//! rollout of [`upshift_run::fleet::Rollout`] over the installations'
//! own `upshift` processes, its journal beside the fleet file.

use std::fs::File;
use std::path::{Path, PathBuf};

use upshift_core::fleet::{Fleet, FleetPlan};
use upshift_run::fleet::{
    FleetJournal, FleetStore, PostgresFleet, Rollout, RolloutEnd, SqliteFleet,
};

use super::members::Children;
use crate::error::{code, CliError};
use crate::settings::Settings;

/// `.upshift-fleet/` beside the fleet file: journal, lock, logs.
fn state_dir(fleet: &Path) -> PathBuf {
    fleet
        .parent()
        .unwrap_or(Path::new("."))
        .join(".upshift-fleet")
}

/// The fleet's journal: its `[journal]` database, else SQLite beside the file.
fn journal(path: &Path, fleet: &Fleet) -> Result<FleetJournal, CliError> {
    let store: Box<dyn FleetStore> = match &fleet.journal {
        None => Box::new(SqliteFleet::open(&state_dir(path).join("journal.db")).map_err(failed)?),
        Some(j) => {
            let base = path.parent().unwrap_or(Path::new("."));
            let password = j
                .password
                .as_ref()
                .map(|r| upshift_backup::read_secret(r, base))
                .transpose()
                .map_err(|why| {
                    CliError::BadInput(format!("`[journal] password` of {}: {why}", path.display()))
                })?;
            Box::new(
                PostgresFleet::open(j.url.get_ref(), password.as_deref(), &j.name)
                    .map_err(failed)?,
            )
        }
    };
    Ok(FleetJournal::new(store))
}

/// The fleet file alone (for commands that need no plan).
fn fleet_only(path: &Path) -> Result<Fleet, CliError> {
    Ok(super::plan::load(path)?.2)
}

/// Held while a rollout runs: one worker at a time on a journal beside
/// the fleet file (a shared journal has a row lock per installation instead).
fn lock(fleet: &Path, journal: &FleetJournal) -> Result<Option<File>, CliError> {
    if journal.shared() {
        return Ok(None);
    }
    let dir = state_dir(fleet);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(_) => Err(CliError::Locked(format!(
            "another `upshift fleet` command is rolling out {} (lock {}): wait for it, or see `upshift fleet status {}`",
            fleet.display(),
            path.display(),
            fleet.display()
        ))),
    }
}

fn failed(e: upshift_run::fleet::FleetJournalError) -> CliError {
    CliError::Failed(e.to_string())
}

pub fn apply(settings: &Settings, path: &Path, to: Option<&str>) -> Result<i32, CliError> {
    let (fleet, plan) = super::plan::make(settings, path, to)?;
    let journal = journal(path, &fleet)?;
    let _lock = lock(path, &journal)?;
    let target = to.unwrap_or(OWN_TARGETS);
    if !journal.shared() {
        if let Some(open) = journal.unfinished().map_err(failed)? {
            return Err(unfinished(path, &open));
        }
    }
    let question = format!(
        "Upgrade {} installations of {} in {} waves (each backed up first)?",
        plan.installations.len(),
        path.display(),
        plan.waves.len()
    );
    if !settings.confirm(&question) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let names: Vec<String> = plan.installations.iter().map(|m| m.name.clone()).collect();
    let (run, created) = journal.join_or_begin(target, &names).map_err(failed)?;
    if !created {
        let open = journal.run(&run).map_err(failed)?;
        if open.as_ref().is_some_and(|o| o.target != target) {
            return Err(unfinished(path, &open.expect("checked")));
        }
        crate::printer::note!(
            settings.printer,
            "joining the fleet's rollout {run}, with the other workers on its journal"
        );
    }
    roll_out(settings, path, &fleet, &plan, &journal, &run)
}

/// Recorded as a rollout's target when each installation has its own `to`.
const OWN_TARGETS: &str = "each installation's own `to`";

fn unfinished(path: &Path, open: &upshift_run::fleet::FleetRun) -> CliError {
    CliError::BadInput(format!(
        "the fleet's rollout {} (to {}) has not finished: `upshift fleet resume {}` continues it, `upshift fleet rollback {}` undoes it",
        open.id,
        open.target,
        path.display(),
        path.display()
    ))
}

fn recorded_target(run: &upshift_run::fleet::FleetRun) -> Option<&str> {
    (run.target != OWN_TARGETS).then_some(run.target.as_str())
}

pub fn resume(settings: &Settings, path: &Path) -> Result<i32, CliError> {
    let journal = journal(path, &fleet_only(path)?)?;
    let _lock = lock(path, &journal)?;
    let Some(open) = journal.unfinished().map_err(failed)? else {
        return Err(CliError::Failed(format!(
            "no unfinished rollout of {} to resume",
            path.display()
        )));
    };
    let (fleet, plan) = super::plan::make(settings, path, recorded_target(&open))?;
    roll_out(settings, path, &fleet, &plan, &journal, &open.id)
}

pub fn rollback(settings: &Settings, path: &Path) -> Result<i32, CliError> {
    let journal = journal(path, &fleet_only(path)?)?;
    let _lock = lock(path, &journal)?;
    let Some(last) = journal.runs().map_err(failed)?.pop() else {
        return Err(CliError::Failed(format!(
            "{} has no rollout to roll back",
            path.display()
        )));
    };
    let (fleet, plan) = super::plan::make(settings, path, recorded_target(&last))?;
    if !settings.confirm(&format!(
        "Roll back every installation rollout {} upgraded?",
        last.id
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let children = children(settings, path, &plan, &last.id);
    let rollout = rollout_of(&fleet, &plan, &journal, &children);
    let done = rollout.roll_back_upgraded(&last.id).map_err(failed)?;
    journal.finish(&last.id, "rolled back").map_err(failed)?;
    settings
        .printer
        .json(&serde_json::json!({ "run_id": last.id, "rolled_back": done }));
    settings.printer.human(format!(
        "rolled back: {}",
        if done.is_empty() {
            "none".to_string()
        } else {
            done.join(", ")
        }
    ));
    Ok(code::OK)
}

fn children<'a>(
    settings: &Settings,
    path: &'a Path,
    plan: &'a FleetPlan,
    run: &str,
) -> Children<'a> {
    Children {
        fleet_file: path,
        plan,
        logs: state_dir(path).join("logs").join(run),
        catalog: settings.catalog_dir.clone(),
    }
}

fn rollout_of<'a>(
    fleet: &'a Fleet,
    plan: &'a FleetPlan,
    journal: &'a FleetJournal,
    children: &'a Children<'a>,
) -> Rollout<'a> {
    static SAY: fn(&str) = |line| eprintln!("fleet: {line}");
    Rollout {
        fleet,
        plan,
        journal,
        members: children,
        say: &SAY,
        worker: format!(
            "{} pid {}",
            upshift_run::lock::hostname(),
            std::process::id()
        ),
    }
}

fn roll_out(
    settings: &Settings,
    path: &Path,
    fleet: &Fleet,
    plan: &FleetPlan,
    journal: &FleetJournal,
    run: &str,
) -> Result<i32, CliError> {
    upshift_run::signals::install();
    let children = children(settings, path, plan, run);
    let end = rollout_of(fleet, plan, journal, &children)
        .run(run)
        .map_err(failed)?;
    settings.printer.json(&end);
    let (text, exit) = match &end {
        RolloutEnd::Done { run_id } => (format!("fleet rollout {run_id}: every installation upgraded"), code::OK),
        RolloutEnd::Stopped { run_id, failed, rolled_back } => (
            format!(
                "fleet rollout {run_id} stopped: {}{}",
                failed.iter().map(|(n, why)| format!("{n} failed ({why})")).collect::<Vec<_>>().join("; "),
                if rolled_back.is_empty() { String::new() } else { format!("; rolled back: {}", rolled_back.join(", ")) }
            ),
            code::FAILED,
        ),
        RolloutEnd::Interrupted { run_id, at, why } => (
            format!(
                "fleet rollout {run_id} interrupted{}: {why}\n`upshift fleet resume {}` continues it",
                if at.is_empty() { String::new() } else { format!(" at {at}") },
                path.display()
            ),
            code::INTERRUPTED,
        ),
    };
    settings.printer.human(text);
    Ok(exit)
}

pub fn status(settings: &Settings, path: &Path) -> Result<i32, CliError> {
    let journal = journal(path, &fleet_only(path)?)?;
    let Some(run) = journal.runs().map_err(failed)?.pop() else {
        settings.printer.json(&serde_json::json!({ "run": null }));
        settings
            .printer
            .human(format!("{}: no rollout yet", path.display()));
        return Ok(code::OK);
    };
    let events = journal.events(&run.id).map_err(failed)?;
    let mut last: Vec<(String, String)> = Vec::new();
    for e in events.iter().filter(|e| !e.installation.is_empty()) {
        match last.iter_mut().find(|(n, _)| *n == e.installation) {
            Some(slot) => slot.1 = e.event.clone(),
            None => last.push((e.installation.clone(), e.event.clone())),
        }
    }
    settings.printer.json(&serde_json::json!({ "run": run, "installations": last.iter().map(|(n, e)| serde_json::json!({"name": n, "last": e})).collect::<Vec<_>>(), "events": events }));
    let rows: Vec<Vec<String>> = last
        .iter()
        .map(|(n, e)| vec![n.clone(), e.clone()])
        .collect();
    settings.printer.human(format!(
        "rollout {} to {}: {}\n{}",
        run.id,
        run.target,
        run.outcome.as_deref().unwrap_or("unfinished"),
        crate::render::table(&["INSTALLATION", "LAST STEP"], &rows)
    ));
    Ok(code::OK)
}

pub fn history(settings: &Settings, path: &Path) -> Result<i32, CliError> {
    let runs = journal(path, &fleet_only(path)?)?.runs().map_err(failed)?;
    settings.printer.json(&runs);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.target.clone(),
                r.outcome.clone().unwrap_or_else(|| "unfinished".into()),
                r.finished_ms
                    .map(|f| format!("{:.1} s", (f - r.started_ms) as f64 / 1000.0))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    settings.printer.human(crate::render::table(
        &["RUN", "TARGET", "OUTCOME", "DURATION"],
        &rows,
    ));
    Ok(code::OK)
}
