//! Running a plan forward, hop by hop, step by step, journaling each
//! transition before it acts.

use std::collections::HashSet;
use std::path::PathBuf;

use upshift_backup::Repository;
use upshift_core::manifest::Manifest;
use upshift_core::plan::{Step, StepId, StepKind};
use upshift_core::Plan;

use super::{RunSummary, Setup};
use crate::deploy::{self, Cx, Deployment};
use crate::detail::Detail;
use crate::error::{Result, RunError, StepError};
use crate::host::Target;
use crate::journal::{Journal, Outcome, StepState, Whereabouts};
use crate::maintenance::{MaintenancePage, Notice};

/// Why a hop stopped before its end.
pub(super) enum HopStop {
    Failed(StepFailure),
    /// A signal arrived; the hop stopped before `step`.
    Interrupted {
        signal: &'static str,
        step: StepId,
    },
    /// The journal was deleted or replaced; the hop stopped before `step`.
    JournalLost {
        how: Whereabouts,
        step: StepId,
    },
}

/// A step that failed, and why.
pub(super) struct StepFailure {
    pub step: Step,
    pub error: Box<StepError>,
}

/// Executes one run.
pub struct Runner<'a> {
    pub(super) setup: &'a Setup<'a>,
    pub(super) journal: Journal,
    pub(super) run_id: String,
    pub(super) plan: Plan,
    pub(super) page: MaintenancePage,
    pub(super) deployments: Vec<Box<dyn Deployment>>,
    /// A signal arrived inside the window after the swap: finishing it.
    pub(super) deferring: bool,
    repo: Option<Repository>,
    /// A test-only fault point: the step after which to send `signal`.
    crash_after: Option<(String, i32)>,
}

impl<'a> Runner<'a> {
    pub fn new(setup: &'a Setup<'a>, journal: Journal, run_id: String, plan: Plan) -> Result<Self> {
        Ok(Runner {
            page: MaintenancePage::new(Notice::for_manifest(setup.loaded)),
            deployments: deploy::deployments(setup.loaded),
            deferring: false,
            setup,
            journal,
            run_id,
            plan,
            repo: None,
            // Test-only fault points, right after a step is journaled done:
            // `UPSHIFT_CRASH_AFTER=<hop>:<step id>` kills this process with
            // SIGKILL; `UPSHIFT_SIGINT_AFTER=<hop>:<step id>` sends it SIGINT,
            // as Ctrl-C on its terminal would.
            crash_after: [
                ("UPSHIFT_CRASH_AFTER", libc::SIGKILL),
                ("UPSHIFT_SIGINT_AFTER", libc::SIGINT),
            ]
            .into_iter()
            .find_map(|(var, sig)| Some((std::env::var(var).ok()?, sig))),
        })
    }

    /// The installation's machine and directory.
    pub(super) fn target(&self) -> &Target {
        &self.setup.target
    }

    /// What a deployment sees while it acts.
    pub(super) fn cx(&self) -> Cx<'_> {
        Cx {
            loaded: self.setup.loaded,
            target: &self.setup.target,
            state: &self.setup.state,
            progress: self.setup.progress,
            run_id: &self.run_id,
            listener: None,
        }
    }

    /// The snapshot repository, opened once.
    pub(super) fn repo(&mut self) -> Result<&Repository> {
        if self.repo.is_none() {
            self.repo = Some(Repository::for_manifest(
                &self.setup.loaded.manifest,
                &self.setup.manifest_dir,
            )?);
        }
        Ok(self.repo.as_ref().expect("just set"))
    }

    /// Where a remote installation's stores are copied for its snapshots.
    pub(super) fn mirror(&self) -> PathBuf {
        self.setup
            .state
            .mirror(&self.setup.loaded.manifest.installation.name)
    }

    /// The manifest and directory the snapshot repository reads and
    /// restores: the installation itself, or the mirror of a remote one.
    pub(super) fn backup_view(&self) -> (Manifest, PathBuf) {
        crate::host::backup_view(self.target(), &self.setup.loaded.manifest, &self.mirror())
    }

    /// Steps whose last journaled state is done, as (hop, step id): a stop
    /// undone when its hop was undone is to be done again.
    pub(super) fn done(&self) -> Result<HashSet<(usize, StepId)>> {
        let mut last = std::collections::HashMap::new();
        for e in self.journal.events(&self.run_id)? {
            last.insert((e.hop, e.step), e.state);
        }
        Ok(last
            .into_iter()
            .filter(|(_, state)| *state == StepState::Done)
            .map(|(k, _)| k)
            .collect())
    }

    /// The detail journaled when `step` of `hop` was done (e.g. a snapshot id).
    pub(super) fn detail(&self, hop: usize, step: &StepId) -> Result<Option<Detail>> {
        Ok(self
            .journal
            .events(&self.run_id)?
            .into_iter()
            .rev()
            .find(|e| e.hop == hop && e.step == *step && e.state == StepState::Done)
            .and_then(|e| e.detail))
    }

    /// Runs (or continues) every hop.
    pub fn run(mut self) -> Result<RunSummary> {
        let hops = self.plan.hops.clone();
        for (h, hop) in hops.iter().enumerate() {
            let done = self.done()?;
            // A hop whose steps are all done may still lack its bookkeeping
            // (a crash right after its last step): redo that, it is idempotent.
            if !hop.steps.iter().all(|s| done.contains(&(h, s.id.clone()))) {
                if let Some(signal) = crate::signals::received() {
                    let next = hop
                        .steps
                        .iter()
                        .find(|s| !done.contains(&(h, s.id.clone())));
                    let step = next.map_or(StepId::PreflightHealth, |s| s.id.clone());
                    return self.interrupted(h, signal, &step);
                }
                self.restore_page(h, &done)?;
                match self.run_hop(h, &done) {
                    Ok(()) => {}
                    Err(HopStop::Failed(f)) => return self.fail(h, f),
                    Err(HopStop::Interrupted { signal, step }) => {
                        return self.interrupted(h, signal, &step)
                    }
                    Err(HopStop::JournalLost { how, step }) => {
                        return self.journal_lost(h, how, &step)
                    }
                }
            }
            let rec = self
                .journal
                .set_outcome(&self.run_id, Outcome::Running, &hop.to, None);
            self.set_manifest_version(&hop.to);
            let done = format!("hop {} → {} is done: {} serves", hop.from, hop.to, hop.to);
            self.recorded(rec, Ok(()), || done)?;
        }
        let rec = self
            .journal
            .set_outcome(&self.run_id, Outcome::Succeeded, &self.plan.to, None);
        self.remove_staged();
        let done = format!("upgraded to {}", self.plan.to);
        self.recorded(rec, Ok(()), || done)?;
        self.summary()
    }

    fn run_hop(&mut self, h: usize, done: &HashSet<(usize, StepId)>) -> Result<(), HopStop> {
        let hop = self.plan.hops[h].clone();
        for step in &hop.steps {
            if done.contains(&(h, step.id.clone())) {
                continue;
            }
            self.journal_in_place(&step.id)?;
            if let Some(signal) = crate::signals::received() {
                if !self.defer_interrupt(h, step, signal) {
                    return Err(HopStop::Interrupted {
                        signal,
                        step: step.id.clone(),
                    });
                }
            }
            let fail = |error: StepError| {
                HopStop::Failed(StepFailure {
                    step: step.clone(),
                    error: Box::new(error),
                })
            };
            self.journal
                .record(&self.run_id, h, &step.id, StepState::Started, None)
                .map_err(|e| self.lost_or(&step.id, fail(e.into())))?;
            self.progress(h, step, "started");
            match self.perform(h, step) {
                Ok(detail) => {
                    self.journal
                        .record(&self.run_id, h, &step.id, StepState::Done, detail.as_ref())
                        .map_err(|e| self.lost_or(&step.id, fail(e.into())))?;
                    self.progress(h, step, "done");
                    self.maybe_crash(h, &step.id);
                }
                Err(e) => {
                    let said = Detail::note(e.to_string());
                    let _ = self.journal.record(
                        &self.run_id,
                        h,
                        &step.id,
                        StepState::Failed,
                        Some(&said),
                    );
                    self.progress(h, step, "failed");
                    return Err(fail(e));
                }
            }
        }
        Ok(())
    }

    fn maybe_crash(&self, h: usize, step: &StepId) {
        if let Some((point, sig)) = &self.crash_after {
            if *point == format!("{}:{step}", h + 1) {
                // SAFETY: kill(2) on ourselves: a crash or a Ctrl-C, for tests.
                unsafe {
                    libc::kill(libc::getpid(), *sig);
                }
            }
        }
    }

    pub(super) fn progress(&self, h: usize, step: &Step, state: &str) {
        let hop = &self.plan.hops[h];
        self.setup.progress.step(&super::StepProgress {
            hop: h + 1,
            hops: self.plan.hops.len(),
            from: &hop.from,
            to: &hop.to,
            step: &step.id.to_string(),
            description: &step.description,
            state,
        });
    }

    /// A hop failed: undo it (before the point of no return) or restore its
    /// snapshot (after), so that the hop's starting version serves again.
    /// Then the `on_failure` hook runs.
    fn fail(mut self, h: usize, f: StepFailure) -> Result<RunSummary> {
        let hop = self.plan.hops[h].clone();
        let what = format!(
            "upgrade {} → {} failed at step {}: {}",
            hop.from, hop.to, f.step.id, f.error
        );
        // The error is said once, when the command ends, with what became
        // of the installation; until then the steps of the undoing show.
        if serving_again(&hop, &f.step.id) {
            // Users write to the new version again: never discard that.
            let rec =
                self.journal
                    .set_outcome(&self.run_id, Outcome::Running, &hop.to, Some(&what));
            self.set_manifest_version(&hop.to);
            self.on_failure(&hop.from, &hop.to, &what);
            let failed = Err(RunError::FailedWhileServing { what, at: hop.to });
            return self.recorded(rec, failed, String::new);
        }
        let result = self.undo_failed(h, f, &what);
        // Kept while the run still has to be finished.
        if matches!(
            result,
            Err(RunError::RolledBack { .. } | RunError::Unchanged { .. })
        ) {
            self.remove_staged();
        }
        self.on_failure(&hop.from, &hop.to, &what);
        result
    }

    fn undo_failed(&mut self, h: usize, f: StepFailure, what: &str) -> Result<RunSummary> {
        let hop = self.plan.hops[h].clone();
        if matches!(f.step.kind, StepKind::Preflight | StepKind::PreCheck) {
            // Nothing has changed yet: the checks only looked.
            let rec =
                self.journal
                    .set_outcome(&self.run_id, Outcome::Failed, &hop.from, Some(what));
            let unchanged = Err(RunError::Unchanged {
                what: what.to_string(),
                at: hop.from,
                cause: f.error,
            });
            return self.recorded(rec, unchanged, String::new);
        }
        let undone = if f.step.point_of_no_return {
            self.back_to_rollback_point(h)
        } else {
            self.setup.progress.note(&format!(
                "before the point of no return: undoing the steps done and restarting {}",
                hop.from
            ));
            self.undo_hop(h)
        };
        match undone {
            Ok(()) => {
                let outcome = if f.step.point_of_no_return {
                    Outcome::RolledBack
                } else {
                    Outcome::Failed
                };
                let rec = self
                    .journal
                    .set_outcome(&self.run_id, outcome, &hop.from, Some(what));
                self.set_manifest_version(&hop.from);
                let rolled_back = Err(RunError::RolledBack {
                    what: what.to_string(),
                    at: hop.from,
                    cause: f.error,
                });
                self.recorded(rec, rolled_back, String::new)
            }
            Err(e) => {
                let said = format!("{what}\nrolling back also failed: {e}");
                let rec = self.journal.set_outcome(
                    &self.run_id,
                    Outcome::RollbackFailed,
                    &hop.from,
                    Some(&said),
                );
                let failed = Err(RunError::RollbackFailed {
                    what: what.to_string(),
                    rollback: Box::new(e),
                });
                self.recorded(rec, failed, String::new)
            }
        }
    }

    /// Removes the run's staged configs (they may hold secrets) once the
    /// run no longer needs them: it ended, or it was undone.
    pub(super) fn remove_staged(&self) {
        let dir = self.setup.state.staged_run(&self.run_id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => self
                .setup
                .progress
                .note(&format!("warning: cannot remove {}: {e}", dir.display())),
            _ => {}
        }
    }

    /// The manifest's `on_failure` hook, after a failed hop was undone (or
    /// could not be): told the versions and the error in `UPSHIFT_FROM`,
    /// `UPSHIFT_TO` and `UPSHIFT_ERROR`. Its own failure is reported, not
    /// raised: the run's outcome is already decided.
    pub(super) fn on_failure(&self, from: &str, to: &str, what: &str) {
        let Some(cmd) = &self.setup.loaded.manifest.hooks.on_failure else {
            return;
        };
        let t = self.target();
        let env = self.step_env(from, to).map(|mut env| {
            env.push(("UPSHIFT_ERROR".to_string(), what.to_string()));
            env
        });
        let limit = self.setup.loaded.manifest.hooks.time_limit();
        let ran = env.and_then(|env| {
            t.host.sh_within(
                "hook on_failure",
                cmd,
                &t.dir,
                &super::steps::pairs(&env),
                limit,
            )
        });
        if let Err(e) = ran {
            self.setup.progress.note(&format!("warning: {e}"));
        }
    }

    /// Rewrites `installation.version` in the manifest (comments kept), so
    /// the manifest keeps saying what runs.
    pub(super) fn set_manifest_version(&self, version: &str) {
        crate::installed::record_version(&self.setup.manifest_path, version);
    }

    pub(super) fn summary(&self) -> Result<RunSummary> {
        let r = self.journal.run(&self.run_id)?.ok_or_else(|| {
            RunError::Failed(format!("run {} vanished from the journal", self.run_id))
        })?;
        let window_ms = self.journal.view(r.clone())?.window_ms;
        Ok(RunSummary {
            run_id: r.id,
            from: r.from.clone(),
            to: r.to,
            at: r.at_version.unwrap_or(r.from),
            outcome: r.outcome,
            maintenance_ms: window_ms,
            snapshots: r.snapshots,
        })
    }
}

/// Whether step `id` of `hop` comes after its `maintenance.off`: the new
/// version serves users again from there.
fn serving_again(hop: &upshift_core::plan::Hop, id: &StepId) -> bool {
    let at = |x: &StepId| hop.steps.iter().position(|s| s.id == *x);
    matches!((at(&StepId::MaintenanceOff), at(id)), (Some(off), Some(i)) if i > off)
}
