//! `upshift plan --to VERSION [--out FILE]`.

use std::path::Path;

use upshift_core::plan::Plan;

use crate::cli::PlanArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &PlanArgs) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    crate::settings::refuse_placeholders(&loaded, "plan", |_| true)?;
    let plan = upshift_core::plan(&loaded, &args.to)?;
    if let Some(out) = &args.out {
        save(out, &plan)?;
    }
    let p = settings.printer;
    p.json(&plan);
    p.human(crate::render::plan(&plan, &loaded.catalog));
    if let Some(out) = &args.out {
        p.human(format!("\nSaved to {}. Apply exactly this plan with `upshift apply --plan {}`;\nit is refused if the manifest or the catalog changes in the meantime, or if the file is edited.", out.display(), out.display()));
    }
    Ok(code::OK)
}

/// Writes the plan atomically (temp file + rename) so a crash never leaves half a plan.
fn save(path: &Path, plan: &Plan) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(plan).expect("plain data serialises") + "\n";
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("plan")
    ));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::Failed(format!("cannot save the plan to {}: {e}", path.display())))
}
