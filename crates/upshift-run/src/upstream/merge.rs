//! Whether `git merge TAG` on the production branch would conflict, hop
//! after hop, told by `git merge-tree --write-tree` (git 2.38 or newer):
//! it merges in memory and writes only unreferenced objects; no branch,
//! index or working file changes.

use upshift_core::plan::MergeOutlook;

use super::git::Git;

/// The merge of each hop's tag into the result of the previous one.
pub struct MergeSim {
    /// What the next merge starts from: the branch's commit, then the
    /// tree the previous merge gave; or why it cannot be told.
    ours: Result<String, String>,
    /// Whether `ours` is a tree (needs an explicit merge base).
    is_tree: bool,
}

impl MergeSim {
    /// Starting from the production branch's commit `head`.
    pub fn from_head(head: &str) -> MergeSim {
        MergeSim {
            ours: Ok(head.to_string()),
            is_tree: false,
        }
    }

    /// Merges commit `tag` (named `tag_name`), whose merge base with the
    /// previous hop is `base`.
    pub fn next(
        &mut self,
        git: &Git,
        tag: &str,
        tag_name: &str,
        base: Option<&str>,
    ) -> MergeOutlook {
        let ours = match &self.ours {
            Ok(o) => o.clone(),
            Err(why) => return MergeOutlook::Unknown { why: why.clone() },
        };
        let merge_base = base.map(|b| format!("--merge-base={b}"));
        let mut args = vec!["merge-tree", "--write-tree", "--name-only", "--no-messages"];
        if self.is_tree {
            match &merge_base {
                Some(m) => args.push(m),
                None => {
                    return self.unknown(format!(
                        "{tag_name} shares no history with the previous tag"
                    ))
                }
            }
        }
        args.extend(["--end-of-options", &ours, tag]);
        let out = match git.run(&args) {
            Ok(o) => o,
            Err(e) => return self.unknown(format!("cannot run git: {e}")),
        };
        let mut lines = out.stdout.lines();
        let tree = lines.next().unwrap_or_default().trim().to_string();
        match out.code {
            Some(0) => {
                self.ours = Ok(tree);
                self.is_tree = true;
                MergeOutlook::Clean
            }
            Some(1) => {
                let mut files: Vec<String> = lines
                    .take_while(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                files.dedup();
                self.ours = Err(format!(
                    "merging {tag_name} conflicts first: the later merges can be told once it is resolved"
                ));
                MergeOutlook::Conflicts { files }
            }
            _ => self.unknown(format!(
                "{} cannot tell (`git merge-tree --write-tree` needs git 2.38 or newer, and 2.45 or newer after a first hop): {}",
                git.version(),
                out.stderr.trim()
            )),
        }
    }

    fn unknown(&mut self, why: String) -> MergeOutlook {
        self.ours = Err(why.clone());
        MergeOutlook::Unknown { why }
    }
}
