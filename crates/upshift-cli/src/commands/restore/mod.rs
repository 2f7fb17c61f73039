//! `upshift restore ID [--store NAME]… [--config] [--into DIR] [--force]`.
//!
//! In place, the snapshot's version is compared with the installation's
//! before anything changes ([`version::decide`]); `--into` writes beside
//! the installation and touches nothing of it ([`into::checked_dir`]).

mod into;
mod version;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use upshift_backup::{
    BackupError, Relocation, Repository, RestoreReport, RestoreScope, SnapshotInfo,
};
use upshift_core::manifest::{Loaded, Manifest};
use upshift_run::{host, StepError};

use crate::cli::RestoreArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;
use version::Decision;

/// The `--json` report: what was restored where, and what it did about versions.
#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    restored: RestoreReport,
    /// The version the snapshot was taken at.
    taken_at: String,
    /// The version the installation was at before (not checked with `--into`).
    installation_version: Option<String>,
    /// The release the installation was switched to, with the data.
    switched_to: Option<String>,
    /// Restored under the current release although taken at another version.
    forced_version: bool,
}

pub fn run(settings: &Settings, args: &RestoreArgs) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let m = &loaded.manifest;
    let target = settings.target(&loaded)?;
    let root = settings.manifest_dir();
    let into = args
        .into
        .as_deref()
        .map(|d| into::checked_dir(d, m, &root, &target, args.force))
        .transpose()?;
    let _lock = settings.lock(&loaded, "restore")?;
    let repo = Repository::existing_for_manifest(m, &root)?
        .ok_or_else(|| BackupError::NoSuchSnapshot(args.id.clone()))?;
    let snap = repo.snapshot(&args.id)?;
    let mut scope = scope(args, &snap)?;
    let mut report = Report {
        restored: RestoreReport::default(),
        taken_at: snap.tags.version.clone(),
        installation_version: None,
        switched_to: None,
        forced_version: false,
    };
    let job = Job {
        settings,
        loaded: &loaded,
        target: &target,
        repo: &repo,
        id: &snap.id,
    };
    if let Some(dir) = into {
        let (_, base) = job.view();
        scope.into = Some(Relocation::new(dir, base));
        report.restored = job.restore(&scope)?;
        return Ok(job.print(&report));
    }
    let journal = if settings.journal().exists() {
        Some(upshift_run::Journal::open(&settings.journal())?)
    } else {
        None
    };
    let installed = upshift_run::installed::version(&loaded, &target, journal.as_ref());
    drop(journal);
    report.installation_version = Some(installed.version.clone());
    let partial = scope.stores.is_some() || !scope.config;
    let decision = version::decide(
        &loaded,
        &target,
        &snap.short_id,
        &snap.tags.version,
        &installed,
        partial,
        args.force,
    )?;
    if let Decision::Switch { to } = &decision {
        let question = format!(
            "snapshot {}… was taken at {to}; the installation is at {}: restore it and switch the release to {to}?",
            snap.short_id, installed.version
        );
        if !settings.confirm(&question) {
            return Err(CliError::Failed("not confirmed: nothing changed".into()));
        }
        report.restored = job.switch(to, &scope)?;
        report.switched_to = Some(to.clone());
        return Ok(job.print(&report));
    }
    if let Decision::Forced { taken_at } = &decision {
        crate::printer::note!(
            settings.printer,
            "warning: snapshot {} was taken at {taken_at}; restoring its data under {} anyway (--force): {} may refuse to start on it",
            snap.short_id,
            installed.version,
            installed.version
        );
        report.forced_version = true;
    }
    job.refuse_while_running(args.force)?;
    if !settings.confirm(&format!(
        "Replace the data of {} with snapshot {}{}?",
        m.installation.name,
        snap.short_id,
        what(&scope)
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    report.restored = job.restore(&scope)?;
    Ok(job.print(&report))
}

/// What `--store` and `--config` select; an unknown store is bad input,
/// named with the stores the snapshot holds.
fn scope(args: &RestoreArgs, snap: &SnapshotInfo) -> Result<RestoreScope, CliError> {
    if args.stores.is_empty() && !args.config {
        return Ok(RestoreScope::everything());
    }
    for name in &args.stores {
        if snap.stores.contains(name) {
            continue;
        }
        let held = snap.stores.join(", ");
        let guess = upshift_core::diag::did_you_mean(name, snap.stores.iter().map(String::as_str))
            .map(|g| format!("did you mean `{g}`? "))
            .unwrap_or_default();
        return Err(CliError::BadInput(format!(
            "--store {name}: snapshot {} holds no store `{name}`; {guess}it holds: {}",
            snap.short_id,
            if held.is_empty() { "none" } else { &held }
        )));
    }
    Ok(RestoreScope {
        stores: Some(args.stores.iter().cloned().collect::<BTreeSet<_>>()),
        config: args.config,
        into: None,
    })
}

/// " (stores a, b and the config files)" for a partial restore.
fn what(scope: &RestoreScope) -> String {
    let Some(stores) = &scope.stores else {
        return String::new();
    };
    let names: Vec<&str> = stores.iter().map(String::as_str).collect();
    match (names.is_empty(), scope.config) {
        (true, _) => " (only the config files)".into(),
        (false, true) => format!(" (store {} and the config files)", names.join(", ")),
        (false, false) => format!(" (store {} only)", names.join(", ")),
    }
}

/// One restore of one snapshot.
struct Job<'a> {
    settings: &'a Settings,
    loaded: &'a Loaded,
    target: &'a upshift_run::Target,
    repo: &'a Repository,
    id: &'a str,
}

impl Job<'_> {
    fn manifest(&self) -> &Manifest {
        &self.loaded.manifest
    }

    fn mirror(&self) -> PathBuf {
        self.settings
            .state()
            .mirror(&self.manifest().installation.name)
    }

    /// The manifest as the repository sees it, and its base directory (a
    /// remote installation's files are restored into the mirror).
    fn view(&self) -> (Manifest, PathBuf) {
        host::backup_view(self.target, self.manifest(), &self.mirror())
    }

    /// Today's rule: no restore over the data of running services.
    fn refuse_while_running(&self, force: bool) -> Result<(), CliError> {
        let running: Vec<&str> = self
            .manifest()
            .services
            .iter()
            .filter(|(_, s)| {
                s.health
                    .as_ref()
                    .is_some_and(|h| upshift_run::health::check(h, self.target).is_ok())
            })
            .map(|(n, _)| n.as_str())
            .collect();
        if running.is_empty() || force {
            return Ok(());
        }
        Err(CliError::Failed(format!(
            "refusing to restore while {} running (their health checks answer); stop them first, or pass --force",
            running.join(", ")
        )))
    }

    /// Restores what `scope` selects: in place (through the mirror for a
    /// remote installation), or under its `--into` directory.
    fn restore(&self, scope: &RestoreScope) -> Result<RestoreReport, StepError> {
        let (view, base) = self.view();
        let remote = self.target.is_remote() && scope.into.is_none();
        // Only what is restored goes back over the installation.
        let selected = selected(self.manifest(), scope);
        if remote {
            host::empty_mirror(self.target, &selected, &self.mirror())?;
        }
        let spinner = crate::progress::StoreSpinner::new(self.settings.printer);
        let report = self
            .repo
            .restore_scoped(self.id, &view, &base, scope, &spinner)?;
        if remote {
            crate::printer::note!(
                self.settings.printer,
                "writing the restored files to {}",
                self.target.label()
            );
            host::push_stores(self.target, &selected, &self.mirror())?;
        }
        Ok(report)
    }

    /// Stops the services, restores, switches the release to `to` and
    /// starts the services at `to`.
    fn switch(&self, to: &str, scope: &RestoreScope) -> Result<RestoreReport, CliError> {
        let progress = crate::progress::StepLines::new(self.settings.printer);
        let state = self.settings.state();
        let switch = upshift_run::installed::Switch {
            loaded: self.loaded,
            target: self.target,
            state: &state,
            manifest_path: &self.settings.manifest,
            progress: &progress,
        };
        let mut report = None;
        switch.to(to, || {
            report = Some(self.restore(scope)?);
            Ok(())
        })?;
        Ok(report.unwrap_or_default())
    }

    fn print(&self, r: &Report) -> i32 {
        let p = self.settings.printer;
        p.json(r);
        let done = &r.restored;
        let place = match &done.into {
            Some(dir) => format!(" into {dir}"),
            None => String::new(),
        };
        p.human(format!("restored snapshot {}{place}:", done.snapshot));
        for (name, what) in &done.stores {
            p.human(format!("  store {name}: {what}"));
        }
        for (name, what) in &done.config {
            p.human(format!("  config {name}: {what}"));
        }
        if let Some(v) = &r.switched_to {
            p.human(format!(
                "{} is at {v} (the release switched with the data) and healthy.",
                self.manifest().installation.name
            ));
        }
        code::OK
    }
}

/// `m` with only the stores (and config files) `scope` restores.
fn selected(m: &Manifest, scope: &RestoreScope) -> Manifest {
    let mut m = m.clone();
    m.stores.retain(|name, _| scope.wants(name));
    if !scope.config {
        m.config.clear();
    }
    m
}
