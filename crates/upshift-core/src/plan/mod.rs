//! The planner: (installation, catalog, target) → plan. Pure; no I/O.

mod edited;
mod images;
mod path;
mod step_id;
mod steps;
mod template;
mod upstream;

pub use step_id::{HookPoint, StepId, UnknownStep};
pub use steps::{hop_steps, prune_step, Step, StepKind};
pub use upstream::{FileChange, LocalChanges, MergeOutlook, UpstreamChange};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diag::Diagnostic;
use crate::manifest::Loaded;

/// The format tag written into saved plans.
pub const PLAN_FORMAT: &str = "upshift-plan/1";

/// A complete plan: hops, each an ordered list of steps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    pub format: String,
    pub installation: String,
    pub product: String,
    pub from: String,
    pub to: String,
    pub hops: Vec<Hop>,
    pub warnings: Vec<String>,
    pub fingerprint: Fingerprint,
    /// Where a saved plan was made from, so `apply --plan` and `show`
    /// find the manifest and catalog from any directory. Not part of
    /// what the planner decides (an edit check ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_from: Option<MadeFrom>,
}

/// The manifest and the catalog directory a saved plan was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MadeFrom {
    /// The manifest, as an absolute path.
    pub manifest: String,
    /// The `--catalog DIR` given, as an absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
}

/// One upgrade from a release to the next required stop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hop {
    pub from: String,
    pub to: String,
    /// Why this hop exists and why it lands where it does.
    pub reasons: Vec<String>,
    /// Every release this hop crosses, oldest first (their rules all apply).
    pub crosses: Vec<String>,
    /// Compatibility notes of the crossed releases, to review.
    pub notes: Vec<ReleaseNote>,
    /// The catalog's estimate of the maintenance window.
    pub estimated_window: Option<String>,
    /// For compose installations: how upstream's compose template changes
    /// from the hop's start to its target (none when it does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_diff: Option<TemplateDiff>,
    /// For compose installations: the image of every compose service the
    /// catalog names, at the hop's start and target (what the swap writes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageChange>,
    /// For compose projects from a git checkout of upstream's repository:
    /// what merging the hop's tag brings in. Read from the checkout when
    /// the plan is shown (upshift-run `upstream`), not planned: a saved
    /// plan's copy is not compared when it is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<UpstreamChange>,
    pub steps: Vec<Step>,
}

/// One compose service's image over a hop.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageChange {
    /// The compose service name.
    pub service: String,
    /// Its image at the hop's start, when the catalog names one there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Its image at the hop's target.
    pub to: String,
}

/// A unified diff of upstream's compose template between two releases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TemplateDiff {
    /// The template of the hop's start (`/dev/null` when it has none).
    pub old: String,
    /// The template of the hop's target.
    pub new: String,
    /// `--- old` / `+++ new` and the changed lines, 3 lines of context.
    pub unified: String,
}

/// A release's compatibility notes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReleaseNote {
    pub version: String,
    pub notes: Vec<crate::catalog::Note>,
}

/// Hashes of what the plan was made from, so a saved plan can be refused
/// once the manifest or the catalog changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Fingerprint {
    pub manifest: String,
    pub catalog: String,
}

impl Fingerprint {
    pub fn of(manifest_src: &str, catalog_src: &str) -> Self {
        Fingerprint {
            manifest: sha256_hex(manifest_src.as_bytes()),
            catalog: sha256_hex(catalog_src.as_bytes()),
        }
    }
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("`{given}` is not a version of {product}: {reason}")]
    BadTarget {
        product: String,
        given: String,
        reason: String,
    },
    #[error("{product} has no release {target}; the nearest known versions are: {nearest}")]
    UnknownTarget {
        product: String,
        target: String,
        nearest: String,
    },
    #[error("refusing to downgrade from {from} to {to}: upshift only upgrades; to go back, use `upshift rollback` or `upshift restore` with a snapshot taken at {to}")]
    Downgrade { from: String, to: String },
    #[error("no upgrade path from {from} to {to}: {to} accepts upgrades only from `{accepts}`, and the newest release reachable from {from} is {furthest}")]
    NoPath {
        from: String,
        to: String,
        accepts: String,
        furthest: String,
    },
}

impl PlanError {
    /// Whether the error is the operator's input (exit 2) rather than the catalog's verdict.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, PlanError::NoPath { .. })
    }
}

/// Plans the upgrade of `loaded` to `target` (any version form the catalog accepts).
pub fn plan(loaded: &Loaded, target: &str) -> Result<Plan, PlanError> {
    let cat = &loaded.catalog;
    let to = cat
        .parse_version(target)
        .map_err(|e| PlanError::BadTarget {
            product: cat.name.clone(),
            given: target.to_string(),
            reason: e.to_string(),
        })?;
    let Ok(t) = cat.releases.binary_search_by(|r| r.version.cmp(&to)) else {
        return Err(PlanError::UnknownTarget {
            product: cat.name.clone(),
            target: to.to_string(),
            nearest: cat.nearest(&to, 3).join(", "),
        });
    };
    let s = cat
        .releases
        .binary_search_by(|r| r.version.cmp(&loaded.version))
        .expect("a loaded manifest's version is in its catalog");
    let mut plan = Plan {
        format: PLAN_FORMAT.to_string(),
        installation: loaded.manifest.installation.name.clone(),
        product: cat.product.clone(),
        from: loaded.version.to_string(),
        to: to.to_string(),
        hops: Vec::new(),
        warnings: warnings(loaded),
        fingerprint: Fingerprint::of(&loaded.source, &cat.source),
        made_from: None,
    };
    if t < s {
        return Err(PlanError::Downgrade {
            from: plan.from,
            to: plan.to,
        });
    }
    if t == s {
        return Ok(plan);
    }
    let facts: std::collections::BTreeSet<&str> =
        loaded.manifest.installation.fact_names().collect();
    let floors = path::floors(cat, &facts);
    let stops = path::find_path(cat, &floors, s, t).map_err(|np| PlanError::NoPath {
        from: plan.from.clone(),
        to: plan.to.clone(),
        accepts: cat.releases[t].upgrade_from.to_string(),
        furthest: cat.releases[np.furthest].version.to_string(),
    })?;
    let mut prev = s;
    for (n, &stop) in stops.iter().enumerate() {
        let next = stops.get(n + 1).map(|&i| &cat.releases[i]);
        let (a, b) = (&cat.releases[prev], &cat.releases[stop]);
        let crossed: Vec<_> = cat.releases[prev + 1..=stop].iter().collect();
        let mut reasons = vec![format!(
            "{} accepts upgrades from `{}`, which includes {}",
            b.version, b.upgrade_from, a.version
        )];
        match next {
            Some(c) => reasons.push(format!(
                "{} accepts upgrades only from `{}`, so the path stops at {} first",
                c.version, c.upgrade_from, b.version
            )),
            None => reasons.push(format!("{} is the target", b.version)),
        }
        if let Some(r) = next.and(
            cat.releases[..=stop]
                .iter()
                .rev()
                .take_while(|r| {
                    (r.version.major, r.version.minor) == (b.version.major, b.version.minor)
                })
                .find(|r| path::stops_for(r, &facts)),
        ) {
            let stated: Vec<&str> = r
                .stop_if
                .iter()
                .map(String::as_str)
                .filter(|f| facts.contains(f))
                .collect();
            reasons.push(format!(
                "{}.{}.x is a required stop for this installation: it states `{}`",
                b.version.major,
                b.version.minor,
                stated.join("`, `")
            ));
        }
        if crossed.len() > 1 {
            let passed = passed_over(&crossed[..crossed.len() - 1]);
            let why = if crossed.len() == 2 {
                "not a required stop; its notes and rules still apply"
            } else {
                "not required stops; their notes and rules still apply"
            };
            reasons.push(format!("passes over {} ({why})", passed.join(", ")));
        }
        let (af, bt) = (a.version.to_string(), b.version.to_string());
        plan.hops.push(Hop {
            steps: hop_steps(&crate::deploy::HopView {
                manifest: &loaded.manifest,
                catalog: &loaded.catalog,
                from: &af,
                to: &bt,
                crossed: &crossed,
            }),
            from: af,
            to: bt,
            reasons,
            crosses: crossed.iter().map(|r| r.version.to_string()).collect(),
            notes: crossed
                .iter()
                .filter(|r| !r.notes.is_empty())
                .map(|r| ReleaseNote {
                    version: r.version.to_string(),
                    notes: r.notes.clone(),
                })
                .collect(),
            estimated_window: b.window.clone(),
            template_diff: template::diff(loaded, &a.version, &b.version),
            images: images::changes(loaded, &a.version.to_string(), &b.version.to_string()),
            upstream: Vec::new(),
        });
        prev = stop;
    }
    if let (Some(last), Some(step)) = (
        plan.hops.last_mut(),
        prune_step(&loaded.manifest, &plan.from, &plan.to),
    ) {
        last.steps.push(step);
    }
    Ok(plan)
}

/// The releases a hop passes over, a minor line of three or more patches
/// as its first and last (`16.0.0 … 16.0.10`): a catalog listing every
/// patch would otherwise give a reason forty versions long.
fn passed_over(rs: &[&crate::catalog::Release]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rs.len() {
        let line = (rs[i].version.major, rs[i].version.minor);
        let n = rs[i..]
            .iter()
            .take_while(|r| (r.version.major, r.version.minor) == line)
            .count();
        if n >= 3 {
            out.push(format!("{} … {}", rs[i].version, rs[i + n - 1].version));
        } else {
            out.extend(rs[i..i + n].iter().map(|r| r.version.to_string()));
        }
        i += n;
    }
    out
}

fn warnings(loaded: &Loaded) -> Vec<String> {
    let m = &loaded.manifest;
    let mut w = Vec::new();
    if loaded
        .catalog
        .release(&loaded.version)
        .is_some_and(|r| r.unlisted)
    {
        let v = &loaded.version;
        w.push(format!(
            "{v} is not listed in the {} catalog (it lists the newest patch of each minor line): planned as a patch of {}.{}, accepting what the listed {}.{} patches accept",
            loaded.catalog.name, v.major, v.minor, v.major, v.minor
        ));
    }
    if m.services.is_empty() {
        w.push(
            "the manifest lists no services: nothing will be stopped, started or health-checked"
                .to_string(),
        );
    }
    for (name, s) in &m.services {
        if s.health.is_none() {
            w.push(format!("service `{name}` has no health check: upshift cannot prove it healthy after the upgrade (add [services.{name}.health])"));
        }
    }
    if m.stores.is_empty() {
        w.push(
            "the manifest lists no data stores: snapshots will hold the config files only"
                .to_string(),
        );
    }
    let unmanaged = images::unmanaged(loaded);
    if !unmanaged.is_empty() {
        w.push(format!(
            "the catalog names images for compose services the manifest does not list ({}): upshift leaves them as your compose files have them",
            unmanaged.join(", ")
        ));
    }
    w
}

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StalePlan {
    #[error("the manifest changed since the plan was made; make a new plan with `upshift plan --to {to} --out FILE`")]
    Manifest { to: String },
    #[error("the {product} catalog changed since the plan was made; make a new plan with `upshift plan --to {to} --out FILE`")]
    Catalog { product: String, to: String },
    #[error("the plan is for installation `{planned}`, but the manifest describes `{actual}`")]
    Installation { planned: String, actual: String },
    #[error("the saved plan is not the plan upshift makes from this manifest and catalog ({difference}); it was edited: make a new plan with `upshift plan --to {to} --out FILE` and do not edit it")]
    Edited { difference: String, to: String },
}

impl Plan {
    /// Reads a saved plan, naming the line and column of any error.
    pub fn from_json(file: &str, src: &str) -> Result<Plan, Diagnostic> {
        let plan: Plan = serde_json::from_str(src).map_err(|e| {
            let offset = offset_of(src, e.line(), e.column());
            Diagnostic::at(
                file,
                src,
                offset..offset + 1,
                format!("not a saved upshift plan: {e}"),
            )
            .with_help(
                "save plans with `upshift plan --to VERSION --out FILE` and do not edit them",
            )
        })?;
        if plan.format != PLAN_FORMAT {
            return Err(Diagnostic::file(
                file,
                format!(
                    "plan format `{}` is not supported (expected `{PLAN_FORMAT}`)",
                    plan.format
                ),
            )
            .with_help("make the plan again with this version of upshift"));
        }
        Ok(plan)
    }

    /// One short text naming this plan: the fingerprints of the manifest
    /// and catalog it was made from, and its path. Two plans with the same
    /// id do the same (a rehearsal of one counts for the other).
    pub fn id(&self) -> String {
        let path: Vec<&str> = std::iter::once(self.from.as_str())
            .chain(self.hops.iter().map(|h| h.to.as_str()))
            .collect();
        let text = format!(
            "{}\n{}\n{}",
            self.fingerprint.manifest,
            self.fingerprint.catalog,
            path.join(">")
        );
        sha256_hex(text.as_bytes())[..16].to_string()
    }

    /// Checks the plan still matches the manifest and catalog it was made from.
    pub fn check_fresh(&self, loaded: &Loaded) -> Result<(), StalePlan> {
        if self.installation != loaded.manifest.installation.name {
            return Err(StalePlan::Installation {
                planned: self.installation.clone(),
                actual: loaded.manifest.installation.name.clone(),
            });
        }
        let now = Fingerprint::of(&loaded.source, &loaded.catalog.source);
        if now.manifest != self.fingerprint.manifest {
            return Err(StalePlan::Manifest {
                to: self.to.clone(),
            });
        }
        if now.catalog != self.fingerprint.catalog {
            return Err(StalePlan::Catalog {
                product: self.product.clone(),
                to: self.to.clone(),
            });
        }
        Ok(())
    }

    /// Plans again from `loaded` and returns that plan when it is exactly
    /// this saved one; any hand edit is refused, naming the first
    /// difference. Call after [`Plan::check_fresh`].
    pub fn check_unedited(&self, loaded: &Loaded) -> Result<Plan, StalePlan> {
        let edited = |difference: String| StalePlan::Edited {
            difference,
            to: self.to.clone(),
        };
        // The target is the saved `to`; when that cannot be planned (an
        // edited target), the last hop's target names the difference.
        let planned = match plan(loaded, &self.to) {
            Ok(p) => p,
            Err(e) => match self.hops.last().filter(|h| h.to != self.to) {
                Some(last) => plan(loaded, &last.to).map_err(|_| {
                    edited(format!(
                        "`to`: saved {}, which cannot be planned: {e}",
                        self.to
                    ))
                })?,
                None => {
                    return Err(edited(format!(
                        "`to`: saved {}, which cannot be planned: {e}",
                        self.to
                    )))
                }
            },
        };
        let saved = Plan {
            made_from: None,
            hops: self
                .hops
                .iter()
                .map(|h| Hop {
                    upstream: Vec::new(),
                    ..h.clone()
                })
                .collect(),
            ..self.clone()
        };
        match edited::first_difference(&saved, &planned) {
            None => Ok(planned),
            Some(d) => Err(edited(d)),
        }
    }
}

fn offset_of(src: &str, line: usize, column: usize) -> usize {
    let start: usize = src
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(src.len())
}
