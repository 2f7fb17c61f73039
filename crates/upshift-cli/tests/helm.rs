//! The Helm driver (Mender 3.7.7 → 4.0.0 with its chart) through
//! the real binary, the built-in mender catalog and real config migration.
//!
//! **This file holds the one mock of the project**: no Kubernetes cluster can
//! run on these machines, so `helm` is a stand-in shell script put first on
//! PATH. It records its argv and `KUBECONFIG` to a file, copies the values
//! file it is given, answers `helm history` with canned JSON, and fails
//! `helm upgrade` when told to. The tests assert the exact invocations as
//! insta snapshots. `helm template`, which needs no cluster, is passed on to
//! a real Helm 3 (installed by scripts/install-test-deps.sh) in the last two
//! tests, rendering a tiny local chart with the migrated values.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{upshift, Run};

/// The stand-in `helm`.
const HELM: &str = r#"#!/bin/sh
d="$HELM_STUB_DIR"
echo "helm $*" >> "$d/calls"
echo "  KUBECONFIG=${KUBECONFIG:-}" >> "$d/calls"
prev=""
for a in "$@"; do
  if [ "$prev" = "-f" ]; then cp "$a" "$d/values-used.yml"; fi
  prev="$a"
done
case "$1" in
  history) cat "$d/history.json" ;;
  template) if [ -n "$REAL_HELM" ]; then exec "$REAL_HELM" "$@"; fi ;;
  upgrade)
    if [ -f "$d/fail-upgrade" ]; then
      echo "Error: UPGRADE FAILED: context deadline exceeded" >&2
      exit 1
    fi ;;
esac
"#;

const HISTORY: &str = r#"[{"revision":6,"updated":"2024-05-01T10:00:00Z","status":"superseded","chart":"mender-5.9.0","app_version":"3.7.6","description":"Upgrade complete"},{"revision":7,"updated":"2024-06-01T10:00:00Z","status":"deployed","chart":"mender-5.10.0","app_version":"3.7.7","description":"Upgrade complete"}]"#;

const MANIFEST: &str = r#"
[installation]
name = "mender-prod"
product = "mender"
version = "mender-3.7.7"

[services.mender]
driver = "helm"

[services.mender.helm]
release = "mender"
chart = "mender/mender"
namespace = "mender"
values = "mender-values.yml"
timeout = "15m"
kubeconfig = "kube/config"

[services.mender.health]
command = "true"

[config.values]
path = "mender-values.yml"
format = "yaml"
role = "helm-values"

[maintenance]
page = false
"#;

const VALUES: &str = r#"# Mender Server 3.7.7
global:
  enterprise: false
  image:
    tag: mender-3.7.7 # the release we run
  url: "https://mender.example.org"

mongodb:
  enabled: true

gui:
  httpPort: 80
"#;

struct Helm {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    stub: PathBuf,
}

impl Helm {
    fn new() -> Helm {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let stub = dir.join("stub");
        std::fs::create_dir_all(stub.join("bin")).unwrap();
        std::fs::write(stub.join("bin/helm"), HELM).unwrap();
        std::fs::set_permissions(
            stub.join("bin/helm"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(stub.join("history.json"), HISTORY).unwrap();
        let inst = dir.join("inst");
        std::fs::create_dir_all(inst.join("kube")).unwrap();
        std::fs::write(inst.join("kube/config"), "apiVersion: v1\nkind: Config\n").unwrap();
        std::fs::write(inst.join("upshift.toml"), MANIFEST).unwrap();
        std::fs::write(inst.join("mender-values.yml"), VALUES).unwrap();
        Helm {
            _tmp: tmp,
            dir: inst,
            stub,
        }
    }

    fn upshift(&self, args: &[&str]) -> Run {
        self.upshift_env(&[], args)
    }

    /// `upshift -m upshift.toml ARGS` with the stand-in first on PATH.
    fn upshift_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let path = format!(
            "{}:{}",
            self.stub.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut all = vec!["-m", "upshift.toml"];
        all.extend_from_slice(args);
        let mut u = upshift(&self.dir)
            .env("PATH", &path)
            .env("HELM_STUB_DIR", self.stub.to_str().unwrap());
        for (k, v) in env {
            u = u.env(k, v);
        }
        u.args(all).run()
    }

    /// The recorded invocations, with the temp dir and the run id replaced.
    fn calls(&self) -> String {
        let text = std::fs::read_to_string(self.stub.join("calls")).unwrap_or_default();
        let text = text.replace(self.dir.to_str().unwrap(), "<installation>");
        regex_lite_replace_run_ids(&text)
    }
}

/// `.upshift/staged/r1718000000000-1a2b/` → `.upshift/staged/<run>/`.
fn regex_lite_replace_run_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(".upshift/staged/") {
        let (head, tail) = rest.split_at(i + ".upshift/staged/".len());
        out += head;
        let end = tail.find('/').unwrap_or(tail.len());
        out += "<run>";
        rest = &tail[end..];
    }
    out + rest
}

#[test]
fn upgrade_runs_helm_upgrade_with_the_chart_version_and_migrated_values() {
    let h = Helm::new();
    let run = h.upshift(&["-y", "--json", "apply", "--to", "4.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["at"], "4.0.0");
    insta::assert_snapshot!("helm_upgrade_calls", h.calls());
    // helm got the migrated values (Mender 4.0: `global.image` moves to
    // `default.image`, the gui's port is no longer overridden).
    let used = std::fs::read_to_string(h.stub.join("values-used.yml")).unwrap();
    assert!(used.contains("moved to `default.image`"), "{used}");
    assert!(!used.contains("httpPort"), "{used}");
    assert_eq!(
        used,
        std::fs::read_to_string(h.dir.join("mender-values.yml")).unwrap(),
        "the values file written after the swap is the one helm used"
    );
    // The revision before the upgrade is in the swap step's journal detail.
    let conn = rusqlite_free_journal_detail(&h.dir);
    assert!(conn.contains("\"helm_revisions\":{\"mender\":7}"), "{conn}");
}

#[test]
fn a_failed_upgrade_is_rolled_back_to_the_recorded_revision() {
    let h = Helm::new();
    std::fs::write(h.stub.join("fail-upgrade"), "").unwrap();
    let run = h.upshift(&["-y", "apply", "--to", "4.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step swap.version"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("UPGRADE FAILED: context deadline exceeded"),
        "helm's error is shown: {}",
        run.stderr
    );
    insta::assert_snapshot!("helm_failed_upgrade_calls", h.calls());
    assert_eq!(
        std::fs::read_to_string(h.dir.join("mender-values.yml")).unwrap(),
        VALUES,
        "the values file is as it was"
    );
    let st = h.upshift(&["--json", "status"]).json();
    assert_eq!(st["version"], "3.7.7");
}

#[test]
fn status_shows_the_last_helm_revision() {
    let h = Helm::new();
    let st = h.upshift(&["--json", "status"]);
    assert_eq!(st.code, 0, "{}", st.stderr);
    let doc = st.json();
    let rev = &doc["services"][0]["helm"]["revision"];
    assert_eq!(rev["revision"], 7);
    assert_eq!(rev["status"], "deployed");
    let human = h.upshift(&["status"]);
    assert!(
        human.stdout.contains(
            "helm release mender (mender): revision 7 deployed, chart mender-5.10.0, app 3.7.7"
        ),
        "{}",
        human.stdout
    );
}

/// The journal's swap details, read with the `sqlite3` shell when present,
/// else the raw database bytes (the detail is stored as plain text).
fn rusqlite_free_journal_detail(dir: &Path) -> String {
    journal_detail(dir, "swap.version")
}

/// The journaled details of `step` (or the raw journal, as above).
fn journal_detail(dir: &Path, step: &str) -> String {
    let db = dir.join(".upshift/journal.db");
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(format!("SELECT detail FROM steps WHERE step = '{step}'"))
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            let mut bytes = std::fs::read(&db).unwrap_or_default();
            bytes.extend(std::fs::read(dir.join(".upshift/journal.db-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

/// A chart that, like Mender's chart 6.x, refuses 3.x values (`global.image`
/// moved to `default.image`) and needs `global.url`.
const CHART_YAML: &str = "apiVersion: v2\nname: mender\nversion: 6.4.1\n";
const CHART_TEMPLATE: &str = r#"{{- if .Values.global.image }}{{ fail "global.image is gone in chart 6: use default.image" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-check
data:
  url: {{ required "global.url is required" .Values.global.url | quote }}
  enterprise: {{ .Values.global.enterprise | quote }}
"#;

/// The real `helm` on PATH (not the stand-in).
fn real_helm() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("helm"))
        .find(|p| p.is_file())
        .expect("a real Helm 3 is required for this test but `helm` is not installed (run scripts/install-test-deps.sh)")
}

impl Helm {
    /// Like [`Helm::new`], with the chart as a local directory that the
    /// real helm renders, and `values` as the installation's values file.
    fn with_local_chart(values: &str) -> Helm {
        let h = Helm::new();
        std::fs::create_dir_all(h.dir.join("chart/templates")).unwrap();
        std::fs::write(h.dir.join("chart/Chart.yaml"), CHART_YAML).unwrap();
        std::fs::write(h.dir.join("chart/templates/check.yaml"), CHART_TEMPLATE).unwrap();
        let manifest = MANIFEST.replace("chart = \"mender/mender\"", "chart = \"./chart\"");
        std::fs::write(h.dir.join("upshift.toml"), manifest).unwrap();
        std::fs::write(h.dir.join("mender-values.yml"), values).unwrap();
        h
    }

    /// With `helm template` passed on to the real helm.
    fn upshift_with_real_template(&self, args: &[&str]) -> Run {
        let real = real_helm();
        self.upshift_env(&[("REAL_HELM", real.to_str().unwrap())], args)
    }
}

#[test]
fn a_real_helm_template_accepts_the_migrated_values_before_the_window() {
    let h = Helm::with_local_chart(VALUES);
    // The chart refuses the values as they are (3.7's `global.image`).
    let raw = std::process::Command::new(real_helm())
        .args(["template", "mender", "./chart", "-f", "mender-values.yml"])
        .current_dir(&h.dir)
        .output()
        .unwrap();
    assert!(!raw.status.success(), "the chart must refuse 3.7 values");
    let run = h.upshift_with_real_template(&["-y", "--json", "apply", "--to", "4.0.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let calls = h.calls();
    let template = calls
        .find("helm template mender ./chart --version 6.4.1 --namespace mender -f .upshift/staged/<run>/0/values")
        .expect(&calls);
    let upgrade = calls.find("helm upgrade").expect(&calls);
    assert!(
        template < upgrade,
        "the chart is rendered before the upgrade: {calls}"
    );
    let detail = journal_detail(&h.dir, "prepare.config.values");
    assert!(
        detail.contains("helm template accepts it (mender)"),
        "{detail}"
    );
}

#[test]
fn values_the_new_chart_refuses_stop_the_run_before_anything_changes() {
    let values = VALUES.replace("  url: \"https://mender.example.org\"\n", "");
    assert_ne!(values, VALUES);
    let h = Helm::with_local_chart(&values);
    let run = h.upshift_with_real_template(&["-y", "apply", "--to", "4.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("failed at step prepare.config.values")
            && run
                .stderr
                .contains("does not accept the migrated mender-values.yml")
            && run.stderr.contains("global.url is required"),
        "{}",
        run.stderr
    );
    let calls = h.calls();
    assert!(
        !calls.contains("helm upgrade"),
        "nothing was upgraded: {calls}"
    );
    assert_eq!(
        std::fs::read_to_string(h.dir.join("mender-values.yml")).unwrap(),
        values,
        "the values file is as it was"
    );
}
