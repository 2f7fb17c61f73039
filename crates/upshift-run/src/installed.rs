//! The version an installation is at: found (what answers, else what the
//! release link or the journal says, else the manifest), recorded in the
//! manifest, and changed outside a run (`upshift restore` of a snapshot
//! taken at another version switches the release with the data).

use std::path::Path;

use serde::Serialize;
use upshift_core::manifest::Loaded;

use crate::deploy::{self, release::Releases, Cx};
use crate::error::{StepError, StepResult};
use crate::executor::Progress;
use crate::{health, Journal, StateDir, Target};

/// The installation's version and what said so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    pub version: String,
    /// What said so, for messages: `what version_command prints`, …
    pub source: &'static str,
}

/// The version the installation is at: what its `version_command` prints
/// when it answers; else the release the `[release]` link points at; else
/// where the journal's last run left it; else the manifest's
/// `installation.version`.
pub fn version(loaded: &Loaded, target: &Target, journal: Option<&Journal>) -> Installed {
    let cat = &loaded.catalog;
    let parse = |w: &str| cat.parse_version(w).ok().map(|v| v.to_string());
    let found = |version: String, source| Installed { version, source };
    if let Some(cmd) = &loaded.manifest.installation.version_command {
        if let Ok(v) = health::running_version(cmd, target, parse) {
            return found(v, "what version_command prints");
        }
    }
    if let Some(v) = Releases::of(&loaded.manifest)
        .current(target)
        .and_then(|name| parse(&name))
    {
        return found(v, "where the release link points");
    }
    let last_run = journal
        .and_then(|j| j.runs(&loaded.manifest.installation.name).ok())
        .and_then(|mut runs| runs.pop())
        .and_then(|r| r.at_version);
    if let Some(v) = last_run.and_then(|v| parse(&v)) {
        return found(v, "where the last run left it");
    }
    found(
        loaded.version.to_string(),
        "the manifest's installation.version",
    )
}

/// Rewrites `installation.version` in the manifest at `path` (comments
/// kept), so the manifest keeps saying what runs. Best effort: a manifest
/// that cannot be read or parsed is left as it is.
pub fn record_version(path: &Path, version: &str) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
        return;
    };
    let Some(inst) = doc
        .get_mut("installation")
        .and_then(|t| t.as_table_like_mut())
    else {
        return;
    };
    let decor = inst
        .get("version")
        .and_then(|v| v.as_value())
        .map(|v| v.decor().clone());
    let mut value = toml_edit::Value::from(version);
    if let Some(d) = decor {
        *value.decor_mut() = d;
    }
    inst.insert("version", toml_edit::Item::Value(value));
    let tmp = path.with_extension("toml.upshift-tmp");
    if std::fs::write(&tmp, doc.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// What moving the installation to another version outside a run needs.
pub struct Switch<'a> {
    pub loaded: &'a Loaded,
    pub target: &'a Target,
    pub state: &'a StateDir,
    pub manifest_path: &'a Path,
    pub progress: &'a dyn Progress,
}

impl Switch<'_> {
    /// Stops every service (reverse dependency order), runs `restore`,
    /// points the `[release]` link at `version` (installing a pruned
    /// release again), records it in the manifest, then starts every
    /// service in dependency order, each healthy at `version`, and checks
    /// `version_command` says `version`. When `restore` fails the services
    /// stay stopped (their data may be half restored): the error says so.
    pub fn to(&self, version: &str, restore: impl FnOnce() -> StepResult<()>) -> StepResult<()> {
        let cx = Cx {
            loaded: self.loaded,
            target: self.target,
            state: self.state,
            progress: self.progress,
            run_id: "",
            listener: None,
        };
        let m = &self.loaded.manifest;
        let deployments = deploy::deployments(self.loaded);
        for name in m.start_order().iter().rev() {
            self.progress.note(&format!("stopping {name}"));
            deploy::owner(&deployments, name)?.stop(&cx, name)?;
        }
        restore().map_err(|e| stopped(e, "restoring the snapshot"))?;
        self.progress
            .note(&format!("switching the release to {version}"));
        Releases::of(m)
            .switch(&cx, version)
            .map_err(|e| stopped(e, &format!("switching the release to {version}")))?;
        record_version(self.manifest_path, version);
        for name in m.start_order() {
            self.progress.note(&format!("starting {name} ({version})"));
            deploy::owner(&deployments, name)?.start(&cx, name)?;
            if let Some(hc) = &m.services[name].health {
                health::wait_at(hc, self.target, Some(version))?;
            }
        }
        if let Some(cmd) = &m.installation.version_command {
            let cat = &self.loaded.catalog;
            let parse = |w: &str| cat.parse_version(w).ok().map(|v| v.to_string());
            health::version_answers(cmd, self.target, version, parse)?;
        }
        Ok(())
    }
}

/// `e`, saying the services were left stopped.
fn stopped(e: StepError, doing: &str) -> StepError {
    StepError::msg(format!("{doing} failed: {e}")).hint(Some(
        "every service is stopped and the release link is unchanged until this succeeds: fix the cause and run the same `upshift restore` again (it rewrites only what differs)".into(),
    ))
}
