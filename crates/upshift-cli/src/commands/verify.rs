//! `upshift verify [ID]`: prove a snapshot restores.

use upshift_backup::{BackupError, Repository};

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, id: Option<&str>) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let root = settings.manifest_dir();
    // Verifying writes test restores (temporary databases): one run at a time.
    let _lock = settings.lock(&loaded, "verify")?;
    let id = id.unwrap_or("latest");
    let repo = Repository::existing_for_manifest(&loaded.manifest, &root)?
        .ok_or_else(|| BackupError::NoSuchSnapshot(id.to_string()))?;
    let target = settings.target(&loaded)?;
    let mirror = settings.state().mirror(&loaded.manifest.installation.name);
    let (view, base) = upshift_run::host::backup_view(&target, &loaded.manifest, &mirror);
    let report = repo.verify(
        id,
        &view,
        &base,
        &crate::progress::StoreSpinner::new(settings.printer),
    )?;
    settings.printer.json(&report);
    if report.ok() {
        settings.printer.human(format!(
            "snapshot {} verified: the repository is intact and every store restores.",
            report.snapshot
        ));
        Ok(code::OK)
    } else {
        Err(CliError::Failed(format!(
            "snapshot {} does not verify:\n  {}",
            report.snapshot,
            report.problems().join("\n  ")
        )))
    }
}
