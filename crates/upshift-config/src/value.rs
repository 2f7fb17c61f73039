//! Reading the neutral value view (`serde_json::Value`) of a document.

use serde_json::Value;

use crate::error::EditError;
use crate::path::{Path, Seg};

/// The value at `path`, if any.
pub fn get<'a>(root: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut cur = root;
    for seg in path.segs() {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Checks that `path` can be written: every existing step before the last
/// is a mapping (or a list for an index). `null` counts as an empty mapping.
pub fn check_writable(root: &Value, path: &Path) -> Result<(), EditError> {
    let mut cur = root;
    for (i, seg) in path.segs().iter().enumerate() {
        let here = || Path(path.segs()[..i].to_vec()).to_string();
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(m)) => match m.get(k) {
                Some(v) => v,
                None => return Ok(()),
            },
            (Seg::Index(n), Value::Array(a)) => match a.get(*n) {
                Some(v) => v,
                None => {
                    return Err(EditError::Unsupported(format!(
                        "`{}` has no item {n}",
                        here()
                    )))
                }
            },
            (_, Value::Null) => return Ok(()),
            (Seg::Index(_), _) => return Err(EditError::NotAMapping { at: here() }),
            (Seg::Key(_), _) => {
                return Err(EditError::NotAMapping {
                    at: if i == 0 {
                        "the document root".into()
                    } else {
                        here()
                    },
                })
            }
        };
    }
    Ok(())
}

/// True when `v` is a scalar (or an empty mapping or list).
pub fn is_leaf(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

/// A scalar as text (`true`, `8090`, `v4.0.0`); `None` for mappings and lists.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

/// A short rendering of a value for descriptions (`false`, `"v4.0.0"`, `[]`).
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// Every path (relative to `v`) of a key in `src` that `dst` lacks, stopping
/// at the first missing level, in `src`'s order.
pub fn missing_paths(src: &Value, dst: &Value) -> Vec<(Vec<Seg>, Value)> {
    let mut out = Vec::new();
    walk_missing(src, dst, &mut Vec::new(), &mut out);
    out
}

fn walk_missing(src: &Value, dst: &Value, at: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, Value)>) {
    if let (Value::Object(s), Value::Object(d)) = (src, dst) {
        for (k, sv) in s {
            at.push(Seg::Key(k.clone()));
            match d.get(k) {
                None => out.push((at.clone(), sv.clone())),
                Some(dv) => walk_missing(sv, dv, at, out),
            }
            at.pop();
        }
    }
}
