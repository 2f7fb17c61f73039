//! `upshift backup`: a manual snapshot of every store and config file,
//! verified by test restore before the command reports success. A snapshot
//! that does not verify is kept (to look into) but is no restore point:
//! the command says so and exits 1.

use serde::Serialize;
use upshift_backup::{Phase, Repository, SnapshotInfo, Tags};
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
    let progress = crate::progress::StoreSpinner::new(settings.printer);
    let info = repo.backup(&view, &base, &tags, &progress)?;
    settings.printer.note(&format!(
        "verifying snapshot {} by test restore",
        info.short_id
    ));
    let report = repo.verify(&info.id, &view, &base, &progress)?;
    if !report.ok() {
        return Err(CliError::Failed(format!(
            "snapshot {} was written but does not verify, so it is no restore point:\n  {}\n\
             (it stays in the repository to look into; do not restore from it)",
            info.short_id,
            report.problems().join("\n  ")
        )));
    }
    settings.printer.json(&Verified {
        info: &info,
        verified: true,
    });
    settings.printer.human(format!(
        "snapshot {} of {} at {} ({} bytes processed, {} added), verified: every store restores",
        info.short_id, tags.installation, tags.version, info.total_bytes, info.data_added
    ));
    Ok(code::OK)
}

/// The JSON document of a backup: the snapshot and that it verified.
#[derive(Serialize)]
struct Verified<'a> {
    #[serde(flatten)]
    info: &'a SnapshotInfo,
    verified: bool,
}
