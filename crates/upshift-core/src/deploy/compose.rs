//! A Docker Compose project: the catalog's images of each release are
//! written into an override file upshift owns, passed after the user's
//! compose files; the start steps recreate the containers with them.

use std::collections::BTreeMap;

use super::HopView;
use crate::catalog::Catalog;
use crate::manifest::{ComposeDriver, Manifest};

/// The override file of `project`, relative to the installation's directory.
pub fn override_file(project: &str) -> String {
    format!(".upshift/compose/{project}.override.yml")
}

/// The compose service name (`service`, default the upshift service name).
pub fn service_name(name: &str, c: &ComposeDriver) -> String {
    c.service.clone().unwrap_or_else(|| name.to_string())
}

/// Compose projects of the manifest in start order, each with the
/// settings of its first service and the compose names of its services.
pub fn projects(m: &Manifest) -> BTreeMap<String, (ComposeDriver, Vec<String>)> {
    let mut out: BTreeMap<String, (ComposeDriver, Vec<String>)> = BTreeMap::new();
    for name in m.start_order() {
        if let Some(c) = m.services[name].compose() {
            out.entry(c.project.clone())
                .or_insert_with(|| (c.clone(), Vec::new()))
                .1
                .push(service_name(name, c));
        }
    }
    out
}

/// The images the catalog names for `version`, of `services` only.
pub fn images(catalog: &Catalog, version: &str, services: &[String]) -> BTreeMap<String, String> {
    let Ok(v) = catalog.parse_version(version) else {
        return BTreeMap::new();
    };
    catalog
        .images_for(&v)
        .into_iter()
        .filter(|(s, _)| services.contains(s))
        .collect()
}

/// The image a `stateless` compose service keeps through the hop, when the
/// catalog names the same one at both ends: then it may keep running
/// (when no config file changes either, which only the run can tell).
pub fn same_image(hop: &HopView, name: &str) -> Option<String> {
    let svc = &hop.manifest.services[name];
    let c = svc.compose().filter(|_| svc.stateless)?;
    let services = [service_name(name, c)];
    let old = images(hop.catalog, hop.from, &services);
    let new = images(hop.catalog, hop.to, &services);
    (old.get(&services[0]) == new.get(&services[0])).then(|| {
        new.get(&services[0])
            .cloned()
            .unwrap_or_else(|| "its compose file's".into())
    })
}

pub fn stop_text(hop: &HopView, name: &str, _c: &ComposeDriver) -> String {
    let from = hop.from;
    match same_image(hop, name) {
        Some(image) => format!(
            "stop and remove the container of {name} ({from}), unless a config file changes it keeps running: it is stateless and keeps its image ({image})"
        ),
        None => format!("stop and remove the container of {name} ({from}); named volumes stay"),
    }
}

pub fn swap_text(hop: &HopView) -> Option<String> {
    let projects = projects(hop.manifest);
    if projects.is_empty() {
        return None;
    }
    let files: Vec<String> = projects.keys().map(|p| override_file(p)).collect();
    Some(format!(
        "write the catalog's images of {} into {} (the previous one is journaled for rollback); the start steps recreate the containers with them",
        hop.to,
        files.join(", ")
    ))
}
