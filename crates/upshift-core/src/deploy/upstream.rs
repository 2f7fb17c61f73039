//! A compose project kept in a git checkout of upstream's repository
//! (`[services.NAME.compose] upstream`): the swap merges the hop's tag
//! into the production branch, as Mender's upgrade guide has operators do
//! by hand (https://docs.mender.io/3.6/server-installation/upgrading).

use super::HopView;
use crate::manifest::project_upstreams;

/// The tag the hop's target release has in `spec`'s repository.
pub fn tag(hop: &HopView, spec: &crate::manifest::UpstreamTemplate) -> String {
    let release = hop
        .catalog
        .parse_version(hop.to)
        .ok()
        .and_then(|v| hop.catalog.release(&v));
    match release {
        Some(r) => spec.tag_for(r),
        None => hop.to.to_string(),
    }
}

pub fn swap_text(hop: &HopView) -> Option<String> {
    let parts: Vec<String> = project_upstreams(hop.manifest)
        .into_iter()
        .map(|(project, _, spec)| {
            let spec = spec.get_ref();
            format!(
                "merge tag {} into the checked-out branch of {} (compose project {project}; its commit is journaled, a rollback resets the branch to it)",
                tag(hop, spec),
                spec.checkout()
            )
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
