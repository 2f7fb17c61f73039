//! `upshift rehearse`: the plan run on a staging copy of production,
//! production untouched.
//!
//! 1. a fresh verified snapshot of production (under its lock, briefly),
//!    or the one named;
//! 2. [`Materialize`]: the copy generated beside the installation
//!    (`.upshift/staging/ID/`, its own manifest, ports, journal and
//!    repository), recorded as [`active`] so a killed rehearsal's copy is
//!    removed by the next command;
//! 3. the copy started at production's version and health-checked, then
//!    the same plan (same catalog, same hops) run on it by the real
//!    executor ([`crate::executor::apply`]);
//! 4. a [`Report`] from the copy's journal (steps, data steps, windows,
//!    config warnings, health), saved and recorded in production's
//!    journal; the copy torn down unless kept.

pub mod active;
mod error;
mod given;
mod materialize;
mod relocate;
mod report;
mod staging;

use upshift_backup::{Phase, Repository, Tags};
use upshift_core::Plan;

pub use active::sweep;

/// Refuses a copy into the installation `copy` (at `root`) that shares a
/// directory, path, address or database with `source`, or is not of the
/// same product and release.
pub fn check_copy(
    source: &Setup,
    copy: &upshift_core::Loaded,
    root: &std::path::Path,
) -> Result<()> {
    given::check(source, copy, root, &Addresses::of(&source.loaded.manifest))
}
pub use error::{RehearsalError, Result};
pub use materialize::{Materialize, Materialized};
pub use relocate::OwnValues;
pub use report::{require, Failure, HopReport, Report, StagingInfo, StepTime};
pub use staging::Addresses;

use crate::deploy::Control;
use crate::executor::Setup;
use crate::journal::{now_ms, Journal, StepState};
use crate::{lock, RunError};

/// One rehearsal of `plan` for the production installation `production`.
pub struct Rehearsal<'a> {
    pub production: &'a Setup<'a>,
    pub plan: &'a Plan,
    /// A snapshot to start from instead of a fresh one.
    pub snapshot: Option<&'a str>,
    /// Leave the staging copy in place (stopped) for a look.
    pub keep: bool,
    /// The operator's staging installation (`--staging MANIFEST`), loaded
    /// against production's catalog, and its manifest; none: a copy
    /// generated beside production.
    pub staging: Option<(&'a upshift_core::Loaded, &'a std::path::Path)>,
}

/// What running the plan on the copy left.
struct Outcome {
    plan: Plan,
    events: Vec<crate::journal::StepEvent>,
    warnings: Vec<(usize, String)>,
    error: Option<RehearsalError>,
}

impl Rehearsal<'_> {
    /// Rehearses; a rehearsal that ran and failed is a report whose
    /// `succeeded` is false, not an error.
    pub fn run(&self) -> Result<Report> {
        crate::signals::install();
        let p = self.production;
        let id = format!("h{}-{:04x}", now_ms(), std::process::id() & 0xffff);
        let started_ms = now_ms();
        let repo = Repository::for_manifest(&p.loaded.manifest, &p.manifest_dir)?;
        let snapshot = self.snapshot_of_production(&repo, &id)?;
        let (root, generated) = match self.staging {
            Some((_, path)) => (path.parent().unwrap_or(path).to_path_buf(), false),
            None => (p.state.staging(&id), true),
        };
        let active = active::Active::begin(&p.state, &id, &root, generated)
            .map_err(|e| RehearsalError::Staging(format!("{}: {e}", root.display())))?;
        let materialize = Materialize {
            source: p,
            repo: &repo,
            snapshot: &snapshot,
        };
        let made = match self.staging {
            Some((loaded, path)) => {
                // Its data is replaced: nothing of it may run meanwhile.
                stop_services(loaded, &root, p.progress);
                materialize.given(loaded.clone(), path)
            }
            None => materialize.generated(&root, &id),
        };
        let copy = match made {
            Ok(c) => c,
            Err(e) => {
                if generated {
                    active::teardown(&root, true);
                }
                active.finish();
                return Err(e);
            }
        };
        p.progress.note(&format!(
            "staging copy of {} at {} in {}",
            p.loaded.manifest.installation.name,
            p.loaded.version,
            root.display()
        ));
        let outcome = self.upgrade(&copy);
        let staging = self.finish_copy(&copy);
        active.finish();
        let report = self.report(id, snapshot, started_ms, outcome, staging);
        let journal = Journal::open(&p.state.journal())?;
        report.save(&p.state, &journal)?;
        Ok(report)
    }

    /// A fresh verified snapshot of production, or the one asked for,
    /// which must be of the version production runs.
    fn snapshot_of_production(&self, repo: &Repository, id: &str) -> Result<String> {
        let p = self.production;
        let version = p.loaded.version.to_string();
        let Some(asked) = self.snapshot else {
            return fresh_snapshot(p, repo, id);
        };
        let info = repo.snapshot(asked)?;
        if info.tags.version != version {
            return Err(RehearsalError::Unsupported(format!(
                "snapshot {} was taken at {}, production runs {version}: rehearse from a snapshot of {version} (or leave out --snapshot for a fresh one)",
                info.short_id, info.tags.version
            )));
        }
        Ok(info.id)
    }

    /// Starts the copy at production's version, checks it, and runs the
    /// same plan on it through the executor.
    fn upgrade(&self, copy: &Materialized) -> Outcome {
        let mut out = Outcome {
            plan: self.plan.clone(),
            events: Vec::new(),
            warnings: Vec::new(),
            error: None,
        };
        if let Err(e) = self.start_copy(copy) {
            out.error = Some(e);
            return out;
        }
        let plan = match self.same_plan(copy) {
            Ok(plan) => plan,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        let target = copy.target();
        out.warnings = crate::executor::config_preview(&copy.loaded, &target, &plan)
            .into_iter()
            .flat_map(|c| {
                let name = c.name.clone();
                c.warnings
                    .into_iter()
                    .map(move |w| (c.hop, format!("{name}: {w}")))
            })
            .collect();
        let setup = Setup {
            loaded: &copy.loaded,
            manifest_path: copy.manifest_path.clone(),
            manifest_dir: copy.root.clone(),
            state: copy.state(),
            target,
            progress: self.production.progress,
        };
        let result = crate::executor::apply(&setup, &plan);
        out.events = staging_events(&setup);
        out.plan = plan;
        out.error = result.err().map(RehearsalError::from);
        out
    }

    fn start_copy(&self, copy: &Materialized) -> Result<()> {
        start_services(&copy.loaded, &copy.root)
    }

    /// The copy's plan: the production plan's hops, or an error.
    fn same_plan(&self, copy: &Materialized) -> Result<Plan> {
        let plan = upshift_core::plan(&copy.loaded, &self.plan.to)
            .map_err(|e| RehearsalError::Staging(format!("the copy cannot be planned: {e}")))?;
        let path = |p: &Plan| p.hops.iter().map(|h| h.to.clone()).collect::<Vec<_>>();
        if path(&plan) != path(self.plan) {
            return Err(RehearsalError::Staging(format!(
                "the copy's plan goes {} where production's goes {}",
                path(&plan).join(" → "),
                path(self.plan).join(" → ")
            )));
        }
        Ok(plan)
    }

    /// Stops the copy; removes it unless kept.
    fn finish_copy(&self, copy: &Materialized) -> StagingInfo {
        let ports = staging::ports_of(&copy.loaded.manifest);
        let progress = self.production.progress;
        let kept = self.keep || !copy.generated;
        if kept {
            stop_services(&copy.loaded, &copy.root, progress);
            progress.note(&format!(
                "the staging copy stays in {} (stopped; `upshift -m {} start` starts it)",
                copy.root.display(),
                copy.manifest_path.display()
            ));
        } else {
            for line in active::teardown(&copy.root, true) {
                progress.note(&format!("staging copy: {line}"));
            }
        }
        StagingInfo {
            dir: copy.root.clone(),
            manifest: copy.manifest_path.clone(),
            ports,
            kept,
        }
    }

    fn report(
        &self,
        id: String,
        snapshot: String,
        started_ms: i64,
        o: Outcome,
        staging: StagingInfo,
    ) -> Report {
        let hops = Report::hops_from(&o.plan, &o.events, &o.warnings);
        let failure = o.error.map(|e| failure(&e, &o.events));
        let p = self.plan;
        Report {
            id,
            installation: p.installation.clone(),
            product: p.product.clone(),
            from: p.from.clone(),
            to: p.to.clone(),
            plan_id: p.id(),
            snapshot,
            started_ms,
            ended_ms: now_ms(),
            succeeded: failure.is_none(),
            window_ms: hops.iter().map(|h| h.window_ms).sum(),
            hops,
            failure,
            staging,
        }
    }
}

/// A fresh snapshot of the installation `s`, taken under its lock (a run
/// of it refuses meanwhile) and verified by test restore.
pub fn fresh_snapshot(s: &Setup, repo: &Repository, id: &str) -> Result<String> {
    let inst = &s.loaded.manifest.installation.name;
    let mut journal = Journal::open(&s.state.journal())?;
    crate::executor::refuse_unfinished(&journal, inst)?;
    let guard = lock::acquire(&mut journal, inst, id, false)?;
    for line in &guard.stopped {
        s.progress.note(line);
    }
    s.progress.note(&format!("snapshot of {inst}"));
    let tags = Tags {
        installation: inst.clone(),
        product: s.loaded.catalog.product.clone(),
        version: s.loaded.version.to_string(),
        phase: Phase::Manual,
        run_id: id.to_string(),
        config_fingerprint: s.plan_fingerprint(),
    };
    let bp = s.progress.backup();
    let info = repo.backup(&s.loaded.manifest, &s.target.dir, &tags, bp.as_ref())?;
    let verified = repo.verify(&info.id, &s.loaded.manifest, &s.target.dir, bp.as_ref())?;
    if !verified.ok() {
        return Err(RehearsalError::Staging(format!(
            "snapshot {} does not verify: {}",
            info.short_id,
            verified.problems().join("; ")
        )));
    }
    Ok(info.id)
}

impl Setup<'_> {
    /// The manifest's fingerprint, as a snapshot's tags hold it.
    fn plan_fingerprint(&self) -> String {
        upshift_core::plan::Fingerprint::of(&self.loaded.source, "").manifest[..16].to_string()
    }
}

/// Starts every service of the installation at `root` in dependency
/// order, each healthy before the next.
pub fn start_services(loaded: &upshift_core::Loaded, root: &std::path::Path) -> Result<()> {
    let target = crate::host::Target::local(root);
    let state = crate::state::StateDir::beside(root);
    let control = Control::new(loaded, &target, &state);
    for name in loaded.manifest.start_order() {
        control.start(name)?;
        if let Some(h) = &loaded.manifest.services[name].health {
            crate::health::wait(h, &target)?;
        }
    }
    Ok(())
}

/// Stops every service of the installation at `root`, in reverse order.
pub fn stop_services(
    loaded: &upshift_core::Loaded,
    root: &std::path::Path,
    progress: &dyn crate::Progress,
) {
    let target = crate::host::Target::local(root);
    let state = crate::state::StateDir::beside(root);
    let control = Control::new(loaded, &target, &state);
    for name in loaded.manifest.start_order().into_iter().rev() {
        if let Err(e) = control.stop(name) {
            progress.note(&format!("staging {name}: {e}"));
        }
    }
}

/// Every step event of the copy's (only) run.
fn staging_events(setup: &Setup) -> Vec<crate::journal::StepEvent> {
    let inst = &setup.loaded.manifest.installation.name;
    let Ok(journal) = Journal::open(&setup.state.journal()) else {
        return Vec::new();
    };
    let Some(run) = journal
        .runs(inst)
        .ok()
        .and_then(|r| r.into_iter().next_back())
    else {
        return Vec::new();
    };
    journal.events(&run.id).unwrap_or_default()
}

/// The failed step (the first, in journal order) and what it said.
fn failure(e: &RehearsalError, events: &[crate::journal::StepEvent]) -> Failure {
    let failed = events.iter().find(|e| e.state == StepState::Failed);
    let what = match e {
        RehearsalError::Run(r) => match r.as_ref() {
            RunError::RolledBack { what, .. } | RunError::Unchanged { what, .. } => what.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    let first = what.lines().next().unwrap_or_default().to_string();
    Failure {
        hop: failed.map(|f| f.hop + 1),
        step: failed.map(|f| f.step.to_string()),
        log: log_lines(&what),
        message: e.to_string().lines().next().unwrap_or(&first).to_string(),
    }
}

/// The output a failed command left (the executor's message holds its
/// tail after `failed (exit N): `), then the message's further lines.
fn log_lines(what: &str) -> Vec<String> {
    let mut lines = what.lines();
    let first = lines.next().unwrap_or_default();
    let output = first
        .find("failed (exit ")
        .and_then(|at| first[at..].find("): ").map(|end| &first[at + end + 3..]));
    output
        .into_iter()
        .chain(lines)
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect()
}
