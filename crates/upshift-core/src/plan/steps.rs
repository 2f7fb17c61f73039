//! The steps of one hop, following the state machine in DESIGN.md.

use serde::{Deserialize, Serialize};

use crate::catalog::Release;
use crate::manifest::Manifest;

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
}

/// One step of a hop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
    pub description: String,
    /// True for the swap and everything after it: a failure here is undone
    /// by restoring the snapshot, not by simply restarting the old version.
    pub point_of_no_return: bool,
}

/// Builds the steps of the hop `from → to` crossing `crossed` releases.
pub fn hop_steps(m: &Manifest, from: &str, to: &str, crossed: &[&Release]) -> Vec<Step> {
    let mut out = Vec::new();
    let mut past = false;
    let mut push = |out: &mut Vec<Step>, id: String, kind: StepKind, description: String| {
        if kind == StepKind::Swap {
            past = true;
        }
        out.push(Step {
            id,
            kind,
            description,
            point_of_no_return: past,
        });
    };
    let order = m.start_order();
    let stores: Vec<&str> = m.stores.keys().map(String::as_str).collect();
    let data = if stores.is_empty() {
        "the config files".to_string()
    } else {
        format!("stores {} and the config files", stores.join(", "))
    };

    push(
        &mut out,
        "preflight.health".into(),
        StepKind::Preflight,
        format!("check that {from} runs and every service is healthy"),
    );
    push(
        &mut out,
        "preflight.disk".into(),
        StepKind::Preflight,
        "check free disk space for the snapshot and the new release".into(),
    );
    push(
        &mut out,
        "preflight.tools".into(),
        StepKind::Preflight,
        "check that the tools the drivers and stores need are installed".into(),
    );
    for r in crossed {
        for c in &r.pre_checks {
            push(
                &mut out,
                format!("precheck.{}", c.id),
                StepKind::PreCheck,
                format!("{} (required by {})", c.description, r.version),
            );
        }
    }
    push(
        &mut out,
        "prepare.artifacts".into(),
        StepKind::Prepare,
        format!("fetch the {to} release (packages, images, chart) while {from} still serves"),
    );
    for (name, c) in &m.config {
        push(
            &mut out,
            format!("prepare.config.{name}"),
            StepKind::RenderConfig,
            format!("render {} migrated for {to} (not written yet)", c.path),
        );
    }
    push(
        &mut out,
        "backup.online".into(),
        StepKind::Backup,
        format!("online backup of {data} while still serving"),
    );
    if m.hooks.pre_upgrade.is_some() {
        push(
            &mut out,
            "hook.pre_upgrade".into(),
            StepKind::Hook,
            "run the pre_upgrade hook".into(),
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
    push(
        &mut out,
        "maintenance.on".into(),
        StepKind::MaintenanceOn,
        on.into(),
    );
    for s in order.iter().rev() {
        push(
            &mut out,
            format!("stop.{s}"),
            StepKind::Stop,
            format!("stop {s} ({from})"),
        );
    }
    push(
        &mut out,
        "backup.final".into(),
        StepKind::Backup,
        "final incremental backup: only what changed since the online backup".into(),
    );
    push(
        &mut out,
        "backup.verify".into(),
        StepKind::VerifyBackup,
        "verify the snapshot by restoring it to a scratch place".into(),
    );
    push(
        &mut out,
        "swap.version".into(),
        StepKind::Swap,
        format!("switch the installation from {from} to {to}"),
    );
    for (name, c) in &m.config {
        push(
            &mut out,
            format!("config.write.{name}"),
            StepKind::WriteConfig,
            format!("write the migrated {}", c.path),
        );
    }
    for r in crossed {
        for d in &r.data_steps {
            let how = if d.reversible {
                ""
            } else {
                " (irreversible: only the snapshot undoes it)"
            };
            push(
                &mut out,
                format!("migrate.{}", d.id),
                StepKind::DataMigration,
                format!("{}{how}", d.description),
            );
        }
    }
    for s in &order {
        push(
            &mut out,
            format!("start.{s}"),
            StepKind::Start,
            format!("start {s} ({to})"),
        );
        push(
            &mut out,
            format!("health.{s}"),
            StepKind::HealthCheck,
            format!("wait until {s} is healthy"),
        );
    }
    push(
        &mut out,
        "maintenance.off".into(),
        StepKind::MaintenanceOff,
        "end the maintenance window".into(),
    );
    push(
        &mut out,
        "backup.post".into(),
        StepKind::Backup,
        format!("post-upgrade snapshot tagged {to} (backups are tied to the version)"),
    );
    if m.hooks.post_upgrade.is_some() {
        push(
            &mut out,
            "hook.post_upgrade".into(),
            StepKind::Hook,
            "run the post_upgrade hook".into(),
        );
    }
    out
}
