//! `upshift show PLAN`: a saved plan, and whether `apply --plan` takes it.

use std::path::Path;

use upshift_core::plan::Plan;

use crate::error::{code, CliError};
use crate::settings::{read, Settings};

pub fn run(settings: &Settings, file: &Path) -> Result<i32, CliError> {
    let plan = Plan::from_json(&file.display().to_string(), &read(file)?)?;
    let settings = settings.for_plan(&plan);
    let loaded = settings.load()?;
    let stale = plan
        .check_fresh(&loaded)
        .and_then(|()| plan.check_unedited(&loaded).map(drop))
        .err()
        .map(|e| e.to_string());
    let p = settings.printer;
    p.json(&serde_json::json!({
        "plan": &plan,
        "manifest": settings.manifest.display().to_string(),
        "applicable": stale.is_none(),
        "stale": stale,
    }));
    p.human(crate::render::plan(&plan, &loaded.catalog));
    p.human(match &stale {
        None => format!(
            "\nMade from {}; still current: `upshift apply --plan {}` applies exactly this.",
            settings.manifest.display(),
            file.display()
        ),
        Some(why) => format!(
            "\nMade from {}; cannot be applied: {why}",
            settings.manifest.display()
        ),
    });
    Ok(if stale.is_none() {
        code::OK
    } else {
        code::FAILED
    })
}
