//! The swap and the rollback of helm services: record each release's latest
//! revision in the swap step's journal detail, `helm upgrade` with the
//! migrated values, and `helm rollback` to the recorded revision.

use std::collections::BTreeMap;

use serde_json::json;
use upshift_core::manifest::{DriverKind, Service};

use super::runner::Runner;
use crate::driver::helm;
use crate::journal::StepState;

const SWAP: &str = "swap.version";

impl Runner<'_> {
    /// Helm services in start order.
    fn helm_services(&self) -> Vec<(String, Service)> {
        let m = &self.setup.loaded.manifest;
        m.start_order()
            .into_iter()
            .filter(|n| *m.services[*n].driver.get_ref() == DriverKind::Helm)
            .map(|n| (n.to_string(), m.services[n].clone()))
            .collect()
    }

    /// Revisions journaled by hop `h`'s swap step, per service.
    fn helm_recorded(&self, h: usize) -> Result<BTreeMap<String, u64>, String> {
        Ok(self
            .first_record(h, SWAP, "helm_revisions")?
            .unwrap_or_default())
    }

    /// Part of `swap.version`: records every helm release's latest revision
    /// (journaled before anything changes; on resume the first record is
    /// kept), then upgrades each release to the hop's chart version.
    pub(super) fn helm_upgrade(&mut self, h: usize) -> Result<Option<String>, String> {
        let services = self.helm_services();
        if services.is_empty() {
            return Ok(None);
        }
        let root = self.root().clone();
        let mut recorded = self.helm_recorded(h)?;
        for (name, svc) in &services {
            if recorded.contains_key(name) {
                continue;
            }
            let rev = helm::latest_revision(name, svc, &root)?.ok_or_else(|| {
                format!(
                    "helm release `{}` of service `{name}` has no history: install it with `helm install` first, then upgrade with upshift",
                    helm::settings(name, svc).map(|s| s.release.as_str()).unwrap_or(name)
                )
            })?;
            recorded.insert(name.clone(), rev.revision);
        }
        let detail = json!({ "helm_revisions": recorded }).to_string();
        self.journal
            .record(&self.run_id, h, SWAP, StepState::Started, Some(&detail))
            .map_err(|e| e.to_string())?;
        let hop = self.plan.hops[h].clone();
        let chart_version = self.chart_version(h);
        if chart_version.is_none() {
            self.setup.progress.note(&format!(
                "warning: the catalog pins no chart_version for {}: helm uses the newest chart it finds",
                hop.to
            ));
        }
        for (name, svc) in &services {
            let values = self.migrated_values(h, name, svc)?;
            self.setup.progress.note(&format!(
                "helm upgrade {name} (revision {} recorded for rollback)",
                recorded[name]
            ));
            helm::upgrade(
                name,
                svc,
                &root,
                chart_version.as_deref(),
                values.as_deref(),
            )?;
        }
        Ok(Some(detail))
    }

    /// The chart version the catalog pins for hop `h`'s target.
    fn chart_version(&self, h: usize) -> Option<String> {
        let cat = &self.setup.loaded.catalog;
        cat.parse_version(&self.plan.hops[h].to)
            .ok()
            .and_then(|v| cat.release(&v))
            .and_then(|r| r.chart_version.clone())
    }

    /// Part of `prepare.config.NAME`: when config file `name` is the values
    /// file of helm services, `helm template` renders their chart with the
    /// hop's migrated copy while the old release still serves, so values the
    /// new chart refuses stop the run before anything changes.
    pub(super) fn helm_check_values(&self, h: usize, name: &str) -> Result<Option<String>, String> {
        let Some(cfg) = self.setup.loaded.manifest.config.get(name) else {
            return Ok(None);
        };
        let mut checked = Vec::new();
        for (svc_name, svc) in self.helm_services() {
            if helm::settings(&svc_name, &svc)?.values.as_deref() != Some(cfg.path.as_str()) {
                continue;
            }
            let Some(values) = self.migrated_values(h, &svc_name, &svc)? else {
                continue;
            };
            helm::template(
                &svc_name,
                &svc,
                self.root(),
                self.chart_version(h).as_deref(),
                &values,
            )
            .map_err(|e| {
                format!(
                    "the chart of `{svc_name}` does not accept the migrated {}: {e}",
                    cfg.path
                )
            })?;
            checked.push(svc_name);
        }
        Ok((!checked.is_empty())
            .then(|| format!("helm template accepts it ({})", checked.join(", "))))
    }

    /// The values file for `helm upgrade`: the hop's migrated (staged) copy
    /// when the file is listed under `[config]`, else the file itself.
    /// Relative to the installation's directory.
    fn migrated_values(
        &self,
        h: usize,
        name: &str,
        svc: &Service,
    ) -> Result<Option<String>, String> {
        let Some(values) = helm::settings(name, svc)?.values.clone() else {
            return Ok(None);
        };
        let m = &self.setup.loaded.manifest;
        let Some((cfg, _)) = m.config.iter().find(|(_, c)| c.path == values) else {
            return Ok(Some(values));
        };
        let staged = self.staged(h, cfg);
        if !staged.is_file() {
            return Err(format!(
                "the migrated {values} was not rendered ({}): resume or roll back the run",
                staged.display()
            ));
        }
        let rel = staged.strip_prefix(self.root()).unwrap_or(&staged);
        Ok(Some(rel.to_string_lossy().into_owned()))
    }

    /// Part of a rollback to `version`: `helm rollback` every release to the
    /// revision recorded by the swap of the hop that started at `version`.
    /// Nothing to do when that hop never reached its swap.
    pub(super) fn helm_rollback(&mut self, version: &str) -> Result<(), String> {
        let services = self.helm_services();
        if services.is_empty() {
            return Ok(());
        }
        let Some(h) = self.plan.hops.iter().position(|hop| hop.from == version) else {
            return Ok(());
        };
        let recorded = self.helm_recorded(h)?;
        let root = self.root().clone();
        for (name, svc) in &services {
            if let Some(rev) = recorded.get(name) {
                self.setup
                    .progress
                    .note(&format!("rollback: helm rollback {name} to revision {rev}"));
                helm::rollback(name, svc, &root, *rev)?;
            }
        }
        Ok(())
    }
}
