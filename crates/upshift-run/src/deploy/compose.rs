//! Docker Compose projects (Mender's compose deployment, for one): before the window the
//! new release's images are on the host (`prepare.artifacts`); the swap
//! writes them into the override file upshift owns (the previous override
//! journaled first); a rollback puts that previous override back. The start
//! steps' `up -d --no-deps` recreates the containers with the images the
//! override names. A data step with a `container` form runs as `compose run
//! --rm --no-deps` of its service.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use upshift_core::catalog::DataStep;
use upshift_core::deploy::compose::{images, projects, same_image, service_name};
use upshift_core::deploy::HopView;
use upshift_core::manifest::{ComposeDriver, Manifest};

use super::{At, Cx, Deployment};
use crate::driver::compose as cli;
use crate::error::{StepError, StepResult};
use crate::host::Host;

/// Every compose project of the manifest.
pub struct ComposeProjects {
    /// Project → settings of its first service and its compose service names.
    projects: BTreeMap<String, (ComposeDriver, Vec<String>)>,
    /// Manifest service name → its settings.
    services: BTreeMap<String, ComposeDriver>,
}

/// The overrides the swap replaces: project → text (`None`: there was none).
type Overrides = BTreeMap<String, Option<String>>;

impl ComposeProjects {
    pub fn of(m: &Manifest) -> Option<ComposeProjects> {
        let services: BTreeMap<String, ComposeDriver> = m
            .services
            .iter()
            .filter_map(|(n, s)| Some((n.clone(), s.compose()?.clone())))
            .collect();
        (!services.is_empty()).then(|| ComposeProjects {
            projects: projects(m),
            services,
        })
    }

    fn settings(&self, name: &str) -> Option<&ComposeDriver> {
        self.services.get(name)
    }
}

impl Deployment for ComposeProjects {
    fn key(&self) -> &'static str {
        "compose_overrides"
    }

    fn owns(&self, service: &str) -> bool {
        self.services.contains_key(service)
    }

    fn preflight(&self, cx: &Cx) -> StepResult<()> {
        if cx.target.is_remote() {
            return Err(StepError::msg(format!(
                "services use the compose driver, which upshift drives only on this machine, but the installation is on {}; run upshift on that machine, or use the `command` driver",
                cx.target.label()
            )));
        }
        cli::program().map(|_| ())
    }

    /// Every image of the hop's target release is on this host (pulled
    /// when missing) before anything stops.
    fn prepare(&self, cx: &Cx, at: At) -> StepResult {
        cli::program()?;
        let to = &at.hop.to;
        let mut done = Vec::new();
        for (project, (_, services)) in &self.projects {
            let images = images(&cx.loaded.catalog, to, services);
            if images.is_empty() {
                cx.progress.note(&format!(
                    "warning: the catalog names no images of compose project {project} for {to}: its services keep the images of their compose files"
                ));
            }
            for image in images.values() {
                done.push(cli::ensure_image(image)?);
            }
        }
        Ok(Some(format!("images: {}", done.join(", "))))
    }

    /// A `stateless` service whose image the catalog keeps through the hop
    /// keeps running when no config file changes in it either (every staged
    /// copy equals the file it replaces). Anything else is recreated.
    fn keeps_running(&self, cx: &Cx, at: At, name: &str) -> StepResult<Option<String>> {
        let view = HopView {
            manifest: &cx.loaded.manifest,
            catalog: &cx.loaded.catalog,
            from: &at.hop.from,
            to: &at.hop.to,
            crossed: &[],
        };
        let Some(image) = same_image(&view, name) else {
            return Ok(None);
        };
        let t = cx.target;
        for (cfg_name, cfg) in &cx.loaded.manifest.config {
            let writes = at
                .hop
                .steps
                .iter()
                .any(|s| s.id == upshift_core::plan::StepId::WriteConfig(cfg_name.clone()));
            if !writes {
                continue;
            }
            let staged = std::fs::read(cx.staged(at.index, cfg_name)).ok();
            let current = t.host.read(&t.path(&cfg.path)).ok();
            if staged.is_none() || staged != current {
                return Ok(None);
            }
        }
        Ok(Some(format!(
            "stateless, same image ({image}), config unchanged"
        )))
    }

    fn stop(&self, cx: &Cx, name: &str) -> StepResult<()> {
        let Some(c) = self.settings(name) else {
            return Ok(());
        };
        cli::stop(
            name,
            c,
            &cx.target.dir,
            &cx.state.compose_override(&c.project),
        )
    }

    fn start(&self, cx: &Cx, name: &str) -> StepResult<()> {
        let Some(c) = self.settings(name) else {
            return Ok(());
        };
        cli::start(
            name,
            c,
            &cx.target.dir,
            &cx.state.compose_override(&c.project),
        )
    }

    fn record(&self, cx: &Cx, _at: At) -> StepResult<Option<Value>> {
        let before: Overrides = self
            .projects
            .keys()
            .map(|p| {
                let text = std::fs::read_to_string(cx.state.compose_override(p)).ok();
                (p.clone(), text)
            })
            .collect();
        Ok(Some(
            serde_json::to_value(before).expect("strings serialise"),
        ))
    }

    /// Writes the override naming the images of the hop's target release.
    fn swap(&self, cx: &Cx, at: At, _record: Option<&Value>) -> StepResult {
        let to = &at.hop.to;
        let product = &cx.loaded.catalog.product;
        let mut shown = Vec::new();
        for (project, (_, services)) in &self.projects {
            let images = images(&cx.loaded.catalog, to, services);
            let text = cli::override_text(product, to, &images);
            write_atomic(&cx.state.compose_override(project), &text)?;
            let list: Vec<String> = images.iter().map(|(s, i)| format!("{s}={i}")).collect();
            shown.push(format!("{project}: {}", list.join(" ")));
        }
        Ok(Some(format!(
            "compose override written ({})",
            shown.join("; ")
        )))
    }

    /// Puts back the overrides the swap recorded (or removes them, when
    /// there were none). The start steps then recreate the containers.
    fn roll_back(&self, cx: &Cx, version: &str, record: Option<&Value>) -> StepResult<()> {
        let Some(record) = record else {
            return Ok(());
        };
        let recorded: Overrides = serde_json::from_value(record.clone()).map_err(|e| {
            StepError::msg(format!(
                "the journaled compose overrides are unreadable ({e}); restore them by hand from `upshift history`"
            ))
        })?;
        for (project, text) in recorded {
            let path = cx.state.compose_override(&project);
            cx.progress.note(&format!(
                "rollback: compose project {project} back to the images of {version}"
            ));
            match text {
                Some(t) => write_atomic(&path, &t)?,
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(StepError::msg(format!(
                            "cannot remove {}: {e}",
                            path.display()
                        )))
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }

    /// A data step with a `container` form whose service is one of ours.
    fn data_step(&self, cx: &Cx, d: &DataStep, env: &[(&str, &str)]) -> Option<StepResult<String>> {
        let c = d.container.as_ref()?;
        let settings = self
            .services
            .iter()
            .find(|(n, s)| service_name(n, s) == c.service)
            .map(|(_, s)| s)?;
        Some(cli::run_once(
            settings,
            &cx.target.dir,
            &cx.state.compose_override(&settings.project),
            &c.service,
            &c.command,
            env,
        ))
    }
}

/// Writes an override file (atomically, keeping its mode).
fn write_atomic(path: &Path, text: &str) -> StepResult<()> {
    Host::Local
        .write_atomic(path, text.as_bytes(), None)
        .map_err(|e| StepError::msg(format!("cannot write {}: {e}", path.display())))
}
