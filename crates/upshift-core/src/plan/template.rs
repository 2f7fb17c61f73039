//! The change of upstream's compose template over a hop (Mender's Docker Compose installation: the
//! operator's compose files are upstream's plus production overrides, so
//! the operator merges what upstream changed).

use semver::Version;
use similar::TextDiff;

use super::TemplateDiff;
use crate::manifest::Loaded;

/// The diff of the catalog's compose template from release `from` to `to`,
/// for installations with compose services; `None` when the manifest has
/// none, the catalog has no templates, or the template did not change.
pub fn diff(loaded: &Loaded, from: &Version, to: &Version) -> Option<TemplateDiff> {
    if !loaded
        .manifest
        .services
        .values()
        .any(|s| s.compose().is_some())
    {
        return None;
    }
    let cat = &loaded.catalog;
    let (old, new) = (cat.compose_template_for(from), cat.compose_template_for(to));
    let new = new?;
    let (old_path, old_text) = old.map_or(("/dev/null", ""), |t| (t.path.as_str(), &t.text));
    if old_text == new.text {
        return None;
    }
    let unified = TextDiff::from_lines(old_text, &new.text)
        .unified_diff()
        .context_radius(3)
        .header(old_path, &new.path)
        .missing_newline_hint(true)
        .to_string();
    Some(TemplateDiff {
        old: old_path.to_string(),
        new: new.path.clone(),
        unified,
    })
}
