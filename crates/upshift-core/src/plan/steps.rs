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
    /// Removing releases no longer needed for rollback (never fails the run).
    Prune,
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
    push(
        &mut out,
        "backup.verify_online".into(),
        StepKind::VerifyBackup,
        "verify the online snapshot by test restore, while still serving".into(),
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
            if m.services[*s].helm.is_some() {
                format!("{s} keeps running (helm: Kubernetes replaces its pods in the swap)")
            } else if m.services[*s].compose.is_some() {
                format!("stop and remove the container of {s} ({from}); named volumes stay")
            } else {
                format!("stop {s} ({from})")
            },
        );
    }
    push(
        &mut out,
        "backup.final".into(),
        StepKind::Backup,
        "final incremental backup: only what changed since the online backup (none if nothing did)"
            .into(),
    );
    push(
        &mut out,
        "backup.verify".into(),
        StepKind::VerifyBackup,
        "verify the final snapshot by test restore (already done if nothing changed)".into(),
    );
    let swap = match &m.release {
        Some(r) if !r.carry.is_empty() => {
            let carry: Vec<&str> = r.carry.iter().map(|c| c.get_ref().as_str()).collect();
            format!(
                "switch the installation from {from} to {to}: copy {} from {dir}/{from} into {dir}/{to}, then point `{}` at {dir}/{to}",
                carry.join(", "),
                r.link,
                dir = r.dir
            )
        }
        _ => format!("switch the installation from {from} to {to}"),
    };
    let chart = crossed.last().and_then(|r| r.chart_version.as_deref());
    let helm: Vec<String> = order
        .iter()
        .filter_map(|s| m.services[*s].helm.as_ref())
        .map(|h| {
            let version = chart.map_or(
                " (no chart_version in the catalog: the newest chart)".to_string(),
                |v| format!(" --version {v}"),
            );
            let values = h
                .values
                .as_ref()
                .map(|v| format!(" with the migrated {v}"))
                .unwrap_or_default();
            format!("helm upgrade {} {}{version}{values}", h.release, h.chart)
        })
        .collect();
    let swap = if helm.is_empty() {
        swap
    } else {
        format!(
            "{swap}: {} (the current revision is recorded for helm rollback)",
            helm.join("; ")
        )
    };
    let mut projects: Vec<&str> = order
        .iter()
        .filter_map(|s| m.services[*s].compose.as_ref())
        .map(|c| c.project.as_str())
        .collect();
    projects.dedup();
    let swap = if projects.is_empty() {
        swap
    } else {
        let files: Vec<String> = projects
            .iter()
            .map(|p| format!(".upshift/compose/{p}.override.yml"))
            .collect();
        format!(
            "{swap}: write the catalog's images of {to} into {} (the previous one is journaled for rollback); the start steps recreate the containers with them",
            files.join(", ")
        )
    };
    push(&mut out, "swap.version".into(), StepKind::Swap, swap);
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
            let place = match &d.container {
                Some(c) if m.compose_service(&c.service).is_some() => format!(
                    ", in a one-off container of {0} with the {to} image: `compose run {0} {1}`",
                    c.service,
                    c.command.join(" ")
                ),
                _ => String::new(),
            };
            push(
                &mut out,
                format!("migrate.{}", d.id),
                StepKind::DataMigration,
                format!("{}{how}{place}", d.description),
            );
        }
    }
    for s in &order {
        push(
            &mut out,
            format!("start.{s}"),
            StepKind::Start,
            if m.services[*s].helm.is_some() {
                format!("{s} runs {to} once the helm upgrade is done (nothing to start)")
            } else {
                format!("start {s} ({to})")
            },
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

/// The last hop's final step when releases live side by side: keep the
/// release the run started from (for `upshift rollback`) and the new one,
/// remove older releases under the release directory.
pub fn prune_step(m: &Manifest, run_from: &str, run_to: &str) -> Option<Step> {
    let r = m.release.as_ref()?;
    Some(Step {
        id: "releases.prune".into(),
        kind: StepKind::Prune,
        description: format!(
            "keep {dir}/{run_to} and {dir}/{run_from} (for rollback); remove older releases under {dir}/",
            dir = r.dir
        ),
        point_of_no_return: true,
    })
}
