//! Mattermost `config.json`: per-release defaults and the host-migration merge.

mod common;

use common::{ctx, fixture, rules};
use upshift_config::doc::parse_value;
use upshift_config::{merge_rule, migrate, Format};
use upshift_core::catalog::CatalogSet;

#[test]
fn upgrading_adds_each_crossed_releases_new_settings_and_keeps_the_rest() {
    let text = fixture("mattermost-1.0-config.json");
    let m = migrate(
        Format::Json,
        "config.json",
        &text,
        &rules("mattermost", "1.0.0", "1.2.0"),
        &ctx("1.0.0", "1.2.0", &[]),
    )
    .unwrap();
    let v = parse_value(Format::Json, "config.json", &m.text).unwrap();
    // The settings each release's changelog lists under config.json
    // (https://docs.mattermost.com/administration/changelog.html).
    assert_eq!(
        v["ServiceSettings"]["EnablePostIconOverride"], false,
        "1.1 default"
    );
    assert_eq!(
        v["ServiceSettings"]["EnableOutgoingWebhooks"], false,
        "1.2 default"
    );
    assert_eq!(v["TeamSettings"]["EnableTeamListing"], false, "1.2 default");
    assert_eq!(
        v["TeamSettings"]["RestrictTeamNames"], false,
        "an existing setting is never replaced by a default"
    );
    assert_eq!(
        v["ServiceSettings"]["EnableIncomingWebhooks"], true,
        "a value set by hand stays when 1.2 changes the default"
    );
    assert!(v.get("EmailSettings").is_none(), "1.3 is not crossed");
    assert!(m.text.contains("// Written by hand"), "comments survive");
    assert_eq!(m.applied.len(), 2, "{:?}", m.applied);
    insta::assert_snapshot!("mattermost_1_0_to_1_2", common::report(&m));
}

#[test]
fn host_migration_keeps_the_destinations_datasource_and_listen_address() {
    let set = CatalogSet::built_in();
    let c = set.get("mattermost").unwrap();
    let v3 = semver::Version::new(3, 0, 0);
    let rule = merge_rule(c, &v3)
        .unwrap()
        .expect("mattermost has a merge rule");
    let mut cx = ctx("3.0.0", "3.0.0", &[]);
    cx.merge_source = Some(("source.json".into(), fixture("mattermost-source.json")));
    let dest = fixture("mattermost-destination.json");
    let m = migrate(Format::Json, "config.json", &dest, &[rule], &cx).unwrap();
    let v = parse_value(Format::Json, "config.json", &m.text).unwrap();
    assert_eq!(
        v["SqlSettings"]["DataSource"],
        "postgres://mmuser:new-host-S3cret@db.internal:5432/mattermost?sslmode=require"
    );
    assert_eq!(v["ServiceSettings"]["ListenAddress"], "127.0.0.1:8065");
    assert_eq!(
        v["ServiceSettings"]["SiteURL"], "https://chat.acme.example",
        "everything else comes from the source"
    );
    assert_eq!(v["TeamSettings"]["SiteName"], "Acme Chat");
    assert_eq!(
        v["SqlSettings"]["AtRestEncryptKey"],
        "source-at-rest-key-0123456789"
    );
    for secret in [
        "new-host-S3cret",
        "old-host-Passw0rd",
        "source-at-rest-key-0123456789",
        "destination-at-rest-key",
        "smtp-pass-XYZ",
    ] {
        assert!(
            !m.diff.contains(secret),
            "{secret} leaked into the diff:\n{}",
            m.diff
        );
        assert!(!serde_json::to_string(&m).unwrap().contains(secret));
    }
}
