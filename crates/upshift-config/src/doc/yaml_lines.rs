//! Structure of block-style YAML, read from the lines themselves.
//!
//! Helm values files are block mappings and block sequences with comments;
//! this module finds where a key, its value and a list item start and end so
//! that edits can replace exactly those lines. Flow collections (`{a: 1}`)
//! are seen as inline values.

/// The lines of a document (without line terminators).
pub struct Lines<'a>(pub &'a [String]);

/// A region of lines whose children sit at column `col`. When `dash` is set
/// the first line is a list item (`- key: v`) whose content starts at `col`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub col: usize,
    pub dash: bool,
}

/// A `key: value` entry of a block mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub col: usize,
    pub key: String,
    /// Byte range of the key as written (quotes included).
    pub key_span: (usize, usize),
    /// Byte range of the inline value (empty when the value is a block).
    pub inline: (usize, usize),
    /// Lines `line + 1 .. body_end` hold the value's block.
    pub body_end: usize,
}

/// What a value is, as far as editing is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A scalar or flow collection on one line: line and byte range.
    Inline { line: usize, span: (usize, usize) },
    /// A block mapping.
    Map(Block),
    /// A block sequence whose dashes sit at `col`, within `start..end`.
    Seq {
        start: usize,
        end: usize,
        col: usize,
    },
    /// Nothing (an empty value): new children go after `after`.
    Empty,
}

pub fn body(s: &str) -> &str {
    s.strip_suffix('\r').unwrap_or(s)
}

pub fn indent(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

pub fn is_content(s: &str) -> bool {
    let t = body(s).trim();
    !t.is_empty() && !t.starts_with('#')
}

fn is_dash_at(s: &str, col: usize) -> bool {
    let b = body(s);
    b.len() > col
        && b[col..].starts_with('-')
        && (b.len() == col + 1 || b[col + 1..].starts_with([' ', '\t']))
}

/// The byte index where the value text after `from` ends (before a ` #`
/// comment and trailing spaces), honouring quotes.
pub fn value_end(s: &str, from: usize) -> usize {
    let b = body(s);
    let bytes = b.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    let mut end = from;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q == b'"' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
                end = i + 1;
            }
            None => {
                if c == b'#' && (i == from || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
                    break;
                }
                if (c == b'"' || c == b'\'') && (i == from || end == from) {
                    quote = Some(c);
                }
                if c != b' ' && c != b'\t' {
                    end = i + 1;
                }
            }
        }
        i += 1;
    }
    end.min(b.len())
}

/// Parses `key:` at byte `col` of line `s`: the key, its span and the byte
/// just after the colon.
pub fn parse_key(s: &str, col: usize) -> Option<(String, (usize, usize), usize)> {
    let b = body(s);
    let rest = b.get(col..)?;
    let first = rest.chars().next()?;
    if first == '"' || first == '\'' {
        let bytes = rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if first == '"' && bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            if bytes[i] == first as u8 {
                if first == '\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                break;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let raw = &rest[..=i];
        let after = &rest[i + 1..];
        let ws = after.len() - after.trim_start_matches([' ', '\t']).len();
        if !after[ws..].starts_with(':') {
            return None;
        }
        let colon = col + i + 1 + ws;
        if !(b.len() == colon + 1 || b[colon + 1..].starts_with([' ', '\t'])) {
            return None;
        }
        let key = if first == '"' {
            serde_json::from_str::<String>(raw)
                .unwrap_or_else(|_| raw[1..raw.len() - 1].to_string())
        } else {
            raw[1..raw.len() - 1].replace("''", "'")
        };
        return Some((key, (col, col + raw.len()), colon + 1));
    }
    let special = matches!(
        first,
        '#' | '[' | '{' | '?' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | ' ' | '\t'
    );
    if special || (first == '-' && is_dash_at(s, col)) {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':'
            && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t')
        {
            let key = rest[..i].trim_end();
            if key.is_empty() {
                return None;
            }
            return Some((key.to_string(), (col, col + key.len()), col + i + 1));
        }
        if bytes[i] == b'#' && i > 0 && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return None;
        }
        i += 1;
    }
    None
}

impl Lines<'_> {
    fn s(&self, i: usize) -> &str {
        body(&self.0[i])
    }

    /// The root: the whole document (after a leading `---`).
    pub fn root(&self) -> Node {
        let mut start = 0;
        let mut end = self.0.len();
        for i in 0..self.0.len() {
            let t = self.s(i).trim_end();
            if t == "---" && start == 0 && (0..i).all(|j| !is_content(&self.0[j])) {
                start = i + 1;
            } else if (t == "---" || t == "...")
                && start <= i
                && (0..i).any(|j| j >= start && is_content(&self.0[j]))
            {
                end = i;
                break;
            }
        }
        self.block_node(start, end)
    }

    /// The node formed by lines `start..end` (a block value).
    pub fn block_node(&self, start: usize, end: usize) -> Node {
        match (start..end).find(|&i| is_content(&self.0[i])) {
            None => Node::Empty,
            Some(k) => {
                let col = indent(self.s(k));
                if is_dash_at(self.s(k), col) {
                    Node::Seq { start, end, col }
                } else {
                    Node::Map(Block {
                        start,
                        end,
                        col,
                        dash: false,
                    })
                }
            }
        }
    }

    /// Where the block value of an entry at column `col` that starts on line
    /// `from` ends: trailing blanks and comments at or left of `col` belong
    /// to what follows.
    pub fn block_end(
        &self,
        from: usize,
        limit: usize,
        col: usize,
        allow_same_col_dash: bool,
    ) -> usize {
        let first = (from..limit).find(|&i| is_content(&self.0[i]));
        let indentless = allow_same_col_dash
            && first.is_some_and(|k| indent(self.s(k)) == col && is_dash_at(self.s(k), col));
        let mut last = from;
        for j in from..limit {
            let s = self.s(j);
            if s.trim().is_empty() {
                continue;
            }
            let ind = indent(s);
            if s.trim_start().starts_with('#') {
                if ind > col {
                    last = j + 1;
                }
                continue;
            }
            if ind > col || (indentless && ind == col && is_dash_at(s, col)) {
                last = j + 1;
                continue;
            }
            break;
        }
        last
    }

    /// The entries of a block mapping.
    pub fn entries(&self, b: Block) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut i = b.start;
        while i < b.end {
            let s = self.s(i);
            let anchor = (i == b.start && b.dash) || (is_content(s) && indent(s) == b.col);
            if anchor {
                if let Some((key, key_span, after)) = parse_key(s, b.col) {
                    let vstart = after + (s[after..].len() - s[after..].trim_start().len());
                    let vend = value_end(s, vstart).max(vstart);
                    let body_end = self.block_end(i + 1, b.end, b.col, true);
                    out.push(Entry {
                        line: i,
                        col: b.col,
                        key,
                        key_span,
                        inline: (vstart, vend),
                        body_end,
                    });
                    i = body_end.max(i + 1);
                    continue;
                }
            }
            i += 1;
        }
        out
    }

    /// The value of an entry.
    pub fn entry_value(&self, e: &Entry) -> Node {
        if e.inline.1 > e.inline.0 {
            // Block scalars (`|`, `>`) also count as inline: their lines are
            // the entry's body.
            return Node::Inline {
                line: e.line,
                span: e.inline,
            };
        }
        self.block_node(e.line + 1, e.body_end)
    }

    /// The items of a block sequence: (first line, end line).
    pub fn items(&self, start: usize, end: usize, col: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = start;
        while i < end {
            let s = self.s(i);
            if is_content(s) && indent(s) == col && is_dash_at(s, col) {
                let e = self.block_end(i + 1, end, col, false);
                out.push((i, e.max(i + 1)));
                i = e.max(i + 1);
                continue;
            }
            i += 1;
        }
        out
    }

    /// The value of a list item spanning `start..end`, dash at `col`.
    pub fn item_value(&self, start: usize, end: usize, col: usize) -> Node {
        let s = self.s(start);
        let after = col + 1;
        let content = after + (s[after..].len() - s[after..].trim_start().len());
        if content >= s.len() || s[content..].starts_with('#') {
            return self.block_node(start + 1, end);
        }
        if parse_key(s, content).is_some() {
            return Node::Map(Block {
                start,
                end,
                col: content,
                dash: true,
            });
        }
        let vend = value_end(s, content);
        Node::Inline {
            line: start,
            span: (content, vend),
        }
    }

    /// The indentation step the file uses (2 when it cannot tell).
    pub fn indent_unit(&self) -> usize {
        let mut prev = 0;
        let mut best = usize::MAX;
        for l in self.0 {
            if !is_content(l) {
                continue;
            }
            let ind = indent(body(l));
            if ind > prev {
                best = best.min(ind - prev);
            }
            prev = ind;
        }
        if best == usize::MAX || best > 8 {
            2
        } else {
            best
        }
    }
}
