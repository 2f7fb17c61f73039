//! Reading catalogs from TOML text, with located errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::{Catalog, DataStep, KnownIssue, Note, PreCheck, Release, Template};
use crate::diag::{from_toml_error, Diagnostic};
use crate::version::{parse_range, parse_version, Range};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    product: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    tag_prefixes: Vec<String>,
    docs: Option<String>,
    checked: Option<Spanned<String>>,
    #[serde(default)]
    facts: BTreeMap<String, String>,
    #[serde(default)]
    unlisted_patches: bool,
    #[serde(default)]
    images: BTreeMap<String, String>,
    #[serde(default, rename = "release")]
    releases: Vec<RawRelease>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    version: Spanned<String>,
    upgrade_from: Option<Spanned<String>>,
    rollback_keeps_data: Option<Spanned<String>>,
    source: Option<String>,
    #[serde(default)]
    stop_if: Vec<Spanned<String>>,
    #[serde(default)]
    notes: Vec<Note>,
    window: Option<String>,
    /// Each rule's keys with the spans of their values, so a rule refused
    /// by the check names its line.
    #[serde(default)]
    config_rules: Vec<BTreeMap<String, Spanned<toml::Value>>>,
    #[serde(default)]
    data_steps: Vec<DataStep>,
    #[serde(default)]
    pre_checks: Vec<PreCheck>,
    #[serde(default)]
    known_issues: Vec<KnownIssue>,
    chart_version: Option<String>,
    #[serde(default)]
    images: BTreeMap<String, String>,
    compose_template: Option<Spanned<String>>,
    upstream_tag: Option<Spanned<String>>,
}

/// Reads a file a catalog refers to, by its path as written (relative to the
/// catalog's directory); `Err` says why it cannot.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Why a config rule is refused, as a rule check reports it: the rule's key
/// at fault (`op`, `from`; `None` for the rule as a whole), what is wrong
/// and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub key: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

/// Checks one `[[release.config_rules]]` table. The rules are interpreted
/// outside this crate (upshift-config), which hands its check in.
pub type CheckRule<'a> = &'a dyn Fn(&toml::Table) -> Result<(), RuleProblem>;

/// Parses one catalog file whose referred files are built in (a copy of a
/// built-in catalog). `file` names it in errors.
pub fn parse_catalog(file: &str, src: &str) -> Result<Catalog, Diagnostic> {
    parse_catalog_with(file, src, &super::built_in_file)
}

/// Parses one catalog file, reading the files it refers to (compose
/// templates) with `read`. `file` names it in errors.
pub fn parse_catalog_with(file: &str, src: &str, read: ReadFile) -> Result<Catalog, Diagnostic> {
    parse_catalog_checked(file, src, read, &|_| Ok(()))
}

/// Like [`parse_catalog_with`], checking every config rule with `check`;
/// a refused rule is a diagnostic at the line of the key at fault.
pub fn parse_catalog_checked(
    file: &str,
    src: &str,
    read: ReadFile,
    check: CheckRule,
) -> Result<Catalog, Diagnostic> {
    let raw: RawCatalog = toml::from_str(src).map_err(|e| from_toml_error(file, src, &e))?;
    let product = raw.product.get_ref().trim().to_string();
    if product.is_empty()
        || !product
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Diagnostic::at(
            file,
            src,
            raw.product.span(),
            format!("`{product}` is not a product identifier"),
        )
        .with_help("use lowercase letters, digits, `-` or `_`, like `mender`"));
    }
    if let Some(c) = &raw.checked {
        check_date(file, src, c)?;
    }
    let mut releases = Vec::with_capacity(raw.releases.len());
    let mut fingerprinted = src.to_string();
    for r in raw.releases {
        let compose_template = match &r.compose_template {
            None => None,
            Some(p) => {
                let path = p.get_ref().clone();
                let text = read(&path).map_err(|e| {
                    Diagnostic::at(
                        file,
                        src,
                        p.span(),
                        format!("cannot read the compose template: {e}"),
                    )
                    .with_help("the path is relative to the catalog's directory")
                })?;
                fingerprinted += &format!("\n# {path}\n{text}");
                Some(Template { path, text })
            }
        };
        let version = parse_version(r.version.get_ref(), &raw.tag_prefixes)
            .map_err(|e| Diagnostic::at(file, src, r.version.span(), e.to_string()))?;
        let upgrade_from = match &r.upgrade_from {
            None => Range::any(),
            Some(s) => parse_range(s.get_ref())
                .map_err(|e| Diagnostic::at(file, src, s.span(), e.to_string()))?,
        };
        let rollback_keeps_data = match &r.rollback_keeps_data {
            None => None,
            Some(s) => Some(parse_range(s.get_ref()).map_err(|e| {
                Diagnostic::at(file, src, s.span(), e.to_string()).with_help(
                    "a range of the older releases that run on this release's data, like `>=1.1.0`",
                )
            })?),
        };
        for f in &r.stop_if {
            known_fact(file, src, &raw.facts, f)?;
        }
        if let Some(t) = &r.upstream_tag {
            crate::manifest::check_tag(t.get_ref()).map_err(|why| {
                Diagnostic::at(file, src, t.span(), format!("`upstream_tag`: {why}"))
                    .with_help("write the release's tag in upstream's repository, e.g. `upstream_tag = \"4.0.1\"`")
            })?;
        }
        let mut config_rules = Vec::with_capacity(r.config_rules.len());
        for (i, spanned) in r.config_rules.iter().enumerate() {
            let table: toml::Table = spanned
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect();
            if let Err(p) = check(&table) {
                let span = p
                    .key
                    .as_deref()
                    .and_then(|k| spanned.get(k))
                    .or_else(|| spanned.get("op"))
                    .or_else(|| spanned.values().next())
                    .map_or_else(|| r.version.span(), |v| v.span());
                let d = Diagnostic::at(
                    file,
                    src,
                    span,
                    format!(
                        "release {}: config rule #{}: {}",
                        r.version.get_ref(),
                        i + 1,
                        p.message
                    ),
                );
                return Err(match p.help {
                    Some(h) => d.with_help(h),
                    None => d,
                });
            }
            config_rules.push(table);
        }
        releases.push((
            r.version.span(),
            Release {
                version,
                upgrade_from,
                rollback_keeps_data,
                source: r.source,
                stop_if: r.stop_if.into_iter().map(|f| f.into_inner()).collect(),
                notes: r.notes,
                window: r.window,
                config_rules,
                data_steps: r.data_steps,
                pre_checks: r.pre_checks,
                known_issues: r.known_issues,
                chart_version: r.chart_version,
                images: r.images,
                compose_template,
                upstream_tag: r.upstream_tag.map(Spanned::into_inner),
                accepts: (0, 0),
                unlisted: false,
            },
        ));
    }
    releases.sort_by(|a, b| a.1.version.cmp(&b.1.version));
    for w in releases.windows(2) {
        if w[0].1.version == w[1].1.version {
            let (first, second) = if w[0].0.start < w[1].0.start {
                (&w[0], &w[1])
            } else {
                (&w[1], &w[0])
            };
            let line = src[..first.0.start].matches('\n').count() + 1;
            return Err(Diagnostic::at(
                file,
                src,
                second.0.clone(),
                format!("release {} is listed twice", second.1.version),
            )
            .with_help(format!("remove one of them (the other is on line {line})")));
        }
    }
    let mut catalog = Catalog {
        product,
        name: raw.name.unwrap_or_else(|| raw.product.get_ref().clone()),
        tag_prefixes: raw.tag_prefixes,
        docs: raw.docs,
        checked: raw.checked.map(|c| c.into_inner()),
        facts: raw.facts,
        unlisted_patches: raw.unlisted_patches,
        images: raw.images,
        releases: releases.into_iter().map(|(_, r)| r).collect(),
        origin: file.to_string(),
        source: fingerprinted,
    };
    catalog.index_accepts();
    Ok(catalog)
}

/// `checked` is a calendar date, `YYYY-MM-DD`.
fn check_date(file: &str, src: &str, c: &Spanned<String>) -> Result<(), Diagnostic> {
    let s = c.get_ref();
    let parts: Vec<&str> = s.split('-').collect();
    let valid = matches!(parts.as_slice(), [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            && (1..=12).contains(&m.parse::<u32>().unwrap_or(0))
            && (1..=31).contains(&d.parse::<u32>().unwrap_or(0)));
    if valid {
        return Ok(());
    }
    Err(Diagnostic::at(
        file,
        src,
        c.span(),
        format!("`checked = \"{s}\"` is not a date"),
    )
    .with_help("write the day the facts were last checked against upstream, like `2026-12-03`"))
}

/// A fact a release names must be one the catalog declares in `[facts]`.
fn known_fact(
    file: &str,
    src: &str,
    facts: &BTreeMap<String, String>,
    f: &Spanned<String>,
) -> Result<(), Diagnostic> {
    if facts.contains_key(f.get_ref()) {
        return Ok(());
    }
    let help = if facts.is_empty() {
        format!(
            "declare it at the top of the catalog: `[facts]` then `{} = \"what it means\"`",
            f.get_ref()
        )
    } else {
        format!(
            "the catalog's [facts] are: {}",
            facts.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    Err(Diagnostic::at(
        file,
        src,
        f.span(),
        format!("`{}` is not among the catalog's [facts]", f.get_ref()),
    )
    .with_help(help))
}

#[cfg(test)]
mod images_tests {
    use super::*;

    #[test]
    fn images_fill_in_version_and_tag_and_a_release_overrides() {
        let src = r#"
product = "m"
tag_prefixes = ["mender-"]
images = { deployments = "mendersoftware/deployments:{tag}", gui = "gui:{version}" }
[[release]]
version = "3.7.7"
[[release]]
version = "4.0.0"
images = { gui = "mendersoftware/gui:v{version}" }
"#;
        let c = parse_catalog("m.toml", src).unwrap();
        let old = c.images_for(&c.parse_version("3.7.7").unwrap());
        assert_eq!(
            old["deployments"],
            "mendersoftware/deployments:mender-3.7.7"
        );
        assert_eq!(old["gui"], "gui:3.7.7");
        let new = c.images_for(&c.parse_version("4.0.0").unwrap());
        assert_eq!(new["gui"], "mendersoftware/gui:v4.0.0");
        assert_eq!(
            new["deployments"],
            "mendersoftware/deployments:mender-4.0.0"
        );
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    const SRC: &str = r#"
product = "m"
[[release]]
version = "1.0.0"
compose_template = "m/1.0.0.yml"
[[release]]
version = "1.1.0"
[[release]]
version = "2.0.0"
compose_template = "m/2.0.0.yml"
"#;

    fn read(path: &str) -> Result<String, String> {
        match path {
            "m/1.0.0.yml" => Ok("image: m:1\n".into()),
            "m/2.0.0.yml" => Ok("image: m:2\n".into()),
            _ => Err(format!("{path}: no such file")),
        }
    }

    #[test]
    fn a_template_holds_until_a_later_release_brings_its_own() {
        let c = parse_catalog_with("m.toml", SRC, &read).unwrap();
        let at = |v: &str| {
            c.compose_template_for(&c.parse_version(v).unwrap())
                .map(|t| (t.path.as_str(), t.text.as_str()))
        };
        assert_eq!(at("1.0.0"), Some(("m/1.0.0.yml", "image: m:1\n")));
        assert_eq!(at("1.1.0"), Some(("m/1.0.0.yml", "image: m:1\n")));
        assert_eq!(at("2.0.0"), Some(("m/2.0.0.yml", "image: m:2\n")));
        // A template's text is part of the catalog's fingerprint.
        assert!(c.source.contains("image: m:2"), "{}", c.source);
    }

    #[test]
    fn an_unreadable_template_names_the_catalog_line() {
        let src = SRC.replace("m/2.0.0.yml", "m/missing.yml");
        let e = parse_catalog_with("m.toml", &src, &read)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:10"), "{e}");
        assert!(e.contains("m/missing.yml: no such file"), "{e}");
        let e = parse_catalog("m.toml", SRC).unwrap_err().to_string();
        assert!(e.contains("m/1.0.0.yml is not among the built-in"), "{e}");
    }
}
