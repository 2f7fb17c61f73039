//! Values left to fill in. `upshift init` writes `"TODO: what it is"`
//! wherever only the operator knows the answer (a start command, a data
//! path); such a manifest loads, so `upshift status` works on it, but the
//! commands that act on a value refuse while it is a placeholder.

/// How a placeholder value begins.
pub const TODO: &str = "TODO:";

/// One value still to fill in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Placeholder {
    /// The dotted key (`services.auth.process.start`).
    pub key: String,
    /// 1-based line in the manifest.
    pub line: usize,
    /// What belongs there, as the placeholder says.
    pub what: String,
}

/// Every `key = "TODO: …"` of a manifest's text, in order.
pub fn placeholders(src: &str) -> Vec<Placeholder> {
    let mut table = String::new();
    let mut out = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        if let Some(header) = t.strip_prefix('[') {
            let name = header.trim_start_matches('[');
            table = name.split(']').next().unwrap_or("").trim().to_string();
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            continue;
        };
        let Some(rest) = value
            .trim()
            .strip_prefix('"')
            .and_then(|r| r.strip_prefix(TODO))
        else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        out.push(Placeholder {
            key: if table.is_empty() {
                key.to_string()
            } else {
                format!("{table}.{key}")
            },
            line: i + 1,
            what: rest.split('"').next().unwrap_or("").trim().to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_with_their_key_and_line() {
        let src = "[installation]\nname = \"x\"\n\n[services.auth.process]\nstart = \"TODO: the command\"   # comment\n[release]\ninstall = \"TODO: how\"\nlink = \"current\"\n";
        let found = placeholders(src);
        assert_eq!(
            found,
            vec![
                Placeholder {
                    key: "services.auth.process.start".into(),
                    line: 5,
                    what: "the command".into()
                },
                Placeholder {
                    key: "release.install".into(),
                    line: 7,
                    what: "how".into()
                },
            ]
        );
        assert!(placeholders("[a]\nb = \"done\"\n# c = \"TODO: x\"\n").is_empty());
    }
}
