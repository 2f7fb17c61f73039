//! The git commands a plan asks of an upstream checkout, each bounded in
//! time and run on the installation's host. Revisions reach git only as
//! object ids, `HEAD` or `refs/tags/NAME` of a checked tag name, after
//! `--end-of-options`; paths after `--`, literally (`--literal-pathspecs`).

use std::path::{Path, PathBuf};

use crate::host::{q, Host, Target};
use crate::proc::Output;

/// How long one git command may take.
const LIMIT_SECS: u64 = 120;

/// A git repository on the installation's host, named by its top directory.
pub struct Git {
    host: Host,
    top: PathBuf,
}

/// The result of a git command that ran.
pub type Ran = std::io::Result<Output>;

impl Git {
    /// The repository holding `dir` (on `target`'s host), or why not:
    /// the directory is missing, or no git checkout holds it.
    pub fn discover(target: &Target, dir: &Path) -> Result<Git, String> {
        if !target.host.is_dir(dir) {
            return Err(format!("{} is not a directory", dir.display()));
        }
        let probe = Git {
            host: target.host.clone(),
            top: dir.to_path_buf(),
        };
        let out = probe
            .run(&["rev-parse", "--show-toplevel"])
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.ok {
            return Err(format!(
                "{} is not in a git checkout ({})",
                dir.display(),
                out.stderr.trim()
            ));
        }
        Ok(Git {
            host: target.host.clone(),
            top: PathBuf::from(out.stdout.trim()),
        })
    }

    /// The repository's top directory.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// Runs `git -C TOP ARGS`, stopped after [`LIMIT_SECS`].
    pub fn run(&self, args: &[&str]) -> Ran {
        let mut cmd = format!(
            "exec timeout -k 5 {LIMIT_SECS} git -C {} -c core.quotepath=off --literal-pathspecs",
            q(&self.top)
        );
        for a in args {
            cmd.push(' ');
            cmd.push_str(&q(a));
        }
        let env = [
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GIT_OPTIONAL_LOCKS", "0"),
            ("LC_ALL", "C"),
        ];
        self.host.sh(&cmd, &self.top, &env)
    }

    /// Runs a command that must succeed; its stdout, or git's words.
    pub fn output(&self, args: &[&str]) -> Result<String, String> {
        let shown = format!("git {}", args.join(" "));
        match self.run(args) {
            Ok(o) if o.ok => Ok(o.stdout),
            Ok(o) => Err(format!("`{shown}` failed: {}", o.stderr.trim())),
            Err(e) => Err(format!("cannot run `{shown}`: {e}")),
        }
    }

    /// The commit `rev` names (`HEAD`, `refs/tags/NAME`), if any.
    pub fn commit(&self, rev: &str) -> Result<Option<String>, String> {
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .run(&[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .map_err(|e| format!("cannot run git: {e}"))?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    }

    /// The best common ancestor of two commits, if they have one.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, String> {
        let out = self
            .run(&["merge-base", "--end-of-options", a, b])
            .map_err(|e| format!("cannot run git: {e}"))?;
        match out.code {
            Some(0) => Ok(Some(out.stdout.trim().to_string())),
            Some(1) => Ok(None),
            _ => Err(format!("`git merge-base` failed: {}", out.stderr.trim())),
        }
    }

    /// `git diff` between two object ids over `paths`, with `extra` options.
    pub fn diff(
        &self,
        extra: &[&str],
        a: &str,
        b: &str,
        paths: &[String],
    ) -> Result<String, String> {
        let mut args = vec!["diff", "--no-color", "--no-ext-diff", "--no-textconv"];
        args.extend_from_slice(extra);
        args.extend(["--end-of-options", a, b, "--"]);
        args.extend(paths.iter().map(String::as_str));
        self.output(&args)
    }

    /// Whether commit `a` is `b` or an ancestor of it.
    pub fn is_ancestor(&self, a: &str, b: &str) -> Result<bool, String> {
        let out = self
            .run(&["merge-base", "--is-ancestor", "--end-of-options", a, b])
            .map_err(|e| format!("cannot run git: {e}"))?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(format!(
                "`git merge-base --is-ancestor` failed: {}",
                out.stderr.trim()
            )),
        }
    }

    /// Whether a merge was left unfinished (`MERGE_HEAD` exists).
    pub fn merging(&self) -> Result<bool, String> {
        Ok(self.commit("MERGE_HEAD")?.is_some())
    }

    /// The branch checked out (`refs/heads/…`), if any.
    pub fn branch(&self) -> Option<String> {
        self.output(&["symbolic-ref", "--quiet", "HEAD"])
            .ok()
            .map(|b| b.trim().to_string())
    }

    /// `git merge` of commit `commit` with `message`, committing as the
    /// repository's user or, when it names none, as upshift.
    pub fn merge(&self, commit: &str, message: &str) -> Result<String, String> {
        let named = self
            .output(&["config", "--get", "user.email"])
            .is_ok_and(|e| !e.trim().is_empty());
        let mut args = Vec::new();
        if !named {
            args.extend([
                "-c",
                "user.name=upshift",
                "-c",
                "user.email=upshift@localhost",
            ]);
        }
        args.extend([
            "merge",
            "--no-edit",
            "-m",
            message,
            "--end-of-options",
            commit,
        ]);
        self.output(&args)
    }

    /// `git merge --abort`.
    pub fn abort_merge(&self) -> Result<String, String> {
        self.output(&["merge", "--abort"])
    }

    /// `git reset --keep COMMIT`: the branch back to `commit`, keeping
    /// uncommitted changes (refused when one is in a file that differs).
    pub fn reset_keep(&self, commit: &str) -> Result<String, String> {
        self.output(&["reset", "--keep", "--end-of-options", commit])
    }

    /// `git diff --name-only` against one commit (the working tree's
    /// tracked files) or between two.
    pub fn diff_names(&self, revs: &[&str]) -> Result<String, String> {
        let mut args = vec!["diff", "--name-only", "--no-ext-diff", "--end-of-options"];
        args.extend_from_slice(revs);
        args.push("--");
        self.output(&args)
    }

    /// `git --version`'s text (`git version 2.47.3`).
    pub fn version(&self) -> String {
        self.output(&["--version"])
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|e| e)
    }
}
