//! Golden tests: realistic Mender 3.7.7 Helm values migrated to 4.0.0.

mod common;

use common::{fixture, lost_comments, mender, report};
use upshift_config::doc::parse_value;
use upshift_config::Format;

fn yaml(text: &str) -> serde_json::Value {
    parse_value(Format::Yaml, "out.yml", text).expect("migrated values parse")
}

#[test]
fn enterprise_with_external_mongodb_and_nats() {
    let name = "mender-3.7.7-enterprise-external.yml";
    let m = mender(name, &[]);
    insta::assert_snapshot!("enterprise_external", report(&m));
    let v = yaml(&m.text);
    assert_eq!(v["global"]["enterprise"], true);
    assert_eq!(v["mongodb"]["enabled"], false);
    assert_eq!(v["nats"]["enabled"], false);
    assert_eq!(v["redis"]["enabled"], true);
    assert_eq!(
        v["default"]["imagePullSecrets"][0]["name"],
        "mender-registry-pull-secret"
    );
    assert!(
        v["global"].get("image").is_none(),
        "global.image is commented out"
    );
    assert!(v.get("gui").is_none(), "the gui port override is gone");
    assert_eq!(v["api_gateway"]["storage_proxy"]["enabled"], true);
    assert!(
        m.text.contains("  # image:\n"),
        "the old key stays, commented out"
    );
    assert!(m.text.contains("  #   tag: mender-3.7.7\n"));
    let lost = lost_comments(&fixture(name), &m.text, &["httpPort", "Keep the gui"]);
    assert!(lost.is_empty(), "comments lost: {lost:?}");
    assert_eq!(m.commands.len(), 1);
    assert!(m.commands[0]
        .starts_with("kubectl create secret docker-registry mender-registry-pull-secret"));
    assert!(m.commands[0].contains("--docker-server=registry.mender.io"));
}

#[test]
fn open_source_with_bundled_mongodb_and_nats() {
    let name = "mender-3.7.7-opensource-bundled.yml";
    let m = mender(name, &[]);
    insta::assert_snapshot!("opensource_bundled", report(&m));
    let v = yaml(&m.text);
    assert_eq!(v["global"]["enterprise"], false);
    assert_eq!(v["mongodb"]["enabled"], true, "bundled MongoDB stays on");
    assert_eq!(v["nats"]["enabled"], true);
    assert!(v.get("redis").is_none(), "open source does not use Redis");
    assert!(
        v.get("default").is_none(),
        "nothing left to say under `default`"
    );
    assert_eq!(v["api_gateway"]["storage_proxy"]["enabled"], false);
    assert_eq!(v["deployments"]["customEnvs"], serde_json::json!([]));
    assert_eq!(v["deployments"]["resources"]["limits"]["memory"], "512Mi");
    assert!(m.commands.is_empty(), "no credentials, no secret");
    let lost = lost_comments(&fixture(name), &m.text, &[]);
    assert!(lost.is_empty(), "comments lost: {lost:?}");
}

#[test]
fn open_source_with_external_services_and_a_custom_tag() {
    let name = "mender-3.7.7-opensource-external.yml";
    let m = mender(name, &[]);
    insta::assert_snapshot!("opensource_external", report(&m));
    let v = yaml(&m.text);
    assert_eq!(
        v["mongodb"]["enabled"], false,
        "external MongoDB via existingSecret"
    );
    assert_eq!(v["nats"]["enabled"], false);
    assert_eq!(v["default"]["image"]["tag"], "v3.7.7-hotfix1");
    assert_eq!(
        v["default"]["image"]["registry"],
        "registry.acme.example/mirror"
    );
    assert!(m.warnings.iter().any(|w| w.contains("names a 4.x image")));
    assert!(m.warnings.iter().any(|w| w.contains("monorepo")));
}

#[test]
fn enterprise_fact_sets_enterprise_even_when_values_said_otherwise() {
    let m = mender("mender-3.7.7-opensource-bundled.yml", &["enterprise"]);
    let v = yaml(&m.text);
    assert_eq!(v["global"]["enterprise"], true);
    assert_eq!(
        v["redis"]["enabled"], true,
        "Enterprise used the bundled Redis"
    );
}

#[test]
fn migrating_the_result_again_changes_nothing() {
    for name in [
        "mender-3.7.7-enterprise-external.yml",
        "mender-3.7.7-opensource-bundled.yml",
        "mender-3.7.7-opensource-external.yml",
    ] {
        let once = mender(name, &[]);
        let rules = common::rules("mender", "3.7.7", "4.0.0");
        let twice = upshift_config::migrate(
            Format::Yaml,
            name,
            &once.text,
            &rules,
            &common::ctx("3.7.7", "4.0.0", &[]),
        )
        .expect("second run");
        assert_eq!(once.text, twice.text, "{name}: not idempotent");
        assert!(twice.diff.is_empty());
    }
}
