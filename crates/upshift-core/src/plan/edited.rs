//! A saved plan is applied only when it is exactly the plan the planner
//! makes now from the same manifest and catalog: a hand edit (a different
//! target, a removed backup step, a cleared point-of-no-return flag, a
//! deleted hop) is refused, naming the first difference.

use super::{Hop, Plan, Step};

/// The first difference between a saved plan and the plan made now, in
/// words an operator can act on; `None` when they are equal.
pub fn first_difference(saved: &Plan, planned: &Plan) -> Option<String> {
    if saved == planned {
        return None;
    }
    let fields = [
        ("format", &saved.format, &planned.format),
        ("installation", &saved.installation, &planned.installation),
        ("product", &saved.product, &planned.product),
        ("from", &saved.from, &planned.from),
        ("to", &saved.to, &planned.to),
    ];
    for (name, s, p) in fields {
        if s != p {
            return Some(format!("`{name}`: saved {s}, planned {p}"));
        }
    }
    let hops = saved.hops.len().max(planned.hops.len());
    for i in 0..hops {
        let n = i + 1;
        match (saved.hops.get(i), planned.hops.get(i)) {
            (Some(s), Some(p)) => {
                if let Some(d) = hop_difference(s, p, saved.hops.len() < planned.hops.len()) {
                    return Some(format!("hop {n}{d}"));
                }
            }
            (None, Some(p)) => {
                return Some(format!(
                    "the saved plan has no hop {n} ({} → {})",
                    p.from, p.to
                ))
            }
            (Some(s), None) => {
                return Some(format!(
                    "hop {n} ({} → {}) of the saved plan is not in the plan",
                    s.from, s.to
                ))
            }
            (None, None) => unreachable!("i is below the longer length"),
        }
    }
    if saved.warnings != planned.warnings {
        return Some("the warnings differ from the planner's".to_string());
    }
    if saved.fingerprint != planned.fingerprint {
        return Some("the fingerprint differs from the planner's".to_string());
    }
    Some("the saved plan differs from the planner's".to_string())
}

/// How hop `s` (saved) differs from hop `p` (planned), as text to follow
/// `hop N`. `fewer` says the saved plan has fewer hops than the planner's.
fn hop_difference(s: &Hop, p: &Hop, fewer: bool) -> Option<String> {
    if (&s.from, &s.to) != (&p.from, &p.to) {
        return Some(if fewer {
            format!(
                ": the saved plan has no hop {} → {} (it goes {} → {})",
                p.from, p.to, s.from, s.to
            )
        } else {
            format!(
                ": saved {} → {}, planned {} → {}",
                s.from, s.to, p.from, p.to
            )
        });
    }
    let steps = s.steps.len().max(p.steps.len());
    for j in 0..steps {
        let n = j + 1;
        match (s.steps.get(j), p.steps.get(j)) {
            (Some(a), Some(b)) => {
                if let Some(d) = step_difference(a, b, s, p) {
                    return Some(format!(" step {n}{d}"));
                }
            }
            (None, Some(b)) => return Some(format!(" step {n}: the saved plan has no `{}`", b.id)),
            (Some(a), None) => {
                return Some(format!(" step {n}: `{}` is not a step of the plan", a.id))
            }
            (None, None) => unreachable!("j is below the longer length"),
        }
    }
    let parts: [(&str, bool); 6] = [
        ("reasons", s.reasons != p.reasons),
        ("crossed releases", s.crosses != p.crosses),
        ("notes", s.notes != p.notes),
        ("estimated window", s.estimated_window != p.estimated_window),
        ("template diff", s.template_diff != p.template_diff),
        ("images", s.images != p.images),
    ];
    parts
        .iter()
        .find(|(_, differs)| *differs)
        .map(|(what, _)| format!(": the {what} differ from the planner's"))
}

/// How step `a` (saved) differs from step `b` (planned) at the same place
/// of hops `s` and `p`, as text to follow `step N`.
fn step_difference(a: &Step, b: &Step, s: &Hop, p: &Hop) -> Option<String> {
    if a.id != b.id {
        let saved_has = s.steps.iter().any(|x| x.id == b.id);
        let planned_has = p.steps.iter().any(|x| x.id == a.id);
        return Some(match (saved_has, planned_has) {
            (false, _) => format!(": the saved plan has no `{}`", b.id),
            (true, false) => format!(": `{}` is not a step of the plan", a.id),
            (true, true) => format!(
                ": saved `{}`, planned `{}` (the steps are out of order)",
                a.id, b.id
            ),
        });
    }
    let id = &a.id;
    if a.point_of_no_return != b.point_of_no_return {
        let how = if b.point_of_no_return {
            "cleared"
        } else {
            "set"
        };
        return Some(format!(" ({id}): point_of_no_return {how}"));
    }
    if a.kind != b.kind {
        return Some(format!(
            " ({id}): kind saved {:?}, planned {:?}",
            a.kind, b.kind
        ));
    }
    if a.description != b.description {
        return Some(format!(
            " ({id}): description saved \"{}\", planned \"{}\"",
            a.description, b.description
        ));
    }
    None
}
