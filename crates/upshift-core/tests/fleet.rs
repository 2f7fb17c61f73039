//! `fleet.toml`: the rollout order (auth first, then the others in waves)
//! and the errors a bad fleet file gets, each naming its line.

use upshift_core::fleet::{parse_fleet, waves, OnFailure};

fn order(src: &str) -> Vec<Vec<String>> {
    let fleet = parse_fleet("fleet.toml", src).unwrap_or_else(|e| panic!("{e}"));
    waves(&fleet).into_iter().map(|w| w.installations).collect()
}

fn refused(src: &str) -> String {
    parse_fleet("fleet.toml", src)
        .map(|_| ())
        .expect_err("the fleet should be refused")
        .to_string()
}

const AUTH_AND_TWO: &str = r#"
[installations.notes-a]
manifest = "a/upshift.toml"
uses = ["auth"]

[installations.notes-b]
manifest = "b/upshift.toml"
uses = ["auth"]

[installations.auth]
manifest = "auth/upshift.toml"
"#;

#[test]
fn the_auth_server_goes_first_then_the_others_one_at_a_time() {
    assert_eq!(
        order(AUTH_AND_TWO),
        [vec!["auth"], vec!["notes-a"], vec!["notes-b"]]
    );
    let fleet = parse_fleet("fleet.toml", AUTH_AND_TWO).unwrap();
    let w = waves(&fleet);
    assert!(
        w[0].reasons
            .iter()
            .any(|r| r == "auth first: notes-a, notes-b use it"),
        "{:?}",
        w[0].reasons
    );
    assert!(w[1]
        .reasons
        .iter()
        .any(|r| r.starts_with("notes-a after auth")));
    assert!(w[1]
        .reasons
        .iter()
        .any(|r| r == "one at a time (max_parallel = 1)"));
    assert_eq!((w[0].level, w[1].level, w[2].level), (0, 1, 1));
    assert_eq!(fleet.rollout.on_failure, OnFailure::Keep);
}

#[test]
fn waves_hold_at_most_max_parallel_and_the_canary_goes_alone_first() {
    let mut src = String::from(
        "[rollout]\nmax_parallel = 2\ncanary = \"n3\"\non_failure = \"rollback_fleet\"\npause = \"5s\"\n\n[installations.auth]\nmanifest = \"auth.toml\"\n",
    );
    for i in 1..=5 {
        src.push_str(&format!(
            "[installations.n{i}]\nmanifest = \"n{i}.toml\"\nuses = [\"auth\"]\n"
        ));
    }
    assert_eq!(
        order(&src),
        [vec!["auth"], vec!["n3"], vec!["n1", "n2"], vec!["n4", "n5"]]
    );
    let fleet = parse_fleet("fleet.toml", &src).unwrap();
    assert_eq!(fleet.rollout.on_failure, OnFailure::RollbackFleet);
    assert_eq!(fleet.rollout.pause.map(|p| p.duration().as_secs()), Some(5));
}

#[test]
fn a_chain_is_upgraded_from_its_end_and_an_installation_waits_for_its_deepest_link() {
    let src = r#"
[installations.web]
manifest = "web.toml"
uses = ["api", "auth"]
[installations.api]
manifest = "api.toml"
uses = ["auth"]
[installations.auth]
manifest = "auth.toml"
[installations.standalone]
manifest = "s.toml"
"#;
    assert_eq!(
        order(src),
        [vec!["auth"], vec!["standalone"], vec!["api"], vec!["web"]]
    );
}

#[test]
fn a_long_chain_is_ordered_without_recursion() {
    let mut src = String::from("[installations.i0]\nmanifest = \"m.toml\"\n");
    for i in 1..5000 {
        src.push_str(&format!(
            "[installations.i{i}]\nmanifest = \"m.toml\"\nuses = [\"i{}\"]\n",
            i - 1
        ));
    }
    let o = order(&src);
    assert_eq!(o.len(), 5000);
    assert_eq!(o[4999], vec!["i4999"]);
}

#[test]
fn a_cycle_is_refused_naming_it() {
    let e = refused(
        "[installations.a]\nmanifest = \"a.toml\"\nuses = [\"b\"]\n[installations.b]\nmanifest = \"b.toml\"\nuses = [\"a\"]\n",
    );
    assert!(e.contains("in a cycle: a → b → a"), "{e}");
    assert!(e.contains("fleet.toml:6"), "{e}");
}

#[test]
fn a_link_to_nowhere_gets_a_did_you_mean() {
    let e = refused(
        "[installations.auth]\nmanifest = \"a.toml\"\n[installations.n]\nmanifest = \"n.toml\"\nuses = [\"autth\"]\n",
    );
    assert!(e.contains("uses `autth`, which is not in the fleet"), "{e}");
    assert!(e.contains("did you mean `auth`?"), "{e}");
    assert!(e.contains("fleet.toml:5"), "{e}");
}

#[test]
fn bad_rollouts_and_names_are_refused_at_their_line() {
    let one = "[installations.a]\nmanifest = \"a.toml\"\n";
    let e = refused(&format!("[rollout]\nmax_parallel = 0\n{one}"));
    assert!(
        e.contains("fleet.toml:2") && e.contains("max_parallel = 0"),
        "{e}"
    );
    let e = refused(&format!("[rollout]\ncanary = \"b\"\n{one}"));
    assert!(e.contains("the canary `b` is not in the fleet"), "{e}");
    let e = refused(&format!("[rollout]\non_failure = \"panic\"\n{one}"));
    assert!(e.contains("fleet.toml:2"), "{e}");
    let e = refused("[installations.\"../x\"]\nmanifest = \"a.toml\"\n");
    assert!(e.contains("must be a plain name"), "{e}");
    let e = refused("[installations.a]\nmanifest = \"a.toml\"\nuses = [\"a\"]\n");
    assert!(e.contains("uses itself"), "{e}");
    let e = refused("[installations.a]\nmanifest = \"a.toml\"\nmanfest = \"x\"\n");
    assert!(e.contains("fleet.toml:3"), "{e}");
    assert!(refused("").contains("no installations"));
}

#[test]
fn hostile_input_is_refused_not_crashed_on() {
    let deep = format!("x = {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let _ = refused(&deep);
    let huge = format!(
        "[installations.a]\nmanifest = \"{}\"\nuses = [\"{}\"]\n",
        "m".repeat(1 << 20),
        "b".repeat(1 << 20)
    );
    assert!(refused(&huge).contains("not in the fleet"));
}
