//! `upshift start|stop|restart [SERVICE]`: the deployment drivers an
//! upgrade runs, run by hand, so a server started by hand can be handed
//! over to upshift and an operator never needs to know how a driver
//! starts things.

use std::time::Duration;

use serde::Serialize;
use upshift_core::manifest::{Driver, Loaded, Service};
use upshift_run::deploy::Control;
use upshift_run::{RunError, Target};

use crate::error::{code, CliError};
use crate::settings::{refuse_placeholders, Settings};

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}

/// What was done to one service.
#[derive(Debug, Serialize)]
struct Row {
    service: String,
    driver: &'static str,
    /// `started`, `already_running`, `stopped`, `already_stopped`, `restarted`.
    outcome: &'static str,
    /// What shows it runs or ran (`pid 1234 in run/auth.pid`).
    detail: Option<String>,
    /// `healthy` after a start (none without a health check, or after a stop).
    health: Option<&'static str>,
}

impl Row {
    fn line(&self) -> String {
        let mut out = format!("{}: {}", self.service, self.outcome.replace('_', " "));
        if let Some(d) = &self.detail {
            out += &format!(" ({d})");
        }
        match (self.health, self.outcome) {
            (Some(h), _) => out += &format!(", {h}"),
            (None, "started" | "already_running" | "restarted") => {
                out += ", no health check in the manifest"
            }
            _ => {}
        }
        out
    }
}

/// What one piece of work needs.
struct Work<'a> {
    loaded: &'a Loaded,
    target: &'a Target,
    control: Control<'a>,
}

pub fn run(settings: &Settings, action: Action, service: Option<&str>) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let names = chosen(&loaded, service)?;
    if !matches!(action, Action::Stop) {
        refuse_placeholders(&loaded, action.as_str(), |key| {
            names
                .iter()
                .any(|n| key.starts_with(&format!("services.{n}.")))
        })?;
    }
    let target = settings.target(&loaded)?;
    target.reach()?;
    let _lock = lock(settings, &loaded, action.as_str())?;
    let state = settings.state();
    let work = Work {
        loaded: &loaded,
        target: &target,
        control: Control::new(&loaded, &target, &state),
    };
    let p = settings.printer;
    let mut rows = Vec::new();
    let mut done = |row: Row| {
        p.human(row.line());
        rows.push(row);
    };
    match action {
        Action::Start => {
            for name in &names {
                done(start(&work, name)?);
            }
        }
        Action::Stop => {
            for name in names.iter().rev() {
                done(stop(&work, name)?);
            }
        }
        Action::Restart => {
            for name in names.iter().rev() {
                stop(&work, name)?;
            }
            for name in &names {
                let mut row = start(&work, name)?;
                row.outcome = "restarted";
                done(row);
            }
        }
    }
    p.json(&serde_json::json!({
        "action": action.as_str(),
        "installation": loaded.manifest.installation.name,
        "version": loaded.version.to_string(),
        "services": rows,
    }));
    Ok(code::OK)
}

/// The services to act on, in start order: all, or the one named.
fn chosen(loaded: &Loaded, service: Option<&str>) -> Result<Vec<String>, CliError> {
    let m = &loaded.manifest;
    let all: Vec<String> = m.start_order().into_iter().map(str::to_string).collect();
    let Some(name) = service else {
        return Ok(all);
    };
    if m.services.contains_key(name) {
        return Ok(vec![name.to_string()]);
    }
    let list = all.join(", ");
    let hint = match upshift_core::diag::did_you_mean(name, all.iter().map(String::as_str)) {
        Some(s) => format!(
            "did you mean `{s}`? The services of {}: {list}",
            loaded.file
        ),
        None => format!("the services of {}: {list}", loaded.file),
    };
    Err(CliError::BadInput(format!(
        "the manifest has no service `{name}`; {hint}"
    )))
}

/// Takes the installation's lock, refusing while a run is unfinished. A
/// live holder is exit 4; the dead holder of an unfinished run is that
/// run to resume or roll back (exit 3), not a lock to break.
fn lock(
    settings: &Settings,
    loaded: &Loaded,
    command: &str,
) -> Result<upshift_run::lock::LockGuard, CliError> {
    let name = &loaded.manifest.installation.name;
    let unfinished = || -> Result<(), CliError> {
        let journal = upshift_run::Journal::open(&settings.journal())?;
        Ok(upshift_run::refuse_unfinished(&journal, name)?)
    };
    let guard = match settings.lock(loaded, command) {
        Err(CliError::Run(e)) if matches!(*e, RunError::StaleLock { .. }) => {
            unfinished()?;
            return Err(CliError::Run(e));
        }
        other => other?,
    };
    unfinished()?;
    Ok(guard)
}

fn start(w: &Work, name: &str) -> Result<Row, CliError> {
    let svc = &w.loaded.manifest.services[name];
    let before = w.control.presence(name);
    let running = match &before {
        Some(p) => p.running,
        // Without a pidfile to read, a service that answers its check runs.
        None => svc
            .health
            .as_ref()
            .is_some_and(|h| upshift_run::health::check(h, w.target).is_ok()),
    };
    if !running {
        if before.is_some() {
            refuse_unknown_holder(w, name, svc)?;
        }
        w.control.start(name)?;
    }
    let health = healthy(w, name, svc)?;
    let after = w.control.presence(name).or(before);
    Ok(Row {
        service: name.to_string(),
        driver: svc.kind().as_str(),
        outcome: if running {
            "already_running"
        } else {
            "started"
        },
        detail: after.map(|p| p.how),
        health,
    })
}

/// Waits until `name` answers its health check (for the manifest's
/// version, where the check names `{version}`).
fn healthy(w: &Work, name: &str, svc: &Service) -> Result<Option<&'static str>, CliError> {
    let Some(h) = &svc.health else {
        return Ok(None);
    };
    let version = w.loaded.version.to_string();
    upshift_run::health::wait_at(h, w.target, Some(&version)).map_err(|e| {
        let log = upshift_run::driver::log_path(name, svc, w.target);
        CliError::Failed(format!(
            "{name} runs but is not healthy: {e}; see its log {}",
            log.display()
        ))
    })?;
    Ok(Some("healthy"))
}

/// A process service whose pidfile names no live process, while something
/// answers on its public address: a server started by hand. Says how to
/// hand it over instead of starting a second copy.
fn refuse_unknown_holder(w: &Work, name: &str, svc: &Service) -> Result<(), CliError> {
    let Driver::Process(conf) = svc.run() else {
        return Ok(());
    };
    let Some((addr, holder)) = stranger(w, svc) else {
        return Ok(());
    };
    let pid = holder
        .as_deref()
        .and_then(|h| h.strip_prefix("pid "))
        .and_then(|h| h.split(' ').next())
        .unwrap_or("PID");
    let pidfile = upshift_run::driver::process::pidfile(name, conf, w.target);
    let pidfile = pidfile.strip_prefix(&w.target.dir).unwrap_or(&pidfile);
    Err(CliError::Failed(format!(
        "{name} is running, but not started by upshift: {} answers on {addr}, and {} names no live process.\n\
         To hand it over to upshift, either\n  \
         - stop it (`kill {pid}`), then run `upshift start {name}`: upshift starts it with \
         [services.{name}.process] start and records its pid in {}; or\n  \
         - if it runs exactly as that start command would run it, record its pid: \
         `echo {pid} > {}`; `upshift stop {name}` and `upshift start {name}` then manage it.",
        holder.as_deref().unwrap_or("a process"),
        pidfile.display(),
        pidfile.display(),
        pidfile.display(),
    )))
}

/// The service's public address and, on this machine, who holds it, when
/// something answers there.
fn stranger(w: &Work, svc: &Service) -> Option<(String, Option<String>)> {
    let addr = svc.public_address.as_deref()?;
    if !answers(w.target, addr) {
        return None;
    }
    let port = addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
    let holder = port
        .filter(|_| !w.target.is_remote())
        .and_then(upshift_run::proc::port_holder);
    Some((addr.to_string(), holder))
}

/// Whether something accepts connections on `addr` (a wildcard address
/// is tried on loopback).
fn answers(t: &Target, addr: &str) -> bool {
    let addr = addr
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    t.host.connect(&addr, Duration::from_secs(1)).is_ok()
}

fn stop(w: &Work, name: &str) -> Result<Row, CliError> {
    let svc = &w.loaded.manifest.services[name];
    let before = w.control.presence(name);
    let row = |outcome, detail| Row {
        service: name.to_string(),
        driver: svc.kind().as_str(),
        outcome,
        detail,
        health: None,
    };
    if let Some(p) = before.as_ref().filter(|p| !p.running) {
        let mut how = p.how.clone();
        if let Some((addr, holder)) = stranger(w, svc) {
            how += &format!(
                "; but {} answers on {addr}: not started by upshift, so not stopped",
                holder.as_deref().unwrap_or("a process")
            );
        }
        return Ok(row("already_stopped", Some(how)));
    }
    w.control.stop(name)?;
    let detail = before.map(|p| p.how.replace("pid ", "was pid "));
    Ok(row("stopped", detail))
}
