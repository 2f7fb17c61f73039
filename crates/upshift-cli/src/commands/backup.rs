//! `upshift backup`: a manual snapshot of every store and config file.

use upshift_backup::{Phase, Repository, Tags};
use upshift_run::host;

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let root = settings.manifest_dir();
    let _lock = settings.lock(&loaded, "backup")?;
    let repo = Repository::for_manifest(&loaded.manifest, &root)?;
    let tags = Tags {
        installation: loaded.manifest.installation.name.clone(),
        product: loaded.catalog.product.clone(),
        version: loaded.version.to_string(),
        phase: Phase::Manual,
        run_id: format!("manual-{}", upshift_run::journal::now_ms()),
        config_fingerprint: upshift_core::plan::Fingerprint::of(&loaded.source, "").manifest[..16]
            .to_string(),
    };
    crate::printer::note!(
        settings.printer,
        "backing up {} ({} stores and {} config files) to {}",
        tags.installation,
        loaded.manifest.stores.len(),
        loaded.manifest.config.len(),
        repo.path().display()
    );
    let target = settings.target(&loaded)?;
    let mirror = settings.state().mirror(&tags.installation);
    if target.is_remote() {
        crate::printer::note!(
            settings.printer,
            "copying the stores from {}",
            target.label()
        );
        host::pull_stores(&target, &loaded.manifest, &mirror)?;
    }
    let (view, base) = host::backup_view(&target, &loaded.manifest, &mirror);
    let info = repo.backup(
        &view,
        &base,
        &tags,
        &crate::progress::StoreSpinner::new(settings.printer),
    )?;
    settings.printer.json(&info);
    settings.printer.human(format!(
        "snapshot {} of {} at {} ({} bytes processed, {} added)",
        info.short_id, tags.installation, tags.version, info.total_bytes, info.data_added
    ));
    Ok(code::OK)
}
