//! YAML: a line-based editor for block-style documents (Helm values files),
//! with `yaml-rust2` as the parser that validates and reads them.
//!
//! Every edit touches only the lines of the key it changes. After each edit
//! the text is parsed again and the edited path read back; an edit that does
//! not read back as intended (for example a flow-style mapping the line
//! editor does not understand) is undone and reported instead of written.

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::yaml_lines::{body, indent, Block, Entry, Lines, Node};
use super::yaml_render as render;
use super::{broken_edit, CommentedOut, Document};
use crate::error::{ConfigError, EditError};
use crate::format::Format;
use crate::path::{Path, Seg};
use crate::value::{check_writable, get, is_leaf};

/// A YAML document.
pub struct YamlDoc {
    file: String,
    original: String,
    lines: Vec<String>,
    crlf: bool,
    dirty: bool,
    value: Value,
}

/// What holds a located node.
#[derive(Debug, Clone)]
enum Holder {
    Root,
    Entry { entry: Entry, parent: Block },
    Item { start: usize, end: usize },
}

/// Where a path leads.
enum Walk {
    Found {
        node: Node,
        holder: Holder,
    },
    Missing {
        depth: usize,
        node: Node,
        holder: Holder,
    },
}

/// Converts a parsed YAML node to the value view.
fn to_value(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".into(),
                    other => format!("{other:?}"),
                };
                m.insert(key, to_value(v));
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn parse_value(file: &str, text: &str) -> Result<Value, ConfigError> {
    super::limits::check_yaml(file, text)?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| ConfigError::Parse {
        file: file.to_string(),
        format: "YAML",
        line: e.marker().line().max(1),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    Ok(docs.first().map_or(Value::Null, to_value))
}

fn is_empty_inline(t: &str) -> bool {
    matches!(t, "{}" | "null" | "~" | "[]" | "Null" | "NULL")
}

impl YamlDoc {
    /// Parses `text`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let value = parse_value(file, text)?;
        let crlf =
            text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
        let lines = text
            .split('\n')
            .map(|l| {
                if crlf {
                    l.strip_suffix('\r').unwrap_or(l).to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        Ok(YamlDoc {
            file: file.to_string(),
            original: text.to_string(),
            lines,
            crlf,
            dirty: false,
            value,
        })
    }

    fn lines(&self) -> Lines<'_> {
        Lines(&self.lines)
    }

    fn walk(&self, path: &Path) -> Result<Walk, EditError> {
        let l = self.lines();
        let mut node = l.root();
        let mut holder = Holder::Root;
        for (i, seg) in path.segs().iter().enumerate() {
            let here = || {
                if i == 0 {
                    "the document root".to_string()
                } else {
                    Path(path.segs()[..i].to_vec()).to_string()
                }
            };
            let cur = node.clone();
            match (seg, &cur) {
                (Seg::Key(k), Node::Map(b)) => {
                    match l.entries(*b).into_iter().find(|e| &e.key == k) {
                        Some(e) => {
                            node = l.entry_value(&e);
                            holder = Holder::Entry {
                                entry: e,
                                parent: *b,
                            };
                        }
                        None => {
                            return Ok(Walk::Missing {
                                depth: i,
                                node,
                                holder,
                            })
                        }
                    }
                }
                (Seg::Index(n), Node::Seq { start, end, col }) => {
                    match l.items(*start, *end, *col).get(*n) {
                        Some(&(s, e)) => {
                            node = l.item_value(s, e, *col);
                            holder = Holder::Item { start: s, end: e };
                        }
                        None => {
                            return Ok(Walk::Missing {
                                depth: i,
                                node,
                                holder,
                            })
                        }
                    }
                }
                (_, Node::Empty) => {
                    return Ok(Walk::Missing {
                        depth: i,
                        node: cur,
                        holder,
                    })
                }
                (_, Node::Inline { line, span }) => {
                    let t = &body(&self.lines[*line])[span.0..span.1];
                    if is_empty_inline(t) {
                        return Ok(Walk::Missing {
                            depth: i,
                            node,
                            holder,
                        });
                    }
                    if t.starts_with('{') || t.starts_with('[') {
                        return Err(EditError::Unsupported(format!("`{}` is written in flow style; write it as a block to let upshift edit it", here())));
                    }
                    return Err(EditError::NotAMapping { at: here() });
                }
                _ => return Err(EditError::NotAMapping { at: here() }),
            }
        }
        Ok(Walk::Found { node, holder })
    }

    /// Inserts `new` before line `idx`, keeping a final newline final.
    fn insert(&mut self, idx: usize, new: Vec<String>) {
        let mut at = idx.min(self.lines.len());
        if at == self.lines.len() && self.lines.last().is_some_and(|l| l.is_empty()) {
            at -= 1;
        }
        let cr = if !self.crlf && self.lines.first().is_some_and(|l| l.ends_with('\r')) {
            "\r"
        } else {
            ""
        };
        self.lines
            .splice(at..at, new.into_iter().map(|l| format!("{l}{cr}")));
    }

    /// Rewrites the inline part of an entry's key line to `text` (nothing
    /// for a block value), keeping a trailing comment.
    fn set_inline(&mut self, e: &Entry, text: Option<&str>) {
        let line = &self.lines[e.line];
        let colon_end = line[..e.inline.0].trim_end().len();
        let prefix = &line[..colon_end];
        let suffix = &line[e.inline.1..];
        let new = match text {
            Some(t) => format!("{prefix} {t}{suffix}"),
            None => format!("{prefix}{suffix}"),
        };
        self.lines[e.line] = new;
    }

    fn replace_span(&mut self, line: usize, span: (usize, usize), text: &str) {
        let l = &self.lines[line];
        self.lines[line] = format!("{}{}{}", &l[..span.0], text, &l[span.1..]);
    }

    /// Re-reads the text; undoes the edit when it no longer parses.
    fn commit(&mut self, before: Vec<String>) -> Result<(), EditError> {
        self.dirty = true;
        match parse_value(&self.file, &self.text()) {
            Ok(v) => {
                self.value = v;
                Ok(())
            }
            Err(e) => {
                self.lines = before;
                Err(broken_edit(Format::Yaml, &e))
            }
        }
    }

    /// After a removal: a mapping (or list) left without children would read
    /// as `null` (which Helm takes as "delete the chart's defaults"), so it
    /// becomes `{}` (or `[]`).
    fn keep_container(&mut self, parent: &Path, was: Option<Value>) -> Result<(), EditError> {
        if parent.is_root() || get(&self.value, parent) != Some(&Value::Null) {
            return Ok(());
        }
        let empty = match was {
            Some(Value::Array(_)) => Value::Array(vec![]),
            _ => Value::Object(Map::new()),
        };
        self.set(parent, &empty)
    }

    /// The lines a removed entry takes with it: its own, and the comment
    /// lines right above it when they and the entry stand alone between
    /// blank lines (a comment about that key only).
    fn paragraph(&self, e: &Entry) -> (usize, usize) {
        let end = e.body_end.max(e.line + 1);
        let mut start = e.line;
        while start > 0 {
            let l = body(&self.lines[start - 1]);
            if l.trim_start().starts_with('#') && indent(l) == e.col {
                start -= 1;
            } else {
                break;
            }
        }
        let blank = |i: usize| self.lines.get(i).is_none_or(|l| body(l).trim().is_empty());
        if start < e.line && (start == 0 || blank(start - 1)) && blank(end) {
            (start, end)
        } else {
            (e.line, end)
        }
    }

    /// Removes one of two blank lines meeting at `at` after a removal.
    fn squeeze_blank(&mut self, at: usize) {
        let blank = |l: &String| body(l).trim().is_empty();
        if at > 0
            && at + 1 < self.lines.len()
            && blank(&self.lines[at - 1])
            && blank(&self.lines[at])
        {
            self.lines.remove(at);
        }
    }

    fn unit(&self) -> usize {
        self.lines().indent_unit()
    }
}

/// `value` nested under the keys of `rest`.
fn nest(rest: &[Seg], value: &Value) -> Result<Value, EditError> {
    let mut v = value.clone();
    for s in rest.iter().rev() {
        let Seg::Key(k) = s else {
            return Err(EditError::Unsupported(
                "cannot create a list item by index".into(),
            ));
        };
        let mut m = Map::new();
        m.insert(k.clone(), v);
        v = Value::Object(m);
    }
    Ok(v)
}

impl Document for YamlDoc {
    fn format(&self) -> Format {
        Format::Yaml
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn set(&mut self, path: &Path, value: &Value) -> Result<(), EditError> {
        check_writable(&self.value, path)?;
        if path.is_root() {
            return Err(EditError::Unsupported(
                "cannot replace the whole document".into(),
            ));
        }
        let before = self.lines.clone();
        let unit = self.unit();
        match self.walk(path)? {
            Walk::Found {
                node,
                holder: Holder::Entry { entry, .. },
            } => {
                let simple_inline = match &node {
                    Node::Inline { line, span } => {
                        let t = &body(&self.lines[*line])[span.0..span.1];
                        !(t.starts_with('|') || t.starts_with('>'))
                    }
                    _ => false,
                };
                if simple_inline && is_leaf(value) {
                    let old =
                        body(&self.lines[entry.line])[entry.inline.0..entry.inline.1].to_string();
                    self.replace_span(entry.line, entry.inline, &render::scalar_like(value, &old));
                } else {
                    if !simple_inline && !matches!(node, Node::Empty) {
                        self.lines.drain(entry.line + 1..entry.body_end);
                    }
                    if is_leaf(value) {
                        self.set_inline(&entry, Some(&render::scalar(value)));
                    } else {
                        self.set_inline(&entry, None);
                        let col = entry.col + unit;
                        let new = match value {
                            Value::Object(m) => render::mapping(m, col, unit),
                            Value::Array(a) => render::sequence(a, col, unit),
                            _ => vec![],
                        };
                        self.insert(entry.line + 1, new);
                    }
                }
            }
            Walk::Found {
                node: Node::Inline { line, span },
                holder: Holder::Item { .. },
            } if is_leaf(value) => {
                let old = body(&self.lines[line])[span.0..span.1].to_string();
                self.replace_span(line, span, &render::scalar_like(value, &old));
            }
            Walk::Found { .. } => {
                return Err(EditError::Unsupported(
                    "only keys and scalar list items can be replaced in YAML".into(),
                ));
            }
            Walk::Missing {
                depth,
                node,
                holder,
            } => {
                let segs = &path.segs()[depth..];
                let Some(Seg::Key(k0)) = segs.first() else {
                    return Err(EditError::Unsupported(
                        "cannot create a list item by index".into(),
                    ));
                };
                let v0 = nest(&segs[1..], value)?;
                match (&node, &holder) {
                    (Node::Map(b), _) => {
                        let entries = self.lines().entries(*b);
                        let at = entries.last().map_or(b.start, |e| e.body_end);
                        let new = render::entry(&" ".repeat(b.col), k0, &v0, b.col, unit);
                        self.insert(at, new);
                    }
                    (Node::Empty | Node::Inline { .. }, Holder::Entry { entry, .. }) => {
                        if matches!(node, Node::Inline { .. }) {
                            self.set_inline(entry, None);
                        }
                        let col = entry.col + unit;
                        let new = render::entry(&" ".repeat(col), k0, &v0, col, unit);
                        self.insert(entry.body_end, new);
                    }
                    (Node::Empty, Holder::Root) => {
                        let new = render::entry("", k0, &v0, 0, unit);
                        let at = self.lines.len();
                        self.insert(at, new);
                    }
                    _ => return Err(EditError::Unsupported("cannot add a key here".into())),
                }
            }
        }
        self.commit(before.clone())?;
        if get(&self.value, path) != Some(value) {
            self.lines = before;
            let _ = self.commit(Vec::new());
            return Err(EditError::Unsupported(format!(
                "the line editor could not place `{path}` (flow style, anchors or tags around it?); edit it by hand"
            )));
        }
        Ok(())
    }

    fn remove(&mut self, path: &Path) -> Result<bool, EditError> {
        if path.is_root() {
            return Err(EditError::Unsupported(
                "cannot remove the whole document".into(),
            ));
        }
        let was_parent = get(&self.value, &path.parent()).cloned();
        let before = self.lines.clone();
        match self.walk(path) {
            Ok(Walk::Found {
                holder: Holder::Entry { entry, parent },
                ..
            }) => {
                if parent.dash && entry.line == parent.start {
                    return Err(EditError::Unsupported(
                        "the first key of a list item cannot be removed alone".into(),
                    ));
                }
                let (start, end) = self.paragraph(&entry);
                self.lines.drain(start..end);
                self.squeeze_blank(start);
            }
            Ok(Walk::Found {
                holder: Holder::Item { start, end },
                ..
            }) => {
                self.lines.drain(start..end);
            }
            Ok(Walk::Found {
                holder: Holder::Root,
                ..
            }) => return Err(EditError::Unsupported("cannot remove the root".into())),
            Ok(Walk::Missing { .. }) | Err(EditError::NotAMapping { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.commit(before.clone())?;
        if get(&self.value, path).is_some()
            && get(&self.value, &path.parent())
                .map(|p| p.is_object())
                .unwrap_or(false)
        {
            self.lines = before;
            let _ = self.commit(Vec::new());
            return Err(EditError::Unsupported(format!(
                "the line editor could not remove `{path}`; edit it by hand"
            )));
        }
        self.keep_container(&path.parent(), was_parent)?;
        Ok(true)
    }

    fn comment_out(&mut self, path: &Path, note: &str) -> Result<Option<CommentedOut>, EditError> {
        let was_parent = get(&self.value, &path.parent()).cloned();
        let before = self.lines.clone();
        let entry = match self.walk(path) {
            Ok(Walk::Found {
                holder: Holder::Entry { entry, parent },
                ..
            }) if !(parent.dash && entry.line == parent.start) => entry,
            Ok(Walk::Found { .. }) => {
                return Err(EditError::Unsupported(
                    "only keys can be commented out".into(),
                ))
            }
            Ok(Walk::Missing { .. }) | Err(EditError::NotAMapping { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        for i in entry.line..entry.body_end.max(entry.line + 1) {
            let l = &self.lines[i];
            if body(l).trim().is_empty() {
                continue;
            }
            let at = entry.col.min(indent(l));
            self.lines[i] = format!("{}# {}", &l[..at], &l[at..]);
        }
        if !note.is_empty() {
            self.insert(
                entry.line,
                vec![format!("{}# {note}", " ".repeat(entry.col))],
            );
        }
        self.commit(before.clone())?;
        if get(&self.value, path).is_some() {
            self.lines = before;
            let _ = self.commit(Vec::new());
            return Err(EditError::Unsupported(format!(
                "the line editor could not comment out `{path}`; edit it by hand"
            )));
        }
        self.keep_container(&path.parent(), was_parent)?;
        Ok(Some(CommentedOut::Commented))
    }

    fn rename(&mut self, path: &Path, new_key: &str) -> Result<bool, EditError> {
        let before = self.lines.clone();
        let old = get(&self.value, path).cloned();
        let entry = match self.walk(path) {
            Ok(Walk::Found {
                holder: Holder::Entry { entry, .. },
                ..
            }) => entry,
            Ok(Walk::Found { .. }) => {
                return Err(EditError::Unsupported("only keys can be renamed".into()))
            }
            Ok(Walk::Missing { .. }) | Err(EditError::NotAMapping { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        self.replace_span(entry.line, entry.key_span, &render::key(new_key));
        self.commit(before.clone())?;
        let mut target = path.parent();
        target.0.push(Seg::Key(new_key.to_string()));
        if get(&self.value, &target).cloned() != old {
            self.lines = before;
            let _ = self.commit(Vec::new());
            return Err(EditError::Unsupported(format!(
                "the line editor could not rename `{path}`; edit it by hand"
            )));
        }
        Ok(true)
    }

    fn text(&self) -> String {
        if !self.dirty {
            return self.original.clone();
        }
        self.lines.join(if self.crlf { "\r\n" } else { "\n" })
    }
}
