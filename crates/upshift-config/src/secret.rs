//! Finding and masking secret values so that diffs, JSON and logs never
//! show them.

use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

use crate::encoded;

/// What a key holding a secret looks like (`password`, `SMTPPassword`,
/// `DataSource`, `AWS_SECRET_ACCESS_KEY`, `certs.key`, ...).
fn secret_key() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^(key|.*(password|passwd|secret|token|salt|datasource|encryptkey|privatekey|private_key|credential|apikey|api_key|accesskey|access_key).*)$")
            .unwrap_or_else(|_| unreachable!("the pattern is a constant"))
    })
}

/// Keys that hold the *name* of a secret, or the path of the file that
/// holds it (`secret_file`, `passwordFile`, `tls_key_path`), not a secret.
fn secret_name_key() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(secretname|secret_name|existingsecret|existing_secret|pullsecrets?|secretref|secret_ref|file|path)$")
            .unwrap_or_else(|_| unreachable!("the pattern is a constant"))
    })
}

/// Passwords inside URLs: `scheme://user:PASSWORD@host`.
fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"://[^:/@\s]*:([^@\s]+)@")
            .unwrap_or_else(|_| unreachable!("the pattern is a constant"))
    })
}

/// Whether a key's name says it holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    secret_key().is_match(key) && !secret_name_key().is_match(key)
}

/// Every scalar under a secret-looking key of `v`, as text.
pub fn collect(v: &Value, out: &mut Vec<String>) {
    fn walk(v: &Value, secret: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    walk(x, secret || is_secret_key(k), out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, secret, out)),
            Value::String(s) if secret => out.push(s.clone()),
            Value::String(s) => {
                out.extend(
                    url_password()
                        .captures_iter(s)
                        .filter_map(|c| c.get(1))
                        .map(|m| m.as_str().to_string()),
                );
                // `user:password@tcp(host)/db` (MySQL DSNs) as well.
                if let Some(c) = Regex::new(r"^[^:/@\s]+:([^@\s]+)@tcp\(")
                    .ok()
                    .and_then(|r| r.captures(s))
                {
                    out.extend(c.get(1).map(|m| m.as_str().to_string()));
                }
            }
            Value::Number(n) if secret => out.push(n.to_string()),
            _ => {}
        }
    }
    walk(v, false, out);
}

/// A masker for a set of secret values.
#[derive(Debug, Default, Clone)]
pub struct Masker {
    needles: Vec<String>,
}

impl Masker {
    /// Masks these values (and each line of multi-line ones). Values shorter
    /// than 3 characters are too common to mask without destroying the text.
    pub fn new(secrets: &[String]) -> Masker {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets {
            for part in std::iter::once(s.as_str()).chain(s.lines()) {
                let p = part.trim();
                if p.chars().count() >= 3 && !needles.iter().any(|n| n == p) {
                    needles.push(p.to_string());
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Masker { needles }
    }

    /// `text` with every secret replaced by `***`, whether the text holds
    /// it as is or spelled with string escapes (`"tok\"en"`, `\u0065`).
    pub fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some(c) = text[at..].chars().next() {
            match self
                .needles
                .iter()
                .find_map(|n| encoded::match_at(text, at, n))
            {
                Some(end) => {
                    out.push_str("***");
                    at = end;
                }
                None => {
                    out.push(c);
                    at += c.len_utf8();
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_naming_the_file_of_a_secret_is_not_a_secret() {
        for path_key in ["secret_file", "passwordFile", "tls_key_path", "SecretName"] {
            assert!(!is_secret_key(path_key), "{path_key}");
        }
        for secret in [
            "secret",
            "DB_PASSWORD",
            "api_key",
            "key",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_key(secret), "{secret}");
        }
    }

    #[test]
    fn finds_secret_keys_and_masks_their_values() {
        let v = serde_json::json!({
            "SqlSettings": {"DataSource": "postgres://mm:hunter22@db/mm", "DriverName": "postgres"},
            "image": {"password": "s3cr3t!", "tag": "v4"},
            "certs": {"key": "-----BEGIN KEY-----\nABCDEF\n-----END KEY-----"}
        });
        let mut found = Vec::new();
        collect(&v, &mut found);
        assert!(found.contains(&"postgres://mm:hunter22@db/mm".to_string()));
        assert!(found.contains(&"s3cr3t!".to_string()));
        assert!(!found.contains(&"postgres".to_string()));
        let m = Masker::new(&found);
        let out =
            m.mask("- password: s3cr3t!\n+ x: ABCDEF\n DataSource: postgres://mm:hunter22@db/mm");
        let mut urls = Vec::new();
        collect(
            &serde_json::json!({"mongodb": {"URL": "mongodb://u:p4ss-word@h/db"}, "imagePullSecrets": [{"name": "pull"}]}),
            &mut urls,
        );
        assert_eq!(urls, vec!["p4ss-word".to_string()]);
        assert!(
            !out.contains("s3cr3t!") && !out.contains("ABCDEF") && !out.contains("hunter22"),
            "{out}"
        );
    }
}
