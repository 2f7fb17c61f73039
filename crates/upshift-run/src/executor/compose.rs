//! The compose driver's part of a run: get the new release's images before
//! the maintenance window (`prepare.artifacts`), write them into the
//! override file upshift owns in the swap (the previous override is
//! journaled first), and put that previous override back on rollback. The
//! start steps' `up -d --no-deps` recreates the containers with the images
//! the override names.

use std::collections::BTreeMap;

use serde_json::json;
use upshift_core::manifest::{ComposeDriver, DriverKind};

use super::runner::Runner;
use crate::driver::compose;
use crate::journal::StepState;

const SWAP: &str = "swap.version";
const KEY: &str = "compose_overrides";

impl Runner<'_> {
    /// Compose projects of the manifest, each with its settings (of its
    /// first service) and the compose names of its services.
    fn compose_projects(&self) -> BTreeMap<String, (ComposeDriver, Vec<String>)> {
        let m = &self.setup.loaded.manifest;
        let mut out: BTreeMap<String, (ComposeDriver, Vec<String>)> = BTreeMap::new();
        for name in m.start_order() {
            let svc = &m.services[name];
            if *svc.driver.get_ref() != DriverKind::Compose {
                continue;
            }
            if let Some(c) = &svc.compose {
                out.entry(c.project.clone())
                    .or_insert_with(|| (c.clone(), Vec::new()))
                    .1
                    .push(compose::service_name(name, c));
            }
        }
        out
    }

    /// The images the catalog names for `version`, of `services` only.
    fn compose_images(&self, version: &str, services: &[String]) -> BTreeMap<String, String> {
        let cat = &self.setup.loaded.catalog;
        let Ok(v) = cat.parse_version(version) else {
            return BTreeMap::new();
        };
        cat.images_for(&v)
            .into_iter()
            .filter(|(s, _)| services.contains(s))
            .collect()
    }

    /// Why compose service `name` may keep running through hop `h`, if it
    /// may: it is `stateless`, the catalog gives it the same image at both
    /// ends of the hop, and no config file changes in the hop (every staged
    /// copy equals the file it replaces). Anything else is stopped and
    /// recreated.
    pub(super) fn compose_keeps(&self, h: usize, name: &str) -> Result<Option<String>, String> {
        let svc = &self.setup.loaded.manifest.services[name];
        let Some(c) = svc.compose.as_ref().filter(|_| svc.stateless) else {
            return Ok(None);
        };
        let hop = &self.plan.hops[h];
        let compose_name = compose::service_name(name, c);
        let services = [compose_name.clone()];
        let (old, new) = (
            self.compose_images(&hop.from, &services),
            self.compose_images(&hop.to, &services),
        );
        if old.get(&compose_name) != new.get(&compose_name) {
            return Ok(None);
        }
        let t = self.target();
        for (cfg_name, cfg) in &self.setup.loaded.manifest.config {
            let writes = hop
                .steps
                .iter()
                .any(|s| s.id == format!("config.write.{cfg_name}"));
            if !writes {
                continue;
            }
            let staged = std::fs::read(self.staged(h, cfg_name)).ok();
            let current = t.host.read(&t.path(&cfg.path)).ok();
            if staged.is_none() || staged != current {
                return Ok(None);
            }
        }
        Ok(Some(format!(
            "stateless, same image ({}), config unchanged",
            new.get(&compose_name)
                .map_or("its compose file's", String::as_str)
        )))
    }

    /// Part of `prepare.artifacts`: every image of the hop's target release
    /// is on this host (pulled when missing) before anything stops.
    pub(super) fn compose_prepare(&self, h: usize) -> Result<Option<String>, String> {
        let projects = self.compose_projects();
        if projects.is_empty() {
            return Ok(None);
        }
        compose::program()?;
        let to = self.plan.hops[h].to.clone();
        let mut done = Vec::new();
        for (project, (_, services)) in &projects {
            let images = self.compose_images(&to, services);
            if images.is_empty() {
                self.setup.progress.note(&format!(
                    "warning: the catalog names no images of compose project {project} for {to}: its services keep the images of their compose files"
                ));
            }
            for image in images.values() {
                done.push(compose::ensure_image(image)?);
            }
        }
        Ok(Some(format!("images: {}", done.join(", "))))
    }

    /// The overrides journaled by hop `h`'s swap before it wrote the new
    /// ones (project → text, `None` when there was none); the first record
    /// wins, so a resumed swap keeps the true previous state.
    fn compose_recorded(
        &self,
        h: usize,
    ) -> Result<Option<BTreeMap<String, Option<String>>>, String> {
        self.first_record(h, SWAP, KEY)
    }

    /// Part of `swap.version`: journals every project's current override,
    /// then writes the one naming the images of the hop's target release.
    pub(super) fn compose_swap(&mut self, h: usize) -> Result<Option<String>, String> {
        let projects = self.compose_projects();
        if projects.is_empty() {
            return Ok(None);
        }
        let root = self.root().clone();
        if self.compose_recorded(h)?.is_none() {
            let before: BTreeMap<String, Option<String>> = projects
                .keys()
                .map(|p| {
                    let text = std::fs::read_to_string(compose::override_path(&root, p)).ok();
                    (p.clone(), text)
                })
                .collect();
            let detail = json!({ KEY: before }).to_string();
            self.journal
                .record(&self.run_id, h, SWAP, StepState::Started, Some(&detail))
                .map_err(|e| e.to_string())?;
        }
        let to = self.plan.hops[h].to.clone();
        let product = self.setup.loaded.catalog.product.clone();
        let mut shown = Vec::new();
        for (project, (_, services)) in &projects {
            let images = self.compose_images(&to, services);
            let text = compose::override_text(&product, &to, &images);
            write_atomic(&compose::override_path(&root, project), &text)?;
            let list: Vec<String> = images.iter().map(|(s, i)| format!("{s}={i}")).collect();
            shown.push(format!("{project}: {}", list.join(" ")));
        }
        Ok(Some(format!(
            "compose override written ({})",
            shown.join("; ")
        )))
    }

    /// Part of a rollback to `version`: the overrides recorded by the swap of
    /// the hop that started at `version` are put back (or removed, when
    /// there were none). The start steps then recreate the containers.
    pub(super) fn compose_rollback(&mut self, version: &str) -> Result<(), String> {
        let projects = self.compose_projects();
        if projects.is_empty() {
            return Ok(());
        }
        let Some(h) = self.plan.hops.iter().position(|hop| hop.from == version) else {
            return Ok(());
        };
        let Some(recorded) = self.compose_recorded(h)? else {
            return Ok(());
        };
        let root = self.root().clone();
        for (project, text) in recorded {
            let path = compose::override_path(&root, &project);
            self.setup.progress.note(&format!(
                "rollback: compose project {project} back to the images of {version}"
            ));
            match text {
                Some(t) => write_atomic(&path, &t)?,
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(format!("cannot remove {}: {e}", path.display()))
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

fn write_atomic(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("yml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
