//! Step ids: what the planner builds, the executor matches on and the
//! journal stores. Their text form (`stop.notes`, `backup.final`) is the one
//! saved plans and journals have always held; [`StepId::from_str`] is the
//! only place that text is taken apart.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StepKind;

/// A hook the manifest can name under `[hooks]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookPoint {
    PreUpgrade,
    PostUpgrade,
}

impl HookPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::PreUpgrade => "pre_upgrade",
            HookPoint::PostUpgrade => "post_upgrade",
        }
    }
}

/// One step of a hop, by what it does and what it acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepId {
    PreflightHealth,
    PreflightDisk,
    PreflightTools,
    /// A catalog pre-check, by its id.
    PreCheck(String),
    PrepareArtifacts,
    /// Rendering config file NAME (of `[config.NAME]`) for the new version.
    RenderConfig(String),
    BackupOnline,
    VerifyOnline,
    Hook(HookPoint),
    MaintenanceOn,
    /// Stopping service NAME.
    Stop(String),
    BackupFinal,
    VerifyFinal,
    /// The rollback point taken with services stopped, when every store is
    /// a database whose server copies it inside itself: the copies, checked
    /// by their row counts (a final dump and its test restore instead on a
    /// server that cannot).
    RollbackPoint,
    Swap,
    /// Writing the migrated config file NAME.
    WriteConfig(String),
    /// A catalog data step, by its id.
    Migrate(String),
    /// A catalog data step whose id another release the hop crosses uses
    /// too: by release and id (`migrate.ID@VERSION`).
    MigrateAt {
        id: String,
        release: String,
    },
    Start(String),
    Health(String),
    MaintenanceOff,
    /// The durable snapshot of the rollback point, written from its frozen
    /// copies while the new version serves, verified, then the copies dropped.
    BackupDurable,
    BackupPost,
    PruneReleases,
    /// Not a plan step: the journal's record of a rollback and its target.
    Rollback,
}

impl StepId {
    /// What kind of step this is.
    pub fn kind(&self) -> StepKind {
        use StepId::*;
        match self {
            PreflightHealth | PreflightDisk | PreflightTools => StepKind::Preflight,
            PreCheck(_) => StepKind::PreCheck,
            PrepareArtifacts => StepKind::Prepare,
            RenderConfig(_) => StepKind::RenderConfig,
            BackupOnline | BackupFinal | RollbackPoint | BackupDurable | BackupPost => {
                StepKind::Backup
            }
            VerifyOnline | VerifyFinal => StepKind::VerifyBackup,
            Hook(_) => StepKind::Hook,
            MaintenanceOn => StepKind::MaintenanceOn,
            Stop(_) => StepKind::Stop,
            Swap => StepKind::Swap,
            WriteConfig(_) => StepKind::WriteConfig,
            Migrate(_) | MigrateAt { .. } => StepKind::DataMigration,
            Start(_) => StepKind::Start,
            Health(_) => StepKind::HealthCheck,
            MaintenanceOff => StepKind::MaintenanceOff,
            PruneReleases | Rollback => StepKind::Prune,
        }
    }

    /// The name of what a parameterised step acts on.
    fn arg(&self) -> Option<&str> {
        use StepId::*;
        match self {
            PreCheck(a) | RenderConfig(a) | Stop(a) | WriteConfig(a) | Migrate(a) | Start(a)
            | Health(a) => Some(a),
            _ => None,
        }
    }

    /// The text before the argument (`stop.` of `stop.notes`), or the
    /// whole id of a step without one.
    fn head(&self) -> &'static str {
        use StepId::*;
        match self {
            PreflightHealth => "preflight.health",
            PreflightDisk => "preflight.disk",
            PreflightTools => "preflight.tools",
            PreCheck(_) => "precheck.",
            PrepareArtifacts => "prepare.artifacts",
            RenderConfig(_) => "prepare.config.",
            BackupOnline => "backup.online",
            VerifyOnline => "backup.verify_online",
            Hook(HookPoint::PreUpgrade) => "hook.pre_upgrade",
            Hook(HookPoint::PostUpgrade) => "hook.post_upgrade",
            MaintenanceOn => "maintenance.on",
            Stop(_) => "stop.",
            BackupFinal => "backup.final",
            VerifyFinal => "backup.verify",
            RollbackPoint => "backup.rollback_point",
            BackupDurable => "backup.durable",
            Swap => "swap.version",
            WriteConfig(_) => "config.write.",
            Migrate(_) | MigrateAt { .. } => "migrate.",
            Start(_) => "start.",
            Health(_) => "health.",
            MaintenanceOff => "maintenance.off",
            BackupPost => "backup.post",
            PruneReleases => "releases.prune",
            Rollback => "rollback",
        }
    }
}

/// Every step id without an argument, for parsing.
const FIXED: [StepId; 18] = [
    StepId::PreflightHealth,
    StepId::PreflightDisk,
    StepId::PreflightTools,
    StepId::PrepareArtifacts,
    StepId::BackupOnline,
    StepId::VerifyOnline,
    StepId::Hook(HookPoint::PreUpgrade),
    StepId::Hook(HookPoint::PostUpgrade),
    StepId::MaintenanceOn,
    StepId::BackupFinal,
    StepId::VerifyFinal,
    StepId::RollbackPoint,
    StepId::Swap,
    StepId::MaintenanceOff,
    StepId::BackupDurable,
    StepId::BackupPost,
    StepId::PruneReleases,
    StepId::Rollback,
];

/// Constructors of the ids with an argument, by their head.
type WithArg = fn(String) -> StepId;
const PARAMETERISED: [(&str, WithArg); 7] = [
    ("precheck.", StepId::PreCheck),
    ("prepare.config.", StepId::RenderConfig),
    ("stop.", StepId::Stop),
    ("config.write.", StepId::WriteConfig),
    ("migrate.", StepId::Migrate),
    ("start.", StepId::Start),
    ("health.", StepId::Health),
];

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.head())?;
        if let Some(a) = self.arg() {
            f.write_str(a)?;
        }
        if let StepId::MigrateAt { id, release } = self {
            write!(f, "{id}@{release}")?;
        }
        Ok(())
    }
}

/// A step id that no version of upshift writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a step id upshift knows")]
pub struct UnknownStep(pub String);

impl FromStr for StepId {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(id) = FIXED.iter().find(|id| id.head() == s) {
            return Ok(id.clone());
        }
        if let Some((id, release)) = s
            .strip_prefix("migrate.")
            .and_then(|rest| rest.rsplit_once('@'))
            .filter(|(id, r)| !id.is_empty() && r.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Ok(StepId::MigrateAt {
                id: id.to_string(),
                release: release.to_string(),
            });
        }
        PARAMETERISED
            .iter()
            .find_map(|(head, make)| {
                s.strip_prefix(head)
                    .filter(|a| !a.is_empty())
                    .map(|a| make(a.to_string()))
            })
            .ok_or_else(|| UnknownStep(s.to_string()))
    }
}

impl Serialize for StepId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StepId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_reads_back_from_its_text() {
        let mut ids: Vec<StepId> = FIXED.to_vec();
        for (_, make) in PARAMETERISED {
            ids.push(make("notes".into()));
            ids.push(make("a.b".into()));
        }
        ids.push(StepId::MigrateAt {
            id: "mark".into(),
            release: "2.0.0".into(),
        });
        for id in ids {
            let text = id.to_string();
            assert_eq!(text.parse::<StepId>().unwrap(), id, "{text}");
        }
    }

    #[test]
    fn todays_strings_are_kept() {
        let cases = [
            ("stop.notes", StepId::Stop("notes".into())),
            ("prepare.config.app", StepId::RenderConfig("app".into())),
            ("config.write.app", StepId::WriteConfig("app".into())),
            ("backup.verify_online", StepId::VerifyOnline),
            ("backup.verify", StepId::VerifyFinal),
            ("swap.version", StepId::Swap),
            ("releases.prune", StepId::PruneReleases),
            ("migrate.notes-v3", StepId::Migrate("notes-v3".into())),
        ];
        for (text, id) in cases {
            assert_eq!(text.parse::<StepId>().unwrap(), id);
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn unknown_ids_are_refused() {
        for bad in ["", "stop.", "stop", "swap.other", "bogus.x"] {
            assert!(bad.parse::<StepId>().is_err(), "{bad}");
        }
    }
}
