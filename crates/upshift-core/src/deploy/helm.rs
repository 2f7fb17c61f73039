//! A Helm release: Kubernetes keeps its pods running, the swap is `helm
//! upgrade` with the migrated values and the chart version the catalog pins.

use super::HopView;
use crate::catalog::Catalog;

pub fn stop_text(name: &str) -> String {
    format!("{name} keeps running (helm: Kubernetes replaces its pods in the swap)")
}

pub fn start_text(name: &str, to: &str) -> String {
    format!("{name} runs {to} once the helm upgrade is done (nothing to start)")
}

/// The chart version the catalog pins for release `to`.
pub fn chart_version(catalog: &Catalog, to: &str) -> Option<String> {
    catalog
        .parse_version(to)
        .ok()
        .and_then(|v| catalog.release(&v))
        .and_then(|r| r.chart_version.clone())
}

pub fn swap_text(hop: &HopView) -> Option<String> {
    let m = hop.manifest;
    let chart = hop.crossed.last().and_then(|r| r.chart_version.as_deref());
    let upgrades: Vec<String> = m
        .start_order()
        .iter()
        .filter_map(|s| m.services[*s].helm())
        .map(|h| {
            let version = chart.map_or(
                " (no chart_version in the catalog: the newest chart)".to_string(),
                |v| format!(" --version {v}"),
            );
            let values = h
                .values
                .as_ref()
                .map(|v| format!(" with the migrated {v}"))
                .unwrap_or_default();
            format!("helm upgrade {} {}{version}{values}", h.release, h.chart)
        })
        .collect();
    (!upgrades.is_empty()).then(|| {
        format!(
            "{} (the current revision is recorded for helm rollback)",
            upgrades.join("; ")
        )
    })
}
