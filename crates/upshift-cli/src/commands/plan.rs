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
    let rehearsal = upshift_run::rehearsal::Report::latest(&settings.state(), &plan)?;
    p.json(&Planned {
        plan: &plan,
        rehearsal: rehearsal.as_ref().map(Rehearsed::of),
    });
    p.human(crate::render::plan(&plan, &loaded.catalog));
    if let Some(text) = rehearsal_text(&loaded, &plan, rehearsal.as_ref()) {
        p.human(text);
    }
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

/// `plan --json`: the plan, and the latest rehearsal of exactly it.
#[derive(serde::Serialize)]
struct Planned<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    #[serde(skip_serializing_if = "Option::is_none")]
    rehearsal: Option<Rehearsed>,
}

/// What `plan` says of a rehearsal: its outcome and measured windows.
#[derive(serde::Serialize)]
struct Rehearsed {
    id: String,
    succeeded: bool,
    ended_ms: i64,
    /// The windows measured on the staging copy: the plan's estimate.
    window_ms: i64,
    hop_windows_ms: Vec<i64>,
    /// Each hop's data steps (migrations) as the rehearsal timed them.
    hop_data_steps: Vec<Vec<upshift_run::rehearsal::StepTime>>,
}

impl Rehearsed {
    fn of(r: &upshift_run::rehearsal::Report) -> Rehearsed {
        Rehearsed {
            id: r.id.clone(),
            succeeded: r.succeeded,
            ended_ms: r.ended_ms,
            window_ms: r.window_ms,
            hop_windows_ms: r.hops.iter().map(|h| h.window_ms).collect(),
            hop_data_steps: r.hops.iter().map(|h| h.data_steps.clone()).collect(),
        }
    }
}

/// The latest rehearsal of the plan, or that there is none (and whether
/// `apply` requires one).
fn rehearsal_text(
    loaded: &upshift_core::Loaded,
    plan: &Plan,
    r: Option<&upshift_run::rehearsal::Report>,
) -> Option<String> {
    let Some(r) = r else {
        let req = loaded.manifest.apply.require_rehearsal?;
        return Some(format!(
            "\nNot rehearsed yet: `apply` requires a successful rehearsal of this plan within {} days (`upshift rehearse --to {}`).",
            req.within_days, plan.to
        ));
    };
    let age_h = (upshift_run::journal::now_ms() - r.ended_ms) as f64 / 3_600_000.0;
    let hops: Vec<String> = r
        .hops
        .iter()
        .map(|h| {
            let data: Vec<String> = h
                .data_steps
                .iter()
                .map(|d| format!("{} {:.1}s", d.step, d.ms as f64 / 1000.0))
                .collect();
            match data.is_empty() {
                true => format!("{} → {} {:.1}s", h.from, h.to, h.window_ms as f64 / 1000.0),
                false => format!(
                    "{} → {} {:.1}s, of which {}",
                    h.from,
                    h.to,
                    h.window_ms as f64 / 1000.0,
                    data.join(", ")
                ),
            }
        })
        .collect();
    Some(format!(
        "\nRehearsed {:.1} h ago ({}): {}. Measured window {:.1}s ({}): the estimate for this plan.",
        age_h,
        r.id,
        if r.succeeded { "succeeded" } else { "FAILED" },
        r.window_ms as f64 / 1000.0,
        hops.join(", ")
    ))
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
