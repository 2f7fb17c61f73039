//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use upshift_config::{migrate, rules_for, Context, Format, Migration, Rule};
use upshift_core::catalog::CatalogSet;
use upshift_core::version::parse_version;

/// A fixture's text.
pub fn fixture(name: &str) -> String {
    let p = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The built-in rules of `product` for the hop `from → to`.
pub fn rules(product: &str, from: &str, to: &str) -> Vec<Rule> {
    let set = CatalogSet::built_in();
    let c = set.get(product).expect("product is built in");
    let v = |s: &str| parse_version(s, &c.tag_prefixes).expect("version parses");
    rules_for(c, &v(from), &v(to)).expect("built-in rules parse")
}

/// A context for the hop.
pub fn ctx(from: &str, to: &str, facts: &[&str]) -> Context {
    Context {
        from: Some(semver::Version::parse(from).expect("version")),
        to: Some(semver::Version::parse(to).expect("version")),
        facts: facts.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        merge_source: None,
    }
}

/// Migrates a Mender values fixture from 3.7.7 to 4.0.0.
pub fn mender(name: &str, facts: &[&str]) -> Migration {
    let text = fixture(name);
    migrate(
        Format::Yaml,
        name,
        &text,
        &rules("mender", "3.7.7", "4.0.0"),
        &ctx("3.7.7", "4.0.0", facts),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The readable report snapshotted by the golden tests.
pub fn report(m: &Migration) -> String {
    let list = |v: &[String]| v.iter().map(|s| format!("- {s}\n")).collect::<String>();
    format!(
        "## applied\n{}\n## warnings\n{}\n## commands\n{}\n## diff\n{}\n## result\n{}",
        list(&m.applied),
        list(&m.warnings),
        list(&m.commands),
        m.diff,
        m.text
    )
}

/// Comments of `before` (whole-line and trailing) missing from `after`,
/// except those on lines containing one of `removed`.
pub fn lost_comments(before: &str, after: &str, removed: &[&str]) -> Vec<String> {
    before
        .lines()
        .filter(|l| !removed.iter().any(|r| l.contains(r)))
        .filter_map(|l| l.find('#').map(|i| l[i..].trim().to_string()))
        .filter(|c| !after.contains(c.as_str()))
        .collect()
}
