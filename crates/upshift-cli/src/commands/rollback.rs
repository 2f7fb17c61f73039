//! `upshift rollback [RUN]`.

use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

pub fn run(settings: &Settings, run_id: Option<&str>) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let name = &loaded.manifest.installation.name;
    if !settings.confirm(&format!(
        "Roll {name} back to the version the run started from? Data written since its snapshot is replaced by the snapshot"
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let progress = StepLines::new();
    let setup = super::setup(settings, &loaded, &progress)?;
    let summary = upshift_run::rollback(&setup, run_id)?;
    settings.printer.json(&summary);
    settings.printer.human(format!(
        "run {} rolled back: {name} is at {} and healthy.",
        summary.run_id, summary.at
    ));
    Ok(code::OK)
}
