//! What a hop's merge of upstream's tag brings into a compose project's
//! files, for projects whose files come from a git checkout of upstream's
//! repository (`[services.NAME.compose] upstream`). The planner is pure:
//! upshift-run reads the checkout and fills [`Hop::upstream`](super::Hop).

use serde::{Deserialize, Serialize};

/// One project's upstream change over a hop: `git diff FROM...TAG -- PATHS`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpstreamChange {
    /// The compose project.
    pub project: String,
    /// The checkout's top directory.
    pub repository: String,
    /// Where the hop starts in the checkout: `HEAD` (the production
    /// branch) for the first hop, the previous hop's tag after it.
    pub from: String,
    /// The hop's target tag.
    pub tag: String,
    /// The paths the diff covers (empty: the whole repository).
    pub paths: Vec<String>,
    /// The command that shows this diff, for the operator (`git -C TOP diff …`).
    pub command: String,
    /// The files upstream changed, with lines added and removed.
    pub files: Vec<FileChange>,
    /// The unified diff (what the merge brings in; the branch's own
    /// changes are not in it: they are kept by the merge).
    pub diff: String,
    /// The commits on the production branch that the tag does not have
    /// (the operator's changes), and the files they change: the merge
    /// keeps them. Filled for the first hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalChanges>,
    /// Whether `git merge TAG` would conflict.
    pub merge: MergeOutlook,
}

/// The production branch's own commits since it left upstream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalChanges {
    pub commits: u64,
    pub files: Vec<String>,
}

/// One file of an upstream diff.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// Lines added and removed (`None` for a binary file).
    pub added: Option<u64>,
    pub removed: Option<u64>,
}

/// What `git merge TAG` on the production branch would do, as
/// `git merge-tree --write-tree` tells (git 2.38 or newer).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeOutlook {
    /// It merges without conflicts.
    Clean,
    /// These files conflict: resolve them when merging.
    Conflicts { files: Vec<String> },
    /// It cannot be told (an old git, or an earlier hop conflicts).
    Unknown { why: String },
}

impl UpstreamChange {
    /// Lines added and removed over every file.
    pub fn lines(&self) -> (u64, u64) {
        self.files.iter().fold((0, 0), |(a, r), f| {
            (a + f.added.unwrap_or(0), r + f.removed.unwrap_or(0))
        })
    }
}
