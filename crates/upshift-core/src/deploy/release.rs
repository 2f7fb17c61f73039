//! Releases side by side (`[release]`): the new one installed beside the
//! old, `carry` copied over and the link flipped in the swap.

use super::HopView;

pub fn swap_text(hop: &HopView) -> String {
    let (from, to) = (hop.from, hop.to);
    match &hop.manifest.release {
        Some(r) if !r.carry.is_empty() => {
            let carry: Vec<&str> = r.carry.iter().map(|c| c.get_ref().as_str()).collect();
            format!(
                "switch the installation from {from} to {to}: copy {} from {dir}/{from} into {dir}/{to}, then point `{}` at {dir}/{to}",
                carry.join(", "),
                r.link,
                dir = r.dir
            )
        }
        _ => format!("switch the installation from {from} to {to}"),
    }
}

/// The last hop's prune step.
pub fn prune_text(dir: &str, run_from: &str, run_to: &str) -> String {
    format!("keep {dir}/{run_to} and {dir}/{run_from} (for rollback); remove older releases under {dir}/")
}
