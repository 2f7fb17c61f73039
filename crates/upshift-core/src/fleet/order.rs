//! The order of a rollout: dependency levels (an installation after every
//! installation it uses), each level cut into waves of at most
//! `max_parallel`, the canary alone first in its level.

use serde::Serialize;

use super::Fleet;

/// Installations upgraded together; the next wave starts when this one
/// has finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wave {
    /// 0 for installations that use none of the others, else one more than
    /// the highest level of those they use.
    pub level: usize,
    pub installations: Vec<String>,
    /// Why these, and why now.
    pub reasons: Vec<String>,
}

/// The fleet's waves, in rollout order. The fleet is acyclic (checked by
/// [`super::parse_fleet`]).
pub fn waves(fleet: &Fleet) -> Vec<Wave> {
    let levels = levels(fleet);
    let deepest = levels.iter().copied().max().unwrap_or(0);
    let mut out = Vec::new();
    for level in 0..=deepest {
        let mut members: Vec<&str> = fleet
            .installations
            .keys()
            .zip(&levels)
            .filter(|(_, l)| **l == level)
            .map(|(n, _)| n.as_str())
            .collect();
        // Within a level, those others use first: their users wait for them.
        members.sort_by_key(|n| fleet.users_of(n).next().is_none());
        out.extend(level_waves(fleet, level, members));
    }
    out
}

/// Each installation's level, in the fleet's order (Kahn's algorithm, so a
/// long chain needs no recursion).
fn levels(fleet: &Fleet) -> Vec<usize> {
    let n = fleet.installations.len();
    let index = |name: &str| fleet.installations.get_index_of(name);
    let mut waiting: Vec<usize> = fleet.installations.values().map(|m| m.uses.len()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, m) in fleet.installations.values().enumerate() {
        for u in &m.uses {
            if let Some(j) = index(u.get_ref()) {
                users[j].push(i);
            }
        }
    }
    let mut level = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    while let Some(i) = ready.pop() {
        for &u in &users[i] {
            level[u] = level[u].max(level[i] + 1);
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(u);
            }
        }
    }
    level
}

fn level_waves(fleet: &Fleet, level: usize, mut members: Vec<&str>) -> Vec<Wave> {
    let mut out = Vec::new();
    let canary = fleet.rollout.canary.as_ref().map(|c| c.get_ref().as_str());
    if let Some(c) = canary.filter(|c| members.contains(c)) {
        members.retain(|m| *m != c);
        let mut reasons = vec![format!(
            "{c} is the canary: upgraded alone, before the rest of its level"
        )];
        reasons.extend(member_reasons(fleet, c));
        out.push(Wave {
            level,
            installations: vec![c.to_string()],
            reasons,
        });
    }
    let width = *fleet.rollout.max_parallel.get_ref() as usize;
    let cut = members.len() > width;
    for chunk in members.chunks(width) {
        let mut reasons: Vec<String> = chunk
            .iter()
            .flat_map(|m| member_reasons(fleet, m))
            .collect();
        if cut {
            reasons.push(if width == 1 {
                "one at a time (max_parallel = 1)".to_string()
            } else {
                format!("at most {width} at once (max_parallel = {width})")
            });
        }
        out.push(Wave {
            level,
            installations: chunk.iter().map(|m| m.to_string()).collect(),
            reasons,
        });
    }
    out
}

/// "auth first: notes-a, notes-b use it"; "notes-a after auth: it uses it".
fn member_reasons(fleet: &Fleet, name: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    let users: Vec<&str> = fleet.users_of(name).collect();
    if !users.is_empty() {
        let verb = if users.len() == 1 { "uses" } else { "use" };
        reasons.push(format!("{name} first: {} {verb} it", users.join(", ")));
    }
    let uses: Vec<&str> = fleet.installations[name]
        .uses
        .iter()
        .map(|u| u.get_ref().as_str())
        .collect();
    if !uses.is_empty() {
        let them = if uses.len() == 1 { "it" } else { "them" };
        reasons.push(format!(
            "{name} after {}: it uses {them}, and needs {them} up when it restarts",
            uses.join(", ")
        ));
    }
    reasons
}
