//! `upshift snapshots`: the installation's snapshots.

use upshift_backup::Repository;

use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    // Read-only: no lock, and no repository (nor key) is created here.
    let repo = Repository::existing_for_manifest(&loaded.manifest, &settings.manifest_dir())?;
    let snaps: Vec<_> = match &repo {
        Some(repo) => repo
            .snapshots()?
            .into_iter()
            .filter(|s| s.tags.installation == loaded.manifest.installation.name)
            .collect(),
        None => Vec::new(),
    };
    settings.printer.json(&snaps);
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|s| {
            vec![
                s.short_id.clone(),
                s.time.clone(),
                s.tags.version.clone(),
                s.tags.phase.as_str().to_string(),
                s.tags.run_id.clone(),
                s.stores.join(", "),
                s.total_bytes.to_string(),
            ]
        })
        .collect();
    settings.printer.human(table(
        &["ID", "TIME", "VERSION", "PHASE", "RUN", "STORES", "BYTES"],
        &rows,
    ));
    Ok(code::OK)
}
