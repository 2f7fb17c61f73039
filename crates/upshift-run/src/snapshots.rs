//! What the journal says about snapshots: which ones a rollback may need
//! (retention never removes those) and which verified by test restore.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use upshift_core::plan::StepId;

use crate::detail::Detail;
use crate::error::Result;
use crate::journal::{Journal, RunRecord, StepState};

/// Snapshot ids (full, or the 8-digit short form the runs list) that a
/// rollback may restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RollbackNeeds {
    ids: BTreeSet<String>,
}

impl RollbackNeeds {
    /// Whether the snapshot with full id `id` is needed.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|p| id.starts_with(p.as_str()))
    }

    /// The ids, as the journal holds them.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }
}

/// The snapshots a rollback may need: every one recorded by a run that is
/// not finished (`resume` and `rollback` finish it), and by the newest run
/// of the installation (the one `upshift rollback` and `rollback --to`
/// use once no run is unfinished). The one place this rule is written.
pub fn rollback_needs(journal: &Journal, installation: &str) -> Result<RollbackNeeds> {
    let runs = journal.runs(installation)?;
    let newest = runs.last().map(|r| r.id.clone());
    let mut ids = BTreeSet::new();
    for r in runs
        .iter()
        .filter(|r| r.outcome.unfinished() || Some(&r.id) == newest.as_ref())
    {
        ids.extend(recorded(journal, r)?);
    }
    Ok(RollbackNeeds { ids })
}

/// Every snapshot id run `r` recorded: in its list, and in its steps'
/// details (taken, verified, restored by a rollback).
fn recorded(journal: &Journal, r: &RunRecord) -> Result<BTreeSet<String>> {
    let mut ids: BTreeSet<String> = r.snapshots.iter().cloned().collect();
    for e in journal.events(&r.id)? {
        match e.detail {
            Some(Detail::Snapshot { id, .. } | Detail::Verified { id, .. }) => {
                ids.insert(id);
            }
            Some(Detail::RollbackTarget {
                snapshot: Some(id), ..
            }) => {
                ids.insert(id);
            }
            _ => {}
        }
    }
    ids.retain(|id| !id.is_empty());
    Ok(ids)
}

/// The outcome of a snapshot's test restore in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    Verified,
    Failed,
}

/// Full snapshot id → the last verification a run journaled for it.
#[derive(Debug, Clone, Default)]
pub struct Verifications(BTreeMap<String, Verification>);

impl Verifications {
    /// The outcome for snapshot `id` (full or short), if a run verified it.
    pub fn of(&self, id: &str) -> Option<Verification> {
        self.0
            .iter()
            .find(|(k, _)| k.starts_with(id) || id.starts_with(k.as_str()))
            .map(|(_, v)| *v)
    }
}

/// What the installation's runs journaled about verifying their snapshots:
/// a verify step that finished says which snapshot verified; one that
/// failed is about the snapshot its hop's backup step took (online or final).
pub fn verifications(journal: &Journal, installation: &str) -> Result<Verifications> {
    let mut out = BTreeMap::new();
    for r in journal.runs(installation)? {
        // (hop, backup step) → the snapshot it took.
        let mut taken: BTreeMap<(usize, StepId), String> = BTreeMap::new();
        for e in journal.events(&r.id)? {
            match (&e.step, e.state, e.detail) {
                (
                    StepId::BackupOnline | StepId::BackupFinal,
                    StepState::Done,
                    Some(Detail::Snapshot { id, .. }),
                ) => {
                    taken.insert((e.hop, e.step.clone()), id);
                }
                (_, StepState::Done, Some(Detail::Verified { id, .. })) => {
                    out.insert(id, Verification::Verified);
                }
                (StepId::VerifyOnline | StepId::VerifyFinal, StepState::Failed, _) => {
                    let backup = match e.step {
                        StepId::VerifyOnline => StepId::BackupOnline,
                        _ => StepId::BackupFinal,
                    };
                    if let Some(id) = taken.get(&(e.hop, backup)) {
                        out.insert(id.clone(), Verification::Failed);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Verifications(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{now_ms, Outcome};

    fn run(j: &Journal, id: &str, started_ms: i64) {
        j.begin_run(&RunRecord {
            id: id.into(),
            installation: "inst".into(),
            product: "demo".into(),
            from: "1.0.0".into(),
            to: "2.0.0".into(),
            started_ms,
            ended_ms: None,
            maintenance_ms: 0,
            outcome: Outcome::Running,
            at_version: None,
            error: None,
            snapshots: Vec::new(),
            plan_json: "{}".into(),
        })
        .unwrap();
    }

    fn took(j: &Journal, run: &str, hop: usize, step: StepId, id: &str) {
        j.record(
            run,
            hop,
            &step,
            StepState::Done,
            Some(&Detail::Snapshot {
                id: id.into(),
                fingerprint: None,
            }),
        )
        .unwrap();
        j.add_snapshot(run, &id[..8]).unwrap();
    }

    #[test]
    fn the_newest_run_and_unfinished_ones_are_needed_older_finished_ones_not() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("journal.db")).unwrap();
        let t = now_ms();
        run(&j, "old", t);
        took(&j, "old", 0, StepId::BackupFinal, "aaaaaaaa1111");
        j.set_outcome("old", Outcome::Succeeded, "2.0.0", None)
            .unwrap();
        run(&j, "stuck", t + 1);
        took(&j, "stuck", 0, StepId::BackupOnline, "bbbbbbbb2222");
        run(&j, "new", t + 2);
        took(&j, "new", 0, StepId::BackupFinal, "cccccccc3333");
        j.record(
            "new",
            0,
            &StepId::Rollback,
            StepState::Started,
            Some(&Detail::RollbackTarget {
                version: "1.0.0".into(),
                snapshot: Some("dddddddd4444".into()),
                frozen: None,
                keeps_data: false,
                manual: true,
            }),
        )
        .unwrap();
        j.set_outcome("new", Outcome::Succeeded, "2.0.0", None)
            .unwrap();

        let needs = rollback_needs(&j, "inst").unwrap();
        assert!(!needs.contains("aaaaaaaa1111"), "{needs:?}");
        assert!(needs.contains("bbbbbbbb2222ffff"), "{needs:?}");
        assert!(needs.contains("cccccccc3333"), "{needs:?}");
        assert!(needs.contains("dddddddd4444"), "{needs:?}");
        assert!(rollback_needs(&j, "other").unwrap().ids().next().is_none());
    }

    #[test]
    fn a_failed_verify_marks_the_snapshot_its_hop_took() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("journal.db")).unwrap();
        run(&j, "r", now_ms());
        took(&j, "r", 0, StepId::BackupOnline, "11111111aaaa");
        j.record(
            "r",
            0,
            &StepId::VerifyOnline,
            StepState::Done,
            Some(&Detail::Verified {
                id: "11111111aaaa".into(),
                reused: false,
            }),
        )
        .unwrap();
        took(&j, "r", 0, StepId::BackupFinal, "22222222bbbb");
        j.record(
            "r",
            0,
            &StepId::VerifyFinal,
            StepState::Failed,
            Some(&Detail::note("snapshot did not verify")),
        )
        .unwrap();
        let v = verifications(&j, "inst").unwrap();
        assert_eq!(v.of("11111111"), Some(Verification::Verified));
        assert_eq!(v.of("22222222bbbb"), Some(Verification::Failed));
        assert_eq!(v.of("33333333"), None);
    }
}
