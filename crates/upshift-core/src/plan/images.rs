//! The images a hop puts in place for a compose installation: for every
//! compose service of the manifest that the catalog names an image for,
//! the image at the hop's start and at its target (what the swap writes
//! into upshift's override file, and what `prepare.artifacts` pulls).

use super::ImageChange;
use crate::deploy::compose;
use crate::manifest::Loaded;

/// The images of the hop `from → to`, by compose service name, in the
/// order of the manifest's compose projects; empty for installations
/// without compose services or catalogs without `images`.
pub fn changes(loaded: &Loaded, from: &str, to: &str) -> Vec<ImageChange> {
    let mut out = Vec::new();
    for (_, services) in compose::projects(&loaded.manifest).values() {
        let old = compose::images(&loaded.catalog, from, services);
        let new = compose::images(&loaded.catalog, to, services);
        for service in services {
            let Some(image) = new.get(service) else {
                continue;
            };
            out.push(ImageChange {
                service: service.clone(),
                from: old.get(service).cloned(),
                to: image.clone(),
            });
        }
    }
    out
}

/// The compose services the catalog names images for that no compose
/// service of the manifest is: upshift leaves them as the operator's
/// compose files have them.
pub fn unmanaged(loaded: &Loaded) -> Vec<String> {
    let projects = compose::projects(&loaded.manifest);
    if projects.is_empty() {
        return Vec::new();
    }
    let managed: Vec<&String> = projects.values().flat_map(|(_, s)| s).collect();
    let mut named: Vec<String> = loaded.catalog.images.keys().cloned().collect();
    for r in &loaded.catalog.releases {
        named.extend(r.images.keys().cloned());
    }
    named.sort();
    named.dedup();
    named.retain(|s| !managed.contains(&s));
    named
}
