//! `upshift plan`, run as the real binary.

mod common;

use common::{demo_manifest, repo, upshift, write};

#[test]
fn demo_plan_json_follows_the_contract() {
    let run = upshift(&repo())
        .args([
            "-m",
            "examples/demo/upshift.toml",
            "plan",
            "--to",
            "3.0.0",
            "--json",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(plan["product"], "demo");
    assert_eq!(plan["from"], "1.0.0");
    assert_eq!(plan["to"], "3.0.0");
    let hops: Vec<(String, String)> = plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["from"].as_str().unwrap().to_string(),
                h["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        hops,
        [("1.0.0", "1.1.0"), ("1.1.0", "2.1.0"), ("2.1.0", "3.0.0")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for hop in plan["hops"].as_array().unwrap() {
        assert!(!hop["reasons"].as_array().unwrap().is_empty());
        for step in hop["steps"].as_array().unwrap() {
            for key in ["id", "kind", "description"] {
                assert!(step[key].is_string(), "{step}");
            }
            assert!(step["point_of_no_return"].is_boolean());
        }
    }
    assert!(plan["warnings"].is_array());
}

#[test]
fn human_plan_of_the_demo() {
    let run = upshift(&repo())
        .args(["-m", "examples/demo/upshift.toml", "plan", "--to", "3.0.0"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("demo_plan", run.stdout);
}

#[test]
fn human_plan_of_mender_34_to_40() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("examples/mender-helm/upshift.toml"))
        .unwrap()
        .replace("version = \"mender-3.7.7\"", "version = \"3.4.0\"");
    write(dir.path(), "upshift.toml", &text);
    let run = upshift(dir.path()).args(["plan", "--to", "4.0.0"]).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("path: 3.4.0 → 3.6.3 → 3.7.7 → 4.0.0"),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("mender_plan", run.stdout);
}

#[test]
fn saved_plan_has_a_fingerprint_and_the_same_hops() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &demo_manifest());
    let run = upshift(dir.path())
        .args(["plan", "--to", "2.1", "--out", "p.json"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let saved_at = dir.path().canonicalize().unwrap().join("p.json");
    assert!(
        run.stdout
            .contains(&format!("upshift apply --plan {}", saved_at.display())),
        "the hint works from any directory: {}",
        run.stdout
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("p.json")).unwrap()).unwrap();
    assert_eq!(saved["format"], "upshift-plan/1");
    assert_eq!(saved["fingerprint"]["manifest"].as_str().unwrap().len(), 64);
    assert_eq!(saved["hops"].as_array().unwrap().len(), 2);
    let json = upshift(dir.path())
        .args(["--json", "plan", "--to", "2.1"])
        .run()
        .json();
    assert_eq!(json, saved, "--json and --out describe the same plan");
}

#[test]
fn already_at_target_is_success() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &demo_manifest());
    let run = upshift(dir.path()).args(["plan", "--to", "v1.0"]).run();
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("already at 1.0.0"), "{}", run.stdout);
}

#[test]
fn refusals_name_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "upshift.toml",
        &demo_manifest().replace("version = \"1.0.0\"", "version = \"2.1.0\""),
    );
    let down = upshift(dir.path()).args(["plan", "--to", "1.1.0"]).run();
    assert_eq!(down.code, 2);
    assert!(
        down.stderr
            .contains("refusing to downgrade from 2.1.0 to 1.1.0"),
        "{}",
        down.stderr
    );
    let unknown = upshift(dir.path())
        .args(["--json", "plan", "--to", "2.2.0"])
        .run();
    assert_eq!(unknown.code, 2);
    assert!(unknown.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nearest known versions are: 1.1.0, 2.0.0, 2.1.0, 3.0.0"));
}

#[test]
fn extra_catalog_overrides_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upshift.toml", &demo_manifest());
    std::fs::create_dir(dir.path().join("cat")).unwrap();
    // A demo catalog where 3.0.0 accepts 1.0.0 directly: the plan becomes one hop.
    write(
        &dir.path().join("cat"),
        "demo.toml",
        "product = \"demo\"\n[[release]]\nversion = \"1.0.0\"\n[[release]]\nversion = \"3.0.0\"\nupgrade_from = \">=1.0.0\"\n",
    );
    let json = upshift(dir.path())
        .args(["--catalog", "cat", "--json", "plan", "--to", "3.0.0"])
        .run()
        .json();
    assert_eq!(json["hops"].as_array().unwrap().len(), 1);
}

#[test]
fn compose_plan_shows_how_upstreams_compose_file_changes() {
    let run = upshift(&repo())
        .args([
            "-m",
            "examples/demo-compose/upshift.toml",
            "plan",
            "--to",
            "3.0.0",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("demo_compose_plan", run.stdout);
}

#[test]
fn compose_plan_json_carries_each_hops_template_diff() {
    let plan = |manifest: &str| {
        let run = upshift(&repo())
            .args(["-m", manifest, "--json", "plan", "--to", "3.0.0"])
            .run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
    };
    let compose = plan("examples/demo-compose/upshift.toml");
    let hops = compose["hops"].as_array().unwrap();
    let expect = [
        ("1.0.0", "1.1.0", "+    image: upshift-demo:1.1.0\n"),
        ("1.1.0", "2.1.0", "+      - ./secrets:/srv/secrets:ro\n"),
        ("2.1.0", "3.0.0", "+    stop_grace_period: 30s\n"),
    ];
    assert_eq!(hops.len(), expect.len());
    for (hop, (from, to, added)) in hops.iter().zip(expect) {
        let d = &hop["template_diff"];
        assert_eq!(d["old"], format!("demo/{from}/docker-compose.yml"), "{d}");
        assert_eq!(d["new"], format!("demo/{to}/docker-compose.yml"), "{d}");
        let unified = d["unified"].as_str().unwrap();
        assert!(
            unified.starts_with(&format!(
                "--- demo/{from}/docker-compose.yml\n+++ demo/{to}/docker-compose.yml\n@@"
            )),
            "{unified}"
        );
        assert!(unified.contains(added), "{unified}");
        assert!(
            unified.contains(&format!("-    image: upshift-demo:{from}\n")),
            "{unified}"
        );
    }
    // Installations without compose services are not shown compose files.
    let process = plan("examples/demo/upshift.toml");
    for hop in process["hops"].as_array().unwrap() {
        assert!(hop.get("template_diff").is_none(), "{hop}");
    }
}

#[test]
fn compose_plan_lists_the_images_it_writes_and_warns_of_services_it_leaves() {
    // The demo compose project with only `auth` described: `notes` is in
    // the catalog's `images` but upshift would not touch it.
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        std::fs::read_to_string(repo().join("examples/demo-compose/upshift.toml")).unwrap();
    let start = manifest.find("[services.notes]").unwrap();
    let end = manifest.find("# The named volume").unwrap();
    let manifest = format!("{}{}", &manifest[..start], &manifest[end..]);
    write(dir.path(), "upshift.toml", &manifest);
    write(
        dir.path(),
        "docker-compose.yml",
        &std::fs::read_to_string(repo().join("examples/demo-compose/docker-compose.yml")).unwrap(),
    );
    let run = upshift(dir.path())
        .args(["--json", "plan", "--to", "1.1.0"])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(
        plan["hops"][0]["images"],
        serde_json::json!([{ "service": "auth", "from": "upshift-demo:1.0.0", "to": "upshift-demo:1.1.0" }])
    );
    let warnings = plan["warnings"].to_string();
    assert!(
        warnings.contains("compose services the manifest does not list (notes)"),
        "{warnings}"
    );
    // Installations without compose services have no images per hop.
    let process = upshift(&repo())
        .args([
            "-m",
            "examples/demo/upshift.toml",
            "--json",
            "plan",
            "--to",
            "1.1.0",
        ])
        .run()
        .json();
    assert!(process["hops"][0].get("images").is_none(), "{process}");
}
