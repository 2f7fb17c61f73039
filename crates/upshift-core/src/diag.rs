//! Diagnostics that point into a source file: file, line, column, what is
//! wrong and how to fix it, rendered with the offending line underlined.

use std::fmt;
use std::ops::Range;

/// A located problem in a manifest, catalog or plan file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The source line and the width of the underline.
    snippet: Option<(String, usize)>,
}

impl Diagnostic {
    /// Builds a diagnostic for the byte `span` of `src`.
    pub fn at(file: &str, src: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = floor_char_boundary(src, span.start.min(src.len()));
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let text = src[line_start..line_end].trim_end_matches('\r').to_string();
        let end = floor_char_boundary(src, span.end.clamp(start, line_end));
        let width = src[start..end].chars().count().max(1);
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            help: None,
            snippet: Some((text, width)),
        }
    }

    /// A diagnostic about a whole file (no position known).
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    /// Adds the "how to fix it" part.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl std::error::Error for Diagnostic {}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        write!(f, "  --> {}:{}:{}", self.file, self.line, self.column)?;
        let mut help_indent = "  ".to_string();
        if let Some((text, width)) = &self.snippet {
            let n = self.line.to_string();
            help_indent = " ".repeat(n.len() + 2);
            let pad = " ".repeat(n.len());
            write!(f, "\n {pad} |\n {n} | {text}\n {pad} | ")?;
            let lead: String = text
                .chars()
                .take(self.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "{lead}{}", "^".repeat(*width))?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{help_indent}= help: {help}")?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Turns a `toml` deserialisation error into a diagnostic, adding a
/// "did you mean" for unknown keys and values.
pub fn from_toml_error(file: &str, src: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    let span = err.span().unwrap_or(0..0);
    let mut d = Diagnostic::at(file, src, span, message.clone());
    if message.contains(crate::manifest::VALUE_HIDDEN) {
        d.snippet = None;
        return d;
    }
    if let Some(found) = between(&message, "unknown field `", "`")
        .or_else(|| between(&message, "unknown variant `", "`"))
    {
        let expected = expected_list(&message);
        let kind = if message.starts_with("unknown field") {
            "key"
        } else {
            "value"
        };
        d.message = format!("unknown {kind} `{found}`");
        let list = expected
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ");
        d.help = Some(
            match did_you_mean(found, expected.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? (allowed here: {list})"),
                None if expected.is_empty() => format!("remove `{found}`"),
                None => format!("remove `{found}` or use one of: {list}"),
            },
        );
    } else if let Some(field) = between(&message, "missing field `", "`") {
        d.message = format!("missing key `{field}`");
        d.help = Some(format!("add `{field} = ...` to this table"));
    }
    d
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

fn expected_list(message: &str) -> Vec<String> {
    let Some(i) = message.find("expected") else {
        return Vec::new();
    };
    message[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_and_render() {
        let src = "a = 1\nbad = 2\n";
        let d = Diagnostic::at("x.toml", src, 6..9, "unknown key `bad`").with_help("remove it");
        assert_eq!((d.line, d.column), (2, 1));
        let text = d.to_string();
        assert!(text.contains("x.toml:2:1"), "{text}");
        assert!(text.contains(" 2 | bad = 2\n   | ^^^"), "{text}");
    }

    #[test]
    fn typo_suggestion() {
        assert_eq!(did_you_mean("nmae", ["name", "product"]), Some("name"));
        assert_eq!(did_you_mean("zzz", ["name", "product"]), None);
    }

    #[test]
    fn span_past_end_does_not_panic() {
        let d = Diagnostic::at("x", "é", 1..50, "m");
        assert_eq!(d.line, 1);
        let _ = d.to_string();
    }
}
