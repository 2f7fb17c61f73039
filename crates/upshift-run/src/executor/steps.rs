//! What each step does. Every step is idempotent: after a crash, `resume`
//! runs the interrupted step again.

use std::collections::HashSet;
use std::time::{Duration, UNIX_EPOCH};

use upshift_core::catalog::Release;
use upshift_core::manifest::{Seconds, StoreKind};
use upshift_core::plan::{HookPoint, Step, StepId};

use super::runner::Runner;
use crate::deploy::{self, At};
use crate::detail::Detail;
use crate::error::{RunError, StepError, StepResult};
use crate::host::Target;
use crate::journal::now_ms;
use crate::proc::tail;
use crate::{driver, health};

/// The outcome of a step: what to journal as its detail.
type Performed = StepResult<Option<Detail>>;

fn note(text: Option<String>) -> Option<Detail> {
    text.map(Detail::note)
}

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
    pub(super) fn perform(&mut self, h: usize, step: &Step) -> Performed {
        let hop = self.plan.hops[h].clone();
        let at = At {
            index: h,
            hop: &hop,
        };
        self.room_for(h, &step.id)?;
        let m = &self.setup.loaded.manifest;
        let t = self.target().clone();
        match &step.id {
            StepId::PreflightHealth => {
                for name in m.start_order() {
                    if let Some(hc) = &m.services[name].health {
                        health::wait_at(hc, &t, Some(&hop.from)).map_err(|e| {
                            format!(
                                "{name} ({}) is not healthy, fix it before upgrading: {e}",
                                hop.from
                            )
                        })?;
                    }
                }
                self.runs_the_version_it_should(h)?;
                Ok(None)
            }
            StepId::PreflightDisk => {
                // The online backup's room, before anything is installed.
                self.room_for(h, &StepId::BackupOnline)?;
                disk_free(&t).map(note)
            }
            StepId::PreflightTools => {
                if t.is_remote() {
                    remote_stores(m, &t)?;
                }
                for d in &self.deployments {
                    d.preflight(&self.cx())?;
                }
                let (manifest, base) = self.backup_view();
                upshift_backup::check_privileges(&manifest, &base)?;
                tools_present(m.stores.values().map(|s| *s.kind.get_ref())).map(|_| None)
            }
            StepId::PreCheck(id) => self.pre_check(h, id),
            StepId::PrepareArtifacts => {
                let mut done = Vec::new();
                for d in &self.deployments {
                    done.push(d.prepare(&self.cx(), at)?);
                }
                Ok(joined(done))
            }
            StepId::RenderConfig(name) => {
                let rendered = self.render_config(h, name)?;
                let mut done = vec![rendered];
                for d in &self.deployments {
                    done.push(d.check_config(&self.cx(), at, name)?);
                }
                Ok(joined(done))
            }
            StepId::BackupOnline | StepId::BackupFinal | StepId::BackupPost => {
                self.backup(h, &step.id)
            }
            StepId::VerifyOnline | StepId::VerifyFinal => self.verify(h, &step.id),
            StepId::RollbackPoint => self.freeze_rollback_point(h),
            StepId::BackupDurable => self.durable_snapshot(h),
            StepId::Hook(point) => {
                let cmd = match point {
                    HookPoint::PreUpgrade => m.hooks.pre_upgrade.clone(),
                    HookPoint::PostUpgrade => m.hooks.post_upgrade.clone(),
                };
                let env = self.step_env(&hop.from, &hop.to)?;
                run_hook(point.as_str(), cmd.as_deref(), &t, &m.hooks, &env).map(|_| None)
            }
            StepId::MaintenanceOn => {
                for (name, cmd) in [
                    ("maintenance.on", &m.maintenance.on),
                    ("maintenance.announce", &m.maintenance.announce),
                ] {
                    let env = self.step_env(&hop.from, &hop.to)?;
                    run_hook(name, cmd.as_deref(), &t, &m.hooks, &env)?;
                }
                let at_ms = now_ms();
                self.window_opened(h, at_ms);
                Ok(Some(Detail::WindowOpened { at_ms }))
            }
            StepId::Stop(name) => self.stop(at, name),
            StepId::Swap => {
                let done = deploy::swap(&self.journal, &self.cx(), at, &self.deployments)?;
                Ok(joined(done.into_iter().map(Some).collect()))
            }
            StepId::WriteConfig(name) => self.write_config(h, name).map(|_| None),
            StepId::Migrate(id) => self.data_step(h, None, id),
            StepId::MigrateAt { id, release } => self.data_step(h, Some(release), id),
            StepId::Start(name) => {
                if self.kept_running(h, name) {
                    return Ok(Some(Detail::KeptRunning { why: String::new() }));
                }
                self.start_after_page(name).map(|_| None)
            }
            StepId::Health(name) => {
                let svc = m
                    .services
                    .get(name)
                    .ok_or_else(|| format!("the manifest has no service `{name}`"))?;
                let healthy = match &svc.health {
                    Some(_) => self.wait_healthy(h, name, &hop.to).map(|_| None),
                    None => Ok(Some(Detail::note("no health check configured"))),
                }?;
                self.installed_version_answers(h, name)?;
                Ok(healthy)
            }
            StepId::MaintenanceOff => {
                self.page.release_all();
                let env = self.step_env(&hop.from, &hop.to)?;
                run_hook(
                    "maintenance.off",
                    m.maintenance.off.as_deref(),
                    &t,
                    &m.hooks,
                    &env,
                )?;
                let started = match self.detail(h, &StepId::MaintenanceOn)? {
                    Some(Detail::WindowOpened { at_ms }) => Some(at_ms),
                    _ => None,
                };
                let ms = started.map_or(0, |s| (now_ms() - s).max(0));
                Ok(Some(Detail::WindowClosed { ms }))
            }
            StepId::PruneReleases => {
                let mut done = Vec::new();
                for d in &self.deployments {
                    done.push(d.finish(&self.cx(), &self.plan.from, &self.plan.to)?);
                }
                Ok(joined(done))
            }
            StepId::Rollback => Err(StepError::msg(
                "`rollback` is not a step of a plan: the saved plan was edited",
            )),
        }
    }

    /// After the last service of hop `h` is healthy: the installation's
    /// `version_command`, if it has one, says the new version answers.
    fn installed_version_answers(&self, h: usize, name: &str) -> StepResult<()> {
        let m = &self.setup.loaded.manifest;
        let last = m.start_order().last().is_some_and(|l| *l == name);
        let (Some(cmd), true) = (&m.installation.version_command, last) else {
            return Ok(());
        };
        let cat = &self.setup.loaded.catalog;
        let parse = |w: &str| cat.parse_version(w).ok().map(|v| v.to_string());
        health::version_answers(cmd, self.target(), &self.plan.hops[h].to, parse)
    }

    /// Before hop `h`: the installation's `version_command`, if it has one,
    /// says the hop's start version runs (a manifest whose
    /// `installation.version` is wrong would plan the wrong hops).
    fn runs_the_version_it_should(&self, h: usize) -> StepResult<()> {
        let m = &self.setup.loaded.manifest;
        let Some(cmd) = &m.installation.version_command else {
            return Ok(());
        };
        let cat = &self.setup.loaded.catalog;
        let parse = |w: &str| cat.parse_version(w).ok().map(|v| v.to_string());
        let from = &self.plan.hops[h].from;
        health::version_answers(cmd, self.target(), from, parse).map_err(|e| {
            StepError::msg(format!("the installation does not run {from}: {e}")).hint(Some(
                "if the manifest is wrong, set `installation.version` to the version that runs and plan again; nothing was changed".into(),
            ))
        })
    }

    /// The environment of hooks and host-run data steps: the hop's
    /// versions (`UPSHIFT_FROM`, `UPSHIFT_TO`) and every store's address
    /// (`UPSHIFT_STORE_NAME_URL` and more, see `upshift_backup::store_env`),
    /// secrets resolved into the environment only.
    pub(super) fn step_env(&self, from: &str, to: &str) -> StepResult<Vec<(String, String)>> {
        let mut env = vec![
            ("UPSHIFT_FROM".to_string(), from.to_string()),
            ("UPSHIFT_TO".to_string(), to.to_string()),
        ];
        env.extend(upshift_backup::store_env(
            &self.setup.loaded.manifest,
            &self.target().dir,
            &self.setup.manifest_dir,
        )?);
        Ok(env)
    }

    /// A catalog pre-check of a release the hop crosses.
    fn pre_check(&self, h: usize, id: &str) -> Performed {
        let check = self
            .crossed(h)
            .into_iter()
            .flat_map(|r| r.pre_checks.iter())
            .find(|c| c.id == id)
            .cloned();
        let t = self.target();
        match check.and_then(|c| c.run.clone().map(|run| (c, run))) {
            Some((c, run)) => {
                // The stores' addresses too: a check of the database
                // server's version needs them as much as a hook does.
                let hop = &self.plan.hops[h];
                let env = self.step_env(&hop.from, &hop.to)?;
                t.host
                    .sh_checked(&c.description, &run, &t.dir, &pairs(&env))
                    .map(|_| None)
                    .map_err(|e| e.hint(c.hint.clone()))
            }
            None => Ok(Some(Detail::note("nothing to run: review it by hand"))),
        }
    }

    /// Stops service `name`, unless its deployment lets it keep running
    /// through the hop; the maintenance page takes over its address.
    fn stop(&mut self, at: At, name: &str) -> Performed {
        let d = deploy::owner(&self.deployments, name)?;
        if let Some(why) = d.keeps_running(&self.cx(), at, name)? {
            return Ok(Some(Detail::KeptRunning { why }));
        }
        self.stop_behind_page(name)?;
        Ok(None)
    }

    /// Runs the data step `id` of a release hop `h` crosses (of `release`
    /// when two crossed releases use the id): in the
    /// deployment's own runtime when one runs it (a compose service's
    /// one-off container), else its `run` command on the host.
    fn data_step(&self, h: usize, release: Option<&str>, id: &str) -> Performed {
        let hop = &self.plan.hops[h];
        let t = self.target();
        let Some(d) = self
            .crossed(h)
            .into_iter()
            .filter(|r| release.is_none_or(|v| r.version.to_string() == v))
            .flat_map(|r| r.data_steps.iter())
            .find(|d| d.id == id)
        else {
            return Ok(Some(Detail::note(
                "no command: the release migrates on start",
            )));
        };
        // A container's step gets the versions only: the stores' addresses
        // are the host's, not the container's.
        let env = [("UPSHIFT_FROM", hop.from.as_str()), ("UPSHIFT_TO", &hop.to)];
        let cx = self.cx();
        let inside = self
            .deployments
            .iter()
            .find_map(|dep| dep.data_step(&cx, d, &env));
        let out = match (inside, &d.run, &d.container) {
            (Some(out), _, _) => out?,
            (None, Some(run), _) => {
                let env = self.step_env(&hop.from, &hop.to)?;
                t.host
                    .sh_within(&d.description, run, &t.dir, &pairs(&env), d.time_limit())?
            }
            (None, None, Some(c)) => {
                return Err(StepError::msg(format!(
                    "data step {id} runs only in a container of the compose service `{}`, which this manifest does not have; run `{}` in it by hand, then resume",
                    c.service,
                    c.command.join(" ")
                )))
            }
            (None, None, None) => {
                return Ok(Some(Detail::note(
                    "no command: the release migrates on start",
                )))
            }
        };
        Ok(Some(Detail::note(tail(&out, 3))))
    }

    /// Waits until service `name`, just started, answers as `version`;
    /// ends at once when its process exits. A failure is [`Self::diagnose`]d.
    pub(super) fn wait_healthy(&self, h: usize, name: &str, version: &str) -> StepResult<()> {
        let svc = &self.setup.loaded.manifest.services[name];
        let Some(hc) = &svc.health else {
            return Ok(());
        };
        let d = deploy::owner(&self.deployments, name)?;
        let cx = self.cx();
        health::wait_watching(hc, self.target(), Some(version), &|| d.exited(&cx, name))
            .map_err(|e| StepError::msg(self.diagnose(h, name, &e.to_string())))
    }

    /// A failed health check, with what the service logged since it was
    /// started and any known issue that matches it.
    pub(super) fn diagnose(&self, h: usize, name: &str, error: &str) -> String {
        let svc = &self.setup.loaded.manifest.services[name];
        let log = driver::log_since_start(name, svc, self.target(), &self.setup.state);
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

    /// Whether hop `h`'s stop step left service `name` running.
    pub(super) fn kept_running(&self, h: usize, name: &str) -> bool {
        matches!(
            self.detail(h, &StepId::Stop(name.to_string())),
            Ok(Some(Detail::KeptRunning { .. }))
        )
    }

    /// Hop `h`'s window opened at `at_ms`: the page says when it should
    /// end, by the plan's estimate of the window.
    fn window_opened(&self, h: usize, at_ms: i64) {
        let estimate = self.plan.hops[h]
            .estimated_window
            .as_deref()
            .and_then(|w| Seconds::parse(w).ok())
            .map(Seconds::duration);
        let opened = UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0));
        self.page.window(opened, estimate);
    }

    /// After a crash, serve the maintenance page again for services this hop
    /// stopped and has not started yet.
    pub(super) fn restore_page(
        &mut self,
        h: usize,
        done: &HashSet<(usize, StepId)>,
    ) -> Result<(), RunError> {
        if let Ok(Some(Detail::WindowOpened { at_ms })) = self.detail(h, &StepId::MaintenanceOn) {
            self.window_opened(h, at_ms);
        }
        let m = &self.setup.loaded.manifest;
        if !m.maintenance.page {
            return Ok(());
        }
        for (name, svc) in &m.services {
            let stopped = done.contains(&(h, StepId::Stop(name.clone())))
                && !done.contains(&(h, StepId::Start(name.clone())));
            let serves = deploy::owner(&self.deployments, name)
                .map(|d| d.serves_while_stopped(name))
                .unwrap_or(false);
            if serves || self.kept_running(h, name) {
                continue;
            }
            if let (true, Some(addr)) = (stopped, &svc.public_address) {
                let host = self.target().host.clone();
                self.page.serve_on(&host, addr)?;
            }
        }
        Ok(())
    }
}

/// Several parts of a step's detail as one note (`a; b`).
fn joined(parts: Vec<Option<String>>) -> Option<Detail> {
    let parts: Vec<String> = parts.into_iter().flatten().collect();
    (!parts.is_empty()).then(|| Detail::note(parts.join("; ")))
}

/// Runs hook `name` (if the manifest sets it) with `env` (see
/// [`Runner::step_env`]).
pub(super) fn run_hook(
    name: &str,
    cmd: Option<&str>,
    t: &Target,
    hooks: &upshift_core::manifest::Hooks,
    env: &[(String, String)],
) -> StepResult<()> {
    match cmd {
        Some(c) => t
            .host
            .sh_within(
                &format!("hook {name}"),
                c,
                &t.dir,
                &pairs(env),
                hooks.time_limit(),
            )
            .map(|_| ()),
        None => Ok(()),
    }
}

/// Borrowed pairs, as commands take them.
pub(super) fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn disk_free(t: &Target) -> StepResult<Option<String>> {
    const MIN: u64 = 64 << 20;
    let free = t.host.free_space(&t.dir).map_err(|e| {
        format!(
            "cannot read free space of {} on {}: {e}",
            t.dir.display(),
            t.label()
        )
    })?;
    if free < MIN {
        return Err(StepError::msg(format!(
            "only {} MiB free under {} on {}: free at least {} MiB before upgrading",
            free >> 20,
            t.dir.display(),
            t.label(),
            MIN >> 20
        )));
    }
    Ok(Some(format!("{} MiB free", free >> 20)))
}

/// Stores a remote installation can have: files and SQLite come through
/// ssh; database servers and buckets are reached from here at their
/// configured address; Docker volumes would need the remote Docker engine.
fn remote_stores(m: &upshift_core::manifest::Manifest, t: &Target) -> StepResult<()> {
    for (name, s) in &m.stores {
        if *s.kind.get_ref() == StoreKind::Volume {
            return Err(StepError::msg(format!(
                "store `{name}` is a Docker volume, which upshift backs up only on this machine, but the installation is on {}; run upshift on that machine",
                t.label()
            )));
        }
    }
    Ok(())
}

fn tools_present(kinds: impl Iterator<Item = StoreKind>) -> StepResult<()> {
    let mut missing = Vec::new();
    for k in kinds {
        for alternatives in upshift_backup::required_tools(k) {
            if !alternatives.iter().any(|t| crate::proc::on_path(t)) {
                missing.push(alternatives.join(" or "));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StepError::msg(format!(
            "missing tools: {}; install them first",
            missing.join(", ")
        )))
    }
}
