//! `docs/manifest.md` and `docs/catalog.md` stay true to the parsers.
//!
//! **Every key the parsers accept is named in the docs.** The key lists are
//! not written here: they are asked of the parsers themselves. A table is
//! probed by parsing a document that puts the unknown key `zzz_probe` in it;
//! every table is `deny_unknown_fields`, so the parser refuses it and its
//! help lists every key allowed there (serde's own list of the struct's
//! fields). Each of those keys is probed in turn as a table, a table of
//! named entries (`[services.x]`) and an array of tables (`[[release]]`),
//! so nested tables are found without naming them. A new field in a serde
//! struct therefore fails this test until the docs name it (as `` `key` ``,
//! or a table as `` `[key]` ``).
//! Config rules are tables interpreted by upshift-config: each op of
//! [`upshift_config::rule::OPS`] is probed through
//! [`upshift_config::catalog::check_rule`], conditions through
//! [`upshift_config::rule::Condition`]'s deserializer. Enumerated values
//! (driver kinds, store kinds, formats) are probed the same way with an
//! unknown value.
//!
//! **Every ```` ```toml ```` block parses.** In `manifest.md` a block must
//! load as a manifest against the built-in catalogs; in `catalog.md` as a
//! catalog, its config rules checked. A block marked ```` ```toml fragment ````
//! is part of a file: it must be valid TOML.

use std::collections::BTreeSet;

use upshift_config::catalog::check_rule;
use upshift_config::rule::{Condition, OPS};
use upshift_core::catalog::{built_in_file, parse_catalog_checked};
use upshift_core::manifest::parse_manifest;
use upshift_core::{CatalogSet, Diagnostic};

const MANIFEST_MD: &str = include_str!("../../../docs/manifest.md");
const CATALOG_MD: &str = include_str!("../../../docs/catalog.md");
const PROBE: &str = "zzz_probe";

#[derive(Clone, Copy, Debug)]
enum Form {
    Table,
    Named,
    Array,
}

/// The TOML headers that put `PROBE` into the table at `path`.
fn probe_doc(path: &[(String, Form)], line: &str) -> String {
    let mut out = String::new();
    let mut name = String::new();
    for (i, (key, form)) in path.iter().enumerate() {
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(key);
        let last = i + 1 == path.len();
        match form {
            Form::Array => out += &format!("[[{name}]]\n"),
            Form::Named => {
                name.push_str(".x");
                if last {
                    out += &format!("[{name}]\n");
                }
            }
            Form::Table if last => out += &format!("[{name}]\n"),
            Form::Table => {}
        }
    }
    out + line + "\n"
}

/// The backticked words of a diagnostic's help after "allowed here:" or
/// "use one of:", when its message is about `PROBE`.
fn allowed(d: &Diagnostic) -> Option<Vec<String>> {
    if !d.message.contains(PROBE) {
        return None;
    }
    let help = d.help.as_deref()?;
    let at = help
        .find("allowed here:")
        .or_else(|| help.find("use one of:"))?;
    Some(
        help[at..]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Every key under `path` (recursively), as `table.key` names.
fn discover(
    parse: &dyn Fn(&str) -> Result<(), Diagnostic>,
    path: Vec<(String, Form)>,
    out: &mut BTreeSet<String>,
) {
    let keys = match parse(&probe_doc(&path, &format!("{PROBE} = 1"))) {
        Err(d) => allowed(&d),
        Ok(()) => None,
    };
    let Some(keys) = keys else { return };
    for k in keys {
        out.insert(k.clone());
        if path.len() >= 4 {
            continue;
        }
        for form in [Form::Table, Form::Named, Form::Array] {
            let mut child = path.clone();
            child.push((k.clone(), form));
            let before = out.len();
            let probed = match parse(&probe_doc(&child, &format!("{PROBE} = 1"))) {
                Err(d) => allowed(&d).is_some(),
                Ok(()) => false,
            };
            if probed {
                discover(parse, child, out);
                assert!(out.len() >= before);
                break;
            }
        }
    }
}

/// Whether the doc names `key`: as `` `key` ``, or as a table header
/// (`[key]`, `[key.NAME]`, `[[key]]`).
fn backticked(doc: &str, key: &str) -> bool {
    [
        format!("`{key}`"),
        format!("`[{key}]`"),
        format!("`[{key}."),
        format!("`[[{key}]]`"),
        format!("## `[{key}"),
    ]
    .iter()
    .any(|form| doc.contains(form.as_str()))
}

fn missing_from(doc: &str, keys: &BTreeSet<String>) -> Vec<String> {
    keys.iter()
        .filter(|k| !backticked(doc, k))
        .cloned()
        .collect()
}

fn manifest_parse(src: &str) -> Result<(), Diagnostic> {
    parse_manifest("probe.toml", src).map(|_| ())
}

fn catalog_parse(src: &str) -> Result<(), Diagnostic> {
    parse_catalog_checked("probe.toml", src, &built_in_file, &check_rule).map(|_| ())
}

/// The words serde lists after "expected" in `message` (`expected `a``,
/// `expected `a` or `b``, `expected one of `a`, `b`, `c``).
fn expected(message: &str) -> Vec<String> {
    message
        .split("expected")
        .nth(1)
        .and_then(|l| l.lines().next())
        .unwrap_or("")
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_manifest_key_is_in_manifest_md() {
    let mut keys = BTreeSet::new();
    discover(&manifest_parse, Vec::new(), &mut keys);
    // The probe must have found the tables it cannot name in advance.
    for k in [
        "installation",
        "driver",
        "pidfile",
        "stop_timeout",
        "retries",
        "carry",
        "timeout",
        "secret_key",
    ] {
        assert!(keys.contains(k), "the probe did not find `{k}`: {keys:?}");
    }
    for (table, line) in [
        ("services", "driver = \"zzz_probe\""),
        ("stores", "kind = \"zzz_probe\""),
        ("config", "format = \"zzz_probe\""),
    ] {
        let doc = probe_doc(&[(table.to_string(), Form::Named)], line);
        let d = manifest_parse(&doc).unwrap_err();
        let values = allowed(&d).unwrap_or_else(|| panic!("{d}"));
        assert!(values.len() >= 4, "{d}");
        keys.extend(values);
    }
    let missing = missing_from(MANIFEST_MD, &keys);
    assert!(
        missing.is_empty(),
        "docs/manifest.md does not name these manifest keys or values: {missing:?}"
    );
}

#[test]
fn every_catalog_key_and_rule_op_is_in_catalog_md() {
    let mut keys = BTreeSet::new();
    discover(&catalog_parse, Vec::new(), &mut keys);
    for k in [
        "release",
        "upgrade_from",
        "rollback_keeps_data",
        "container",
        "timeout",
        "hint",
        "pattern",
    ] {
        assert!(keys.contains(k), "the probe did not find `{k}`: {keys:?}");
    }
    // Rules: every op, the keys of each, and what every rule may carry.
    keys.extend(["op", "when", "why", "role"].map(String::from));
    for op in OPS {
        keys.insert(op.to_string());
        let mut t = toml::Table::new();
        t.insert("op".into(), toml::Value::String(op.to_string()));
        t.insert(PROBE.into(), toml::Value::Integer(1));
        let p = check_rule(&t).unwrap_err();
        let fields = expected(&p.message);
        assert!(!fields.is_empty(), "{op}: {}", p.message);
        keys.extend(fields);
    }
    for key in ["on_conflict", "leave"] {
        let t: toml::Table = toml::from_str(&format!(
            "op = \"move\"\nfrom = \"a\"\nto = \"b\"\n{key} = \"{PROBE}\""
        ))
        .unwrap();
        let p = check_rule(&t).unwrap_err();
        let values = expected(&p.message);
        assert!(values.len() >= 2, "{key}: {}", p.message);
        keys.extend(values);
    }
    let mut t = toml::Table::new();
    t.insert(PROBE.into(), toml::Value::Integer(1));
    let e = toml::Value::Table(t).try_into::<Condition>().unwrap_err();
    let fields = expected(e.message());
    assert!(fields.len() >= 5, "{e}");
    keys.extend(fields);
    let missing = missing_from(CATALOG_MD, &keys);
    assert!(
        missing.is_empty(),
        "docs/catalog.md does not name these catalog keys, ops or values: {missing:?}"
    );
}

/// The ```toml blocks of `doc`: (line, info string, text).
fn toml_blocks(doc: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.strip_prefix("```toml") {
                    open = Some((i + 1, info.trim().to_string(), String::new()));
                }
            }
            Some(_) if line.starts_with("```") => out.extend(open.take()),
            Some((_, _, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(open.is_none(), "an unclosed ```toml block");
    out
}

fn check_blocks(name: &str, doc: &str, whole: &dyn Fn(&str, &str) -> Result<(), Diagnostic>) {
    let blocks = toml_blocks(doc);
    assert!(
        blocks.iter().any(|(_, info, _)| info.is_empty()),
        "{name} has no complete example"
    );
    for (line, info, text) in blocks {
        let file = format!("{name} (block at line {line})");
        match info.as_str() {
            "" => whole(&file, &text).unwrap_or_else(|d| panic!("{d}")),
            "fragment" => {
                toml::from_str::<toml::Table>(&text)
                    .unwrap_or_else(|e| panic!("{file}: not TOML: {e}"));
            }
            other => {
                panic!("{file}: unknown block kind `toml {other}` (use `toml` or `toml fragment`)")
            }
        }
    }
}

#[test]
fn every_manifest_example_loads() {
    let catalogs = CatalogSet::built_in();
    check_blocks("docs/manifest.md", MANIFEST_MD, &|file, text| {
        upshift_core::load(file, text, &catalogs).map(|_| ())
    });
}

#[test]
fn every_catalog_example_loads_with_its_rules_checked() {
    check_blocks("docs/catalog.md", CATALOG_MD, &|file, text| {
        parse_catalog_checked(file, text, &built_in_file, &check_rule).map(|_| ())
    });
}

/// The probe itself: a key missing from a doc is reported.
#[test]
fn a_key_left_out_of_the_docs_is_reported() {
    let mut keys = BTreeSet::new();
    discover(&manifest_parse, Vec::new(), &mut keys);
    let without = MANIFEST_MD.replace("`stop_timeout`", "stop timeout");
    assert_eq!(missing_from(&without, &keys), ["stop_timeout"]);
}
