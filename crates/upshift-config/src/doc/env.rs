//! `.env` files: `KEY=value` lines, `export KEY=value`, `#` comments.

use serde_json::{Map, Value};

use super::{CommentedOut, Document};
use crate::error::{ConfigError, EditError};
use crate::format::Format;
use crate::path::{Path, Seg};

/// A `.env` document, kept as its lines.
pub struct EnvDoc {
    lines: Vec<String>,
    value: Value,
}

/// A parsed assignment line: key, and the byte range of the raw value.
struct Assign {
    key: String,
    value: (usize, usize),
}

fn parse_line(line: &str) -> Result<Option<Assign>, usize> {
    let body = line.trim_end_matches('\r');
    let t = body.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let lead = body.len() - t.len();
    let (t, lead) = match t.strip_prefix("export ") {
        Some(rest) => (rest.trim_start(), body.len() - rest.trim_start().len()),
        None => (t, lead),
    };
    let eq = t.find('=').ok_or(lead)?;
    let key = t[..eq].trim_end();
    let ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(lead);
    }
    let vstart = lead + eq + 1;
    Ok(Some(Assign {
        key: key.to_string(),
        value: (vstart, body.len()),
    }))
}

/// The value a raw `.env` value stands for.
fn unquote(raw: &str) -> String {
    let r = raw.trim();
    if let Some(inner) = r.strip_prefix('"') {
        let end = inner.rfind('"').unwrap_or(inner.len());
        return inner[..end]
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\\\", "\\");
    }
    if let Some(inner) = r.strip_prefix('\'') {
        let end = inner.rfind('\'').unwrap_or(inner.len());
        return inner[..end].to_string();
    }
    match r.find(" #") {
        Some(i) => r[..i].trim_end().to_string(),
        None => r.to_string(),
    }
}

/// Renders a value for a `.env` line, quoting when needed.
fn render(v: &Value) -> Result<String, EditError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        Value::Null => String::new(),
        _ => {
            return Err(EditError::Unsupported(
                "a .env value is a single string".into(),
            ))
        }
    };
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:@+,=-".contains(c))
    {
        Ok(s)
    } else {
        Ok(format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        ))
    }
}

impl EnvDoc {
    /// Parses `text`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let mut map = Map::new();
        for (i, l) in lines.iter().enumerate() {
            match parse_line(l) {
                Ok(Some(a)) => {
                    map.insert(a.key, Value::String(unquote(&l[a.value.0..a.value.1])));
                }
                Ok(None) => {}
                Err(col) => {
                    return Err(ConfigError::Parse {
                        file: file.to_string(),
                        format: ".env",
                        line: i + 1,
                        column: l[..col.min(l.len())].chars().count() + 1,
                        message: "expected `KEY=value`, a comment or a blank line".into(),
                    })
                }
            }
        }
        Ok(EnvDoc {
            lines,
            value: Value::Object(map),
        })
    }

    fn key<'a>(&self, path: &'a Path) -> Result<&'a str, EditError> {
        match path.segs() {
            [Seg::Key(k)] => Ok(k),
            [Seg::Key(_), ..] => Err(EditError::NotAMapping {
                at: path
                    .segs()
                    .first()
                    .map(|s| Path(vec![s.clone()]).to_string())
                    .unwrap_or_default(),
            }),
            _ => Err(EditError::Unsupported(
                "a .env path is a single variable name".into(),
            )),
        }
    }

    /// Index of the last line assigning `key` (the one that wins).
    fn find(&self, key: &str) -> Option<(usize, Assign)> {
        self.lines
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, l)| match parse_line(l) {
                Ok(Some(a)) if a.key == key => Some((i, a)),
                _ => None,
            })
    }

    fn refresh(&mut self) {
        let mut map = Map::new();
        for l in &self.lines {
            if let Ok(Some(a)) = parse_line(l) {
                map.insert(a.key, Value::String(unquote(&l[a.value.0..a.value.1])));
            }
        }
        self.value = Value::Object(map);
    }
}

impl Document for EnvDoc {
    fn format(&self) -> Format {
        Format::Env
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn set(&mut self, path: &Path, value: &Value) -> Result<(), EditError> {
        let key = self.key(path)?.to_string();
        let rendered = render(value)?;
        match self.find(&key) {
            Some((i, a)) => {
                let line = &self.lines[i];
                let cr = if line.ends_with('\r') { "\r" } else { "" };
                self.lines[i] = format!("{}{}{}", &line[..a.value.0], rendered, cr);
            }
            None => {
                let cr = if self.lines.first().is_some_and(|l| l.ends_with('\r')) {
                    "\r"
                } else {
                    ""
                };
                let new = format!("{key}={rendered}{cr}");
                match self.lines.last().map(String::as_str) {
                    Some("") => {
                        let at = self.lines.len() - 1;
                        self.lines.insert(at, new);
                    }
                    Some(_) => {
                        // No final newline: keep it that way.
                        if let Some(last) = self.lines.last_mut() {
                            last.push_str(cr);
                        }
                        self.lines.push(format!("{key}={rendered}"));
                    }
                    None => self.lines.push(new),
                }
            }
        }
        self.refresh();
        Ok(())
    }

    fn remove(&mut self, path: &Path) -> Result<bool, EditError> {
        let key = self.key(path)?.to_string();
        let mut removed = false;
        while let Some((i, _)) = self.find(&key) {
            self.lines.remove(i);
            removed = true;
        }
        self.refresh();
        Ok(removed)
    }

    fn comment_out(&mut self, path: &Path, note: &str) -> Result<Option<CommentedOut>, EditError> {
        let key = self.key(path)?.to_string();
        let mut done = false;
        while let Some((i, _)) = self.find(&key) {
            let line = self.lines[i].clone();
            self.lines[i] = format!("# {line}");
            if !note.is_empty() && !done {
                let cr = if line.ends_with('\r') { "\r" } else { "" };
                self.lines.insert(i, format!("# {note}{cr}"));
            }
            done = true;
        }
        self.refresh();
        Ok(done.then_some(CommentedOut::Commented))
    }

    fn rename(&mut self, path: &Path, new_key: &str) -> Result<bool, EditError> {
        let key = self.key(path)?.to_string();
        let Some((i, a)) = self.find(&key) else {
            return Ok(false);
        };
        let line = self.lines[i].clone();
        let kstart = line[..a.value.0].rfind(key.as_str()).unwrap_or(0);
        self.lines[i] = format!(
            "{}{}{}",
            &line[..kstart],
            new_key,
            &line[kstart + key.len()..]
        );
        self.refresh();
        Ok(true)
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }
}
