//! `upshift resume`: finish the interrupted run.

use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let progress = StepLines::new(settings.printer);
    let setup = super::setup(settings, &loaded, &progress)?;
    let summary = upshift_run::resume(&setup)?;
    settings.printer.json(&summary);
    settings.printer.human(format!(
        "run {} finished: {} is at {} ({}).",
        summary.run_id,
        loaded.manifest.installation.name,
        summary.at,
        summary.outcome.as_str()
    ));
    Ok(code::OK)
}
