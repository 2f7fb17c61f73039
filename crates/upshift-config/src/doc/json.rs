//! JSON (and JSON with comments) through `jsonc-parser`'s concrete syntax tree.

use jsonc_parser::cst::{
    CstContainerNode, CstInputValue, CstLeafNode, CstNode, CstObject, CstRootNode,
};
use jsonc_parser::ParseOptions;
use serde_json::Value;

use super::{broken_edit, CommentedOut, Document};
use crate::error::{ConfigError, EditError};
use crate::format::Format;
use crate::path::{Path, Seg};

/// A JSON document.
pub struct JsonDoc {
    file: String,
    root: CstRootNode,
    value: Value,
    /// The text as of the last parse (what `text()` returns).
    source: String,
}

fn parse_err(file: &str, e: &jsonc_parser::errors::ParseError) -> ConfigError {
    ConfigError::Parse {
        file: file.to_string(),
        format: "JSON",
        line: e.line_display(),
        column: e.column_display(),
        message: e.kind().to_string(),
    }
}

impl JsonDoc {
    /// Parses `text`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        super::limits::check_json(file, text)?;
        let opts = ParseOptions::default();
        let value = jsonc_parser::parse_to_serde_value(text, &opts)
            .map_err(|e| parse_err(file, &e))?
            .unwrap_or(Value::Null);
        let root = CstRootNode::parse(text, &opts).map_err(|e| parse_err(file, &e))?;
        Ok(JsonDoc {
            file: file.to_string(),
            root,
            value,
            source: text.to_string(),
        })
    }

    fn refresh(&mut self) -> Result<(), EditError> {
        let text = self.root.to_string();
        let fresh = JsonDoc::parse(&self.file, &text).map_err(|e| broken_edit(Format::Json, &e))?;
        *self = fresh;
        Ok(())
    }

    /// The node at `segs`, if present.
    fn node(&self, segs: &[Seg]) -> Option<CstNode> {
        let mut cur = self.root.value()?;
        for s in segs {
            cur = match s {
                Seg::Key(k) => cur.as_object()?.get(k)?.value()?,
                Seg::Index(i) => cur.as_array()?.elements().get(*i)?.clone(),
            };
        }
        Some(cur)
    }
}

/// Replaces a value node in place.
fn replace_node(n: CstNode, v: CstInputValue) {
    match n {
        CstNode::Container(CstContainerNode::Array(a)) => {
            a.replace_with(v);
        }
        CstNode::Container(CstContainerNode::Object(o)) => {
            o.replace_with(v);
        }
        CstNode::Leaf(CstLeafNode::BooleanLit(x)) => {
            x.replace_with(v);
        }
        CstNode::Leaf(CstLeafNode::NullKeyword(x)) => {
            x.replace_with(v);
        }
        CstNode::Leaf(CstLeafNode::NumberLit(x)) => {
            x.replace_with(v);
        }
        CstNode::Leaf(CstLeafNode::StringLit(x)) => {
            x.replace_with(v);
        }
        CstNode::Leaf(CstLeafNode::WordLit(x)) => {
            x.replace_with(v);
        }
        _ => {}
    }
}

/// `s` as the CST wants it: `jsonc-parser` escapes only the quotes of a
/// string it writes, so backslashes and control characters are escaped
/// here (a value `C:\new` would otherwise be written as a line break).
fn cst_text(s: &str) -> String {
    let quoted = Value::from(s).to_string();
    quoted[1..quoted.len() - 1].replace("\\\"", "\"")
}

/// Converts a value view into the CST's input type.
fn input(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(cst_text(s)),
        Value::Array(a) => CstInputValue::Array(a.iter().map(input).collect()),
        Value::Object(m) => {
            CstInputValue::Object(m.iter().map(|(k, v)| (cst_text(k), input(v))).collect())
        }
    }
}

/// `value` wrapped in objects for the keys of `rest`.
fn nest(rest: &[Seg], value: &Value) -> Result<Value, EditError> {
    let mut v = value.clone();
    for s in rest.iter().rev() {
        match s {
            Seg::Key(k) => {
                let mut m = serde_json::Map::new();
                m.insert(k.clone(), v);
                v = Value::Object(m);
            }
            Seg::Index(_) => {
                return Err(EditError::Unsupported(
                    "cannot create a list item by index".into(),
                ))
            }
        }
    }
    Ok(v)
}

impl Document for JsonDoc {
    fn format(&self) -> Format {
        Format::Json
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn set(&mut self, path: &Path, value: &Value) -> Result<(), EditError> {
        crate::value::check_writable(&self.value, path)?;
        let segs = path.segs();
        if segs.is_empty() {
            self.root.set_value(input(value));
            return self.refresh();
        }
        // Deepest existing container.
        let mut depth = 0;
        while depth < segs.len() && self.node(&segs[..=depth]).is_some() {
            depth += 1;
        }
        if depth == segs.len() {
            let parent = self.node(&segs[..segs.len() - 1]);
            match (segs.last(), parent) {
                (Some(Seg::Key(k)), Some(p)) => {
                    if let Some(prop) = p.as_object().and_then(|o| o.get(k)) {
                        prop.set_value(input(value));
                    }
                }
                (Some(Seg::Key(k)), None) => {
                    if let Some(prop) = self.root.object_value().and_then(|o| o.get(k)) {
                        prop.set_value(input(value));
                    }
                }
                (Some(Seg::Index(i)), p) => {
                    let arr =
                        p.and_then(|p| p.as_array())
                            .ok_or_else(|| EditError::NotAMapping {
                                at: path.parent().to_string(),
                            })?;
                    if let Some(el) = arr.elements().get(*i).cloned() {
                        replace_node(el, input(value));
                    }
                }
                (None, _) => {}
            }
            return self.refresh();
        }
        let obj: CstObject = if depth == 0 {
            self.root.object_value_or_set()
        } else {
            match self.node(&segs[..depth]) {
                Some(n) => match n.as_object() {
                    Some(o) => o,
                    None => {
                        // `null` where a mapping is needed: replace it.
                        let whole = nest(&segs[depth..], value)?;
                        replace_node(n, input(&whole));
                        return self.refresh();
                    }
                },
                None => {
                    return Err(EditError::NotAMapping {
                        at: Path(segs[..depth].to_vec()).to_string(),
                    })
                }
            }
        };
        let Seg::Key(k) = &segs[depth] else {
            return Err(EditError::Unsupported(
                "cannot create a list item by index".into(),
            ));
        };
        let inner = nest(&segs[depth + 1..], value)?;
        obj.append(&cst_text(k), input(&inner));
        self.refresh()
    }

    fn remove(&mut self, path: &Path) -> Result<bool, EditError> {
        let segs = path.segs();
        let Some(last) = segs.last() else {
            return Err(EditError::Unsupported(
                "cannot remove the whole document".into(),
            ));
        };
        let Some(parent) = self.node(&segs[..segs.len() - 1]) else {
            return Ok(false);
        };
        let removed = match last {
            Seg::Key(k) => match parent.as_object().and_then(|o| o.get(k)) {
                Some(p) => {
                    p.remove();
                    true
                }
                None => false,
            },
            Seg::Index(i) => match parent
                .as_array()
                .and_then(|a| a.elements().get(*i).cloned())
            {
                Some(e) => {
                    e.remove();
                    true
                }
                None => false,
            },
        };
        if removed {
            self.refresh()?;
        }
        Ok(removed)
    }

    fn comment_out(&mut self, path: &Path, _note: &str) -> Result<Option<CommentedOut>, EditError> {
        Ok(self.remove(path)?.then_some(CommentedOut::Removed))
    }

    fn rename(&mut self, path: &Path, new_key: &str) -> Result<bool, EditError> {
        let Some(v) = crate::value::get(&self.value, path).cloned() else {
            return Ok(false);
        };
        let mut target = path.parent();
        target.0.push(Seg::Key(new_key.to_string()));
        self.remove(path)?;
        self.set(&target, &v)?;
        Ok(true)
    }

    fn text(&self) -> String {
        self.source.clone()
    }
}
