//! `upshift fleet plan FLEET [--to VERSION]`: every installation's plan,
//! the rollout order and waves, and the reasons.

use std::path::{Path, PathBuf};

use upshift_core::fleet::{parse_fleet, Fleet, FleetPlan, Member, MemberPlan, OnFailure};
use upshift_core::Diagnostic;

use crate::error::{code, CliError};
use crate::settings::Settings;

pub fn run(settings: &Settings, path: &Path, to: Option<&str>) -> Result<i32, CliError> {
    let (_, plan) = make(settings, path, to)?;
    settings.printer.json(&plan);
    settings.printer.human(render(&plan));
    Ok(code::OK)
}

/// The fleet file and the plan of every installation in it.
pub fn make(
    settings: &Settings,
    path: &Path,
    to: Option<&str>,
) -> Result<(Fleet, FleetPlan), CliError> {
    let (file, src, fleet) = load(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut members = Vec::with_capacity(fleet.installations.len());
    for (name, member) in &fleet.installations {
        let plan = member_plan(settings, &file, &src, dir, name, member, to)
            .map_err(|e| CliError::member(name, e))?;
        members.push(MemberPlan {
            name: name.clone(),
            manifest: member.manifest.get_ref().clone(),
            plan,
        });
    }
    let plan = FleetPlan::new(&file, &fleet, members);
    Ok((fleet, plan))
}

/// The manifest of installation `name`, as a path.
pub fn manifest_of(path: &Path, plan: &FleetPlan, name: &str) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    dir.join(
        plan.member(name)
            .map(|m| m.manifest.as_str())
            .unwrap_or(name),
    )
}

/// Reads and checks the fleet file.
pub fn load(path: &Path) -> Result<(String, String, Fleet), CliError> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        CliError::BadInput(format!(
            "cannot read the fleet file {file}: {e} (see `upshift fleet plan --help` for its shape)"
        ))
    })?;
    let fleet = parse_fleet(&file, &src)?;
    Ok((file, src, fleet))
}

/// One installation's own plan, exactly as `upshift -m MANIFEST plan` makes it.
fn member_plan(
    settings: &Settings,
    file: &str,
    src: &str,
    dir: &Path,
    name: &str,
    member: &Member,
    to: Option<&str>,
) -> Result<upshift_core::Plan, CliError> {
    let manifest = manifest_path(file, src, dir, member)?;
    let target = match (&member.to, to) {
        (Some(own), _) => own.get_ref().as_str(),
        (None, Some(to)) => to,
        (None, None) => {
            return Err(CliError::BadInput(format!(
                "no target for `{name}`: give `--to VERSION`, or `to = \"VERSION\"` in [installations.{name}] of {file}"
            )))
        }
    };
    let mut s = settings.clone();
    s.manifest = manifest;
    s.manifest_given = true;
    let loaded = s.load()?;
    crate::settings::refuse_placeholders(&loaded, "plan", |_| true)?;
    Ok(upshift_core::plan(&loaded, target)?)
}

fn manifest_path(file: &str, src: &str, dir: &Path, member: &Member) -> Result<PathBuf, CliError> {
    let path = dir.join(member.manifest.get_ref());
    if path.is_file() {
        return Ok(path);
    }
    Err(Diagnostic::at(
        file,
        src,
        member.manifest.span(),
        format!("no manifest at {}", path.display()),
    )
    .with_help(format!(
        "write the path of the installation's upshift.toml relative to the fleet file's directory ({})",
        dir.display()
    ))
    .into())
}

fn render(plan: &FleetPlan) -> String {
    let n = plan.installations.len();
    let mut out = format!(
        "Fleet {}: {n} installation{} in {} wave{} ({}; {}).\nFirst: {}.\n",
        plan.fleet,
        if n == 1 { "" } else { "s" },
        plan.waves.len(),
        if plan.waves.len() == 1 { "" } else { "s" },
        parallel(plan.max_parallel),
        failure_policy(plan),
        plan.first
    );
    for (i, wave) in plan.waves.iter().enumerate() {
        out.push_str(&format!(
            "\nWave {}: {}\n",
            i + 1,
            wave.installations.join(", ")
        ));
        for name in &wave.installations {
            if let Some(m) = plan.member(name) {
                out.push_str(&format!("  {}\n", member_line(m)));
            }
        }
        for r in &wave.reasons {
            out.push_str(&format!("  - {r}\n"));
        }
        if let (Some(p), true) = (plan.pause_s, i + 1 < plan.waves.len()) {
            out.push_str(&format!("  then wait {p} s\n"));
        }
    }
    out.push_str("\nEach installation's whole plan: upshift -m MANIFEST plan --to VERSION\n");
    out
}

fn parallel(n: u32) -> String {
    if n == 1 {
        "one installation at a time".to_string()
    } else {
        format!("at most {n} at once")
    }
}

fn failure_policy(plan: &FleetPlan) -> String {
    let stops = match plan.max_failures {
        0 => "the rollout stops at the first failure".to_string(),
        n => format!("the rollout stops after {} failures", n + 1),
    };
    let then = match plan.on_failure {
        OnFailure::Keep => "the failed installation is rolled back, upgraded ones stay",
        OnFailure::RollbackFleet => "then every installation is rolled back",
    };
    format!("{stops}, {then}")
}

fn member_line(m: &MemberPlan) -> String {
    let p = &m.plan;
    if p.hops.is_empty() {
        return format!(
            "{}: {} {} already, nothing to do",
            m.name, p.product, p.from
        );
    }
    let stops: Vec<&str> = p.hops.iter().map(|h| h.to.as_str()).collect();
    format!(
        "{}: {} {} → {} in {} hop{} ({}) [{}]",
        m.name,
        p.product,
        p.from,
        p.to,
        p.hops.len(),
        if p.hops.len() == 1 { "" } else { "s" },
        stops.join(", "),
        m.manifest
    )
}
