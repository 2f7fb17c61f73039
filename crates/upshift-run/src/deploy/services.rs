//! Services upshift starts and stops on the installation's host: the
//! `process` driver (upshift runs the program and keeps its pid), the
//! `command` driver (any start/stop command) and `systemd` units.

use upshift_core::manifest::{Driver, Manifest, Service};

use super::{Cx, Deployment, Presence};
use crate::driver::{command, process};
use crate::error::StepResult;

/// The manifest's process, command and systemd services.
pub struct Services {
    services: Vec<(String, Service)>,
}

impl Services {
    pub fn of(m: &Manifest) -> Services {
        let services = m
            .services
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s.run(),
                    Driver::Process(_) | Driver::Command(_) | Driver::Systemd(_)
                )
            })
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        Services { services }
    }

    fn get(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }
}

impl Deployment for Services {
    fn key(&self) -> &'static str {
        "services"
    }

    fn owns(&self, service: &str) -> bool {
        self.get(service).is_some()
    }

    fn stop(&self, cx: &Cx, name: &str) -> StepResult<()> {
        let Some(svc) = self.get(name) else {
            return Ok(());
        };
        match svc.run() {
            Driver::Process(p) => process::stop(name, p, cx.target),
            Driver::Command(c) => command::run(name, c, cx.target, "stop"),
            Driver::Systemd(s) => command::systemctl(name, s.as_ref(), cx.target, "stop"),
            _ => Ok(()),
        }
    }

    fn start(&self, cx: &Cx, name: &str) -> StepResult<()> {
        let Some(svc) = self.get(name) else {
            return Ok(());
        };
        match svc.run() {
            Driver::Process(p) => match process::start(name, p, svc, cx.target, cx.listener)? {
                process::Started::Launched { log_from } => {
                    mark_log(cx, name, log_from);
                    Ok(())
                }
                process::Started::AlreadyRunning => Ok(()),
            },
            Driver::Command(c) => command::run(name, c, cx.target, "start"),
            Driver::Systemd(s) => command::systemctl(name, s.as_ref(), cx.target, "start"),
            _ => Ok(()),
        }
    }

    fn exited(&self, cx: &Cx, name: &str) -> Option<String> {
        match self.get(name)?.run() {
            Driver::Process(p) => process::exited(name, p, cx.target),
            _ => None,
        }
    }

    fn presence(&self, cx: &Cx, name: &str) -> Option<Presence> {
        match self.get(name)?.run() {
            Driver::Process(p) => {
                let file = process::pidfile(name, p, cx.target);
                let shown = file
                    .strip_prefix(&cx.target.dir)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                Some(match process::running(name, p, cx.target) {
                    Some(pid) => Presence {
                        running: true,
                        how: format!("pid {pid} in {shown}"),
                    },
                    None => Presence {
                        running: false,
                        how: format!("no live process in {shown}"),
                    },
                })
            }
            Driver::Systemd(s) => command::systemd_active(name, s.as_ref(), cx.target),
            _ => None,
        }
    }
}

/// Remembers where this start of `name` began writing its log, so a
/// failure shows only this start's lines ([`crate::driver::log_since_start`]).
fn mark_log(cx: &Cx, name: &str, from: u64) {
    let mark = cx.state.log_mark(name);
    if let Some(dir) = mark.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&mark, from.to_string());
}
