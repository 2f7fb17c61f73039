//! Helm releases (Mender's Helm chart, for one): Kubernetes keeps the pods
//! running, so stop and start do nothing; the swap records each release's
//! latest revision, then runs `helm upgrade` with the migrated values; a
//! rollback runs `helm rollback` to the recorded revision. The values are
//! rendered with `helm template` before the window.

use std::collections::BTreeMap;

use serde_json::Value;
use upshift_core::deploy::helm::chart_version;
use upshift_core::manifest::{HelmDriver, Manifest};

use super::{At, Cx, Deployment, ServiceStatus};
use crate::driver::helm as cli;
use crate::error::{StepError, StepResult};

/// Every helm service of the manifest, in start order.
pub struct HelmReleases {
    services: Vec<(String, HelmDriver)>,
}

/// Revisions the swap replaces, per service.
type Revisions = BTreeMap<String, u64>;

impl HelmReleases {
    pub fn of(m: &Manifest) -> Option<HelmReleases> {
        let services: Vec<(String, HelmDriver)> = m
            .start_order()
            .into_iter()
            .filter_map(|n| Some((n.to_string(), m.services[n].helm()?.clone())))
            .collect();
        (!services.is_empty()).then_some(HelmReleases { services })
    }

    /// The values file for `helm upgrade`: the hop's migrated (staged) copy
    /// when the file is listed under `[config]`, else the file itself.
    /// Relative to the installation's directory.
    fn values(&self, cx: &Cx, h: usize, helm: &HelmDriver) -> StepResult<Option<String>> {
        let Some(values) = helm.values.clone() else {
            return Ok(None);
        };
        let m = &cx.loaded.manifest;
        let Some((cfg, _)) = m.config.iter().find(|(_, c)| c.path == values) else {
            return Ok(Some(values));
        };
        let staged = cx.staged(h, cfg);
        if !staged.is_file() {
            return Err(StepError::msg(format!(
                "the migrated {values} was not rendered ({}): resume or roll back the run",
                staged.display()
            )));
        }
        let rel = staged.strip_prefix(&cx.target.dir).unwrap_or(&staged);
        Ok(Some(rel.to_string_lossy().into_owned()))
    }
}

fn revisions(record: Option<&Value>) -> StepResult<Revisions> {
    match record {
        None => Ok(Revisions::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            StepError::msg(format!(
                "the journaled helm revisions are unreadable ({e}); roll back by hand with `helm rollback`"
            ))
        }),
    }
}

impl Deployment for HelmReleases {
    fn key(&self) -> &'static str {
        "helm_revisions"
    }

    fn owns(&self, service: &str) -> bool {
        self.services.iter().any(|(n, _)| n == service)
    }

    fn serves_while_stopped(&self, name: &str) -> bool {
        self.owns(name)
    }

    fn preflight(&self, cx: &Cx) -> StepResult<()> {
        if cx.target.is_remote() {
            return Err(StepError::msg(format!(
                "services use the helm driver, which upshift drives only on this machine, but the installation is on {}; run upshift on that machine, or use the `command` driver",
                cx.target.label()
            )));
        }
        if !crate::proc::on_path("helm") {
            return Err(StepError::msg("services use the helm driver but `helm` is not on PATH; install Helm 3 (https://helm.sh/docs/intro/install/)"));
        }
        Ok(())
    }

    /// When config file `name` is the values file of helm services, `helm
    /// template` renders their chart with the hop's migrated copy while the
    /// old release still serves, so values the new chart refuses stop the
    /// run before anything changes.
    fn check_config(&self, cx: &Cx, at: At, name: &str) -> StepResult {
        let Some(cfg) = cx.loaded.manifest.config.get(name) else {
            return Ok(None);
        };
        let version = chart_version(&cx.loaded.catalog, &at.hop.to);
        let mut checked = Vec::new();
        for (svc, helm) in &self.services {
            if helm.values.as_deref() != Some(cfg.path.as_str()) {
                continue;
            }
            let Some(values) = self.values(cx, at.index, helm)? else {
                continue;
            };
            cli::template(helm, &cx.target.dir, version.as_deref(), &values).map_err(|e| {
                StepError::msg(format!(
                    "the chart of `{svc}` does not accept the migrated {}: {e}",
                    cfg.path
                ))
            })?;
            checked.push(svc.as_str());
        }
        Ok((!checked.is_empty())
            .then(|| format!("helm template accepts it ({})", checked.join(", "))))
    }

    fn record(&self, cx: &Cx, _at: At) -> StepResult<Option<Value>> {
        let mut recorded = Revisions::new();
        for (name, helm) in &self.services {
            let rev = cli::latest_revision(helm, &cx.target.dir)?.ok_or_else(|| {
                StepError::msg(format!(
                    "helm release `{}` of service `{name}` has no history: install it with `helm install` first, then upgrade with upshift",
                    helm.release
                ))
            })?;
            recorded.insert(name.clone(), rev.revision);
        }
        Ok(Some(
            serde_json::to_value(recorded).expect("numbers serialise"),
        ))
    }

    /// Upgrades each release to the chart version the catalog pins for the
    /// hop's target, with the migrated values.
    fn swap(&self, cx: &Cx, at: At, record: Option<&Value>) -> StepResult {
        let recorded = revisions(record)?;
        let version = chart_version(&cx.loaded.catalog, &at.hop.to);
        if version.is_none() {
            cx.progress.note(&format!(
                "warning: the catalog pins no chart_version for {}: helm uses the newest chart it finds",
                at.hop.to
            ));
        }
        for (name, helm) in &self.services {
            let values = self.values(cx, at.index, helm)?;
            cx.progress.note(&format!(
                "helm upgrade {name} (revision {} recorded for rollback)",
                recorded
                    .get(name)
                    .map_or("none".to_string(), u64::to_string)
            ));
            cli::upgrade(helm, &cx.target.dir, version.as_deref(), values.as_deref())?;
        }
        Ok(Some(format!(
            "helm upgrade done; revisions recorded for rollback: {}",
            serde_json::to_string(&recorded).expect("numbers serialise")
        )))
    }

    /// `helm rollback` every release to the revision the swap recorded.
    fn roll_back(&self, cx: &Cx, _version: &str, record: Option<&Value>) -> StepResult<()> {
        let recorded = revisions(record)?;
        for (name, helm) in &self.services {
            if let Some(rev) = recorded.get(name) {
                cx.progress
                    .note(&format!("rollback: helm rollback {name} to revision {rev}"));
                cli::rollback(helm, &cx.target.dir, *rev)?;
            }
        }
        Ok(())
    }

    /// The latest revision of every release from `helm history`.
    fn status(&self, cx: &Cx) -> Vec<ServiceStatus> {
        let mut out = Vec::new();
        for (name, helm) in &self.services {
            let (revision, error) = match cli::latest_revision(helm, &cx.target.dir) {
                Ok(r) => (r, None),
                Err(e) => (None, Some(e.to_string())),
            };
            let text = match (&revision, &error) {
                (Some(v), _) => format!(
                    "helm release {} ({name}): revision {} {}, chart {}, app {}, updated {}",
                    helm.release, v.revision, v.status, v.chart, v.app_version, v.updated
                ),
                (None, Some(e)) => {
                    format!(
                        "helm release {} ({name}): history unknown: {e}",
                        helm.release
                    )
                }
                (None, None) => format!("helm release {} ({name}): no revisions yet", helm.release),
            };
            out.push(ServiceStatus {
                service: name.clone(),
                key: "helm",
                json: serde_json::json!({
                    "release": helm.release,
                    "revision": revision,
                    "error": error,
                }),
                text,
            });
        }
        out
    }
}
