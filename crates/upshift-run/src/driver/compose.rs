//! `driver = "compose"` (Mender's Docker Compose installation, for one): a service of a Docker Compose project.
//!
//! Works with `docker compose` (v2 plugin) or `docker-compose` (v1),
//! whichever is present (detected once per process, v2 first). Every command
//! is `COMPOSE -p PROJECT -f FILE… [-f OVERRIDE] ACTION`, run in the
//! service's `workdir` (default: the installation's directory), where
//! OVERRIDE is the file upshift owns, `.upshift/compose/PROJECT.override.yml`:
//! it only sets `image:` of the services whose images the catalog names for
//! the version that runs. It comes last, so its images win over the user's
//! files, which upshift never edits.
//!
//! start = `up -d --no-deps SERVICE` (recreates the container when its image
//! changed), stop = `stop SERVICE` + `rm -f SERVICE` (named volumes stay).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use upshift_core::deploy::compose::service_name;
use upshift_core::manifest::ComposeDriver;

use crate::error::{StepError, StepResult};

/// The compose command: `["docker", "compose"]` or `["docker-compose"]`.
pub fn program() -> StepResult<&'static [String]> {
    static FOUND: OnceLock<Option<Vec<String>>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let works = |argv: &[&str]| {
            Command::new(argv[0])
                .args(&argv[1..])
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if works(&["docker", "compose", "version"]) {
            Some(vec!["docker".into(), "compose".into()])
        } else if works(&["docker-compose", "version"]) {
            Some(vec!["docker-compose".into()])
        } else {
            None
        }
    });
    found.as_deref().ok_or_else(|| {
        StepError::msg("services use the compose driver but neither `docker compose` (v2) nor `docker-compose` (v1) works here; install one (https://docs.docker.com/compose/install/)")
    })
}

/// The text of an override file setting `images` (compose service → image).
pub fn override_text(product: &str, version: &str, images: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "# Written by upshift: the images of {product} {version} (from its catalog).\n\
         # Passed to compose after your files; upshift rewrites it on every upgrade.\n\
         services:\n"
    );
    for (svc, image) in images {
        out += &format!("  {}:\n    image: {}\n", yaml_str(svc), yaml_str(image));
    }
    if images.is_empty() {
        out = out.replace("services:\n", "services: {}\n");
    }
    out
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn workdir(c: &ComposeDriver, root: &Path) -> PathBuf {
    c.workdir
        .as_ref()
        .map_or(root.to_path_buf(), |w| root.join(w))
}

/// The user's compose files: `files`, or compose's own default names.
fn user_files(c: &ComposeDriver, dir: &Path) -> Vec<String> {
    if !c.files.is_empty() {
        return c.files.clone();
    }
    let mut out: Vec<String> = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ]
    .iter()
    .find(|f| dir.join(f).is_file())
    .map(|f| vec![f.to_string()])
    .unwrap_or_default();
    for f in [
        "compose.override.yaml",
        "compose.override.yml",
        "docker-compose.override.yml",
        "docker-compose.override.yaml",
    ] {
        if dir.join(f).is_file() {
            out.push(f.to_string());
            break;
        }
    }
    out
}

/// Runs `COMPOSE -p P -f … ACTION ARGS` for the service's project; a
/// failure carries compose's stderr.
pub fn compose(c: &ComposeDriver, root: &Path, ov: &Path, args: &[&str]) -> StepResult<String> {
    let prog = program()?;
    let dir = workdir(c, root);
    let mut argv: Vec<String> = prog[1..].to_vec();
    argv.extend(["-p".into(), c.project.clone()]);
    for f in user_files(c, &dir) {
        argv.extend(["-f".into(), f]);
    }
    if ov.is_file() {
        argv.extend(["-f".into(), ov.display().to_string()]);
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let shown = format!("{} {}", prog[0], argv.join(" "));
    let out = Command::new(&prog[0])
        .args(&argv)
        .process_group(0)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{shown}` in {}: {e}", dir.display()))?;
    crate::proc::tool_output(&shown, out)
}

/// `up -d --no-deps SERVICE`: creates (or recreates, when its image or
/// configuration changed) and starts the container.
pub fn start(name: &str, c: &ComposeDriver, root: &Path, ov: &Path) -> StepResult<()> {
    let s = service_name(name, c);
    compose(c, root, ov, &["up", "-d", "--no-deps", &s]).map(|_| ())
}

/// `stop SERVICE`, then `rm -f SERVICE`: the container is gone, named
/// volumes stay.
pub fn stop(name: &str, c: &ComposeDriver, root: &Path, ov: &Path) -> StepResult<()> {
    let s = service_name(name, c);
    compose(c, root, ov, &["stop", &s])?;
    compose(c, root, ov, &["rm", "-f", &s]).map(|_| ())
}

/// `run --rm --no-deps -T [-e K=V]… SERVICE ARGS…`: a one-off container of
/// `service` with the image the override names (the new release's, after
/// the swap), the service's volumes and bind mounts, and `args` instead of
/// its command; no ports are published. Returns its output.
pub fn run_once(
    c: &ComposeDriver,
    root: &Path,
    ov: &Path,
    service: &str,
    args: &[String],
    env: &[(&str, &str)],
) -> StepResult<String> {
    let mut argv: Vec<String> = ["run", "--rm", "--no-deps", "-T"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (k, v) in env {
        argv.extend(["-e".into(), format!("{k}={v}")]);
    }
    argv.push(service.to_string());
    argv.extend(args.iter().cloned());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    compose(c, root, ov, &argv)
}

/// Makes sure `image` is on this host: nothing to do when `docker image
/// inspect` finds it, else `docker pull`. Returns what was done.
pub fn ensure_image(image: &str) -> StepResult<String> {
    let inspect = Command::new("docker")
        .process_group(0)
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `docker image inspect {image}`: {e}"))?;
    if inspect.status.success() {
        let id = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
        return Ok(format!("{image} present ({})", short(&id)));
    }
    let pull = Command::new("docker")
        .process_group(0)
        .args(["pull", image])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `docker pull {image}`: {e}"))?;
    if pull.status.success() {
        Ok(format!("{image} pulled"))
    } else {
        Err(StepError::msg(format!(
            "cannot get image {image} (not on this host, `docker pull` failed: {}); pull or build it, then resume",
            String::from_utf8_lossy(&pull.stderr).trim()
        )))
    }
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_sets_only_images() {
        let mut images = BTreeMap::new();
        images.insert("notes".to_string(), "upshift-demo:1.1.0".to_string());
        let t = override_text("demo", "1.1.0", &images);
        assert!(
            t.ends_with("services:\n  \"notes\":\n    image: \"upshift-demo:1.1.0\"\n"),
            "{t}"
        );
        let empty = override_text("demo", "1.1.0", &BTreeMap::new());
        assert!(empty.ends_with("services: {}\n"), "{empty}");
    }
}
