//! A fleet's plan: each installation's own plan and the rollout order.

use serde::Serialize;

use super::{Fleet, OnFailure, Wave};
use crate::plan::Plan;

/// What `fleet plan` shows and `fleet apply` follows.
#[derive(Debug, Clone, Serialize)]
pub struct FleetPlan {
    /// The fleet file, as named.
    pub fleet: String,
    pub max_parallel: u32,
    pub max_failures: u32,
    pub pause_s: Option<f64>,
    pub on_failure: OnFailure,
    /// Before any installation stops: every one is backed up and the
    /// backup verified.
    pub first: String,
    pub waves: Vec<Wave>,
    /// Every installation's own plan, in the fleet file's order.
    pub installations: Vec<MemberPlan>,
}

/// One installation's plan within the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct MemberPlan {
    pub name: String,
    /// Its manifest, as the fleet file names it.
    pub manifest: String,
    pub plan: Plan,
}

impl FleetPlan {
    /// The fleet's plan from its members' plans (in the fleet's order).
    pub fn new(file: &str, fleet: &Fleet, installations: Vec<MemberPlan>) -> Self {
        let r = &fleet.rollout;
        FleetPlan {
            fleet: file.to_string(),
            max_parallel: *r.max_parallel.get_ref(),
            max_failures: r.max_failures,
            pause_s: r.pause.map(|p| p.duration().as_secs_f64()),
            on_failure: r.on_failure,
            first: format!(
                "back up every installation ({}) and verify each backup before any stops",
                installations.len()
            ),
            waves: super::waves(fleet),
            installations,
        }
    }

    /// The plan of installation `name`.
    pub fn member(&self, name: &str) -> Option<&MemberPlan> {
        self.installations.iter().find(|m| m.name == name)
    }
}
