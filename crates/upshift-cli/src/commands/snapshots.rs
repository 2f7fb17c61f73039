//! `upshift snapshots`: the installation's snapshots, with what the runs
//! journaled about verifying them.

use serde::Serialize;
use upshift_backup::{Repository, SnapshotInfo};
use upshift_run::snapshots::{verifications, Verification, Verifications};
use upshift_run::Journal;

use super::history::time_of;
use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

/// One listed snapshot: `verified` is true or false when a run verified it
/// (or tried), absent otherwise.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    info: &'a SnapshotInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
}

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let name = &loaded.manifest.installation.name;
    // Read-only: no lock, and no repository (nor key, nor journal) is created here.
    let repo = Repository::existing_for_manifest(&loaded.manifest, &settings.manifest_dir())?;
    let snaps: Vec<_> = match &repo {
        Some(repo) => repo
            .snapshots()?
            .into_iter()
            .filter(|s| &s.tags.installation == name)
            .collect(),
        None => Vec::new(),
    };
    let verified = match Journal::open_existing(&settings.journal())? {
        Some(journal) => verifications(&journal, name)?,
        None => Verifications::default(),
    };
    let listed: Vec<Listed> = snaps
        .iter()
        .map(|info| Listed {
            info,
            verified: verified.of(&info.id).map(|v| v == Verification::Verified),
        })
        .collect();
    settings.printer.json(&listed);
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            let s = l.info;
            vec![
                s.short_id.clone(),
                time_of(s.unix_ms),
                s.tags.version.clone(),
                s.tags.phase.as_str().to_string(),
                s.tags.run_id.clone(),
                match l.verified {
                    Some(true) => "yes".into(),
                    Some(false) => "FAILED".into(),
                    None => "-".into(),
                },
                s.stores.join(", "),
                s.total_bytes.to_string(),
            ]
        })
        .collect();
    settings.printer.human(table(
        &[
            "ID",
            "TIME (UTC)",
            "VERSION",
            "PHASE",
            "RUN",
            "VERIFIED",
            "STORES",
            "BYTES",
        ],
        &rows,
    ));
    Ok(code::OK)
}
