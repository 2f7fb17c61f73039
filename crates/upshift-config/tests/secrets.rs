//! Secret values never appear in the diff, the JSON or any message.

mod common;

use common::mender;

const SECRETS: &[&str] = &[
    "deploy-bot@acme.example",
    "Rg7!sup3r-secret-pull",
    "Mongo-pass-42",
    "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY",
    "MIIEowIBAAKCAQEAdeviceauthEXAMPLEONLY0000000000000000000000000",
];

#[test]
fn enterprise_secrets_are_masked_everywhere_but_the_file() {
    let m = mender("mender-3.7.7-enterprise-external.yml", &[]);
    let json = serde_json::to_string_pretty(&m).unwrap();
    let messages = [
        m.applied.join("\n"),
        m.warnings.join("\n"),
        m.commands.join("\n"),
    ]
    .join("\n");
    for s in SECRETS {
        assert!(!m.diff.contains(s), "diff shows {s}");
        assert!(!json.contains(s), "JSON shows {s}");
        assert!(!messages.contains(s), "messages show {s}");
    }
    assert!(m.diff.contains("***"), "masked values are shown as ***");
    // The credentials moved into a secret are gone from the file itself.
    assert!(
        !m.text.contains("Rg7!sup3r-secret-pull") && !m.text.contains("deploy-bot@acme.example")
    );
    assert!(
        json.contains("\"diff\""),
        "the JSON carries the masked diff"
    );
    assert!(
        !json.contains("\"text\""),
        "the JSON never carries the file"
    );
}

/// A secret that needs escaping in every format: a quote, a backslash and
/// characters that a file may write as `\u0078`, `\x78` or `\U00000078`.
const HOSTILE: &str = "Kq7\"Zx\\Wv9";

/// Pieces of [`HOSTILE`] that must never be printed, in any spelling.
const PIECES: &[&str] = &["Kq7", "Wv9", "Zx"];

fn rule(src: &str) -> upshift_config::Rule {
    let t: toml::Table = toml::from_str(src).expect("rule toml");
    upshift_config::Rule::from_table(&t).expect("rule is valid")
}

fn assert_masked(format: upshift_config::Format, file: &str, text: &str) {
    let rules = [
        rule("op = \"set\"\npath = \"db.port\"\nvalue = 5433\n"),
        rule("op = \"set\"\npath = \"db.new_password\"\nvalue = 'N3w\"pa\\ss\u{e9}-Yy'\n"),
    ];
    let m = upshift_config::migrate(format, file, text, &rules, &Default::default())
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(m.text.contains("Wv9"), "{file}: the file keeps the secret");
    let json = serde_json::to_string(&m).unwrap();
    for shown in [&m.diff, &json, &m.applied.join("\n")] {
        for piece in PIECES.iter().chain(&["N3w", "-Yy"]) {
            assert!(!shown.contains(piece), "{file} shows {piece}:\n{shown}");
        }
    }
    assert!(m.diff.contains("***"), "{file}: {}", m.diff);
}

#[test]
fn secrets_spelled_with_string_escapes_are_masked() {
    use upshift_config::Format::*;
    assert_eq!(HOSTILE.len(), 10);
    let cases = [
        (
            Json,
            "a.json",
            r#"{"db": {"password": "Kq7\"Z\u0078\\Wv9", "port": 5432}}"#.to_string(),
        ),
        (
            Json,
            "b.json",
            r#"{"db": {"password": "\u004bq7\u0022Zx\u005cWv9", "port": 5432}}"#.to_string(),
        ),
        (
            Toml,
            "c.toml",
            "[db]\npassword = \"Kq7\\\"Z\\U00000078\\\\Wv9\"\nport = 5432\n".to_string(),
        ),
        (
            Toml,
            "d.toml",
            "[db]\npassword = 'Kq7\"Zx\\Wv9'\nport = 5432\n".to_string(),
        ),
        (
            Yaml,
            "e.yml",
            "db:\n  password: \"Kq7\\\"Z\\x78\\\\Wv9\"\n  port: 5432\n".to_string(),
        ),
        (
            Yaml,
            "f.yml",
            "db:\n  password: 'Kq7\"Zx\\Wv9'\n  port: 5432\n".to_string(),
        ),
    ];
    for (format, file, text) in cases {
        assert_masked(format, file, &text);
    }
}
