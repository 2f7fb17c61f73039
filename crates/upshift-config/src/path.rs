//! Paths into a configuration document: `global.image.tag`,
//! `deployments.customEnvs[0].name`, `"key.with.dots".x`.

use std::fmt;

use crate::error::ConfigError;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed path. The empty path is the document root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// Parses `a.b[0].c`; keys containing dots or brackets are quoted: `"a.b"`.
    pub fn parse(s: &str) -> Result<Path, ConfigError> {
        let bad = |m: &str| ConfigError::BadPath {
            path: s.to_string(),
            message: m.to_string(),
        };
        let mut segs = Vec::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut expect_key = true;
        while i < chars.len() {
            match chars[i] {
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or_else(|| bad("`[` without `]`"))?;
                    let num: String = chars[i + 1..i + close].iter().collect();
                    let n = num
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| bad("a list index must be a number"))?;
                    segs.push(Seg::Index(n));
                    i += close + 1;
                    expect_key = false;
                }
                '.' => {
                    if expect_key {
                        return Err(bad("empty key"));
                    }
                    i += 1;
                    expect_key = true;
                }
                '"' => {
                    if !expect_key {
                        return Err(bad("expected `.` or `[` between keys"));
                    }
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '"')
                        .ok_or_else(|| bad("unterminated quote"))?;
                    segs.push(Seg::Key(chars[i + 1..i + 1 + close].iter().collect()));
                    i += close + 2;
                    expect_key = false;
                }
                _ => {
                    if !expect_key {
                        return Err(bad("expected `.` or `[` between keys"));
                    }
                    let start = i;
                    while i < chars.len() && !matches!(chars[i], '.' | '[') {
                        i += 1;
                    }
                    segs.push(Seg::Key(chars[start..i].iter().collect()));
                    expect_key = false;
                }
            }
        }
        if expect_key && !segs.is_empty() {
            return Err(bad("ends with `.`"));
        }
        Ok(Path(segs))
    }

    /// The segments.
    pub fn segs(&self) -> &[Seg] {
        &self.0
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path without its last segment.
    pub fn parent(&self) -> Path {
        Path(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The last key, if the path ends with one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// This path followed by `more`.
    pub fn join(&self, more: &[Seg]) -> Path {
        let mut v = self.0.clone();
        v.extend_from_slice(more);
        Path(v)
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &Path) -> bool {
        self.0.starts_with(&other.0)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if k.is_empty() || k.contains(['.', '[', ']', '"']) {
                        write!(f, "\"{k}\"")?;
                    } else {
                        f.write_str(k)?;
                    }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_indexes_and_quotes() {
        let p = Path::parse("deployments.customEnvs[0].name").unwrap();
        assert_eq!(
            p.0,
            vec![
                Seg::Key("deployments".into()),
                Seg::Key("customEnvs".into()),
                Seg::Index(0),
                Seg::Key("name".into())
            ]
        );
        assert_eq!(p.to_string(), "deployments.customEnvs[0].name");
        let q = Path::parse("\"a.b\".c").unwrap();
        assert_eq!(q.0, vec![Seg::Key("a.b".into()), Seg::Key("c".into())]);
        assert_eq!(q.to_string(), "\"a.b\".c");
        assert!(Path::parse("").unwrap().is_root());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["a..b", "a.", ".a", "a[x]", "a[1", "a[0]\"b\"", "\"a"] {
            assert!(Path::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
