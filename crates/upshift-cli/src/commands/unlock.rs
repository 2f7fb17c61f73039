//! `upshift unlock`: break a stale lock, after confirmation.

use upshift_run::lock::staleness;
use upshift_run::Journal;

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let name = &loaded.manifest.installation.name;
    let journal = Journal::open(&settings.journal())?;
    let Some(h) = journal.lock_holder(name)? else {
        settings.printer.human(format!("{name} is not locked."));
        settings
            .printer
            .json(&serde_json::json!({ "locked": false }));
        return Ok(code::OK);
    };
    let why = staleness(&h);
    let question = match &why {
        Some(w) => format!(
            "{name} is locked by run {} ({}@{}, pid {}), which looks dead: {w}. Break the lock?",
            h.run_id, h.owner, h.host, h.pid
        ),
        None => format!(
            "{name} is locked by run {} ({}@{}, pid {}), which is ALIVE. Break the lock anyway?",
            h.run_id, h.owner, h.host, h.pid
        ),
    };
    if !settings.confirm(&question) {
        return Err(CliError::Failed("not confirmed: the lock stays".into()));
    }
    journal.unlock(name, None)?;
    settings
        .printer
        .json(&serde_json::json!({ "locked": false, "broken": h }));
    settings.printer.human(format!("lock of {name} broken; if run {} was interrupted, `upshift resume` or `upshift rollback` finishes it.", h.run_id));
    Ok(code::OK)
}
