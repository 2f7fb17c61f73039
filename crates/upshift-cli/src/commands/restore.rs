//! `upshift restore ID [--force]`.

use upshift_backup::Repository;

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, id: &str, force: bool) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let root = settings.root();
    let running: Vec<&str> = loaded
        .manifest
        .services
        .iter()
        .filter(|(_, s)| {
            s.health
                .as_ref()
                .is_some_and(|h| upshift_run::health::check(h, &root).is_ok())
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
    let repo = Repository::for_manifest(&loaded.manifest, &root)?;
    let report = repo.restore(
        id,
        &loaded.manifest,
        &root,
        &crate::progress::StoreSpinner::new(settings.printer.json),
    )?;
    settings.printer.json(&report);
    settings
        .printer
        .human(format!("restored snapshot {}:", report.snapshot));
    for (name, what) in report.stores.iter().chain(report.config.iter()) {
        settings.printer.human(format!("  {name}: {what}"));
    }
    Ok(code::OK)
}
