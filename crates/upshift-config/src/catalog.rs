//! Collecting a product's rules for a hop from its catalog.

use semver::Version;
use upshift_core::catalog::Catalog;

use crate::error::ConfigError;
use crate::rule::{Op, Rule};

/// The rules of every release `from < r <= to` crosses, oldest release
/// first, each release's rules in catalog order. `merge_from` rules are left
/// out: they only apply in merge mode (see [`merge_rule`]).
pub fn rules_for(
    catalog: &Catalog,
    from: &Version,
    to: &Version,
) -> Result<Vec<Rule>, ConfigError> {
    let mut out = Vec::new();
    for r in catalog
        .releases
        .iter()
        .filter(|r| &r.version > from && &r.version <= to)
    {
        for (i, t) in r.config_rules.iter().enumerate() {
            let rule = Rule::from_table(t).map_err(|message| ConfigError::BadRule {
                origin: format!("{} release {}", catalog.origin, r.version),
                index: i + 1,
                message,
            })?;
            if !matches!(rule.op, Op::MergeFrom { .. }) {
                out.push(rule.with_release(&r.version));
            }
        }
    }
    Ok(out)
}

/// The newest `merge_from` rule of a release at or before `at`: how a
/// source installation's configuration is laid onto a destination's.
pub fn merge_rule(catalog: &Catalog, at: &Version) -> Result<Option<Rule>, ConfigError> {
    let mut found = None;
    for r in catalog.releases.iter().filter(|r| &r.version <= at) {
        for (i, t) in r.config_rules.iter().enumerate() {
            let rule = Rule::from_table(t).map_err(|message| ConfigError::BadRule {
                origin: format!("{} release {}", catalog.origin, r.version),
                index: i + 1,
                message,
            })?;
            if matches!(rule.op, Op::MergeFrom { .. }) {
                found = Some(rule.with_release(&r.version));
            }
        }
    }
    Ok(found)
}

/// Checks every rule of a catalog (for `catalog show` and tests).
pub fn check_catalog(catalog: &Catalog) -> Result<usize, ConfigError> {
    let mut n = 0;
    for r in &catalog.releases {
        for (i, t) in r.config_rules.iter().enumerate() {
            Rule::from_table(t).map_err(|message| ConfigError::BadRule {
                origin: format!("{} release {}", catalog.origin, r.version),
                index: i + 1,
                message,
            })?;
            n += 1;
        }
    }
    Ok(n)
}
