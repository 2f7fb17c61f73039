//! `upshift status`: what the manifest says, and whether the running version agrees.

use serde::Serialize;
use std::collections::BTreeMap;

use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

#[derive(Serialize)]
struct Status {
    manifest: String,
    installation: String,
    product: String,
    version: String,
    latest: Option<String>,
    host: Option<String>,
    services: Vec<ServiceRow>,
    stores: Vec<StoreRow>,
    config: Vec<ConfigRow>,
    running_version: Option<RunningVersion>,
    lock: Option<LockRow>,
    last_run: Option<upshift_run::RunRecord>,
}

#[derive(Serialize)]
struct LockRow {
    run_id: String,
    owner: String,
    host: String,
    pid: u32,
    stale: Option<String>,
}

#[derive(Serialize)]
struct ServiceRow {
    name: String,
    driver: String,
    depends_on: Vec<String>,
    health: Option<String>,
    /// `healthy`, `unhealthy: why`, or `unknown` without a check.
    state: String,
    /// What the service's deployment adds (a helm release's latest
    /// revision, under `helm`).
    #[serde(flatten)]
    deployment: BTreeMap<&'static str, serde_json::Value>,
    #[serde(skip)]
    deployment_text: Vec<String>,
}

#[derive(Serialize)]
struct StoreRow {
    name: String,
    kind: String,
}

#[derive(Serialize)]
struct ConfigRow {
    name: String,
    path: String,
    format: String,
}

#[derive(Serialize)]
pub(crate) struct RunningVersion {
    command: String,
    pub reported: Option<String>,
    pub matches: bool,
    pub error: Option<String>,
}

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let m = &loaded.manifest;
    let inst = &m.installation;
    let target = settings.target(&loaded)?;
    // An unreachable host says so once, instead of every check timing out.
    let unreachable = target.reach().err();
    let extra = upshift_run::deploy::status(&loaded, &target, &settings.state());
    let running = inst
        .version_command
        .as_ref()
        .map(|cmd| check_version(cmd, &target, &loaded));
    let status = Status {
        manifest: settings.manifest.display().to_string(),
        installation: inst.name.clone(),
        product: loaded.catalog.product.clone(),
        version: loaded.version.to_string(),
        latest: loaded.catalog.latest().map(|r| r.version.to_string()),
        host: target.is_remote().then(|| target.label()),
        services: m
            .start_order()
            .into_iter()
            .map(|name| {
                let s = &m.services[name];
                let mine = || extra.iter().filter(move |x| x.service == name);
                ServiceRow {
                    deployment: mine().map(|x| (x.key, x.json.clone())).collect(),
                    deployment_text: mine().map(|x| x.text.clone()).collect(),
                    name: name.to_string(),
                    driver: s.kind().as_str().to_string(),
                    depends_on: s.depends_on.iter().map(|d| d.get_ref().clone()).collect(),
                    state: match (&s.health, &unreachable) {
                        (_, Some(e)) => format!("unknown: {e}"),
                        (Some(h), None) if placeholder(h) => {
                            "unknown: its health check is still \"TODO: …\"".to_string()
                        }
                        (Some(h), None) => match upshift_run::health::check(h, &target) {
                            Ok(()) => "healthy".to_string(),
                            Err(e) => format!("unhealthy: {e}"),
                        },
                        (None, None) => "unknown".to_string(),
                    },
                    health: s.health.as_ref().map(|h| {
                        h.http
                            .as_ref()
                            .map(|u| format!("http {u}"))
                            .or_else(|| h.tcp.as_ref().map(|a| format!("tcp {a}")))
                            .or_else(|| h.command.as_ref().map(|c| format!("command {c}")))
                            .unwrap_or_default()
                    }),
                }
            })
            .collect(),
        stores: m
            .stores
            .iter()
            .map(|(n, s)| StoreRow {
                name: n.clone(),
                kind: s.kind.get_ref().as_str().into(),
            })
            .collect(),
        config: m
            .config
            .iter()
            .map(|(n, c)| ConfigRow {
                name: n.clone(),
                path: c.path.clone(),
                format: format!("{:?}", c.format).to_lowercase(),
            })
            .collect(),
        running_version: running,
        lock: None,
        last_run: None,
    };
    let mut status = status;
    if settings.journal().exists() {
        let j = upshift_run::Journal::open(&settings.journal())?;
        status.lock = j.lock_holder(&inst.name)?.map(|h| LockRow {
            stale: upshift_run::lock::staleness(&h),
            run_id: h.run_id,
            owner: h.owner,
            host: h.host,
            pid: h.pid,
        });
        status.last_run = j.runs(&inst.name)?.pop();
    }
    let p = settings.printer;
    p.json(&status);
    p.human(render(&status));
    match &status.running_version {
        Some(r) if !r.matches => Ok(code::FAILED),
        _ => Ok(code::OK),
    }
}

/// A health check `upshift init` left to fill in.
fn placeholder(h: &upshift_core::manifest::Health) -> bool {
    [&h.http, &h.tcp, &h.command]
        .into_iter()
        .flatten()
        .any(|v| v.starts_with(upshift_core::manifest::TODO))
}

/// What the installation's `version_command` reports, against the manifest.
pub(crate) fn check_version(
    cmd: &str,
    target: &upshift_run::Target,
    loaded: &upshift_core::Loaded,
) -> RunningVersion {
    let parse = |w: &str| loaded.catalog.parse_version(w).ok();
    let found =
        upshift_run::health::running_version(cmd, target, |w| parse(w).map(|v| v.to_string()));
    RunningVersion {
        command: cmd.to_string(),
        matches: found
            .as_ref()
            .is_ok_and(|v| parse(v).is_some_and(|v| v == loaded.version)),
        reported: found.as_ref().ok().cloned(),
        error: found.err().map(|e| e.to_string()),
    }
}

fn render(s: &Status) -> String {
    let mut out = format!(
        "{} — {} {} (newest known: {})\nmanifest: {}{}\n",
        s.installation,
        s.product,
        s.version,
        s.latest.as_deref().unwrap_or("-"),
        s.manifest,
        s.host
            .as_ref()
            .map(|h| format!("\nhost: {h}"))
            .unwrap_or_default()
    );
    if let Some(r) = &s.running_version {
        out += &match (&r.reported, &r.error) {
            (Some(v), _) if r.matches => format!("running version: {v} (from `{}`), matches the manifest\n", r.command),
            (Some(v), _) => format!(
                "MISMATCH: `{}` reports {v}, but the manifest says {}; correct `installation.version` in {} before planning\n",
                r.command, s.version, s.manifest
            ),
            (None, Some(e)) => format!("running version unknown: {e}\n"),
            (None, None) => String::new(),
        };
    }
    if !s.services.is_empty() {
        let rows: Vec<Vec<String>> = s
            .services
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.driver.clone(),
                    r.depends_on.join(", "),
                    r.health.clone().unwrap_or_else(|| "none".into()),
                    r.state.clone(),
                ]
            })
            .collect();
        out += &format!(
            "\nservices (start order):\n{}",
            table(
                &["SERVICE", "DRIVER", "DEPENDS ON", "HEALTH CHECK", "NOW"],
                &rows
            )
        );
    }
    for r in &s.services {
        for line in &r.deployment_text {
            out += &format!("{line}\n");
        }
    }
    if let Some(l) = &s.lock {
        out += &match &l.stale {
            Some(why) => format!("LOCKED by run {} ({}@{}, pid {}), which looks dead: {why}; `upshift unlock` breaks it\n", l.run_id, l.owner, l.host, l.pid),
            None => format!("locked by run {} ({}@{}, pid {}): it is still running (an upgrade, or a backup, restore or verify)\n", l.run_id, l.owner, l.host, l.pid),
        };
    }
    if let Some(r) = &s.last_run {
        out += &format!(
            "last run: {} {} → {}: {} (at {})\n",
            r.id,
            r.from,
            r.to,
            r.outcome.as_str(),
            r.at_version.as_deref().unwrap_or("?")
        );
        if r.outcome.unfinished() {
            out += "  it did not finish: run `upshift resume` or `upshift rollback`\n";
        }
    }
    if !s.stores.is_empty() {
        let rows: Vec<Vec<String>> = s
            .stores
            .iter()
            .map(|r| vec![r.name.clone(), r.kind.clone()])
            .collect();
        out += &format!("\ndata stores:\n{}", table(&["STORE", "KIND"], &rows));
    }
    if !s.config.is_empty() {
        let rows: Vec<Vec<String>> = s
            .config
            .iter()
            .map(|r| vec![r.name.clone(), r.format.clone(), r.path.clone()])
            .collect();
        out += &format!(
            "\nconfig files:\n{}",
            table(&["CONFIG", "FORMAT", "PATH"], &rows)
        );
    }
    out.trim_end().to_string()
}
