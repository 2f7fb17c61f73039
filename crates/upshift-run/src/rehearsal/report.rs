//! What a rehearsal found, per hop, saved under `.upshift/rehearsals/`
//! and named in the production journal; and the check `apply` makes of
//! `[apply] require_rehearsal`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use upshift_core::plan::StepId;
use upshift_core::Plan;

use super::error::{RehearsalError, Result};
use crate::journal::{hop_window_ms, now_ms, Journal, RehearsalRow, StepEvent, StepState};
use crate::state::StateDir;

/// A rehearsal's report (`upshift rehearse --json` prints it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub installation: String,
    pub product: String,
    pub from: String,
    pub to: String,
    /// [`Plan::id`] of the production plan rehearsed.
    pub plan_id: String,
    /// The verified production snapshot the staging copy was made from.
    pub snapshot: String,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub succeeded: bool,
    /// The maintenance windows measured on the staging copy, summed: the
    /// plan's estimate.
    pub window_ms: i64,
    pub hops: Vec<HopReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub staging: StagingInfo,
}

/// One hop as the staging copy went through it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HopReport {
    pub from: String,
    pub to: String,
    /// The window it measured (first stop to every service healthy again).
    pub window_ms: i64,
    pub steps: Vec<StepTime>,
    /// The data steps (migrations) among them.
    pub data_steps: Vec<StepTime>,
    /// What the config rules warned about for this hop.
    pub config_warnings: Vec<String>,
    /// Whether every service answered its health check at the hop's end.
    pub healthy: bool,
}

/// One step: how it ended and how long it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepTime {
    pub step: String,
    /// `done`, `failed` or `undone`.
    pub state: String,
    pub ms: i64,
}

/// Where and why the rehearsal failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// The hop (from 1) and step that failed, when a step did.
    pub hop: Option<usize>,
    pub step: Option<String>,
    pub message: String,
    /// The failing step's output and the services' log lines.
    pub log: Vec<String>,
}

/// The staging copy: where it was, and whether it was kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagingInfo {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub ports: Vec<u16>,
    pub kept: bool,
}

impl Report {
    /// The hops of `plan` as the staging journal's `events` tell them.
    pub fn hops_from(
        plan: &Plan,
        events: &[StepEvent],
        warnings: &[(usize, String)],
    ) -> Vec<HopReport> {
        plan.hops
            .iter()
            .enumerate()
            .filter(|(h, _)| events.iter().any(|e| e.hop == *h))
            .map(|(h, hop)| {
                let steps = step_times(events, h);
                let data_steps = steps
                    .iter()
                    .filter(|s| s.step.starts_with("migrate."))
                    .cloned()
                    .collect();
                let healthy = events.iter().any(|e| {
                    e.hop == h && e.step == StepId::MaintenanceOff && e.state == StepState::Done
                });
                HopReport {
                    from: hop.from.clone(),
                    to: hop.to.clone(),
                    window_ms: hop_window_ms(events, h),
                    steps,
                    data_steps,
                    config_warnings: warnings
                        .iter()
                        .filter(|(wh, _)| *wh == h + 1)
                        .map(|(_, w)| w.clone())
                        .collect(),
                    healthy,
                }
            })
            .collect()
    }

    /// Writes the report to `.upshift/rehearsals/ID.json` and records it in
    /// the production journal.
    pub fn save(&self, state: &StateDir, journal: &Journal) -> Result<PathBuf> {
        let rel = format!("rehearsals/{}.json", self.id);
        let path = state.path().join(&rel);
        let text = serde_json::to_string_pretty(self).expect("reports serialise");
        write_atomically(&path, &text)?;
        journal.record_rehearsal(&RehearsalRow {
            id: self.id.clone(),
            installation: self.installation.clone(),
            plan_id: self.plan_id.clone(),
            succeeded: self.succeeded,
            ended_ms: self.ended_ms,
            report: rel,
        })?;
        Ok(path)
    }

    /// The latest rehearsal of `plan` (successful or not), if any.
    pub fn latest(state: &StateDir, plan: &Plan) -> Result<Option<Report>> {
        let Some(journal) = Journal::open_existing(&state.journal())? else {
            return Ok(None);
        };
        let rows = journal.rehearsals(&plan.installation, &plan.id())?;
        Ok(rows
            .first()
            .and_then(|r| read(&state.path().join(&r.report))))
    }
}

/// Each step of hop `h`: from its start to how it ended.
fn step_times(events: &[StepEvent], h: usize) -> Vec<StepTime> {
    let mut out: Vec<StepTime> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e.hop != h || e.state != StepState::Started {
            continue;
        }
        let end = events[i + 1..]
            .iter()
            .find(|x| x.hop == h && x.step == e.step && x.state != StepState::Started);
        out.push(StepTime {
            step: e.step.to_string(),
            state: end.map_or("started".into(), |x| x.state.as_str().to_string()),
            ms: end.map_or(0, |x| x.at_ms - e.at_ms),
        });
    }
    out
}

fn read(path: &Path) -> Option<Report> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let io = |e: std::io::Error| RehearsalError::Staging(format!("{}: {e}", path.display()));
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// `[apply] require_rehearsal`: a successful rehearsal of `plan` no older
/// than the manifest allows, or [`RehearsalError::Required`].
pub fn require(state: &StateDir, plan: &Plan, within_days: u32, manifest: &str) -> Result<()> {
    let required = |why: String| RehearsalError::Required {
        manifest: manifest.to_string(),
        to: plan.to.clone(),
        why,
    };
    let rows = match Journal::open_existing(&state.journal())? {
        Some(j) => j.rehearsals(&plan.installation, &plan.id())?,
        None => Vec::new(),
    };
    let oldest = now_ms() - i64::from(within_days) * 86_400_000;
    match rows.iter().find(|r| r.succeeded) {
        Some(r) if r.ended_ms >= oldest => Ok(()),
        Some(r) => Err(required(format!(
            "the last successful rehearsal of this plan ({}) is older than {within_days} days",
            r.id
        ))),
        None if rows.is_empty() => Err(required(format!(
            "this plan ({} → {}, plan {}) was never rehearsed",
            plan.from,
            plan.to,
            plan.id()
        ))),
        None => Err(required(format!(
            "the rehearsal of this plan ({}) failed; fix the cause and rehearse again",
            rows[0].id
        ))),
    }
}
