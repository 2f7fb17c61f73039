//! What each kind of deployment does, in the words of a plan. Each file
//! here is one kind; upshift-run's `deploy/` has the type of the same name
//! that acts, so the plan says exactly what the executor will do.
//!
//! Adding a kind: a file here (its descriptions), a file in upshift-run's
//! `deploy/` (a type implementing `Deployment`), and a [`Driver`] variant.

pub mod compose;
pub mod helm;
pub mod release;
pub mod services;
pub mod upstream;

use crate::catalog::{Catalog, Release};
use crate::manifest::{Driver, Manifest};

/// One hop as the descriptions need it.
pub struct HopView<'a> {
    pub manifest: &'a Manifest,
    pub catalog: &'a Catalog,
    pub from: &'a str,
    pub to: &'a str,
    pub crossed: &'a [&'a Release],
}

/// The stop step of service `name`.
pub fn stop_text(hop: &HopView, name: &str) -> String {
    match hop.manifest.services[name].run() {
        Driver::Helm(_) => helm::stop_text(name),
        Driver::Compose(c) => compose::stop_text(hop, name, c),
        _ => services::stop_text(name, hop.from),
    }
}

/// The start step of service `name`.
pub fn start_text(hop: &HopView, name: &str) -> String {
    match hop.manifest.services[name].run() {
        Driver::Helm(_) => helm::start_text(name, hop.to),
        _ => services::start_text(hop.manifest, name, hop.to),
    }
}

/// The swap step: each deployment's part, in the order the executor runs them.
pub fn swap_text(hop: &HopView) -> String {
    let mut text = release::swap_text(hop);
    for part in [
        helm::swap_text(hop),
        upstream::swap_text(hop),
        compose::swap_text(hop),
    ]
    .into_iter()
    .flatten()
    {
        text = format!("{text}: {part}");
    }
    text
}
