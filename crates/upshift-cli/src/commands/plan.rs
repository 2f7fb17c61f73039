//! `upshift plan --to VERSION [--out FILE]`.

use std::path::Path;

use upshift_core::plan::Plan;

use crate::cli::PlanArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &PlanArgs) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    crate::settings::refuse_placeholders(&loaded, "plan", |_| true)?;
    runs_the_manifests_version(settings, &loaded)?;
    let mut plan = upshift_core::plan(&loaded, &args.to)?;
    plan.made_from = Some(settings.made_from());
    upshift_run::upstream_preview(&loaded, &settings.target(&loaded)?, &mut plan)?;
    if let Some(out) = &args.out {
        save(out, &plan)?;
    }
    let p = settings.printer;
    p.json(&plan);
    p.human(crate::render::plan(&plan, &loaded.catalog));
    if !p.json {
        let target = settings.target(&loaded)?;
        let changes = upshift_run::config_preview(&loaded, &target, &plan);
        let text = crate::render::config_changes(&plan, &changes);
        if !text.is_empty() {
            p.human(text);
        }
    }
    if let Some(out) = &args.out {
        let shown = out
            .canonicalize()
            .unwrap_or_else(|_| out.to_path_buf())
            .display()
            .to_string();
        p.human(format!("\nSaved to {shown}. Review it with `upshift show {shown}`; apply exactly this plan,\nfrom any directory, with `upshift apply --plan {shown}` (it names the manifest it was made from).\nIt is refused if the manifest or the catalog changes in the meantime, or if the file is edited."));
    }
    Ok(code::OK)
}

/// A manifest whose version is not the one running would plan the wrong
/// hops: when `version_command` reports another version, stop with the
/// fix. When it cannot tell, say so and plan from the manifest.
fn runs_the_manifests_version(
    settings: &Settings,
    loaded: &upshift_core::Loaded,
) -> Result<(), CliError> {
    let Some(cmd) = &loaded.manifest.installation.version_command else {
        return Ok(());
    };
    let target = settings.target(loaded)?;
    let running = super::status::check_version(cmd, &target, loaded);
    match (&running.reported, &running.error) {
        (Some(v), _) if !running.matches => Err(CliError::BadInput(format!(
            "`{cmd}` reports {v} running, but the manifest says {}: set `version = \"{v}\"` in [installation] of {}, then plan again",
            loaded.version,
            settings.manifest.display()
        ))),
        (None, Some(e)) => {
            crate::printer::note!(
                settings.printer,
                "the running version is unknown (`{cmd}`: {e}); planning from the manifest's {}",
                loaded.version
            );
            Ok(())
        }
        _ => Ok(()),
    }
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
