//! `upshift rollback [RUN]`.

use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

pub fn run(settings: &Settings, run_id: Option<&str>, to: Option<&str>) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let name = &loaded.manifest.installation.name;
    let progress = StepLines::new(settings.printer);
    let setup = super::setup(settings, &loaded, &progress)?;
    // Refused before asking when it cannot be done; the question says the
    // versions and what happens to the data.
    let question = upshift_run::rollback_preview(&setup, run_id, to)?;
    if !settings.confirm(&question) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    let summary = upshift_run::rollback(&setup, run_id, to)?;
    settings.printer.json(&summary);
    settings.printer.human(format!(
        "run {} rolled back: {name} is at {} and healthy.",
        summary.run_id, summary.at
    ));
    Ok(code::OK)
}
