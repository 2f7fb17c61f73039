//! `upshift apply (--to VERSION | --plan FILE)`.

use serde::Serialize;
use upshift_core::plan::Plan;

use crate::cli::ApplyArgs;
use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::{read, Settings};

pub fn run(settings: &Settings, args: &ApplyArgs) -> Result<i32, CliError> {
    let saved = match &args.plan {
        Some(file) => Some(Plan::from_json(&file.display().to_string(), &read(file)?)?),
        None => None,
    };
    let settings = &match &saved {
        Some(plan) => settings.for_plan(plan),
        None => settings.clone(),
    };
    let (loaded, record) = settings.load_recording()?;
    crate::settings::refuse_placeholders(&loaded, "apply", |_| true)?;
    let plan = match (&args.to, saved) {
        (_, Some(plan)) => {
            plan.check_fresh(&loaded)?;
            plan.check_unedited(&loaded)?
        }
        (Some(to), None) => upshift_core::plan(&loaded, to)?,
        (None, None) => {
            return Err(CliError::BadInput(
                "say where to go: `--to VERSION` or `--plan FILE`".into(),
            ))
        }
    };
    let p = settings.printer;
    if plan.hops.is_empty() {
        p.json(&serde_json::json!({ "outcome": "already_there", "at": plan.to }));
        p.human(format!(
            "{} is already at {}: nothing to do.",
            plan.installation, plan.to
        ));
        return Ok(code::OK);
    }
    if let Some(req) = loaded.manifest.apply.require_rehearsal {
        let manifest = settings.manifest.display().to_string();
        upshift_run::rehearsal::require(&settings.state(), &plan, req.within_days, &manifest)?;
    }
    let path: Vec<&str> = std::iter::once(plan.from.as_str())
        .chain(plan.hops.iter().map(|h| h.to.as_str()))
        .collect();
    crate::printer::note!(
        settings.printer,
        "upgrading {}: {}",
        plan.installation,
        path.join(" → ")
    );
    if !settings.confirm(&format!(
        "Upgrade {} from {} to {} ({} hops)?",
        plan.installation,
        plan.from,
        plan.to,
        plan.hops.len()
    )) {
        return Err(CliError::Failed("not confirmed: nothing changed".into()));
    }
    if let Some(record) = &record {
        settings.record_catalog(&plan.product, record)?;
    }
    let progress = StepLines::new(settings.printer);
    let setup = super::setup(settings, &loaded, &progress)?;
    let summary = upshift_run::apply(&setup, &plan)?;
    // The run is finished and its lock released: only now old snapshots go.
    let retention = super::forget::after_apply(settings, &loaded);
    p.json(&Applied {
        summary: &summary,
        retention,
    });
    p.human(format!(
        "{} is at {} and healthy (run {}, maintenance window {:.1}s, snapshots {}).",
        plan.installation,
        summary.at,
        summary.run_id,
        summary.maintenance_ms as f64 / 1000.0,
        summary.snapshots.join(", ")
    ));
    Ok(code::OK)
}

/// apply's JSON document: the run, and what `[retention]` did after it.
#[derive(Serialize)]
struct Applied<'a> {
    #[serde(flatten)]
    summary: &'a upshift_run::RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    retention: Option<serde_json::Value>,
}
