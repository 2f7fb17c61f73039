//! Deployments: one type per way an installation's software is deployed,
//! each owning everything about its kind through the [`Deployment`] trait.
//! The executor's swap and rollback ordering is written once, here, over
//! the list of an installation's deployments.
//!
//! | kind | type | plan text (upshift-core) | manifest |
//! |---|---|---|---|
//! | process, command, systemd services | [`services::Services`] | `deploy/services.rs` | `Driver::Process`, `Command`, `Systemd` |
//! | releases side by side | [`release::Releases`] | `deploy/release.rs` | `[release]` |
//! | Docker Compose projects | [`compose::ComposeProjects`] | `deploy/compose.rs` | `Driver::Compose` |
//! | Helm releases | [`helm::HelmReleases`] | `deploy/helm.rs` | `Driver::Helm` |
//! | upstream git checkouts of compose projects | [`upstream::UpstreamCheckouts`] | `deploy/upstream.rs` | `compose.upstream` |
//!
//! A new kind is a file here, a file in upshift-core's `deploy/` and a
//! `Driver` variant; [`deployments`] adds it to the list.

pub mod compose;
pub mod helm;
pub mod release;
pub mod services;
pub mod upstream;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use upshift_core::catalog::DataStep;
use upshift_core::manifest::Loaded;
use upshift_core::plan::{Hop, StepId};

use crate::detail::Detail;
use crate::error::{StepError, StepResult};
use crate::host::Target;
use crate::journal::{Journal, StepState};
use crate::state::StateDir;
use crate::Progress;

/// What a deployment may look at while it acts.
pub struct Cx<'a> {
    pub loaded: &'a Loaded,
    pub target: &'a Target,
    pub state: &'a StateDir,
    pub progress: &'a dyn Progress,
    pub run_id: &'a str,
    /// The listening socket a starting service inherits (socket
    /// activation), when the maintenance page hands its address over.
    pub listener: Option<std::os::fd::BorrowedFd<'a>>,
}

impl<'a> Cx<'a> {
    /// For work outside a run (`upshift demo`, `upshift status`): no
    /// progress to show, no run.
    fn outside_run(loaded: &'a Loaded, target: &'a Target, state: &'a StateDir) -> Cx<'a> {
        Cx {
            loaded,
            target,
            state,
            progress: &Silent,
            run_id: "",
            listener: None,
        }
    }

    /// Where config file `name`'s migrated copy for hop `h` is staged.
    pub fn staged(&self, h: usize, name: &str) -> PathBuf {
        self.state.staged(self.run_id, h, name)
    }
}

/// One hop of the plan, with its index.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub index: usize,
    pub hop: &'a Hop,
}

/// One kind of deployment. Every method is idempotent: after a crash,
/// `resume` calls it again. Defaults do nothing.
pub trait Deployment {
    /// Names this deployment in messages, and keys its swap record.
    fn key(&self) -> &'static str;

    /// Whether it starts and stops service `name` of the manifest.
    fn owns(&self, _service: &str) -> bool {
        false
    }

    /// `preflight.tools`: the tools it needs are there, and it can act
    /// on the installation's host.
    fn preflight(&self, _cx: &Cx) -> StepResult<()> {
        Ok(())
    }

    /// `prepare.artifacts`: fetch what the hop's target needs while the
    /// old version serves.
    fn prepare(&self, _cx: &Cx, _at: At) -> StepResult {
        Ok(None)
    }

    /// `prepare.config.NAME`: check the staged copy of config file `name`
    /// against the new release (a chart renders with the values).
    fn check_config(&self, _cx: &Cx, _at: At, _name: &str) -> StepResult {
        Ok(None)
    }

    /// Why service `name` may keep running through the hop, if it may.
    fn keeps_running(&self, _cx: &Cx, _at: At, _name: &str) -> StepResult<Option<String>> {
        Ok(None)
    }

    /// Whether service `name` goes on serving while "stopped" (no
    /// maintenance page may take its address).
    fn serves_while_stopped(&self, _name: &str) -> bool {
        false
    }

    fn stop(&self, _cx: &Cx, _name: &str) -> StepResult<()> {
        Ok(())
    }

    fn start(&self, _cx: &Cx, _name: &str) -> StepResult<()> {
        Ok(())
    }

    /// Why service `name` is known to have stopped running on its own (its
    /// process exited), checked while its health is awaited; `None` when
    /// it runs or the deployment cannot tell.
    fn exited(&self, _cx: &Cx, _name: &str) -> Option<String> {
        None
    }

    /// What the swap will replace, journaled before it acts; on resume the
    /// first record is kept, so it always holds the true previous state.
    fn record(&self, _cx: &Cx, _at: At) -> StepResult<Option<Value>> {
        Ok(None)
    }

    /// `swap.version`, given what [`Deployment::record`] journaled.
    fn swap(&self, _cx: &Cx, _at: At, _record: Option<&Value>) -> StepResult {
        Ok(None)
    }

    /// Back to `version`, given the record of the swap that left it.
    fn roll_back(&self, _cx: &Cx, _version: &str, _record: Option<&Value>) -> StepResult<()> {
        Ok(())
    }

    /// Runs data step `d` in the deployment's own runtime (a one-off
    /// container), if it runs there.
    fn data_step(
        &self,
        _cx: &Cx,
        _d: &DataStep,
        _env: &[(&str, &str)],
    ) -> Option<StepResult<String>> {
        None
    }

    /// After the run's last hop (`releases.prune`).
    fn finish(&self, _cx: &Cx, _run_from: &str, _run_to: &str) -> StepResult {
        Ok(None)
    }

    /// What `upshift status` shows of its services beyond their health.
    fn status(&self, _cx: &Cx) -> Vec<ServiceStatus> {
        Vec::new()
    }

    /// Whether service `name` runs now, when the deployment can tell
    /// without its health check (a process service's pidfile).
    fn presence(&self, _cx: &Cx, _name: &str) -> Option<Presence> {
        None
    }
}

/// Whether a service runs, and what shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub running: bool,
    /// `pid 1234 in run/auth.pid`, `no live process in run/auth.pid`.
    pub how: String,
}

/// One fact `upshift status` shows about a service (a helm release's
/// latest revision): under `key` in `--json`, as `text` otherwise.
#[derive(Debug, Clone)]
pub struct ServiceStatus {
    pub service: String,
    pub key: &'static str,
    pub json: Value,
    pub text: String,
}

/// The installation's deployments, in the order the swap runs them.
pub fn deployments(loaded: &Loaded) -> Vec<Box<dyn Deployment>> {
    let m = &loaded.manifest;
    let mut out: Vec<Box<dyn Deployment>> = vec![Box::new(services::Services::of(m))];
    out.push(Box::new(release::Releases::of(m)));
    if let Some(h) = helm::HelmReleases::of(m) {
        out.push(Box::new(h));
    }
    // Merged before the override names the new images.
    if let Some(u) = upstream::UpstreamCheckouts::of(m) {
        out.push(Box::new(u));
    }
    if let Some(c) = compose::ComposeProjects::of(m) {
        out.push(Box::new(c));
    }
    out
}

/// The records journaled by hop `h`'s swap, per deployment key: the first
/// one of each key wins.
pub fn swap_records(journal: &Journal, run: &str, h: usize) -> StepResult<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for e in journal.events(run)? {
        if e.hop != h || e.step != StepId::Swap {
            continue;
        }
        if let Some(Detail::SwapRecord { records }) = e.detail {
            for (k, v) in records {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(out)
}

/// The swap: each deployment records what it replaces (journaled before
/// anything changes), then each swaps, in list order.
pub fn swap(
    journal: &Journal,
    cx: &Cx,
    at: At,
    deployments: &[Box<dyn Deployment>],
) -> StepResult<Vec<String>> {
    let mut records = swap_records(journal, cx.run_id, at.index)?;
    let mut new = BTreeMap::new();
    for d in deployments {
        if records.contains_key(d.key()) {
            continue;
        }
        if let Some(v) = d.record(cx, at)? {
            new.insert(d.key().to_string(), v);
        }
    }
    if !new.is_empty() {
        let detail = Detail::SwapRecord {
            records: new.clone(),
        };
        journal.record(
            cx.run_id,
            at.index,
            &StepId::Swap,
            StepState::Started,
            Some(&detail),
        )?;
        records.extend(new);
    }
    let mut done = Vec::new();
    for d in deployments {
        if let Some(text) = d.swap(cx, at, records.get(d.key()))? {
            done.push(text);
        }
    }
    Ok(done)
}

/// Every deployment back to `version`, in list order, each given the
/// record of the swap of the hop that started at `version` (none when
/// that hop never reached its swap).
pub fn roll_back(
    journal: &Journal,
    cx: &Cx,
    hops: &[Hop],
    version: &str,
    deployments: &[Box<dyn Deployment>],
) -> StepResult<()> {
    let records = match hops.iter().position(|hop| hop.from == version) {
        Some(h) => swap_records(journal, cx.run_id, h)?,
        None => BTreeMap::new(),
    };
    for d in deployments {
        d.roll_back(cx, version, records.get(d.key()))?;
    }
    Ok(())
}

/// Progress of work outside a run: nothing to show.
struct Silent;

impl Progress for Silent {
    fn step(&self, _: &crate::StepProgress) {}
    fn note(&self, _: &str) {}
}

/// Starts service `name` outside a run (`upshift demo` bringing up a new
/// installation).
pub fn start_outside_run(
    loaded: &Loaded,
    target: &Target,
    state: &StateDir,
    name: &str,
) -> StepResult<()> {
    Control::new(loaded, target, state).start(name)
}

/// Starting and stopping services outside a run (`upshift start`, `stop`,
/// `restart`), through the same deployments a run uses.
pub struct Control<'a> {
    cx: Cx<'a>,
    deployments: Vec<Box<dyn Deployment>>,
}

impl<'a> Control<'a> {
    pub fn new(loaded: &'a Loaded, target: &'a Target, state: &'a StateDir) -> Control<'a> {
        Control {
            cx: Cx::outside_run(loaded, target, state),
            deployments: deployments(loaded),
        }
    }

    pub fn start(&self, name: &str) -> StepResult<()> {
        owner(&self.deployments, name)?.start(&self.cx, name)
    }

    pub fn stop(&self, name: &str) -> StepResult<()> {
        owner(&self.deployments, name)?.stop(&self.cx, name)
    }

    /// Whether `name` runs, when its deployment can tell (see
    /// [`Deployment::presence`]).
    pub fn presence(&self, name: &str) -> Option<Presence> {
        owner(&self.deployments, name)
            .ok()?
            .presence(&self.cx, name)
    }
}

/// What `upshift status` shows of every deployment's services.
pub fn status(loaded: &Loaded, target: &Target, state: &StateDir) -> Vec<ServiceStatus> {
    let cx = Cx::outside_run(loaded, target, state);
    deployments(loaded)
        .iter()
        .flat_map(|d| d.status(&cx))
        .collect()
}

/// The deployment that starts and stops service `name`.
pub fn owner<'d>(
    deployments: &'d [Box<dyn Deployment>],
    name: &str,
) -> Result<&'d dyn Deployment, StepError> {
    deployments
        .iter()
        .find(|d| d.owns(name))
        .map(|d| d.as_ref())
        .ok_or_else(|| {
            StepError::msg(format!(
                "the manifest has no service `{name}` (the plan is for another manifest)"
            ))
        })
}

#[cfg(test)]
mod tests;
