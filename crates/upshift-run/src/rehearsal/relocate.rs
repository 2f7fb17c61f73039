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

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[installation]
name = "demo"
product = "demo"
version = "1.0.0"
[services.notes]
driver = "process"
public_address = "127.0.0.1:7302"
[services.notes.process]
start = "x"
[services.auth]
driver = "process"
public_address = "127.0.0.1:7301"
[services.auth.process]
start = "x"
[config.notes]
path = "config/notes.toml"
format = "toml"
[relocate.notes]
keep = ["listen", "server.listen", "auth_url"]
"#;

    fn manifest(src: &str) -> Manifest {
        upshift_core::manifest::parse_manifest("upshift.toml", src).unwrap()
    }

    #[test]
    fn kept_keys_get_the_copys_addresses_and_the_rest_stays_byte_for_byte() {
        let m = manifest(MANIFEST);
        let a = Addresses::allocate(&m, "h1").unwrap();
        let text = "# notes\nlisten = \"127.0.0.1:7302\"  # mine\nauth_url = \"http://localhost:7301\"\ndatabase = \"data/notes.db\"\n";
        let out = relocated(&m, "notes", text, &OwnValues::Rewritten(&a), &a).unwrap();
        assert!(!out.contains(":7302") && !out.contains(":7301"), "{out}");
        assert!(out.starts_with("# notes\nlisten = \"127.0.0.1:"), "{out}");
        assert!(out.contains("  # mine\n"), "comments kept: {out}");
        assert!(out.ends_with("database = \"data/notes.db\"\n"), "{out}");
    }

    #[test]
    fn a_production_address_outside_the_kept_keys_is_refused_naming_the_key() {
        let m = manifest(MANIFEST);
        let a = Addresses::allocate(&m, "h1").unwrap();
        for (text, key) in [
            (
                "[peers]\nurls = [\"http://0.0.0.0:7301/x\"]\n",
                "peers.urls[0]",
            ),
            ("callback = \"127.0.0.1:7302\"\n", "callback"),
        ] {
            let e = relocated(&m, "notes", text, &OwnValues::Rewritten(&a), &a).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
            assert!(msg.contains("[relocate.notes] keep"), "{msg}");
        }
    }

    #[test]
    fn the_operators_own_values_win_and_a_key_they_lack_is_removed() {
        let m = manifest(MANIFEST);
        let a = Addresses::of(&m);
        let own = serde_json::json!({ "listen": "10.0.0.5:80" });
        let text = "listen = \"127.0.0.1:7302\"\nauth_url = \"http://127.0.0.1:7301\"\n";
        let out = relocated(&m, "notes", text, &OwnValues::FromFile(&own), &a).unwrap();
        assert_eq!(out, "listen = \"10.0.0.5:80\"\n");
    }
}
