//! Unified diffs of a migration, masked.

use similar::TextDiff;

use crate::secret::Masker;

/// A unified diff from `old` to `new` (empty when equal), secrets masked.
pub fn unified(file: &str, old: &str, new: &str, masker: &Masker) -> String {
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .missing_newline_hint(true)
        .to_string();
    masker.mask(&text)
}
