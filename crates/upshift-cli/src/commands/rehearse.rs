//! `upshift rehearse --to VERSION [--snapshot ID] [--keep]`: the plan run on
//! a staging copy of production (upshift-run `rehearsal`), its report
//! printed and saved.

use upshift_run::rehearsal::{Rehearsal, Report};

use crate::cli::RehearseArgs;
use crate::error::{code, CliError};
use crate::progress::StepLines;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &RehearseArgs) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let plan = upshift_core::plan(&loaded, &args.to)?;
    let p = settings.printer;
    if plan.hops.is_empty() {
        return Err(CliError::BadInput(format!(
            "{} is already at {}: there is nothing to rehearse",
            plan.installation, plan.to
        )));
    }
    crate::printer::note!(
        p,
        "rehearsing {} {} → {} on a staging copy (production keeps serving)",
        plan.installation,
        plan.from,
        plan.to
    );
    let staging = args
        .staging
        .as_deref()
        .map(|m| staging_loaded(&loaded, m))
        .transpose()?;
    let progress = StepLines::new(p);
    let setup = super::setup(settings, &loaded, &progress)?;
    let report = Rehearsal {
        production: &setup,
        plan: &plan,
        snapshot: args.snapshot.as_deref(),
        keep: args.keep,
        staging: staging.as_ref().map(|(l, m)| (l, m.as_path())),
    }
    .run()?;
    p.json(&report);
    p.human(text(&report));
    match &report.failure {
        None => Ok(code::OK),
        Some(f) => Err(CliError::Reported(format!(
            "the rehearsal of {} → {} failed{}: {}",
            report.from,
            report.to,
            f.step
                .as_ref()
                .map(|s| format!(" at step {s} of hop {}", f.hop.unwrap_or(0)))
                .unwrap_or_default(),
            f.message
        ))),
    }
}

/// The operator's staging manifest, loaded against production's catalog
/// (a rehearsal runs the same catalog), with its path made absolute.
pub(super) fn staging_loaded(
    production: &upshift_core::Loaded,
    manifest: &std::path::Path,
) -> Result<(upshift_core::Loaded, std::path::PathBuf), CliError> {
    let path = std::path::absolute(manifest)
        .map_err(|e| CliError::BadInput(format!("--staging {}: {e}", manifest.display())))?;
    let text = crate::settings::read(&path)?;
    let file = path.display().to_string();
    let m = upshift_core::manifest::parse_manifest(&file, &text)?;
    let version = upshift_core::manifest::known_version(
        &file,
        &text,
        &production.catalog,
        &m.installation.version,
    )?;
    Ok((
        upshift_core::Loaded {
            manifest: m,
            file,
            source: text,
            catalog: production.catalog.clone(),
            version,
        },
        path,
    ))
}

/// The report for people: one block per hop.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "Rehearsal {} of {} {} → {} (plan {}, snapshot {}): {}\n",
        r.id,
        r.installation,
        r.from,
        r.to,
        r.plan_id,
        &r.snapshot[..r.snapshot.len().min(8)],
        if r.succeeded { "succeeded" } else { "FAILED" }
    );
    for (i, h) in r.hops.iter().enumerate() {
        out += &format!(
            "  hop {}: {} → {}  window {:.1}s  {}\n",
            i + 1,
            h.from,
            h.to,
            h.window_ms as f64 / 1000.0,
            if h.healthy { "healthy" } else { "not healthy" }
        );
        for d in &h.data_steps {
            out += &format!(
                "    data step {} {}: {:.1}s\n",
                d.step,
                d.state,
                d.ms as f64 / 1000.0
            );
        }
        for w in &h.config_warnings {
            out += &format!("    config warning: {w}\n");
        }
    }
    if let Some(f) = &r.failure {
        out += &format!("  failed: {}\n", f.message);
        for l in &f.log {
            out += &format!("    | {l}\n");
        }
    }
    out += &format!(
        "  measured window {:.1}s in total; staging copy {}\n",
        r.window_ms as f64 / 1000.0,
        if r.staging.kept {
            format!("kept in {}", r.staging.dir.display())
        } else {
            "removed".to_string()
        }
    );
    out
}
