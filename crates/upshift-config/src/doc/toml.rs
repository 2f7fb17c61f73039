//! TOML through `toml_edit`, which keeps comments, order and formatting.

use serde_json::Value;
use toml_edit::{DocumentMut, Item, Table};

use super::{broken_edit, CommentedOut, Document};
use crate::error::{line_col, ConfigError, EditError};
use crate::format::Format;
use crate::path::{Path, Seg};

/// A TOML document.
pub struct TomlDoc {
    file: String,
    doc: DocumentMut,
    value: Value,
    /// The text as of the last parse (what `text()` returns).
    source: String,
}

impl TomlDoc {
    /// Parses `text`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            ConfigError::Parse {
                file: file.to_string(),
                format: "TOML",
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            ConfigError::Parse {
                file: file.to_string(),
                format: "TOML",
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        let value = serde_json::to_value(table).unwrap_or(Value::Null);
        Ok(TomlDoc {
            file: file.to_string(),
            doc,
            value,
            source: text.to_string(),
        })
    }

    /// Renames a key within its table, keeping the item as written and the
    /// comments above the key. `false` when that cannot be done in place
    /// (the parent is missing, or `new_key` is already there).
    fn rename_keeping_comments(&mut self, path: &Path, new_key: &str) -> Result<bool, EditError> {
        let segs = path.segs();
        let Some((Seg::Key(k), parents)) = segs.split_last() else {
            return Ok(false);
        };
        let mut cur = self.doc.as_item_mut();
        for s in parents {
            match child(cur, s, false) {
                Ok(Some(c)) => cur = c,
                _ => return Ok(false),
            }
        }
        let Some(t) = cur.as_table_like_mut() else {
            return Ok(false);
        };
        if t.contains_key(new_key) {
            return Ok(false);
        }
        let Some(decor) = t.key(k).map(|key| key.leaf_decor().clone()) else {
            return Ok(false);
        };
        let Some(item) = t.remove(k) else {
            return Ok(false);
        };
        t.insert(new_key, item);
        if let Some(mut key) = t.key_mut(new_key) {
            *key.leaf_decor_mut() = decor;
        }
        self.refresh()?;
        Ok(true)
    }

    fn refresh(&mut self) -> Result<(), EditError> {
        let text = self.doc.to_string();
        *self = TomlDoc::parse(&self.file, &text).map_err(|e| broken_edit(Format::Toml, &e))?;
        Ok(())
    }
}

/// Converts a value view into a TOML value (no `null` in TOML).
fn to_value(v: &Value) -> Result<toml_edit::Value, EditError> {
    Ok(match v {
        Value::Null => return Err(EditError::Unsupported("TOML has no null".into())),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, Some(f)) => f.into(),
            _ => n.to_string().into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => {
            let mut arr = toml_edit::Array::new();
            for x in a {
                arr.push(to_value(x)?);
            }
            toml_edit::Value::Array(arr)
        }
        Value::Object(m) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, x) in m {
                t.insert(k, to_value(x)?);
            }
            toml_edit::Value::InlineTable(t)
        }
    })
}

/// A value as an item: mappings become `[tables]`, the rest values.
fn to_item(v: &Value) -> Result<Item, EditError> {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut t = Table::new();
            for (k, x) in m {
                t.insert(k, to_item(x)?);
            }
            Ok(Item::Table(t))
        }
        _ => Ok(Item::Value(to_value(v)?)),
    }
}

fn child<'a>(
    item: &'a mut Item,
    seg: &Seg,
    create: bool,
) -> Result<Option<&'a mut Item>, EditError> {
    match seg {
        Seg::Key(k) => {
            let Some(t) = item.as_table_like_mut() else {
                return Err(EditError::NotAMapping { at: String::new() });
            };
            if create && t.get(k).is_none() {
                t.insert(k, Item::Table(Table::new()));
            }
            Ok(t.get_mut(k))
        }
        Seg::Index(_) => Err(EditError::Unsupported(
            "list items in TOML are edited through their whole list".into(),
        )),
    }
}

impl Document for TomlDoc {
    fn format(&self) -> Format {
        Format::Toml
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn set(&mut self, path: &Path, value: &Value) -> Result<(), EditError> {
        crate::value::check_writable(&self.value, path)?;
        let segs = path.segs();
        let Some((last, parents)) = segs.split_last() else {
            return Err(EditError::Unsupported(
                "cannot replace the whole document".into(),
            ));
        };
        let mut cur = self.doc.as_item_mut();
        for (i, s) in parents.iter().enumerate() {
            cur = child(cur, s, true)
                .map_err(|_| EditError::NotAMapping {
                    at: Path(segs[..i].to_vec()).to_string(),
                })?
                .ok_or_else(|| {
                    EditError::Unsupported(format!("cannot reach `{}`", Path(segs[..=i].to_vec())))
                })?;
        }
        let Seg::Key(k) = last else {
            return Err(EditError::Unsupported(
                "list items in TOML are edited through their whole list".into(),
            ));
        };
        let inline_parent = matches!(cur, Item::Value(_));
        let t = cur
            .as_table_like_mut()
            .ok_or_else(|| EditError::NotAMapping {
                at: path.parent().to_string(),
            })?;
        let new = if inline_parent {
            Item::Value(to_value(value)?)
        } else {
            to_item(value)?
        };
        match (t.get_mut(k), new) {
            (Some(Item::Value(old)), Item::Value(mut nv)) => {
                // Keep the comment and spacing around the old value.
                *nv.decor_mut() = old.decor().clone();
                *old = nv;
            }
            (_, new) => {
                t.insert(k, new);
            }
        }
        self.refresh()
    }

    fn remove(&mut self, path: &Path) -> Result<bool, EditError> {
        let segs = path.segs();
        let Some((Seg::Key(k), parents)) = segs.split_last() else {
            return Err(EditError::Unsupported(
                "only keys can be removed from TOML".into(),
            ));
        };
        let mut cur = self.doc.as_item_mut();
        for s in parents {
            match child(cur, s, false) {
                Ok(Some(c)) => cur = c,
                _ => return Ok(false),
            }
        }
        let removed = cur.as_table_like_mut().and_then(|t| t.remove(k)).is_some();
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
        if self.rename_keeping_comments(path, new_key)? {
            return Ok(true);
        }
        self.remove(path)?;
        self.set(&target, &v)?;
        Ok(true)
    }

    fn text(&self) -> String {
        self.source.clone()
    }
}
