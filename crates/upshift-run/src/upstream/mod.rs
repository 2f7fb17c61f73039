//! A compose project whose files come from a git checkout of upstream's
//! repository (`[services.NAME.compose] upstream`), kept on a production
//! branch as Mender's upgrade guide describes
//! (https://docs.mender.io/3.6/server-installation/upgrading): per hop,
//! what `git merge TAG` brings into the files under `paths` (`git diff
//! FROM...TAG`, FROM being the branch for the first hop and the previous
//! hop's tag after it), the branch's own commits the merge keeps, and
//! whether the merge conflicts. Reads the checkout; changes nothing in it.

pub(crate) mod git;
pub(crate) mod merge;

use toml::Spanned;
use upshift_core::catalog::Release;
use upshift_core::manifest::{check_tag, project_upstreams, UpstreamTemplate};
use upshift_core::plan::{FileChange, LocalChanges, UpstreamChange};
use upshift_core::{Diagnostic, Loaded, Plan};

use crate::Target;
use git::Git;
use merge::MergeSim;

/// Why a plan's upstream diff could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The manifest's `upstream` does not match the checkout (not a git
    /// checkout, a tag not fetched): bad input, at its line.
    #[error("{0}")]
    Input(Box<Diagnostic>),
    /// git failed on a checkout that is there.
    #[error("the upstream checkout {repository}: {message}")]
    Git { repository: String, message: String },
}

/// Fills every hop's `upstream` from the checkouts the manifest names.
pub fn upstream_preview(
    loaded: &Loaded,
    target: &Target,
    plan: &mut Plan,
) -> Result<(), UpstreamError> {
    if plan.hops.is_empty() {
        return Ok(());
    }
    let targets = plan_targets(loaded, &plan.hops);
    for (project, _, spec) in project_upstreams(&loaded.manifest) {
        let checkout = Checkout::open(loaded, target, &project, spec)?;
        for (hop, change) in plan.hops.iter_mut().zip(checkout.changes(&targets)?) {
            hop.upstream.push(change);
        }
    }
    Ok(())
}

/// The release each hop lands on.
fn plan_targets<'a>(loaded: &'a Loaded, hops: &[upshift_core::plan::Hop]) -> Vec<&'a Release> {
    hops.iter()
        .filter_map(|h| loaded.catalog.parse_version(&h.to).ok())
        .filter_map(|v| loaded.catalog.release(&v))
        .collect()
}

/// One project's upstream checkout, opened.
struct Checkout<'a> {
    loaded: &'a Loaded,
    project: String,
    spec: &'a Spanned<UpstreamTemplate>,
    git: Git,
}

impl<'a> Checkout<'a> {
    /// Finds the repository of `spec`'s `checkout`, or says at its line
    /// that there is none.
    fn open(
        loaded: &'a Loaded,
        target: &Target,
        project: &str,
        spec: &'a Spanned<UpstreamTemplate>,
    ) -> Result<Checkout<'a>, UpstreamError> {
        let u = spec.get_ref();
        let dir = target.path(u.checkout());
        let git = Git::discover(target, &dir).map_err(|why| {
            input(loaded, u.checkout.as_ref().map_or(spec.span(), Spanned::span),
                format!("the upstream checkout of compose project `{project}`: {why}"),
                format!("point `checkout` (relative to {}) at your clone of upstream's repository, the production branch checked out, e.g. `git clone https://github.com/mendersoftware/integration.git` then `git checkout -b production 3.6.3`", target.dir.display()))
        })?;
        Ok(Checkout {
            loaded,
            project: project.to_string(),
            spec,
            git,
        })
    }

    /// The change of each hop landing on `targets`, in order.
    fn changes(&self, targets: &[&Release]) -> Result<Vec<UpstreamChange>, UpstreamError> {
        let head = self.commit("HEAD")?.ok_or_else(|| {
            self.git_error("HEAD names no commit: check out the production branch".into())
        })?;
        let mut sim = MergeSim::from_head(&head);
        let (mut from_name, mut from) = ("HEAD".to_string(), head.clone());
        let mut out = Vec::with_capacity(targets.len());
        for (i, release) in targets.iter().enumerate() {
            let tag = self.tag_of(release)?;
            let to = self.tag_commit(&tag)?;
            let base = self
                .git
                .merge_base(&from, &to)
                .map_err(|e| self.git_error(e))?;
            let merge = sim.next(&self.git, &to, &tag, base.as_deref());
            let local = if i == 0 {
                Some(self.local(&head, &to, base.as_deref())?)
            } else {
                None
            };
            out.push(self.change(
                &from_name,
                base.as_deref().unwrap_or(&from),
                &tag,
                &to,
                local,
                merge,
            )?);
            (from_name, from) = (tag, to);
        }
        Ok(out)
    }

    /// The diff `base → to` as the hop's change.
    fn change(
        &self,
        from_name: &str,
        base: &str,
        tag: &str,
        to: &str,
        local: Option<LocalChanges>,
        merge: upshift_core::plan::MergeOutlook,
    ) -> Result<UpstreamChange, UpstreamError> {
        let paths = self.spec.get_ref().path_list();
        let numstat = self
            .git
            .diff(&["--numstat"], base, to, &paths)
            .map_err(|e| self.git_error(e))?;
        let diff = self
            .git
            .diff(&["--unified=3"], base, to, &paths)
            .map_err(|e| self.git_error(e))?;
        let shown_paths = if paths.is_empty() {
            String::new()
        } else {
            format!(" -- {}", paths.join(" "))
        };
        Ok(UpstreamChange {
            project: self.project.clone(),
            repository: self.git.top().display().to_string(),
            from: from_name.to_string(),
            tag: tag.to_string(),
            paths,
            command: format!(
                "git -C {} diff {from_name}...{tag}{shown_paths}",
                shell_word(&self.git.top().display().to_string())
            ),
            files: numstat.lines().filter_map(file_change).collect(),
            diff,
            local,
            merge,
        })
    }

    /// The branch's own commits (those `to` lacks) and the files they
    /// change since it left upstream.
    fn local(
        &self,
        head: &str,
        to: &str,
        base: Option<&str>,
    ) -> Result<LocalChanges, UpstreamError> {
        let range = format!("{to}..{head}");
        let count = self
            .git
            .output(&["rev-list", "--count", "--end-of-options", &range])
            .map_err(|e| self.git_error(e))?;
        let files = match base {
            Some(b) => self
                .git
                .diff(&["--name-only"], b, head, &[])
                .map_err(|e| self.git_error(e))?,
            None => String::new(),
        };
        Ok(LocalChanges {
            commits: count.trim().parse().unwrap_or(0),
            files: files.lines().map(str::to_string).collect(),
        })
    }

    /// `release`'s tag, checked to be a plain tag name.
    fn tag_of(&self, release: &Release) -> Result<String, UpstreamError> {
        let u = self.spec.get_ref();
        let tag = u.tag_for(release);
        check_tag(&tag).map_err(|why| {
            let at = u.tag.as_ref().map_or(self.spec.span(), Spanned::span);
            input(self.loaded, at, format!("the upstream tag of {}: {why}", release.version),
                "write the tag form with `{version}` in `tag`, or correct the release's `upstream_tag` in the catalog".to_string())
        })?;
        Ok(tag)
    }

    /// The commit of tag `tag`, or, at the manifest's line, the fetch to run.
    fn tag_commit(&self, tag: &str) -> Result<String, UpstreamError> {
        let top = self.git.top().display().to_string();
        self.commit(&format!("refs/tags/{tag}"))?.ok_or_else(|| {
            let u = self.spec.get_ref();
            let at = u.tag.as_ref().or(u.checkout.as_ref()).map_or(self.spec.span(), Spanned::span);
            input(self.loaded, at, format!("the upstream checkout {top} has no tag `{tag}`"),
                format!("fetch upstream's tags: `git -C {top} fetch origin --tags`; if upstream tags its releases otherwise, set `tag` (e.g. `tag = \"v{{version}}\"`)"))
        })
    }

    fn commit(&self, rev: &str) -> Result<Option<String>, UpstreamError> {
        self.git.commit(rev).map_err(|e| self.git_error(e))
    }

    fn git_error(&self, message: String) -> UpstreamError {
        UpstreamError::Git {
            repository: self.git.top().display().to_string(),
            message,
        }
    }
}

/// `word` as one shell word: as it is when plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A line of `git diff --numstat`: added, removed, path (`-` for binary).
fn file_change(line: &str) -> Option<FileChange> {
    let mut parts = line.splitn(3, '\t');
    let (added, removed, path) = (parts.next()?, parts.next()?, parts.next()?);
    Some(FileChange {
        path: path.to_string(),
        added: added.parse().ok(),
        removed: removed.parse().ok(),
    })
}

/// A diagnostic at `span` of the manifest.
fn input(
    loaded: &Loaded,
    span: std::ops::Range<usize>,
    message: String,
    help: String,
) -> UpstreamError {
    UpstreamError::Input(Box::new(
        Diagnostic::at(&loaded.file, &loaded.source, span, message).with_help(help),
    ))
}
