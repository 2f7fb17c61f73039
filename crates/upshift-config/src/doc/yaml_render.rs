//! Writing values as block-style YAML.

use serde_json::Value;

/// Whether `s` can be written without quotes and still read back as the
/// same string.
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s != s.trim() {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", ".nan",
    ];
    if reserved.contains(&lower.as_str()) {
        return false;
    }
    if s.parse::<f64>().is_ok() || s.starts_with("0x") || s.starts_with("0o") {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_alphanumeric() || first == '/' || first == '_' || first == '.') {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./@+=-, ()$".contains(c))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
}

/// A scalar (or empty collection) on one line.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if plain_ok(s) {
                s.clone()
            } else {
                serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
            }
        }
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        // Non-empty collections inline: JSON is valid flow YAML.
        other => other.to_string(),
    }
}

/// A string re-quoted in the style of `old` (`"x"`, `'x'` or plain).
pub fn scalar_like(v: &Value, old: &str) -> String {
    if let Value::String(s) = v {
        if old.starts_with('"') {
            return serde_json::to_string(s).unwrap_or_default();
        }
        if old.starts_with('\'') && !s.contains('\n') {
            return format!("'{}'", s.replace('\'', "''"));
        }
    }
    scalar(v)
}

/// A mapping key.
pub fn key(k: &str) -> String {
    if plain_ok(k) && !k.contains(' ') {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

/// Whether `v` is written on the key's line.
pub fn is_inline(v: &Value) -> bool {
    crate::value::is_leaf(v)
}

/// The lines of a block mapping at column `col`.
pub fn mapping(m: &serde_json::Map<String, Value>, col: usize, unit: usize) -> Vec<String> {
    let pad = " ".repeat(col);
    let mut out = Vec::new();
    for (k, v) in m {
        out.extend(entry(&pad, k, v, col, unit));
    }
    out
}

/// The lines of `key: value` at column `col`.
pub fn entry(pad: &str, k: &str, v: &Value, col: usize, unit: usize) -> Vec<String> {
    let k = key(k);
    match v {
        _ if is_inline(v) => vec![format!("{pad}{k}: {}", scalar(v))],
        Value::Object(m) => {
            let mut out = vec![format!("{pad}{k}:")];
            out.extend(mapping(m, col + unit, unit));
            out
        }
        Value::Array(a) => {
            let mut out = vec![format!("{pad}{k}:")];
            out.extend(sequence(a, col + unit, unit));
            out
        }
        _ => vec![format!("{pad}{k}: {}", scalar(v))],
    }
}

/// The lines of a block sequence with dashes at column `col`.
pub fn sequence(a: &[Value], col: usize, unit: usize) -> Vec<String> {
    let pad = " ".repeat(col);
    let mut out = Vec::new();
    for v in a {
        match v {
            _ if is_inline(v) => out.push(format!("{pad}- {}", scalar(v))),
            Value::Object(m) => {
                let mut lines = mapping(m, col + 2, unit);
                if let Some(first) = lines.first_mut() {
                    *first = format!("{pad}- {}", &first[col + 2..]);
                }
                out.extend(lines);
            }
            Value::Array(inner) => {
                out.push(format!("{pad}-"));
                out.extend(sequence(inner, col + 2, unit));
            }
            _ => out.push(format!("{pad}- {}", scalar(v))),
        }
    }
    out
}
