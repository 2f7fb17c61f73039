//! `upshift catalog lint`: what loads but cannot be right. One function
//! per rule; each returns its findings.
//!
//! Errors are paths the planner can never take (a release nothing reaches,
//! one nothing leaves, a stop the path never lands on); warnings are facts
//! without a cited source.

use serde::Serialize;

use super::model::{Catalog, Release};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fact without its source: the catalog may still be right.
    Warning,
    /// A path the planner can never take: the catalog is wrong.
    Error,
}

/// One thing wrong with a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// The rule's name (`unreachable`, `no-source`).
    pub rule: &'static str,
    /// The release it is about, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub message: String,
}

impl Finding {
    fn error(rule: &'static str, r: &Release, message: String) -> Self {
        Finding {
            severity: Severity::Error,
            rule,
            release: Some(r.version.to_string()),
            message,
        }
    }

    fn warning(rule: &'static str, release: Option<&Release>, message: String) -> Self {
        Finding {
            severity: Severity::Warning,
            rule,
            release: release.map(|r| r.version.to_string()),
            message,
        }
    }
}

/// Every finding of every rule, errors first, then in release order.
pub fn lint(c: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in RULES {
        out.extend(rule(c));
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

type Rule = fn(&Catalog) -> Vec<Finding>;

const RULES: &[Rule] = &[
    unreachable,
    dead_end,
    stop_off_newest_patch,
    bound_without_release,
    unused_fact,
    no_checked_date,
    no_source,
    source_not_a_url,
];

/// A release no upgrade path from the oldest one reaches.
fn unreachable(c: &Catalog) -> Vec<Finding> {
    let n = c.releases.len();
    // reached[i]: some path from release 0 ends at i; prefix[k] counts
    // the reached releases among the first k.
    let mut prefix = vec![0usize; n + 1];
    let mut out = Vec::new();
    for (i, r) in c.releases.iter().enumerate() {
        let (lo, hi) = r.accepts;
        let hi = hi.min(i);
        let reached = i == 0 || (lo < hi && prefix[hi] > prefix[lo]);
        prefix[i + 1] = prefix[i] + usize::from(reached);
        if !reached {
            out.push(Finding::error(
                "unreachable",
                r,
                format!(
                    "no path from {} reaches {}: `upgrade_from = \"{}\"` accepts no release that can itself be reached",
                    c.releases[0].version, r.version, r.upgrade_from
                ),
            ));
        }
    }
    out
}

/// A release, not the newest, that no later release accepts: an
/// installation there could never upgrade again.
fn dead_end(c: &Catalog) -> Vec<Finding> {
    let n = c.releases.len();
    c.releases
        .iter()
        .enumerate()
        .take(n.saturating_sub(1))
        .filter(|&(i, _)| {
            !c.releases[i + 1..]
                .iter()
                .any(|later| (later.accepts.0..later.accepts.1).contains(&i))
        })
        .map(|(_, r)| {
            Finding::error(
                "dead-end",
                r,
                format!(
                    "no later release accepts an upgrade from {}: an installation there could never upgrade",
                    r.version
                ),
            )
        })
        .collect()
}

/// A `stop_if` on a release that is not the newest patch of its minor
/// line: the path lands on the newest patch, never on this one.
fn stop_off_newest_patch(c: &Catalog) -> Vec<Finding> {
    c.releases
        .windows(2)
        .filter(|w| {
            !w[0].stop_if.is_empty()
                && (w[0].version.major, w[0].version.minor)
                    == (w[1].version.major, w[1].version.minor)
        })
        .map(|w| {
            Finding::error(
                "stop-off-newest-patch",
                &w[0],
                format!(
                    "`stop_if` is on {} but the path lands on the newest patch of {}.{}.x ({} or later): move it there",
                    w[0].version, w[0].version.major, w[0].version.minor, w[1].version
                ),
            )
        })
        .collect()
}

/// A range whose lower bound names a version the catalog does not have:
/// the documented stop is missing from the catalog.
fn bound_without_release(c: &Catalog) -> Vec<Finding> {
    c.releases
        .iter()
        .filter_map(|r| {
            let min = r.upgrade_from.lower_bound()?;
            (c.release(min).is_none() && min > &c.releases[0].version).then(|| {
                Finding::error(
                    "bound-without-release",
                    r,
                    format!(
                        "`upgrade_from = \"{}\"` starts at {min}, which the catalog does not list: add the release or correct the bound",
                        r.upgrade_from
                    ),
                )
            })
        })
        .collect()
}

/// A declared fact that no release's `stop_if` and no config rule uses.
fn unused_fact(c: &Catalog) -> Vec<Finding> {
    c.facts
        .keys()
        .filter(|f| {
            !c.releases.iter().any(|r| {
                r.stop_if.contains(f)
                    || r.config_rules
                        .iter()
                        .any(|t| t.get("when").is_some_and(|w| mentions_fact(w, f)))
            })
        })
        .map(|f| {
            Finding::warning(
                "unused-fact",
                None,
                format!("fact `{f}` is declared in [facts] but no `stop_if` or rule uses it"),
            )
        })
        .collect()
}

fn mentions_fact(v: &toml::Value, fact: &str) -> bool {
    match v {
        toml::Value::Table(t) => t
            .iter()
            .any(|(k, v)| (k == "fact" && v.as_str() == Some(fact)) || mentions_fact(v, fact)),
        toml::Value::Array(a) => a.iter().any(|v| mentions_fact(v, fact)),
        _ => false,
    }
}

fn no_checked_date(c: &Catalog) -> Vec<Finding> {
    if c.checked.is_some() {
        return Vec::new();
    }
    vec![Finding::warning(
        "no-checked-date",
        None,
        "the catalog does not say when its facts were last checked: add `checked = \"YYYY-MM-DD\"` at the top".into(),
    )]
}

/// Every stop, note, rule, check, data step and known issue cites where
/// upstream documents it.
fn no_source(c: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &c.releases {
        let mut missing = |what: String| {
            out.push(Finding::warning(
                "no-source",
                Some(r),
                format!("{what} has no `source`"),
            ))
        };
        if r.source.is_none() && (!r.upgrade_from.is_any() || !r.stop_if.is_empty()) {
            missing("its upgrade path (`upgrade_from`)".into());
        }
        for n in r.notes.iter().filter(|n| n.source.is_none()) {
            missing(format!("note \"{}\"", short(&n.text)));
        }
        for (i, t) in r.config_rules.iter().enumerate() {
            if !t.contains_key("source") {
                missing(format!("config rule #{}", i + 1));
            }
        }
        for p in r.pre_checks.iter().filter(|p| p.source.is_none()) {
            missing(format!("pre-check `{}`", p.id));
        }
        for d in r.data_steps.iter().filter(|d| d.source.is_none()) {
            missing(format!("data step `{}`", d.id));
        }
        for k in r.known_issues.iter().filter(|k| k.source.is_none()) {
            missing(format!("known issue \"{}\"", short(&k.pattern)));
        }
    }
    out
}

/// A `source` is a web address a reader can open.
fn source_not_a_url(c: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &c.releases {
        let rules = r
            .config_rules
            .iter()
            .filter_map(|t| t.get("source").and_then(|v| v.as_str()));
        let sources = r
            .source
            .iter()
            .map(String::as_str)
            .chain(r.notes.iter().filter_map(|n| n.source.as_deref()))
            .chain(rules)
            .chain(r.pre_checks.iter().filter_map(|p| p.source.as_deref()))
            .chain(r.data_steps.iter().filter_map(|d| d.source.as_deref()))
            .chain(r.known_issues.iter().filter_map(|k| k.source.as_deref()));
        for s in sources {
            if !(s.starts_with("https://") || s.starts_with("http://")) {
                out.push(Finding::warning(
                    "source-not-a-url",
                    Some(r),
                    format!("source `{}` is not a web address (https://…)", short(s)),
                ));
            }
        }
    }
    out
}

fn short(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_catalog;

    fn rules_of(src: &str) -> Vec<(&'static str, Option<String>)> {
        let c = parse_catalog("t.toml", src).unwrap();
        lint(&c).into_iter().map(|f| (f.rule, f.release)).collect()
    }

    const HEAD: &str = "product = \"t\"\nchecked = \"2026-12-03\"\n";

    #[test]
    fn a_clean_catalog_has_no_findings() {
        let src = format!(
            "{HEAD}[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"1.1.0\"\nupgrade_from = \">=1.0.0\"\nsource = \"https://example.org/1.1\"\nnotes = [{{ text = \"n\", source = \"https://example.org/n\" }}]\n"
        );
        assert_eq!(rules_of(&src), vec![]);
    }

    #[test]
    fn a_release_nothing_reaches_and_one_nothing_leaves_are_errors() {
        // 2.0.0 accepts only 1.5.0, which is not listed; 1.1.0 is accepted by nobody.
        let src = format!(
            "{HEAD}[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"1.1.0\"\nupgrade_from = \">=1.0.0\"\nsource = \"https://e.org\"\n[[release]]\nversion = \"2.0.0\"\nupgrade_from = \">=1.5.0\"\nsource = \"https://e.org\"\n"
        );
        let got = rules_of(&src);
        assert!(
            got.contains(&("unreachable", Some("2.0.0".into()))),
            "{got:?}"
        );
        assert!(got.contains(&("dead-end", Some("1.1.0".into()))), "{got:?}");
        assert!(
            got.contains(&("bound-without-release", Some("2.0.0".into()))),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|(_, r)| r.as_deref() == Some("1.0.0")),
            "{got:?}"
        );
    }

    #[test]
    fn sources_and_stops_are_checked() {
        let src = format!(
            "{HEAD}[facts]\nnpm = \"has NPM packages\"\nidle = \"never used\"\n[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"1.1.0\"\nupgrade_from = \">=1.0.0\"\nstop_if = [\"npm\"]\nsource = \"docs/page\"\nnotes = [\"no source\"]\n[[release]]\nversion = \"1.1.1\"\nupgrade_from = \">=1.0.0\"\nsource = \"https://e.org\"\n"
        );
        let got = rules_of(&src);
        for want in [
            ("stop-off-newest-patch", Some("1.1.0".to_string())),
            ("source-not-a-url", Some("1.1.0".into())),
            ("no-source", Some("1.1.0".into())),
            ("unused-fact", None),
        ] {
            assert!(got.contains(&want), "{want:?} not in {got:?}");
        }
        // Errors come first.
        assert_eq!(got[0].0, "stop-off-newest-patch", "{got:?}");
    }
}
