//! Compose projects kept in a git checkout of upstream's repository
//! (`[services.NAME.compose] upstream`), as Mender's upgrade guide has
//! operators keep theirs (https://docs.mender.io/3.6/server-installation/upgrading):
//! before the window the hop's tag must be there and merge without
//! conflicts; the swap merges it into the checked-out production branch
//! (the branch's commit journaled first), just before the compose
//! override names the new images; a rollback resets the branch to the
//! journaled commit. Each step is idempotent: a merge already made (or
//! made by the operator) is not made again, and a merge a crash left
//! unfinished is aborted and made again.

use std::collections::BTreeMap;

use serde_json::Value;
use upshift_core::deploy::upstream::tag;
use upshift_core::deploy::HopView;
use upshift_core::manifest::{check_tag, project_upstreams, Manifest, UpstreamTemplate};
use upshift_core::plan::MergeOutlook;

use super::{At, Cx, Deployment};
use crate::error::{StepError, StepResult};
use crate::upstream::git::Git;
use crate::upstream::merge::MergeSim;

/// Every compose project with an upstream checkout.
pub struct UpstreamCheckouts {
    /// Project → its `upstream` table.
    specs: Vec<(String, UpstreamTemplate)>,
}

/// What the swap replaces: project → the branch's commit before it.
type Heads = BTreeMap<String, String>;

impl UpstreamCheckouts {
    pub fn of(m: &Manifest) -> Option<UpstreamCheckouts> {
        let specs: Vec<(String, UpstreamTemplate)> = project_upstreams(m)
            .into_iter()
            .map(|(p, _, s)| (p, s.get_ref().clone()))
            .collect();
        (!specs.is_empty()).then_some(UpstreamCheckouts { specs })
    }
}

/// One project's checkout during a hop: the repository, the branch's
/// commit and the tag's.
struct CheckoutAt {
    git: Git,
    top: String,
    tag: String,
    tag_commit: String,
    head: String,
}

impl CheckoutAt {
    /// Opens `spec`'s checkout for hop `at`: the tag must be there.
    fn open(cx: &Cx, at: At, spec: &UpstreamTemplate) -> StepResult<CheckoutAt> {
        let git = Git::discover(cx.target, &cx.target.path(spec.checkout())).map_err(|why| {
            StepError::msg(format!("the upstream checkout: {why}")).hint(Some(
                "point `upstream.checkout` in the manifest at your clone of upstream's repository"
                    .into(),
            ))
        })?;
        let top = git.top().display().to_string();
        let view = HopView {
            manifest: &cx.loaded.manifest,
            catalog: &cx.loaded.catalog,
            from: &at.hop.from,
            to: &at.hop.to,
            crossed: &[],
        };
        let tag = tag(&view, spec);
        check_tag(&tag).map_err(StepError::msg)?;
        let fail = |e: String| StepError::msg(format!("the upstream checkout {top}: {e}"));
        let tag_commit = git
            .commit(&format!("refs/tags/{tag}"))
            .map_err(fail)?
            .ok_or_else(|| {
                StepError::msg(format!("the upstream checkout {top} has no tag `{tag}`")).hint(
                    Some(format!(
                        "fetch upstream's tags: `git -C {top} fetch origin --tags`"
                    )),
                )
            })?;
        let head = git
            .commit("HEAD")
            .map_err(fail)?
            .ok_or_else(|| fail("HEAD names no commit".into()))?;
        Ok(CheckoutAt {
            git,
            top,
            tag,
            tag_commit,
            head,
        })
    }

    fn fail(&self, e: String) -> StepError {
        StepError::msg(format!("the upstream checkout {}: {e}", self.top))
    }

    /// Whether the branch already has the tag (merged before, by upshift
    /// or by the operator).
    fn merged(&self) -> StepResult<bool> {
        self.git
            .is_ancestor(&self.tag_commit, &self.head)
            .map_err(|e| self.fail(e))
    }

    /// Refuses a merge that would conflict, or a checkout on no branch.
    fn check(&self) -> StepResult<String> {
        if self.git.branch().is_none() {
            return Err(self
                .fail("no branch is checked out (a detached HEAD)".into())
                .hint(Some(format!(
                    "check out your production branch: `git -C {} checkout production`",
                    self.top
                ))));
        }
        if self.merged()? {
            return Ok(format!(
                "{}: the branch has tag {} already",
                self.top, self.tag
            ));
        }
        self.no_uncommitted_change_in_its_way()?;
        match MergeSim::from_head(&self.head).next(&self.git, &self.tag_commit, &self.tag, None) {
            MergeOutlook::Clean => Ok(format!("{}: tag {} merges without conflicts", self.top, self.tag)),
            MergeOutlook::Conflicts { files } => Err(self
                .fail(format!("merging tag {} conflicts in {}", self.tag, files.join(", ")))
                .hint(Some(format!(
                    "merge it yourself before applying: `git -C {} merge {}`, resolve the conflicts and commit; apply then finds it merged",
                    self.top, self.tag
                )))),
            MergeOutlook::Unknown { why } => Ok(format!("{}: tag {} (conflicts not known: {why})", self.top, self.tag)),
        }
    }

    /// `git merge` refuses to overwrite an uncommitted change: find that
    /// out before the window, not at the swap.
    fn no_uncommitted_change_in_its_way(&self) -> StepResult<()> {
        let names = |revs: &[&str]| -> StepResult<Vec<String>> {
            let out = self.git.diff_names(revs).map_err(|e| self.fail(e))?;
            Ok(out.lines().map(str::to_string).collect())
        };
        let base = self
            .git
            .merge_base(&self.head, &self.tag_commit)
            .map_err(|e| self.fail(e))?;
        let Some(base) = base else { return Ok(()) };
        let merged = names(&[&base, &self.tag_commit])?;
        let hit: Vec<String> = names(&[&self.head])?
            .into_iter()
            .filter(|f| merged.contains(f))
            .collect();
        if hit.is_empty() {
            return Ok(());
        }
        Err(self
            .fail(format!(
                "uncommitted changes in {}, which merging tag {} changes",
                hit.join(", "),
                self.tag
            ))
            .hint(Some(format!(
                "commit them to the production branch (`git -C {} commit -a`) or stash them, then apply again",
                self.top
            ))))
    }

    /// Merges the tag, once: an unfinished merge is aborted first.
    fn merge(&self) -> StepResult<String> {
        if self.git.merging().map_err(|e| self.fail(e))? {
            self.git.abort_merge().map_err(|e| self.fail(e))?;
        }
        if self.merged()? {
            return Ok(format!("{} has tag {} already", self.top, self.tag));
        }
        let message = format!("Merge tag '{}' (upshift apply)", self.tag);
        self.git.merge(&self.tag_commit, &message).map_err(|e| {
            let _ = self.git.abort_merge();
            self.fail(e)
        })?;
        Ok(format!(
            "tag {} merged into the branch of {}",
            self.tag, self.top
        ))
    }
}

impl Deployment for UpstreamCheckouts {
    fn key(&self) -> &'static str {
        "upstream_checkouts"
    }

    fn preflight(&self, _cx: &Cx) -> StepResult<()> {
        if crate::proc::on_path("git") {
            Ok(())
        } else {
            Err(StepError::msg(
                "compose projects with an upstream checkout need git, which is not installed",
            )
            .hint(Some("install git (`apt-get install git`)".into())))
        }
    }

    /// The tag is there and merges without conflicts, before anything stops.
    fn prepare(&self, cx: &Cx, at: At) -> StepResult {
        let mut done = Vec::new();
        for (_, spec) in &self.specs {
            done.push(CheckoutAt::open(cx, at, spec)?.check()?);
        }
        Ok(Some(done.join("; ")))
    }

    fn record(&self, cx: &Cx, at: At) -> StepResult<Option<Value>> {
        let mut heads = Heads::new();
        for (project, spec) in &self.specs {
            heads.insert(project.clone(), CheckoutAt::open(cx, at, spec)?.head);
        }
        Ok(Some(
            serde_json::to_value(heads).expect("strings serialise"),
        ))
    }

    fn swap(&self, cx: &Cx, at: At, _record: Option<&Value>) -> StepResult {
        let mut done = Vec::new();
        for (_, spec) in &self.specs {
            done.push(CheckoutAt::open(cx, at, spec)?.merge()?);
        }
        Ok(Some(done.join("; ")))
    }

    /// The branch back to the commit the swap journaled.
    fn roll_back(&self, cx: &Cx, version: &str, record: Option<&Value>) -> StepResult<()> {
        let Some(record) = record else { return Ok(()) };
        let heads: Heads = serde_json::from_value(record.clone()).map_err(|e| {
            StepError::msg(format!("the journaled upstream commits are unreadable ({e}); reset the branch by hand (`upshift history` shows them)"))
        })?;
        for (project, spec) in &self.specs {
            let Some(commit) = heads.get(project) else {
                continue;
            };
            let git = Git::discover(cx.target, &cx.target.path(spec.checkout()))
                .map_err(StepError::msg)?;
            let fail = |e: String| {
                StepError::msg(format!(
                    "the upstream checkout {}: {e}",
                    git.top().display()
                ))
            };
            if git.merging().map_err(fail)? {
                git.abort_merge().map_err(fail)?;
            }
            if git.commit("HEAD").map_err(fail)?.as_deref() == Some(commit.as_str()) {
                continue;
            }
            cx.progress.note(&format!(
                "rollback: the branch of {} back to {commit} ({version})",
                git.top().display()
            ));
            git.reset_keep(commit).map_err(|e| {
                fail(e).hint(Some(format!(
                    "reset it by hand: `git -C {} reset --keep {commit}`",
                    git.top().display()
                )))
            })?;
        }
        Ok(())
    }
}
