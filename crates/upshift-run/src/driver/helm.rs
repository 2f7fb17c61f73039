//! `driver = "helm"` (Mender's Helm chart, for one): a Helm release in a Kubernetes cluster.
//!
//! Kubernetes keeps the pods running, so start and stop do nothing; the
//! release upgrade *is* the swap: `helm upgrade RELEASE CHART --version V
//! --namespace NS -f <migrated values> --wait --timeout T`. Before it, the
//! latest revision from `helm history` is recorded; a rollback runs
//! `helm rollback RELEASE <that revision> --wait`.
//!
//! `helm` is run directly (no shell), with the installation's directory as
//! its working directory and `KUBECONFIG` set when the manifest names one.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use upshift_core::manifest::HelmDriver;

use crate::error::{StepError, StepResult};

/// The default for `--timeout` when the manifest sets none.
const DEFAULT_TIMEOUT: &str = "10m";

/// One revision as `helm history -o json` prints it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Revision {
    pub revision: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub chart: String,
    #[serde(default)]
    pub app_version: String,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub description: String,
}

/// The latest revision of the release (`helm history RELEASE -o json`);
/// `None` when the release has no history yet.
pub fn latest_revision(h: &HelmDriver, root: &Path) -> StepResult<Option<Revision>> {
    let mut revs = history(h, root)?;
    Ok(revs.pop())
}

/// Every revision of the release, oldest first (`helm history RELEASE -o json`).
pub fn history(h: &HelmDriver, root: &Path) -> StepResult<Vec<Revision>> {
    let mut args = vec!["history".to_string(), h.release.clone()];
    args.extend(namespace(h));
    args.extend(["-o".into(), "json".into()]);
    let out = helm(h, root, &args)?;
    let mut revs: Vec<Revision> = serde_json::from_str(out.trim()).map_err(|e| {
        StepError::msg(format!(
            "`helm history {}` printed something that is not its JSON ({e}): {}",
            h.release,
            out.trim()
        ))
    })?;
    revs.sort_by_key(|r| r.revision);
    Ok(revs)
}

/// `helm upgrade RELEASE CHART [--version V] [--namespace NS] [-f VALUES]
/// --wait --timeout T`; `values` is the migrated values file, relative to `root`.
pub fn upgrade(
    h: &HelmDriver,
    root: &Path,
    chart_version: Option<&str>,
    values: Option<&str>,
) -> StepResult<()> {
    let mut args = vec!["upgrade".to_string(), h.release.clone(), h.chart.clone()];
    if let Some(v) = chart_version {
        args.extend(["--version".into(), v.into()]);
    }
    args.extend(namespace(h));
    if let Some(f) = values {
        args.extend(["-f".into(), f.into()]);
    }
    args.extend(wait(h));
    helm(h, root, &args).map(|_| ())
}

/// `helm template RELEASE CHART [--version V] [--namespace NS] -f VALUES`:
/// the chart renders with the migrated values (a template's `required` or
/// `fail`, a schema, a type error in the values), before any stop. Nothing
/// reaches the cluster.
pub fn template(
    h: &HelmDriver,
    root: &Path,
    chart_version: Option<&str>,
    values: &str,
) -> StepResult<()> {
    let mut args = vec!["template".to_string(), h.release.clone(), h.chart.clone()];
    if let Some(v) = chart_version {
        args.extend(["--version".into(), v.into()]);
    }
    args.extend(namespace(h));
    args.extend(["-f".into(), values.into()]);
    helm(h, root, &args).map(|_| ())
}

/// `helm rollback RELEASE REVISION --wait --timeout T`.
pub fn rollback(h: &HelmDriver, root: &Path, revision: u64) -> StepResult<()> {
    let mut args = vec![
        "rollback".to_string(),
        h.release.clone(),
        revision.to_string(),
    ];
    args.extend(namespace(h));
    args.extend(wait(h));
    helm(h, root, &args).map(|_| ())
}

fn namespace(h: &HelmDriver) -> Vec<String> {
    h.namespace
        .iter()
        .flat_map(|ns| ["--namespace".to_string(), ns.clone()])
        .collect()
}

fn wait(h: &HelmDriver) -> Vec<String> {
    vec![
        "--wait".into(),
        "--timeout".into(),
        h.timeout.clone().unwrap_or_else(|| DEFAULT_TIMEOUT.into()),
    ]
}

/// Runs `helm ARGS` in `root`; a failure carries helm's stderr.
fn helm(h: &HelmDriver, root: &Path, args: &[String]) -> StepResult<String> {
    let mut cmd = Command::new("helm");
    cmd.args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .process_group(0);
    if let Some(k) = &h.kubeconfig {
        cmd.env("KUBECONFIG", root.join(k));
    }
    let shown = format!("helm {}", args.join(" "));
    let out = cmd.output().map_err(|e| -> StepError {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("cannot run `{shown}`: `helm` is not on PATH; install Helm 3 (https://helm.sh/docs/intro/install/)")
        } else {
            format!("cannot run `{shown}`: {e}")
        }
        .into()
    })?;
    crate::proc::tool_output(&shown, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_json_parses_and_the_newest_revision_wins() {
        let json = r#"[{"revision":2,"updated":"2024-01-01T00:00:00Z","status":"superseded","chart":"mender-5.9.0","app_version":"3.7.6","description":"Upgrade complete"},
                       {"revision":3,"updated":"2024-02-01T00:00:00Z","status":"deployed","chart":"mender-5.10.0","app_version":"3.7.7","description":"Upgrade complete"}]"#;
        let mut revs: Vec<Revision> = serde_json::from_str(json).unwrap();
        revs.sort_by_key(|r| r.revision);
        let last = revs.pop().unwrap();
        assert_eq!((last.revision, last.status.as_str()), (3, "deployed"));
    }
}
