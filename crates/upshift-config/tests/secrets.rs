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
