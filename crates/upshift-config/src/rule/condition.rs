//! Conditions written in catalog data: `when = { path = "global.mongodb.URL", present = true }`.
//!
//! Every clause given must hold. Path clauses read the document as it is at
//! that point of the migration; `fact` reads what the caller knows about the
//! installation (for example `enterprise`, from its manifest).

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::migrate::Context;
use crate::path::Path;
use crate::value::{get, scalar_text, show};

/// A condition over the document and the installation's facts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The key the path clauses look at.
    pub path: Option<String>,
    /// Whether the key is set (to anything, `null` included).
    pub present: Option<bool>,
    /// The key equals this value (`${from}` and `${to}` are the hop's versions).
    pub equals: Option<toml::Value>,
    /// The key's scalar text matches this regular expression.
    pub matches: Option<String>,
    /// The key is a list with an item that has these keys and values.
    pub contains: Option<toml::Value>,
    /// The key is absent, `null`, `""`, `{}` or `[]`.
    pub empty: Option<bool>,
    /// The caller states this fact about the installation.
    pub fact: Option<String>,
    /// Every one of these holds.
    pub all: Option<Vec<Condition>>,
    /// At least one of these holds.
    pub any: Option<Vec<Condition>>,
    /// This does not hold.
    pub not: Option<Box<Condition>>,
}

/// Replaces `${from}` and `${to}` with the hop's versions.
pub fn expand(s: &str, ctx: &Context) -> String {
    let mut out = s.to_string();
    if let Some(v) = &ctx.from {
        out = out.replace("${from}", &v.to_string());
    }
    if let Some(v) = &ctx.to {
        out = out.replace("${to}", &v.to_string());
    }
    out
}

/// A catalog value as a value-view value, with `${from}`/`${to}` expanded.
pub fn json_of(v: &toml::Value, ctx: &Context) -> Value {
    match v {
        toml::Value::String(s) => Value::String(expand(s, ctx)),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        _ => want == have,
    }
}

impl Condition {
    /// Checks paths and regular expressions.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(p) = &self.path {
            Path::parse(p).map_err(|e| e.to_string())?;
        } else if self.present.is_some()
            || self.equals.is_some()
            || self.matches.is_some()
            || self.contains.is_some()
            || self.empty.is_some()
        {
            return Err("a condition on a value needs `path`".into());
        }
        if let Some(r) = &self.matches {
            Regex::new(r).map_err(|e| format!("bad regular expression `{r}`: {e}"))?;
        }
        for c in self.all.iter().chain(self.any.iter()).flatten() {
            c.validate()?;
        }
        if let Some(n) = &self.not {
            n.validate()?;
        }
        Ok(())
    }

    /// Whether the condition holds for `doc`.
    pub fn holds(&self, doc: &Value, ctx: &Context) -> bool {
        if let Some(p) = &self.path {
            let Ok(path) = Path::parse(p) else {
                return false;
            };
            let v = get(doc, &path);
            if let Some(want) = self.present {
                if v.is_some() != want {
                    return false;
                }
            }
            if let Some(eq) = &self.equals {
                if v != Some(&json_of(eq, ctx)) {
                    return false;
                }
            }
            if let Some(re) = &self.matches {
                let text = v.and_then(scalar_text);
                let ok = match (Regex::new(&expand(re, ctx)), text) {
                    (Ok(r), Some(t)) => r.is_match(&t),
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
            if let Some(item) = &self.contains {
                let want = json_of(item, ctx);
                let ok = matches!(v, Some(Value::Array(a)) if a.iter().any(|x| subset(&want, x)));
                if !ok {
                    return false;
                }
            }
            if let Some(want) = self.empty {
                let is_empty = match v {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.is_empty(),
                    Some(Value::Object(m)) => m.is_empty(),
                    Some(Value::Array(a)) => a.is_empty(),
                    _ => false,
                };
                if is_empty != want {
                    return false;
                }
            }
        }
        if let Some(f) = &self.fact {
            if !ctx.facts.contains(f) {
                return false;
            }
        }
        if let Some(all) = &self.all {
            if !all.iter().all(|c| c.holds(doc, ctx)) {
                return false;
            }
        }
        if let Some(any) = &self.any {
            if !any.iter().any(|c| c.holds(doc, ctx)) {
                return false;
            }
        }
        if let Some(n) = &self.not {
            if n.holds(doc, ctx) {
                return false;
            }
        }
        true
    }

    /// One line: "`global.mongodb.URL` is set and …".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let p = self.path.as_deref().unwrap_or("?");
        match self.present {
            Some(true) => parts.push(format!("`{p}` is set")),
            Some(false) => parts.push(format!("`{p}` is not set")),
            None => {}
        }
        if let Some(eq) = &self.equals {
            parts.push(format!(
                "`{p}` = {}",
                show(&serde_json::to_value(eq).unwrap_or(Value::Null))
            ));
        }
        if let Some(r) = &self.matches {
            parts.push(format!("`{p}` matches /{r}/"));
        }
        if let Some(c) = &self.contains {
            parts.push(format!(
                "`{p}` has an item {}",
                show(&serde_json::to_value(c).unwrap_or(Value::Null))
            ));
        }
        match self.empty {
            Some(true) => parts.push(format!("`{p}` is empty")),
            Some(false) => parts.push(format!("`{p}` is not empty")),
            None => {}
        }
        if let Some(f) = &self.fact {
            parts.push(format!("the installation is `{f}`"));
        }
        if let Some(all) = &self.all {
            parts.push(
                all.iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join(" and "),
            );
        }
        if let Some(any) = &self.any {
            let inner = any
                .iter()
                .map(Condition::describe)
                .collect::<Vec<_>>()
                .join(" or ");
            parts.push(if any.len() > 1 {
                format!("({inner})")
            } else {
                inner
            });
        }
        if let Some(n) = &self.not {
            parts.push(format!("not ({})", n.describe()));
        }
        if parts.is_empty() {
            "always".into()
        } else {
            parts.join(" and ")
        }
    }
}
