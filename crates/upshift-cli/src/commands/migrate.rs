//! `upshift migrate --to DEST_MANIFEST [--stop-source]`: the installation
//! moved into another one (upshift-run `migration`).

use upshift_run::migration::Migration;

use crate::cli::MigrateArgs;
use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &MigrateArgs) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let (dest, dest_manifest) = super::rehearse::staging_loaded(&loaded, &args.to)?;
    let p = settings.printer;
    if !settings.confirm(&format!(
        "Replace the data and config of {} ({}) with those of {}{}?",
        dest.manifest.installation.name,
        dest_manifest.display(),
        loaded.manifest.installation.name,
        if args.stop_source {
            ", stopping the source first"
        } else {
            ""
        }
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let progress = StepLines::new(p);
    let setup = super::setup(settings, &loaded, &progress)?;
    let report = Migration {
        source: &setup,
        dest: &dest,
        dest_manifest: &dest_manifest,
        stop_source: args.stop_source,
    }
    .run()?;
    p.json(&report);
    p.human(format!(
        "{} serves the data of {} at {} (snapshot {}); its own data before is snapshot {}. The source is {}.",
        report.destination,
        report.source,
        report.version,
        &report.source_snapshot[..8.min(report.source_snapshot.len())],
        &report.destination_snapshot[..8.min(report.destination_snapshot.len())],
        report.source_left
    ));
    Ok(code::OK)
}
