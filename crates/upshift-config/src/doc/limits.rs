//! Bounds on what a configuration file may ask of the parsers: how deep it
//! nests and how far YAML aliases expand. The parsers and the value view
//! recurse once per level and YAML aliases are copied where they are used,
//! so a small hostile file could otherwise exhaust the stack or the memory.
//! Each check runs before the file is parsed for real and reports the
//! position where the limit is crossed.

use yaml_rust2::parser::{Event, Parser};

use crate::error::ConfigError;

/// The deepest nesting of mappings and lists a configuration file may have.
pub const MAX_DEPTH: usize = 256;

/// How many nodes YAML aliases may add to a document in all (each use of
/// an alias copies the node it names).
pub const MAX_ALIAS_NODES: usize = 100_000;

fn refused(
    file: &str,
    format: &'static str,
    line: usize,
    column: usize,
    message: String,
) -> ConfigError {
    ConfigError::Parse {
        file: file.to_string(),
        format,
        line,
        column,
        message,
    }
}

fn too_deep() -> String {
    format!("nested deeper than {MAX_DEPTH} levels, upshift's limit for configuration files")
}

/// Refuses JSON (with comments) nested deeper than [`MAX_DEPTH`], naming the
/// bracket that goes too deep. Strings and comments are skipped; anything
/// else is left for the parser to judge.
pub fn check_json(file: &str, text: &str) -> Result<(), ConfigError> {
    let (mut line, mut column) = (1, 0);
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    // A string's quote, or a comment: `/` (to the line's end) or `*`.
    let mut inside: Option<char> = None;
    while let Some(c) = chars.next() {
        column += 1;
        if c == '\n' {
            (line, column) = (line + 1, 0);
        }
        match inside {
            Some('/') => {
                if c == '\n' {
                    inside = None;
                }
            }
            Some('*') => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    column += 1;
                    inside = None;
                }
            }
            Some(quote) => {
                if c == '\\' {
                    if chars.next() == Some('\n') {
                        (line, column) = (line + 1, 0);
                    } else {
                        column += 1;
                    }
                } else if c == quote || c == '\n' {
                    inside = None;
                }
            }
            None => match c {
                '"' | '\'' => inside = Some(c),
                '/' if matches!(chars.peek(), Some('/') | Some('*')) => {
                    inside = chars.next();
                    column += 1;
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(refused(file, "JSON", line, column, too_deep()));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    Ok(())
}

/// What is known of an anchored node: how many nodes it holds (aliases
/// inside it expanded) and how deep it nests.
#[derive(Clone, Copy)]
struct Anchored {
    nodes: usize,
    depth: usize,
}

/// An open mapping or list: its anchor, and the node count and the deepest
/// level reached when it opened.
struct Open {
    anchor: usize,
    nodes_before: usize,
    deepest_before: usize,
    depth: usize,
}

/// Refuses YAML nested deeper than [`MAX_DEPTH`] (counting what aliases
/// bring in) or whose aliases add more than [`MAX_ALIAS_NODES`] nodes,
/// naming the position where the limit is crossed. Walks the parser's
/// events, which keeps no tree; a syntax error is left for the real parse.
pub fn check_yaml(file: &str, text: &str) -> Result<(), ConfigError> {
    let at = |m: &yaml_rust2::scanner::Marker, message: String| {
        refused(file, "YAML", m.line().max(1), m.col() + 1, message)
    };
    let mut parser = Parser::new_from_str(text);
    let mut anchors: std::collections::HashMap<usize, Anchored> = Default::default();
    let mut open: Vec<Open> = Vec::new();
    // Nodes seen so far (aliases expanded), nodes added by aliases, and the
    // deepest level reached since the innermost open node began.
    let (mut nodes, mut by_alias, mut deepest) = (0usize, 0usize, 0usize);
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        let depth = open.len();
        match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if depth + 1 > MAX_DEPTH {
                    return Err(at(&mark, too_deep()));
                }
                open.push(Open {
                    anchor,
                    nodes_before: nodes,
                    deepest_before: deepest,
                    depth: depth + 1,
                });
                nodes += 1;
                deepest = depth + 1;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(o) = open.pop() {
                    if o.anchor > 0 {
                        anchors.insert(
                            o.anchor,
                            Anchored {
                                nodes: nodes - o.nodes_before,
                                depth: deepest - o.depth + 1,
                            },
                        );
                    }
                    deepest = deepest.max(o.deepest_before);
                }
            }
            Event::Scalar(_, _, anchor, _) => {
                nodes += 1;
                if anchor > 0 {
                    anchors.insert(anchor, Anchored { nodes: 1, depth: 0 });
                }
            }
            Event::Alias(id) => {
                let Some(a) = anchors.get(&id).copied() else {
                    continue;
                };
                if depth + a.depth > MAX_DEPTH {
                    return Err(at(
                        &mark,
                        format!("this alias makes the document {}", too_deep()),
                    ));
                }
                nodes += a.nodes;
                by_alias += a.nodes;
                deepest = deepest.max(depth + a.depth);
                if by_alias > MAX_ALIAS_NODES {
                    return Err(at(&mark, format!("aliases expand to more than {MAX_ALIAS_NODES} nodes, upshift's limit for configuration files")));
                }
            }
            _ => {}
        }
    }
}
