//! A saved plan names the manifest it was made from: `show` and
//! `apply --plan` work from any directory, and `show` says whether the plan
//! can still be applied.

mod common;

use common::demo::Demo;
use common::upshift;

#[test]
fn a_saved_plan_is_shown_and_applied_from_another_directory() {
    let demo = Demo::new();
    let made = demo.upshift(&["plan", "--to", "1.1.0", "--out", "p.json"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let plan = demo.path("p.json");
    let plan = plan.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();

    let shown = upshift(elsewhere.path()).args(["show", plan]).run();
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("1.0.0 → 1.1.0") && shown.stdout.contains("still current"),
        "{}",
        shown.stdout
    );
    let json = upshift(elsewhere.path())
        .args(["--json", "show", plan])
        .run()
        .json();
    assert_eq!(json["applicable"], true, "{json}");

    let applied = upshift(elsewhere.path())
        .args(["-y", "apply", "--plan", plan])
        .run();
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(demo.version(), "1.1.0");
    demo.assert_healthy();
}

#[test]
fn show_says_why_a_plan_can_no_longer_be_applied() {
    let demo = Demo::new();
    let made = demo.upshift(&["plan", "--to", "3.0.0", "--out", "p.json"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let manifest = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    std::fs::write(
        demo.path("upshift.toml"),
        manifest + "\n# changed after the plan\n",
    )
    .unwrap();
    let shown = demo.upshift(&["show", "p.json"]);
    assert_eq!(shown.code, 1, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("cannot be applied") && shown.stdout.contains("the manifest changed"),
        "{}",
        shown.stdout
    );
}

/// `plan` shows how each config file changes in each hop, chained from the
/// files as they are, with secret values masked; nothing is written.
#[test]
fn plan_shows_each_hops_config_diff_with_secrets_masked() {
    let demo = Demo::new();
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    let secret = auth
        .lines()
        .find_map(|l| l.strip_prefix("secret = "))
        .expect("the demo's 1.0.0 auth config has a cleartext secret")
        .trim_matches('"')
        .to_string();
    let plan = demo.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let out = &plan.stdout;
    assert!(
        out.contains("hop 1 (1.0.0 → 1.1.0) config/auth.toml: unchanged")
            && out.contains("hop 2 (1.1.0 → 2.1.0) config/auth.toml:")
            && out.contains("+[server]")
            && out.contains("-secret = \"***\""),
        "{out}"
    );
    assert!(!out.contains(&secret), "the secret is printed: {out}");
    assert_eq!(
        std::fs::read_to_string(demo.path("config/auth.toml")).unwrap(),
        auth,
        "a plan writes nothing"
    );
}
