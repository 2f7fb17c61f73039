//! Collecting a product's rules for a hop from its catalog.

use semver::Version;
use upshift_core::catalog::{Catalog, RuleProblem};
use upshift_core::diag::did_you_mean;

use crate::error::ConfigError;
use crate::rule::{Op, Rule, OPS};

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

/// Checks one catalog rule table as a catalog loads
/// ([`upshift_core::catalog::parse_catalog_checked`]): an unknown `op` or
/// key is named with the nearest known one.
pub fn check_rule(t: &toml::Table) -> Result<(), RuleProblem> {
    let problem = |key: Option<&str>, message: String, help: Option<String>| RuleProblem {
        key: key.map(str::to_string),
        message,
        help,
    };
    match t.get("op") {
        None => {
            return Err(problem(
                None,
                "the rule has no `op`".into(),
                Some(format!("add `op = \"...\"`, one of: {}", OPS.join(", "))),
            ))
        }
        Some(toml::Value::String(op)) if !OPS.contains(&op.as_str()) => {
            let help = match did_you_mean(op, OPS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? (ops: {})", OPS.join(", ")),
                None => format!("use one of: {}", OPS.join(", ")),
            };
            return Err(problem(
                Some("op"),
                format!("unknown rule op `{op}`"),
                Some(help),
            ));
        }
        Some(toml::Value::String(_)) => {}
        Some(_) => {
            return Err(problem(
                Some("op"),
                "`op` must be a string".into(),
                Some(format!("write `op = \"...\"`, one of: {}", OPS.join(", "))),
            ))
        }
    }
    Rule::from_table(t).map(|_| ()).map_err(|message| {
        // serde names the key at fault in backticks: `unknown field `frm`,
        // expected one of `from`, `to`, ...` or `missing field `to``.
        let mut quoted = message.split('`').skip(1).step_by(2);
        let first = quoted.next();
        let key = first.filter(|k| t.contains_key(*k));
        let help = match (message.starts_with("unknown field"), first) {
            (true, Some(k)) => {
                let expected: Vec<&str> = quoted.collect();
                did_you_mean(k, expected.iter().copied()).map(|s| format!("did you mean `{s}`?"))
            }
            _ => None,
        };
        problem(key, message.clone(), help)
    })
}
