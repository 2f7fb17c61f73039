//! What each kind of step does. Every step is idempotent: after a crash,
//! `resume` runs the interrupted step again.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use upshift_backup::{Phase, Tags};
use upshift_core::catalog::Release;
use upshift_core::manifest::{DriverKind, StoreKind};
use upshift_core::plan::{Step, StepKind};

use super::runner::Runner;
use crate::error::RunError;
use crate::host::{self, Target};
use crate::journal::now_ms;
use crate::proc::tail;
use crate::{driver, health};

type StepResult = Result<Option<String>, String>;

/// How a stop step that left its service running starts its detail.
const KEPT: &str = "kept running";

impl Runner<'_> {
    /// Releases the hop crosses (their pre-checks, data steps and known issues apply).
    pub(super) fn crossed(&self, h: usize) -> Vec<&Release> {
        let hop = &self.plan.hops[h];
        let cat = &self.setup.loaded.catalog;
        hop.crosses
            .iter()
            .filter_map(|v| cat.parse_version(v).ok().and_then(|v| cat.release(&v)))
            .collect()
    }

    /// Performs one step; the `Ok` value is journaled as the step's detail.
    pub(super) fn perform(&mut self, h: usize, step: &Step) -> StepResult {
        let hop = self.plan.hops[h].clone();
        let m = &self.setup.loaded.manifest;
        let t = self.target().clone();
        let root = t.root.clone();
        // The name a step acts on: `stop.notes` → `notes`, `prepare.config.auth` → `auth`.
        let arg = ["prepare.config.", "config.write."]
            .iter()
            .find_map(|p| step.id.strip_prefix(p))
            .or_else(|| step.id.split_once('.').map(|(_, a)| a))
            .unwrap_or("")
            .to_string();
        let service = |name: &str| {
            m.services.get(name).ok_or_else(|| {
                format!("the manifest has no service `{name}` (the plan is for another manifest)")
            })
        };
        match step.kind {
            StepKind::Preflight => match step.id.as_str() {
                "preflight.health" => {
                    for name in m.start_order() {
                        if let Some(hc) = &m.services[name].health {
                            health::wait(hc, &t).map_err(|e| {
                                format!(
                                    "{name} ({}) is not healthy, fix it before upgrading: {e}",
                                    hop.from
                                )
                            })?;
                        }
                    }
                    Ok(None)
                }
                "preflight.disk" => disk_free(&t),
                _ => {
                    for (name, svc) in &m.services {
                        driver::check_remote(name, svc, &t)?;
                    }
                    if t.is_remote() {
                        remote_stores(m, &t)?;
                    }
                    let helm = m
                        .services
                        .values()
                        .any(|s| *s.driver.get_ref() == DriverKind::Helm);
                    if helm && !on_path("helm") {
                        return Err("services use the helm driver but `helm` is not on PATH; install Helm 3 (https://helm.sh/docs/intro/install/)".into());
                    }
                    if m.services
                        .values()
                        .any(|s| *s.driver.get_ref() == DriverKind::Compose)
                    {
                        driver::compose::program()?;
                    }
                    tools_present(m.stores.values().map(|s| *s.kind.get_ref()))
                }
            },
            StepKind::PreCheck => {
                let id = step.id.trim_start_matches("precheck.");
                let check = self
                    .crossed(h)
                    .into_iter()
                    .flat_map(|r| r.pre_checks.iter())
                    .find(|c| c.id == id)
                    .cloned();
                match check.and_then(|c| c.run.clone().map(|run| (c, run))) {
                    Some((c, run)) => t
                        .host
                        .sh_checked(&c.description, &run, &root, &[])
                        .map(|_| None)
                        .map_err(|e| {
                            format!(
                                "{e}{}",
                                c.hint.map(|h| format!("\nhint: {h}")).unwrap_or_default()
                            )
                        }),
                    None => Ok(Some("nothing to run: review it by hand".into())),
                }
            }
            StepKind::Prepare => {
                let release = self.install_release(h)?;
                let images = self.compose_prepare(h)?;
                Ok(join_details(release, images))
            }
            StepKind::RenderConfig => self.render_config(h, &arg),
            StepKind::Backup => self.backup(h, &step.id),
            StepKind::Hook => {
                let cmd = match arg.as_str() {
                    "pre_upgrade" => m.hooks.pre_upgrade.clone(),
                    _ => m.hooks.post_upgrade.clone(),
                };
                run_hook(&arg, cmd.as_deref(), &t, &hop.from, &hop.to)
            }
            StepKind::MaintenanceOn => {
                run_hook(
                    "maintenance.on",
                    m.maintenance.on.as_deref(),
                    &t,
                    &hop.from,
                    &hop.to,
                )?;
                run_hook(
                    "maintenance.announce",
                    m.maintenance.announce.as_deref(),
                    &t,
                    &hop.from,
                    &hop.to,
                )?;
                Ok(Some(now_ms().to_string()))
            }
            StepKind::Stop => {
                let svc = service(&arg)?;
                if let Some(why) = self.compose_keeps(h, &arg)? {
                    return Ok(Some(format!("{KEPT}: {why}")));
                }
                driver::stop(&arg, svc, &t)?;
                if m.maintenance.page && !driver::keeps_running(svc) {
                    if let Some(addr) = &svc.public_address {
                        self.page.serve_on(&t.host, addr)?;
                    }
                }
                Ok(None)
            }
            StepKind::VerifyBackup => {
                let online = self.online_snapshot(h)?.map(|(id, _)| id);
                let id = if step.id == "backup.verify_online" {
                    online.ok_or("no online snapshot was recorded")?
                } else {
                    let id = self
                        .detail(h, "backup.final")
                        .map_err(|e| e.to_string())?
                        .ok_or("no final snapshot was recorded")?;
                    let verified = self
                        .done()
                        .map_err(|e| e.to_string())?
                        .contains(&(h, "backup.verify_online".to_string()));
                    if verified && online.as_deref() == Some(id.as_str()) {
                        return Ok(Some(format!(
                            "{id}: verified while serving, unchanged since"
                        )));
                    }
                    id
                };
                let (manifest, base) = self.backup_view();
                let setup = self.setup;
                let progress = setup.progress.backup();
                let report = self
                    .repo()
                    .map_err(|e| e.to_string())?
                    .verify(&id, &manifest, &base, &*progress)
                    .map_err(|e| e.to_string())?;
                if report.ok() {
                    Ok(Some(id))
                } else {
                    Err(format!(
                        "snapshot {id} did not verify: {}",
                        report.problems().join("; ")
                    ))
                }
            }
            StepKind::Swap => {
                let link = self.swap_release(h)?;
                let helm = self.helm_upgrade(h)?;
                let compose = self.compose_swap(h)?;
                Ok(join_details(join_details(link, helm), compose))
            }
            StepKind::WriteConfig => self.write_config(h, &arg),
            StepKind::DataMigration => self.data_step(h, &arg),
            StepKind::Start => {
                let svc = service(&arg)?;
                if self.kept_running(h, &arg) {
                    return Ok(Some(KEPT.into()));
                }
                if let Some(addr) = &svc.public_address {
                    self.page.release(addr);
                }
                driver::start(&arg, svc, &t).map(|_| None)
            }
            StepKind::HealthCheck => {
                let svc = service(&arg)?;
                match &svc.health {
                    Some(hc) => health::wait(hc, &t)
                        .map(|_| None)
                        .map_err(|e| self.diagnose(h, &arg, &e)),
                    None => Ok(Some("no health check configured".into())),
                }
            }
            StepKind::MaintenanceOff => {
                self.page.release_all();
                run_hook(
                    "maintenance.off",
                    m.maintenance.off.as_deref(),
                    &t,
                    &hop.from,
                    &hop.to,
                )?;
                let started: Option<i64> = self
                    .detail(h, "maintenance.on")
                    .map_err(|e| e.to_string())?
                    .and_then(|d| d.parse().ok());
                let ms = started.map_or(0, |s| (now_ms() - s).max(0));
                self.journal
                    .add_maintenance(&self.run_id, ms)
                    .map_err(|e| e.to_string())?;
                Ok(Some(format!("maintenance window {ms} ms")))
            }
            StepKind::Prune => self.prune_releases(),
        }
    }

    /// Runs the data step `id` of a release hop `h` crosses: in a one-off
    /// container when it has a `container` form and its service is a compose
    /// service of the manifest, else its `run` command on the host.
    fn data_step(&self, h: usize, id: &str) -> StepResult {
        let hop = &self.plan.hops[h];
        let m = &self.setup.loaded.manifest;
        let t = self.target();
        let root = &t.root;
        let Some(d) = self
            .crossed(h)
            .into_iter()
            .flat_map(|r| r.data_steps.iter())
            .find(|d| d.id == id)
        else {
            return Ok(Some("no command: the release migrates on start".into()));
        };
        let env = [("UPSHIFT_FROM", hop.from.as_str()), ("UPSHIFT_TO", &hop.to)];
        let compose = d
            .container
            .as_ref()
            .and_then(|c| Some((c, m.compose_service(&c.service)?)));
        let out = match (compose, &d.run, &d.container) {
            (Some((c, settings)), _, _) => {
                driver::compose::run_once(settings, root, &c.service, &c.command, &env)?
            }
            (None, Some(run), _) => t.host.sh_checked(&d.description, run, root, &env)?,
            (None, None, Some(c)) => {
                return Err(format!(
                    "data step {id} runs only in a container of the compose service `{}`, which this manifest does not have; run `{}` in it by hand, then resume",
                    c.service,
                    c.command.join(" ")
                ))
            }
            (None, None, None) => {
                return Ok(Some("no command: the release migrates on start".into()))
            }
        };
        Ok(Some(tail(&out, 3)))
    }

    /// A failed health check, with the log's tail and any known issue that matches it.
    pub(super) fn diagnose(&self, h: usize, name: &str, error: &str) -> String {
        let svc = &self.setup.loaded.manifest.services[name];
        let log = self
            .target()
            .host
            .read_to_string(&driver::log_path(name, svc, self.target()))
            .unwrap_or_default();
        let mut out = format!("{name} is not healthy: {error}");
        let last = tail(&log, 20);
        if !last.is_empty() {
            out += &format!("\nlast lines of its log:\n{last}");
        }
        // Known issues of the releases this hop crosses first, then the rest of the product's.
        let crossed = self.crossed(h);
        let rest = self
            .setup
            .loaded
            .catalog
            .releases
            .iter()
            .filter(|r| !crossed.iter().any(|c| c.version == r.version));
        let mut seen: Vec<&str> = Vec::new();
        for issue in crossed
            .iter()
            .copied()
            .chain(rest)
            .flat_map(|r| r.known_issues.iter())
        {
            if seen.contains(&issue.pattern.as_str()) {
                continue;
            }
            seen.push(&issue.pattern);
            let hit = regex::Regex::new(&issue.pattern)
                .map(|re| re.is_match(&log))
                .unwrap_or_else(|_| log.contains(&issue.pattern));
            if hit {
                out += &format!("\nknown issue `{}`: {}", issue.pattern, issue.hint);
            }
        }
        out
    }

    fn backup(&mut self, h: usize, id: &str) -> StepResult {
        let hop = self.plan.hops[h].clone();
        let (phase, version) = if id == "backup.post" {
            (Phase::PostUpgrade, hop.to.clone())
        } else {
            (Phase::PreUpgrade, hop.from.clone())
        };
        let loaded_setup = self.setup;
        let loaded = loaded_setup.loaded;
        let tags = Tags {
            installation: loaded.manifest.installation.name.clone(),
            product: loaded.catalog.product.clone(),
            version,
            phase,
            run_id: self.run_id.clone(),
            config_fingerprint: self.config_fingerprint(),
        };
        if id == "backup.final" {
            // Only what changed since the online backup: when the stores are
            // files that did not change, the online snapshot is the final one.
            if let (Some((online, before)), Some(now)) =
                (self.online_snapshot(h)?, self.store_fingerprint())
            {
                if before == now {
                    self.setup.progress.note(
                        "the data did not change since the online backup: it is the final snapshot",
                    );
                    return Ok(Some(online));
                }
            }
        }
        let fingerprint = self.store_fingerprint();
        if self.target().is_remote() {
            self.setup.progress.note(&format!(
                "copying the stores from {} into {}",
                self.target().label(),
                self.mirror().display()
            ));
            host::pull_stores(self.target(), &loaded.manifest, &self.mirror())?;
        }
        let (manifest, base) = self.backup_view();
        let progress = loaded_setup.progress.backup();
        let info = self
            .repo()
            .map_err(|e| e.to_string())?
            .backup(&manifest, &base, &tags, &*progress)
            .map_err(|e| e.to_string())?;
        self.journal
            .add_snapshot(&self.run_id, &info.short_id)
            .map_err(|e| e.to_string())?;
        match (id, fingerprint) {
            ("backup.online", Some(fp)) => Ok(Some(format!("{} {fp}", info.id))),
            _ => Ok(Some(info.id)),
        }
    }

    /// The online snapshot of hop `h` and the store fingerprint taken with it.
    fn online_snapshot(&self, h: usize) -> Result<Option<(String, String)>, String> {
        let d = self.detail(h, "backup.online").map_err(|e| e.to_string())?;
        Ok(d.map(|d| match d.split_once(' ') {
            Some((id, fp)) => (id.to_string(), fp.to_string()),
            None => (d, String::new()),
        }))
    }

    fn config_fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for c in self.setup.loaded.manifest.config.values() {
            h.update(c.path.as_bytes());
            h.update(
                self.target()
                    .host
                    .read(&self.target().path(&c.path))
                    .unwrap_or_default(),
            );
        }
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether hop `h`'s stop step left service `name` running.
    pub(super) fn kept_running(&self, h: usize, name: &str) -> bool {
        self.detail(h, &format!("stop.{name}"))
            .ok()
            .flatten()
            .is_some_and(|d| d.starts_with(KEPT))
    }

    /// After a crash, serve the maintenance page again for services this hop
    /// stopped and has not started yet.
    pub(super) fn restore_page(
        &mut self,
        h: usize,
        done: &HashSet<(usize, String)>,
    ) -> Result<(), RunError> {
        let m = &self.setup.loaded.manifest;
        if !m.maintenance.page {
            return Ok(());
        }
        for (name, svc) in &m.services {
            let stopped = done.contains(&(h, format!("stop.{name}")))
                && !done.contains(&(h, format!("start.{name}")));
            if driver::keeps_running(svc) || self.kept_running(h, name) {
                continue;
            }
            if let (true, Some(addr)) = (stopped, &svc.public_address) {
                let host = self.target().host.clone();
                self.page.serve_on(&host, addr).map_err(RunError::Failed)?;
            }
        }
        Ok(())
    }
}

/// Two step details as one (`a; b`).
fn join_details(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

fn run_hook(name: &str, cmd: Option<&str>, t: &Target, from: &str, to: &str) -> StepResult {
    match cmd {
        Some(c) => t
            .host
            .sh_checked(
                &format!("hook {name}"),
                c,
                &t.root,
                &[("UPSHIFT_FROM", from), ("UPSHIFT_TO", to)],
            )
            .map(|_| None),
        None => Ok(None),
    }
}

fn disk_free(t: &Target) -> StepResult {
    const MIN: u64 = 64 << 20;
    let free = t.host.free_space(&t.root).map_err(|e| {
        format!(
            "cannot read free space of {} on {}: {e}",
            t.root.display(),
            t.label()
        )
    })?;
    if free < MIN {
        return Err(format!(
            "only {} MiB free under {} on {}: free at least {} MiB before upgrading",
            free >> 20,
            t.root.display(),
            t.label(),
            MIN >> 20
        ));
    }
    Ok(Some(format!("{} MiB free", free >> 20)))
}

/// Stores a remote installation can have: files and SQLite come through
/// ssh; database servers and buckets are reached from here at their
/// configured address; Docker volumes would need the remote Docker engine.
fn remote_stores(m: &upshift_core::manifest::Manifest, t: &Target) -> Result<(), String> {
    for (name, s) in &m.stores {
        if *s.kind.get_ref() == StoreKind::Volume {
            return Err(format!(
                "store `{name}` is a Docker volume, which upshift backs up only on this machine, but the installation is on {}; run upshift on that machine",
                t.label()
            ));
        }
    }
    Ok(())
}

fn tools_present(kinds: impl Iterator<Item = StoreKind>) -> StepResult {
    let mut missing = Vec::new();
    for k in kinds {
        let need: &[&[&str]] = match k {
            StoreKind::Postgres => &[&["pg_dump"], &["pg_restore"]],
            StoreKind::Mysql => &[&["mariadb-dump", "mysqldump"], &["mariadb", "mysql"]],
            StoreKind::Mongodb => &[&["mongodump"], &["mongorestore"]],
            StoreKind::Volume => &[&["docker"]],
            _ => &[],
        };
        for alternatives in need {
            if !alternatives.iter().any(|t| on_path(t)) {
                missing.push(alternatives.join(" or "));
            }
        }
    }
    if missing.is_empty() {
        Ok(None)
    } else {
        Err(format!(
            "missing tools: {}; install them first",
            missing.join(", ")
        ))
    }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}
