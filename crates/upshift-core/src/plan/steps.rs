//! The steps of one hop: preflight, prepare while serving, the window
//! (stop, final backup, swap, migrate, start, check), then serve again.

use serde::{Deserialize, Serialize};

use super::{HookPoint, StepId};
use crate::deploy::{self, HopView};
use crate::manifest::{Manifest, StoreKind};

/// What a step does, in the order the executor runs them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Preflight,
    PreCheck,
    Prepare,
    RenderConfig,
    Backup,
    Hook,
    MaintenanceOn,
    Stop,
    VerifyBackup,
    Swap,
    WriteConfig,
    DataMigration,
    Start,
    HealthCheck,
    MaintenanceOff,
    /// Removing releases no longer needed for rollback (never fails the run).
    Prune,
}

/// One step of a hop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Step {
    pub id: StepId,
    pub kind: StepKind,
    pub description: String,
    /// True for the swap and everything after it: a failure here is undone
    /// by restoring the snapshot, not by simply restarting the old version.
    pub point_of_no_return: bool,
}

/// The steps of one hop, in order; the swap and every step after it are
/// past the point of no return.
struct Steps {
    out: Vec<Step>,
    past: bool,
}

impl Steps {
    fn push(&mut self, id: StepId, description: impl Into<String>) {
        self.past |= id == StepId::Swap;
        self.out.push(Step {
            kind: id.kind(),
            id,
            description: description.into(),
            point_of_no_return: self.past,
        });
    }
}

/// Builds the steps of the hop `from → to` crossing `crossed` releases.
pub fn hop_steps(hop: &HopView) -> Vec<Step> {
    let (m, from, to, crossed) = (hop.manifest, hop.from, hop.to, hop.crossed);
    let mut s = Steps {
        out: Vec::new(),
        past: false,
    };
    let order = m.start_order();
    let stores: Vec<&str> = m.stores.keys().map(String::as_str).collect();
    let data = if stores.is_empty() {
        "the config files".to_string()
    } else {
        format!("stores {} and the config files", stores.join(", "))
    };
    s.push(
        StepId::PreflightHealth,
        format!("check that {from} runs and every service is healthy"),
    );
    s.push(
        StepId::PreflightDisk,
        "check free disk space for the snapshot and the new release",
    );
    s.push(
        StepId::PreflightTools,
        "check that the tools the drivers and stores need are installed",
    );
    // A check several crossed releases ask for is run once, naming them all.
    let mut checks: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for r in crossed {
        for c in &r.pre_checks {
            match checks.iter_mut().find(|(id, _, _)| *id == c.id) {
                Some((_, _, by)) => by.push(r.version.to_string()),
                None => checks.push((&c.id, &c.description, vec![r.version.to_string()])),
            }
        }
    }
    for (id, description, by) in checks {
        s.push(
            StepId::PreCheck(id.to_string()),
            format!("{description} (required by {})", by.join(", ")),
        );
    }
    s.push(
        StepId::PrepareArtifacts,
        format!("fetch the {to} release (packages, images, chart) while {from} still serves"),
    );
    for (name, c) in &m.config {
        s.push(
            StepId::RenderConfig(name.clone()),
            format!("render {} migrated for {to} (not written yet)", c.path),
        );
    }
    s.push(
        StepId::BackupOnline,
        format!("online backup of {data} while still serving"),
    );
    s.push(
        StepId::VerifyOnline,
        "verify the online snapshot by test restore, while still serving",
    );
    if m.hooks.pre_upgrade.is_some() {
        s.push(
            StepId::Hook(HookPoint::PreUpgrade),
            "run the pre_upgrade hook",
        );
    }
    let on = match (
        m.maintenance.page,
        &m.maintenance.on,
        &m.maintenance.announce,
    ) {
        (true, _, _) => "answer users with a 503 maintenance page on the public addresses",
        (false, Some(_), _) => "switch on the product's maintenance mode",
        (false, None, Some(_)) => "announce the maintenance window",
        _ => "begin the maintenance window",
    };
    s.push(StepId::MaintenanceOn, on);
    for name in order.iter().rev() {
        s.push(StepId::Stop(name.to_string()), deploy::stop_text(hop, name));
    }
    let frozen = frozen_in_server(m);
    if frozen {
        s.push(StepId::RollbackPoint, rollback_point_text(m));
    } else {
        s.push(
            StepId::BackupFinal,
            "final incremental backup: only what changed since the online backup (none if nothing did)",
        );
        s.push(
            StepId::VerifyFinal,
            "verify the final snapshot by test restore (already done if nothing changed)",
        );
    }
    s.push(StepId::Swap, deploy::swap_text(hop));
    for (name, c) in &m.config {
        s.push(
            StepId::WriteConfig(name.clone()),
            format!("write the migrated {}", c.path),
        );
    }
    for r in crossed {
        for d in r.data_steps.iter().filter(|d| d.applies_to(m)) {
            let how = if d.reversible {
                ""
            } else {
                " (irreversible: only the snapshot undoes it)"
            };
            let place = match &d.container {
                Some(c) if m.compose_service(&c.service).is_some() => format!(
                    ", in a one-off container of {0} with the {to} image: `compose run {0} {1}`",
                    c.service,
                    c.command.join(" ")
                ),
                _ => String::new(),
            };
            // An id two crossed releases share is told apart by release.
            let shared = crossed
                .iter()
                .filter(|o| o.data_steps.iter().any(|x| x.id == d.id && x.applies_to(m)))
                .count()
                > 1;
            let id = if shared {
                StepId::MigrateAt {
                    id: d.id.clone(),
                    release: r.version.to_string(),
                }
            } else {
                StepId::Migrate(d.id.clone())
            };
            s.push(id, format!("{}{how}{place}", d.description));
        }
    }
    for name in &order {
        s.push(
            StepId::Start(name.to_string()),
            deploy::start_text(hop, name),
        );
        s.push(
            StepId::Health(name.to_string()),
            format!("wait until {name} is healthy"),
        );
    }
    s.push(
        StepId::MaintenanceOff,
        "end the maintenance window: users write again, so a later failure never rolls back",
    );
    if frozen {
        s.push(
            StepId::BackupDurable,
            format!("durable snapshot of the rollback point while {to} serves: dump the frozen copies, verify the snapshot by test restore, drop the copies (nothing to do if the rollback point is already a snapshot)"),
        );
    }
    s.push(
        StepId::BackupPost,
        format!("post-upgrade snapshot tagged {to} (backups are tied to the version)"),
    );
    if m.hooks.post_upgrade.is_some() {
        s.push(
            StepId::Hook(HookPoint::PostUpgrade),
            "run the post_upgrade hook",
        );
    }
    s.out
}

/// Whether the rollback point is frozen in place, its durable snapshot
/// written after the window: every store is a PostgreSQL database (copied
/// inside its server, no dump) or a SQLite database on this machine (the
/// changed pages written into the online backup's kept copy).
fn frozen_in_server(m: &Manifest) -> bool {
    let local = m.installation.host.is_none();
    !m.stores.is_empty()
        && m.stores.values().all(|s| match *s.kind.get_ref() {
            StoreKind::Postgres => true,
            StoreKind::Sqlite => local,
            _ => false,
        })
}

fn rollback_point_text(m: &Manifest) -> String {
    let of = |kind: StoreKind| -> Vec<&str> {
        m.stores
            .iter()
            .filter(|(_, s)| *s.kind.get_ref() == kind)
            .map(|(n, _)| n.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    let pg = of(StoreKind::Postgres);
    if !pg.is_empty() {
        parts.push(format!("copy database {} inside its PostgreSQL server (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`, no dump; before PostgreSQL 15 or without CREATEDB, a final dump verified by test restore instead)", pg.join(", ")));
    }
    let lite = of(StoreKind::Sqlite);
    if !lite.is_empty() {
        parts.push(format!("write the pages of SQLite database {} that changed since the online backup into its kept copy (none if nothing changed)", lite.join(", ")));
    }
    format!("rollback point: {}; compare row counts", parts.join("; "))
}

/// The last hop's final step when releases live side by side: keep the
/// release the run started from (for `upshift rollback`) and the new one,
/// remove older releases under the release directory.
pub fn prune_step(m: &Manifest, run_from: &str, run_to: &str) -> Option<Step> {
    let r = m.release.as_ref()?;
    Some(Step {
        id: StepId::PruneReleases,
        kind: StepKind::Prune,
        description: deploy::release::prune_text(&r.dir, run_from, run_to),
        point_of_no_return: true,
    })
}
