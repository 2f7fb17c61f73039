//! Mender Server upgrades as Mender's documentation describes them, planned
//! by the real binary with the built-in catalog and compared hop for hop:
//! where each hop lands, which checks the guides ask for, which Helm chart
//! and which compose images deploy each target.

mod common;

use common::{repo, upshift, write};
use serde_json::Value;

/// The JSON plan of the example manifest `example` (under `examples/`) with
/// its `[installation] version` set to `version`, to `target`.
fn plan(example: &str, version: &str, target: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("examples").join(example);
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let text = if name == "upshift.toml" {
            let line = text
                .lines()
                .find(|l| l.starts_with("version = "))
                .expect("the example names its version");
            text.replace(line, &format!("version = \"{version}\""))
        } else {
            text
        };
        write(dir.path(), name, &text);
    }
    let run = upshift(dir.path())
        .args(["--json", "plan", "--to", target])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

fn hops(plan: &Value) -> Vec<(String, String)> {
    plan["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (text(&h["from"]), text(&h["to"])))
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .to_string()
}

/// The ids of a hop's steps of `kind`, without their `precheck.` prefix.
fn pre_checks(hop: &Value) -> Vec<String> {
    hop["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "pre_check")
        .map(|s| text(&s["id"]).trim_start_matches("precheck.").to_string())
        .collect()
}

fn swap(hop: &Value) -> String {
    hop["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "swap.version")
        .map(|s| text(&s["description"]))
        .expect("every hop swaps")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// "Upgrade between the adjacent versions, i.e.: if you want to upgrade to
/// 3.5, you should first bring your server to version 3.4"
/// (https://docs.mender.io/3.7/server-installation/upgrading-from-previous-versions);
/// 3.6 is the exception: "upgrading the Mender Server from version 3.3 and
/// 3.4 to 3.6" (https://docs.mender.io/3.6/server-installation/upgrading-from-previous-versions/upgrading-from-3.3-to-3.6).
/// Each hop lands on the newest patch release of the next stop.
#[test]
fn from_3_0_to_3_7_every_minor_version_in_turn_and_3_3_straight_to_3_6() {
    let p = plan("mender-helm", "3.0.0", "3.7.7");
    assert_eq!(
        hops(&p),
        pairs(&[
            ("3.0.0", "3.1.1"),
            ("3.1.1", "3.2.2"),
            ("3.2.2", "3.3.2"),
            ("3.3.2", "3.6.3"),
            ("3.6.3", "3.7.7"),
        ])
    );
    let h = p["hops"].as_array().unwrap();
    // The compose upgrade guide's deviceauth clean-up comes before every
    // minor upgrade (https://docs.mender.io/3.7/server-installation/installation-with-docker-compose/upgrading);
    // the 3.3 → 3.6 hop crosses 3.4, 3.5 and 3.6 and asks for it once.
    assert_eq!(pre_checks(&h[0]), ["deviceauth-decommissioning-cleanup"]);
    assert_eq!(
        pre_checks(&h[3]),
        [
            "deviceauth-decommissioning-cleanup",
            "useradm-database-clean"
        ]
    );
    let cleanup = h[3]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "precheck.deviceauth-decommissioning-cleanup")
        .unwrap();
    let description = text(&cleanup["description"]);
    assert!(
        description.contains("/usr/bin/deviceauth maintenance --decommissioning-cleanup")
            && description.ends_with("(required by 3.4.0, 3.5.0, 3.6.0)"),
        "{description}"
    );
    // "If you haven't already done so, upgrade your MongoDB deployment from
    // 5.0 to 6.0" (https://docs.mender.io/3.7/server-installation/upgrading-from-previous-versions/upgrading-from-3.6-to-3.7).
    assert_eq!(
        pre_checks(&h[4]),
        ["deviceauth-decommissioning-cleanup", "mongodb-6.0"]
    );
    // Charts per release, from mender-helm's CHANGELOG
    // (https://github.com/mendersoftware/mender-helm/blob/master/mender/CHANGELOG_v4.x_v5.x.md):
    // 5.3.0 "Upgrade to Mender version `3.6.3`", 5.10.0 "... `3.7.7`"; 3.1 to
    // 3.3 predate the chart's own versioning and name none.
    assert!(swap(&h[3]).contains("--version 5.3.0"), "{}", swap(&h[3]));
    assert!(swap(&h[4]).contains("--version 5.10.0"), "{}", swap(&h[4]));
    assert!(
        swap(&h[0]).contains("no chart_version in the catalog"),
        "{}",
        swap(&h[0])
    );
    // Every hop tells the operator about older clients and newer Artifact
    // formats (https://docs.mender.io/overview/compatibility).
    for hop in h {
        let notes = hop["notes"].to_string();
        assert!(notes.contains("Artifact format version"), "{notes}");
    }
}

/// "Starting from Mender Server 4.0, you have to use at least the chart
/// version 6.0.x" (https://docs.mender.io/server-installation/upgrading-from-previous-versions/upgrading-from-3.7-to-4.0);
/// mender-helm 6.4.2 is "Mender server update to 4.0.1", so 6.4.1 is the
/// newest chart deploying 4.0.0
/// (https://github.com/mendersoftware/mender-helm/blob/master/mender/CHANGELOG.md).
#[test]
fn from_3_7_to_4_0_the_helm_chart_is_pinned() {
    for (target, chart) in [("4.0.0", "6.4.1"), ("4.0.1", "6.4.2")] {
        let p = plan("mender-helm", "mender-3.7.7", target);
        assert_eq!(hops(&p), pairs(&[("3.7.7", target)]));
        let hop = &p["hops"][0];
        let swap = swap(hop);
        assert!(
            swap.contains(&format!(
                "helm upgrade mender mender/mender --version {chart} "
            )),
            "{swap}"
        );
        assert_eq!(
            pre_checks(hop),
            [
                "deviceauth-decommissioning-cleanup",
                "current-version-healthy"
            ]
        );
    }
    // 3.6 is not a start for 4.0: the path stops at 3.7 (chart 5.10.0) first.
    let p = plan("mender-helm", "3.6.3", "4.0.0");
    assert_eq!(hops(&p), pairs(&[("3.6.3", "3.7.7"), ("3.7.7", "4.0.0")]));
    assert!(swap(&p["hops"][0]).contains("--version 5.10.0"));
    assert!(swap(&p["hops"][1]).contains("--version 6.4.1"));
}

/// The compose example (a 3.6.3 installation from the integration
/// repository) to 4.0.1: 3.6 → 3.7 → 4.0, each hop with the images the
/// swap writes. The tags are `mender-X.Y.Z` up to 3.7 and `vX.Y.Z` from
/// 4.0, and "the `workflows-worker` image has been discontinued: the
/// `workflows` image is now handling both the `workflows` services"
/// (https://docs.mender.io/server-installation/upgrading-from-previous-versions/upgrading-from-3.7-to-4.0).
#[test]
fn compose_example_from_3_6_to_4_0_with_the_images_of_each_hop() {
    let p = plan("mender-compose", "mender-3.6.3", "4.0.1");
    assert_eq!(hops(&p), pairs(&[("3.6.3", "3.7.7"), ("3.7.7", "4.0.1")]));
    let image = |hop: &Value, service: &str| -> (String, String) {
        let i = hop["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["service"] == service)
            .unwrap_or_else(|| panic!("no image for {service} in {hop}"));
        (text(&i["from"]), text(&i["to"]))
    };
    let h = p["hops"].as_array().unwrap();
    let hub = "docker.io/mendersoftware";
    assert_eq!(
        image(&h[0], "mender-deployments"),
        (
            format!("{hub}/deployments:mender-3.6.3"),
            format!("{hub}/deployments:mender-3.7.7")
        )
    );
    assert_eq!(
        image(&h[0], "mender-workflows-worker"),
        (
            format!("{hub}/workflows-worker:mender-3.6.3"),
            format!("{hub}/workflows-worker:mender-3.7.7")
        )
    );
    assert_eq!(
        image(&h[1], "mender-device-auth"),
        (
            format!("{hub}/deviceauth:mender-3.7.7"),
            format!("{hub}/deviceauth:v4.0.1")
        )
    );
    assert_eq!(
        image(&h[1], "mender-workflows-worker"),
        (
            format!("{hub}/workflows-worker:mender-3.7.7"),
            format!("{hub}/workflows:v4.0.1")
        )
    );
    // The eleven Mender services, and not the third-party images (MongoDB,
    // NATS, MinIO, the gateway), whose tags the guides do not give.
    for hop in h {
        let services: Vec<String> = hop["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| text(&i["service"]))
            .collect();
        assert_eq!(services.len(), 11, "{services:?}");
        assert!(services.iter().all(|s| s.starts_with("mender-")
            && !["mender-mongo", "mender-nats", "mender-api-gateway"].contains(&s.as_str())));
    }
    assert_eq!(
        pre_checks(&h[0]),
        ["deviceauth-decommissioning-cleanup", "mongodb-6.0"]
    );
    // Compose is an evaluation setup from 4.0 on
    // (https://docs.mender.io/server-installation/evaluation-with-docker-compose).
    assert!(h[1]["notes"].to_string().contains("evaluation"));
    // Every service of the catalog is one the manifest manages.
    assert!(
        !p["warnings"].to_string().contains("does not list"),
        "{}",
        p["warnings"]
    );
}

/// The compose example's plan as the operator reads it: per hop the images
/// (from → to) and the checks to do by hand.
#[test]
fn compose_example_plan_text() {
    let run = upshift(&repo())
        .args([
            "-m",
            "examples/mender-compose/upshift.toml",
            "plan",
            "--to",
            "4.0.1",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("mender_compose_plan", run.stdout);
}

/// Every release, note, check and rule of the Mender catalog cites its
/// source, and no release is unreachable or a dead end.
#[test]
fn the_mender_catalog_is_lint_clean() {
    let run = upshift(&repo())
        .args(["catalog", "lint", "--strict", "mender"])
        .run();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 errors, 0 warnings"),
        "{}",
        run.stdout
    );
}
