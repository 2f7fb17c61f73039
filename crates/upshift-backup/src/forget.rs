//! `forget`: removing the snapshots a keep policy does not keep, in
//! restic's terms (<https://restic.readthedocs.io/en/stable/060_forget.html>),
//! and, with `prune`, the data no remaining snapshot uses.
//!
//! Only one installation's snapshots are considered, as one group (restic
//! groups by host and paths; an installation's snapshots are one history).
//! A snapshot the caller protects (one a rollback may need) is kept
//! whatever the rules say. The keep rules themselves are `rustic_core`'s
//! [`KeepOptions`], which implement restic's policy.

use rustic_core::jiff::{Span, Zoned};
use rustic_core::repofile::{SnapshotFile, SnapshotId};
use rustic_core::{ForgetSnapshot, KeepOptions, LimitOption, PruneOptions, PruneStats};
use serde::Serialize;
use upshift_core::manifest::KeepPolicy;

use crate::error::Result;
use crate::guard;
use crate::meta::SnapshotMeta;
use crate::repo::{rerr, Opened, Repository, SnapshotInfo};

/// The reason a protected snapshot is kept.
pub const ROLLBACK_NEEDS_IT: &str = "rollback needs it";

/// What to forget.
pub struct ForgetRequest<'a> {
    /// Only this installation's snapshots are considered.
    pub installation: &'a str,
    pub keep: &'a KeepPolicy,
    /// Whether a snapshot (by full id) must stay: a rollback may need it.
    pub protected: &'a dyn Fn(&str) -> bool,
    /// Also remove the data no remaining snapshot uses.
    pub prune: bool,
    /// Only say what would be done.
    pub dry_run: bool,
}

/// One snapshot and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub snapshot: SnapshotInfo,
    pub keep: bool,
    /// Why it is kept (restic's words: `last`, `daily`, `within`, ...,
    /// and [`ROLLBACK_NEEDS_IT`]); empty when it is removed.
    pub reasons: Vec<String>,
}

/// What pruning removed (or, in a dry run, would remove).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// Pack files removed (or marked for removal) and rewritten.
    pub packs_removed: u64,
    pub packs_repacked: u64,
    /// Bytes of data no snapshot uses any more that go.
    pub bytes_removed: u64,
    /// Bytes of unused data left (in packs that also hold used data).
    pub bytes_unused_left: u64,
    /// The repository also holds other snapshots (another installation's,
    /// or restic's own), which a backup may be adding to right now: unused
    /// packs are then only marked, and a later prune deletes their files.
    pub two_phase: bool,
}

/// The outcome of [`Repository::forget`].
#[derive(Debug, Clone, Serialize)]
pub struct ForgetReport {
    pub dry_run: bool,
    /// Every snapshot of the installation, oldest first.
    pub snapshots: Vec<Decision>,
    /// Full ids of the snapshots removed (in a dry run: that would be).
    pub removed: Vec<String>,
    pub prune: Option<PruneReport>,
}

impl Repository {
    /// Applies `req.keep` to the installation's snapshots, keeping every
    /// protected one; removes the rest unless `req.dry_run`, then prunes
    /// when `req.prune`.
    pub fn forget(&self, req: &ForgetRequest<'_>) -> Result<ForgetReport> {
        guard::contained(&self.path, || self.forget_unguarded(req))
    }

    fn forget_unguarded(&self, req: &ForgetRequest<'_>) -> Result<ForgetReport> {
        let repo = self.open()?;
        let all = repo.get_all_snapshots().map_err(|e| rerr(&self.path, &e))?;
        let (ours, others): (Vec<_>, Vec<_>) = all.into_iter().partition(|s| {
            SnapshotMeta::parse(s.description.as_deref())
                .is_some_and(|m| m.tags.installation == req.installation)
        });
        let shared = !others.is_empty();
        let decided = keep_options(req.keep)
            .apply(ours, &Zoned::now())
            .map_err(|e| rerr(&self.path, &e))?;
        let mut decided: Vec<(SnapshotId, Decision)> = decided
            .into_iter()
            .filter_map(|d| decision(d, req.protected))
            .collect();
        decided.sort_by_key(|(_, d)| d.snapshot.unix_ms);
        let ids: Vec<SnapshotId> = decided
            .iter()
            .filter(|(_, d)| !d.keep)
            .map(|(id, _)| *id)
            .collect();
        let snapshots: Vec<Decision> = decided.into_iter().map(|(_, d)| d).collect();
        let removed: Vec<String> = snapshots
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.snapshot.id.clone())
            .collect();
        if !req.dry_run && !ids.is_empty() {
            repo.delete_snapshots(&ids)
                .map_err(|e| rerr(&self.path, &e))?;
        }
        let prune = if req.prune {
            Some(self.prune(&repo, ids, shared, req.dry_run)?)
        } else {
            None
        };
        Ok(ForgetReport {
            dry_run: req.dry_run,
            snapshots,
            removed,
            prune,
        })
    }

    /// Removes the data no snapshot uses: every pack that holds only
    /// unused data goes, every pack that holds some is rewritten without
    /// it. In a dry run the snapshots about to be removed (`ignored`) are
    /// left out of the count of what is used, and nothing changes.
    fn prune(
        &self,
        repo: &Opened,
        ignored: Vec<SnapshotId>,
        shared: bool,
        dry_run: bool,
    ) -> Result<PruneReport> {
        let mut opts = PruneOptions::default()
            .max_repack(LimitOption::Unlimited)
            .max_unused(LimitOption::Percentage(0))
            .keep_delete(Span::new())
            .instant_delete(!shared);
        if dry_run {
            opts = opts.ignore_snaps(ignored);
        }
        let plan = repo.prune_plan(&opts).map_err(|e| rerr(&self.path, &e))?;
        let report = prune_report(&plan.stats, shared);
        if !dry_run {
            repo.prune(&opts, plan).map_err(|e| rerr(&self.path, &e))?;
        }
        Ok(report)
    }
}

/// The policy as `rustic_core`'s options.
fn keep_options(k: &KeepPolicy) -> KeepOptions {
    let n = |c: Option<u32>| c.map(|c| i32::try_from(c).unwrap_or(i32::MAX));
    let within = k.within.map(|w| {
        let secs = i64::try_from(w.duration().as_secs()).unwrap_or(i64::MAX);
        // Spans hold at most about 20,000 years of seconds.
        Span::new()
            .try_seconds(secs)
            .unwrap_or_else(|_| Span::new().years(19_998))
    });
    let mut opts = KeepOptions::default();
    opts.keep_last = n(k.last);
    opts.keep_hourly = n(k.hourly);
    opts.keep_daily = n(k.daily);
    opts.keep_weekly = n(k.weekly);
    opts.keep_monthly = n(k.monthly);
    opts.keep_yearly = n(k.yearly);
    opts.keep_within = within;
    opts
}

/// One of rustic's decisions, with protection applied; `None` for a
/// snapshot without upshift's description (never: only ours are decided).
fn decision(d: ForgetSnapshot, protected: &dyn Fn(&str) -> bool) -> Option<(SnapshotId, Decision)> {
    let snap: &SnapshotFile = &d.snapshot;
    let meta = SnapshotMeta::parse(snap.description.as_deref())?;
    let info = SnapshotInfo::from_parts(snap, &meta);
    let mut reasons = Vec::new();
    if protected(&info.id) {
        reasons.push(ROLLBACK_NEEDS_IT.to_string());
    }
    if d.keep {
        reasons.extend(d.reasons);
    }
    let decision = Decision {
        keep: !reasons.is_empty(),
        snapshot: info,
        reasons,
    };
    Some((snap.id, decision))
}

fn prune_report(s: &PruneStats, shared: bool) -> PruneReport {
    let size = s.size_sum();
    PruneReport {
        packs_removed: s.packs.unused + s.packs_to_delete.remove + s.packs_unref,
        packs_repacked: s.packs.repack,
        bytes_removed: size.remove + size.repackrm + s.size_unref,
        bytes_unused_left: size.unused_after_prune(),
        two_phase: shared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use upshift_core::manifest::Seconds;

    #[test]
    fn every_rule_reaches_rustic() {
        let k = KeepPolicy {
            last: Some(1),
            hourly: Some(2),
            daily: Some(3),
            weekly: Some(4),
            monthly: Some(5),
            yearly: Some(6),
            within: Some(Seconds::from_secs(30 * 86_400)),
        };
        let o = keep_options(&k);
        assert_eq!(
            [
                o.keep_last,
                o.keep_hourly,
                o.keep_daily,
                o.keep_weekly,
                o.keep_monthly,
                o.keep_yearly
            ],
            [1, 2, 3, 4, 5, 6].map(Some)
        );
        assert_eq!(o.keep_within.map(|s| s.get_seconds()), Some(30 * 86_400));
        let huge = keep_options(&KeepPolicy {
            within: Some(Seconds::from_secs(u64::MAX / 2)),
            ..KeepPolicy::default()
        });
        assert!(huge.keep_within.is_some());
    }
}
