//! A config file of a copy: the source's file (from its snapshot) with the
//! keys `[relocate.NAME] keep` lists set to the copy's own values, written
//! losslessly through upshift-config. Whatever else still names one of the
//! source's addresses is refused, naming the key to add to `keep`: a copy
//! that talks to production is worse than no copy.

use serde_json::Value;
use upshift_config::doc::{self, Document};
use upshift_config::value::get;
use upshift_config::{Format, Path};
use upshift_core::manifest::{ConfigFormat, Manifest};

use super::error::{RehearsalError, Result};
use super::staging::Addresses;

/// Where a kept key's own value comes from.
pub enum OwnValues<'a> {
    /// The source's value with its addresses rewritten (a generated copy).
    Rewritten(&'a Addresses),
    /// The value in the copy's existing file at the same key (a copy whose
    /// config the operator wrote); absent there: removed.
    FromFile(&'a Value),
}

impl OwnValues<'_> {
    fn value(&self, source: &Value, path: &Path) -> Option<Value> {
        match self {
            OwnValues::Rewritten(a) => Some(rewrite_leaves(source, a)),
            OwnValues::FromFile(own) => get(own, path).cloned(),
        }
    }
}

fn rewrite_leaves(v: &Value, a: &Addresses) -> Value {
    match v {
        Value::String(s) => Value::String(a.rewrite_value(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| rewrite_leaves(v, a)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), rewrite_leaves(v, a)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Config file `name` (its snapshot text) as the copy keeps it.
pub fn relocated(
    m: &Manifest,
    name: &str,
    text: &str,
    own: &OwnValues,
    source: &Addresses,
) -> Result<String> {
    let cfg = &m.config[name];
    let mut d = doc::open(format_of(cfg.format), &cfg.path, text)?;
    let keep = m
        .relocate
        .get(name)
        .map(|r| r.keep.as_slice())
        .unwrap_or_default();
    for key in keep {
        set_own(d.as_mut(), key, own)?;
    }
    if let Some((key, addr)) = leak(d.value(), source, "") {
        return Err(RehearsalError::Unsupported(format!(
            "config file `{name}` ({}): `{key}` names the production address {addr}, which the copy would use too; \
             add it to the keys the copy keeps as its own: [relocate.{name}] keep = [\"{key}\"]",
            cfg.path
        )));
    }
    Ok(d.text())
}

fn set_own(d: &mut dyn Document, key: &str, own: &OwnValues) -> Result<()> {
    let path = Path::parse(key)?;
    let Some(current) = get(d.value(), &path).cloned() else {
        return Ok(()); // not a key of this version of the file
    };
    let edit = match own.value(&current, &path) {
        Some(v) if v != current => d.set(&path, &v),
        Some(_) => return Ok(()),
        None => d.remove(&path).map(|_| ()),
    };
    edit.map_err(|e| RehearsalError::Staging(format!("cannot set `{key}`: {e:?}")))
}

/// The first key (dotted) whose string value names a source address.
fn leak<'a>(v: &Value, a: &'a Addresses, at: &str) -> Option<(String, &'a str)> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::String(s) => a.named_in(s).map(|addr| (at.to_string(), addr)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| leak(v, a, &format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, v)| leak(v, a, &join(k))),
        _ => None,
    }
}

pub(super) fn format_of(f: ConfigFormat) -> Format {
    match f {
        ConfigFormat::Yaml => Format::Yaml,
        ConfigFormat::Json => Format::Json,
        ConfigFormat::Toml => Format::Toml,
        ConfigFormat::Env => Format::Env,
    }
}
