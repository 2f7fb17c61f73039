//! Finding a secret in printed text however a string literal spells it.
//!
//! A configuration file holds a secret `tok"en` as `"tok\"en"` (JSON, TOML,
//! YAML double quotes), `'tok''en'` (YAML single quotes) or with any
//! character written as `\u0065`, `\x65` or `\U00000065`; a message may hold
//! it as Rust's `Debug` writes it (`\u{65}`). Rather than list every
//! spelling, the matcher reads the text one *spelling* at a time: each
//! position offers the literal character and, where an escape starts, the
//! character the escape decodes to. A secret matches where some chain of
//! spellings decodes to it.
//!
//! Escapes read, by the specifications that define them:
//! JSON <https://www.rfc-editor.org/rfc/rfc8259#section-7>,
//! TOML <https://toml.io/en/v1.0.0#string>,
//! YAML <https://yaml.org/spec/1.2.2/#57-escaped-characters> (and its
//! escaped and folded line breaks, <https://yaml.org/spec/1.2.2/#731-double-quoted-style>),
//! Rust `Debug` <https://doc.rust-lang.org/reference/tokens.html#unicode-escapes>.

/// A way to read `text` at one position: the character it spells (`None`
/// for an escaped line break, which spells nothing) and where it ends.
type Spelling = (Option<char>, usize);

/// The single-character escapes (`\n`, `\"`, ...) and what they decode to.
fn simple_escape(c: char) -> Option<char> {
    Some(match c {
        '"' => '"',
        '\\' => '\\',
        '/' => '/',
        '\'' => '\'',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' | '\t' => '\t',
        'e' => '\u{1b}',
        '0' => '\0',
        'a' => '\u{7}',
        'v' => '\u{b}',
        ' ' => ' ',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

/// `n` hex digits at the start of `s`, as a number.
fn hex(s: &str, n: usize) -> Option<u32> {
    let digits = s.get(..n)?;
    if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(digits, 16).ok()
    } else {
        None
    }
}

/// A `\uXXXX` escape at the start of `s` (after the backslash: `uXXXX`),
/// joining a UTF-16 surrogate pair written as two escapes.
fn utf16_escape(s: &str) -> Option<(char, usize)> {
    let hi = hex(s.strip_prefix('u')?, 4)?;
    if !(0xD800..0xDC00).contains(&hi) {
        return char::from_u32(hi).map(|c| (c, 5));
    }
    let lo = hex(s.get(5..)?.strip_prefix("\\u")?, 4)?;
    if !(0xDC00..0xE000).contains(&lo) {
        return None;
    }
    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).map(|c| (c, 11))
}

/// A `\u{H...}` escape (Rust `Debug`) at the start of `s` (after the backslash).
fn braced_escape(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix("u{")?;
    let end = body.find('}')?;
    if end == 0 || end > 6 {
        return None;
    }
    let code = u32::from_str_radix(&body[..end], 16).ok()?;
    char::from_u32(code).map(|c| (c, end + 3))
}

/// A line break and the indentation after it, in a diff too (one `+`, `-`
/// or space of the diff's own before the indentation): its length.
fn line_break(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\r\n").or_else(|| s.strip_prefix('\n'))?;
    let after_mark = rest
        .strip_prefix(['+', '-', ' '])
        .unwrap_or(rest)
        .trim_start_matches([' ', '\t']);
    Some(s.len() - after_mark.len())
}

/// The escape starting at `s` (after its backslash) and its length
/// (without the backslash).
fn escape(s: &str) -> Option<Spelling> {
    let c = s.chars().next()?;
    if let Some(d) = simple_escape(c) {
        return Some((Some(d), c.len_utf8()));
    }
    let found = match c {
        'x' => hex(&s[1..], 2).and_then(char::from_u32).map(|d| (d, 3)),
        'U' => hex(&s[1..], 8).and_then(char::from_u32).map(|d| (d, 9)),
        'u' => utf16_escape(s).or_else(|| braced_escape(s)),
        _ => None,
    };
    match found {
        Some((d, n)) => Some((Some(d), n)),
        None => line_break(s).map(|n| (None, n)),
    }
}

/// Every way to read `text` at byte `at`.
fn spellings(text: &str, at: usize) -> Vec<Spelling> {
    let rest = &text[at..];
    let Some(c) = rest.chars().next() else {
        return Vec::new();
    };
    let mut out = vec![(Some(c), at + c.len_utf8())];
    match c {
        '\\' => out.extend(escape(&rest[1..]).map(|(d, n)| (d, at + 1 + n))),
        '\'' if rest[1..].starts_with('\'') => out.push((Some('\''), at + 2)),
        // A line break inside a quoted scalar folds to a space.
        '\n' | '\r' => out.extend(line_break(rest).map(|n| (Some(' '), at + n))),
        _ => {}
    }
    out
}

/// The positions after reading `want` from `at` (skipping escaped line
/// breaks first).
fn read_char(text: &str, at: usize, want: char, out: &mut Vec<usize>) {
    for (got, end) in spellings(text, at) {
        match got {
            Some(c) if c == want => {
                if !out.contains(&end) {
                    out.push(end);
                }
            }
            Some(_) => {}
            None => read_char(text, end, want, out),
        }
    }
}

/// Where a spelling of `needle` starting at byte `at` ends (the longest
/// one), if one starts there.
pub fn match_at(text: &str, at: usize, needle: &str) -> Option<usize> {
    let first = text[at..].chars().next()?;
    if first != '\\' && !needle.starts_with(first) {
        return None;
    }
    let mut ends = vec![at];
    for want in needle.chars() {
        let mut next = Vec::new();
        for &p in &ends {
            read_char(text, p, want, &mut next);
        }
        if next.is_empty() {
            return None;
        }
        ends = next;
    }
    ends.into_iter().max()
}

#[cfg(test)]
mod tests {
    use super::match_at;

    fn spelled(text: &str, needle: &str) -> bool {
        (0..text.len())
            .filter(|&i| text.is_char_boundary(i))
            .any(|i| match_at(text, i, needle).is_some())
    }

    #[test]
    fn each_escape_spells_its_character() {
        for text in [
            r#""tok\"en""#,
            r#""t\u006fk\"en""#,
            r#""\x74ok\"en""#,
            r#""\U00000074ok\"en""#,
            r#""tok\u0022en""#,
            r#""tok\u{22}en""#,
            r#""tok\x22en""#,
        ] {
            assert!(spelled(text, "tok\"en"), "{text}");
        }
        assert!(spelled("pw: 'it''s-secret'", "it's-secret"));
        assert!(spelled(r#""back\\slash""#, "back\\slash"));
        assert!(spelled(r#""emoji\ud83d\ude00!""#, "emoji\u{1f600}!"));
        assert!(spelled("+ pw: \"long\\\n+   secret\"", "longsecret"));
        assert!(spelled("+ pw: \"long\n+   secret\"", "long secret"));
        assert!(!spelled(r#""tok\"e""#, "tok\"en"));
        assert!(!spelled(r#""\uZZZZ""#, "\u{0}"));
    }

    #[test]
    fn the_longest_spelling_is_taken() {
        assert_eq!(match_at(r#"a\\b"#, 0, "a\\"), Some(3));
        assert_eq!(match_at("tok\\u0065n", 0, "toke"), Some(9));
    }
}
