//! The fleet's installations, each driven by its own `upshift` process
//! (`-m MANIFEST apply|resume|backup|rollback`): every installation keeps
//! its own lock, journal, resume and rollback, and the fleet only orders
//! them. Each process's output goes to a log under `.upshift-fleet/logs/`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use upshift_core::fleet::FleetPlan;
use upshift_run::fleet::{Applied, Members};

use crate::error::code;

/// Installations of one fleet run, as `upshift` child processes.
pub struct Children<'a> {
    pub fleet_file: &'a Path,
    pub plan: &'a FleetPlan,
    /// `.upshift-fleet/logs/<run>/`.
    pub logs: PathBuf,
    /// `--catalog DIR` given to the fleet command, passed on.
    pub catalog: Option<PathBuf>,
}

impl Children<'_> {
    /// `upshift --json status` of installation `name`.
    fn status(&self, name: &str) -> Option<serde_json::Value> {
        let mut cmd = Command::new(std::env::current_exe().ok()?);
        cmd.arg("-m").arg(self.manifest(name));
        if let Some(dir) = &self.catalog {
            cmd.arg("--catalog").arg(dir);
        }
        let out = cmd
            .args(["--json", "status"])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }
}

/// How one child ended: its exit code and the tail of its log.
struct Ended {
    code: i32,
    tail: String,
}

impl Children<'_> {
    fn manifest(&self, name: &str) -> PathBuf {
        super::plan::manifest_of(self.fleet_file, self.plan, name)
    }

    /// Runs `upshift -m MANIFEST -y ARGS…` for installation `name`.
    fn upshift(&self, name: &str, args: &[&str]) -> Ended {
        let log = self.logs.join(format!("{name}.log"));
        let spawned = std::fs::create_dir_all(&self.logs)
            .and_then(|_| File::options().create(true).append(true).open(&log))
            .and_then(|out| {
                let err = out.try_clone()?;
                let exe = std::env::current_exe()?;
                let mut cmd = Command::new(exe);
                cmd.arg("-m").arg(self.manifest(name)).arg("-y");
                if let Some(dir) = &self.catalog {
                    cmd.arg("--catalog").arg(dir);
                }
                cmd.args(args)
                    .env("NO_COLOR", "1")
                    .stdin(Stdio::null())
                    .stdout(out)
                    .stderr(err)
                    .status()
            });
        match spawned {
            Ok(status) => Ended {
                code: status.code().unwrap_or(code::INTERRUPTED),
                tail: tail(&log),
            },
            Err(e) => Ended {
                code: code::FAILED,
                tail: format!("cannot run upshift for {name}: {e}"),
            },
        }
    }
}

fn applied(ended: Ended) -> Applied {
    match ended.code {
        code::OK => Applied::Done,
        code::INTERRUPTED => Applied::Interrupted(ended.tail),
        _ => Applied::Failed(ended.tail),
    }
}

/// Whether `upshift status` says the installation's last run succeeded at `to`.
fn succeeded_at(status: &serde_json::Value, to: &str) -> bool {
    status["version"] == to && status["last_run"]["outcome"] == "succeeded"
}

/// Whether the installation's last run has not ended.
fn unfinished(status: &serde_json::Value) -> bool {
    matches!(
        status["last_run"]["outcome"].as_str(),
        Some("running" | "rolling_back")
    )
}

/// The last lines of a log, for the fleet's journal and report.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines.len().saturating_sub(3);
    format!("{} (log: {})", lines[from..].join(" / "), log.display())
}

impl Members for Children<'_> {
    fn backup(&self, name: &str) -> Result<(), String> {
        match self.upshift(name, &["backup"]) {
            Ended { code: 0, .. } => Ok(()),
            e => Err(e.tail),
        }
    }

    fn healthy(&self, link: &str) -> Result<(), String> {
        let status = self.status(link).ok_or("`upshift status` gave no answer")?;
        let sick: Vec<String> = status["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["state"]
                    .as_str()
                    .is_some_and(|st| st != "healthy" && st != "unknown")
            })
            .map(|s| {
                format!(
                    "{}: {}",
                    s["name"].as_str().unwrap_or("?"),
                    s["state"].as_str().unwrap_or("?")
                )
            })
            .collect();
        match sick.is_empty() {
            true => Ok(()),
            false => Err(sick.join("; ")),
        }
    }

    fn apply(&self, name: &str, resume: bool) -> Applied {
        let to = self
            .plan
            .member(name)
            .map(|m| m.plan.to.clone())
            .unwrap_or_default();
        if !resume {
            return applied(self.upshift(name, &["apply", "--to", &to]));
        }
        // A run the fleet started may still be going (the fleet process was
        // killed, its child was not): wait for its lock, then resume.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        loop {
            let ended = self.upshift(name, &["resume"]);
            if ended.code == code::LOCKED && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(200));
                continue;
            }
            if ended.code == code::OK {
                return Applied::Done;
            }
            // Nothing left to resume: its run finished by itself, or was
            // cut off before it began (then it is applied now).
            match self.status(name) {
                Some(s) if succeeded_at(&s, &to) => return Applied::Done,
                Some(s) if !unfinished(&s) && s["version"] != to.as_str() => {
                    return applied(self.upshift(name, &["apply", "--to", &to]))
                }
                _ => return applied(ended),
            }
        }
    }

    fn rollback(&self, name: &str) -> Result<(), String> {
        match self.upshift(name, &["rollback"]) {
            Ended { code: 0, .. } => Ok(()),
            e => Err(e.tail),
        }
    }
}
