//! `upshift restore ID [--force]`.

use upshift_backup::{BackupError, Repository};
use upshift_run::host;

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, id: &str, force: bool) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let root = settings.manifest_dir();
    let target = settings.target(&loaded)?;
    let _lock = settings.lock(&loaded, "restore")?;
    let running: Vec<&str> = loaded
        .manifest
        .services
        .iter()
        .filter(|(_, s)| {
            s.health
                .as_ref()
                .is_some_and(|h| upshift_run::health::check(h, &target).is_ok())
        })
        .map(|(n, _)| n.as_str())
        .collect();
    if !running.is_empty() && !force {
        return Err(CliError::Failed(format!(
            "refusing to restore while {} running (their health checks answer); stop them first, or pass --force",
            running.join(", ")
        )));
    }
    if !settings.confirm(&format!(
        "Replace the data of {} with snapshot {id}?",
        loaded.manifest.installation.name
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let repo = Repository::existing_for_manifest(&loaded.manifest, &root)?
        .ok_or_else(|| BackupError::NoSuchSnapshot(id.to_string()))?;
    let m = &loaded.manifest;
    let mirror = settings.state().mirror(&m.installation.name);
    if target.is_remote() {
        host::empty_mirror(&target, m, &mirror)?;
    }
    let (view, base) = host::backup_view(&target, m, &mirror);
    let report = repo.restore(
        id,
        &view,
        &base,
        &crate::progress::StoreSpinner::new(settings.printer),
    )?;
    if target.is_remote() {
        crate::printer::note!(
            settings.printer,
            "writing the restored files to {}",
            target.label()
        );
        host::push_stores(&target, m, &mirror)?;
    }
    settings.printer.json(&report);
    settings
        .printer
        .human(format!("restored snapshot {}:", report.snapshot));
    for (name, what) in report.stores.iter().chain(report.config.iter()) {
        settings.printer.human(format!("  {name}: {what}"));
    }
    Ok(code::OK)
}
