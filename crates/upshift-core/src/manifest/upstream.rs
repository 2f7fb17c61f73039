//! `[services.NAME.compose] upstream = { … }`: the compose files of a
//! project come from a git checkout of upstream's repository, kept on a
//! production branch with the operator's changes committed (Mender's
//! integration repository: https://docs.mender.io/3.6/server-installation/upgrading).
//! Every release is a tag there; `upshift plan` shows, per hop, what
//! merging the hop's tag brings into the files under `paths`.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::model::Manifest;
use crate::catalog::Release;
use crate::diag::Diagnostic;

/// The default `tag`: the catalog's version (`3.7.7`, Mender's form).
pub const DEFAULT_TAG: &str = "{version}";

/// Where a compose project's upstream checkout is and how its tags read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTemplate {
    /// A directory inside the checkout, relative to the installation's
    /// directory (default `.`); git finds the repository's top from it.
    pub checkout: Option<Spanned<String>>,
    /// A release's tag, `{version}` replaced by the catalog's version
    /// (default `{version}`, else a release's `upstream_tag`).
    pub tag: Option<Spanned<String>>,
    /// Files and directories the diff covers, relative to the
    /// repository's top (default: the whole repository).
    #[serde(default)]
    pub paths: Vec<Spanned<String>>,
}

impl UpstreamTemplate {
    /// The checkout directory as written (`.` when omitted).
    pub fn checkout(&self) -> &str {
        self.checkout.as_ref().map_or(".", |c| c.get_ref())
    }

    /// The paths, as written.
    pub fn path_list(&self) -> Vec<String> {
        self.paths.iter().map(|p| p.get_ref().clone()).collect()
    }

    /// The tag of `release`: the manifest's `tag` when written, else the
    /// release's `upstream_tag` from the catalog, else its version.
    pub fn tag_for(&self, release: &Release) -> String {
        match (&self.tag, &release.upstream_tag) {
            (Some(t), _) => t
                .get_ref()
                .replace("{version}", &release.version.to_string()),
            (None, Some(t)) => t.clone(),
            (None, None) => release.version.to_string(),
        }
    }

    /// Checks `tag` and `paths` as written.
    fn check(&self, file: &str, src: &str, service: &str) -> Result<(), Diagnostic> {
        if let Some(t) = &self.tag {
            let probe = t.get_ref().replace("{version}", "1.2.3");
            if let Err(why) = check_tag(&probe) {
                return Err(Diagnostic::at(
                    file,
                    src,
                    t.span(),
                    format!("`tag` of [services.{service}.compose] upstream: {why}"),
                )
                .with_help("write the tag form of upstream's releases with `{version}`, e.g. `tag = \"{version}\"` (Mender's `3.7.7`) or `tag = \"v{version}\"`"));
            }
        }
        for p in &self.paths {
            if let Err(why) = check_path(p.get_ref()) {
                return Err(Diagnostic::at(
                    file,
                    src,
                    p.span(),
                    format!("`{}` in `paths` of [services.{service}.compose] upstream: {why}", p.get_ref()),
                )
                .with_help("write a file or directory relative to the repository's top, e.g. `paths = [\"template\", \"docker-compose.yml\"]`"));
            }
        }
        Ok(())
    }
}

/// Whether `tag` is a plain tag name git accepts (the rules of
/// `git check-ref-format`, https://git-scm.com/docs/git-check-ref-format),
/// so a tag can never reach git as an option or a revision expression.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{tag}` is not a tag name: {why}"));
    if tag.is_empty() {
        return bad("it is empty");
    }
    if tag.starts_with('-') {
        return bad("it starts with `-`");
    }
    if let Some(c) = tag
        .chars()
        .find(|c| c.is_control() || " ~^:?*[\\{}".contains(*c))
    {
        return bad(&format!("it holds {c:?}"));
    }
    if tag.contains("..") || tag.contains("@{") || tag == "@" || tag.contains("//") {
        return bad("it holds `..`, `//`, `@{` or is `@`");
    }
    if tag.starts_with('/') || tag.ends_with('/') || tag.ends_with('.') {
        return bad("it starts or ends with `/`, or ends with `.`");
    }
    if tag
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return bad("a part of it starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// Whether `path` names something inside the repository, plainly.
fn check_path(path: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    if path.trim().is_empty() || p.is_absolute() {
        return Err("not a path relative to the repository's top".into());
    }
    if path.starts_with('-') || path.starts_with(':') {
        return Err("it starts with `-` or `:`".into());
    }
    if p.components().any(|c| {
        !matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    }) {
        return Err("it leaves the repository (`..`)".into());
    }
    Ok(())
}

/// The upstream of each compose project that has one: its first service
/// naming it, and the table. The same project's services must not name
/// different ones.
pub fn project_upstreams(m: &Manifest) -> Vec<(String, String, &Spanned<UpstreamTemplate>)> {
    let mut out: Vec<(String, String, &Spanned<UpstreamTemplate>)> = Vec::new();
    for (name, svc) in &m.services {
        let Some(c) = svc.compose() else { continue };
        let Some(u) = &c.upstream else { continue };
        if !out.iter().any(|(p, _, _)| *p == c.project) {
            out.push((c.project.clone(), name.clone(), u));
        }
    }
    out
}

/// Checks every `upstream` table, and that one project names one.
pub(crate) fn check(file: &str, src: &str, m: &Manifest) -> Result<(), Diagnostic> {
    let firsts = project_upstreams(m);
    for (name, svc) in &m.services {
        let Some(c) = svc.compose() else { continue };
        let Some(u) = &c.upstream else { continue };
        u.get_ref().check(file, src, name)?;
        let Some((_, first, theirs)) = firsts.iter().find(|(p, _, _)| *p == c.project) else {
            continue;
        };
        if theirs.get_ref() != u.get_ref() {
            return Err(Diagnostic::at(
                file,
                src,
                u.span(),
                format!(
                    "service `{name}` names another upstream checkout than `{first}` for compose project `{}`",
                    c.project
                ),
            )
            .with_help(format!(
                "a project's files come from one checkout: write the same `upstream` as [services.{first}.compose], or write it on one service only"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_that_could_be_options_or_revisions_are_refused() {
        for t in [
            "../x",
            "--upload-pack=touch /tmp/x",
            "-x",
            "a..b",
            "HEAD@{1}",
            "@",
            "3.7.7^",
            "v1~2",
            "a:b",
            "x y",
            "/x",
            "x/",
            "x.",
            "x.lock",
            ".hidden",
            "a//b",
            "",
            "t\n",
            "a{b}",
        ] {
            assert!(check_tag(t).is_err(), "{t:?} accepted");
        }
        for t in [
            "3.7.7",
            "v4.0.1",
            "mender-3.6.3",
            "release/4.0.1",
            "1.0.0+build.5",
        ] {
            assert_eq!(check_tag(t), Ok(()), "{t}");
        }
    }

    #[test]
    fn paths_stay_inside_the_repository() {
        for p in ["../x", "/etc", "-p", ":(top)x", "a/../../b", " "] {
            assert!(check_path(p).is_err(), "{p:?} accepted");
        }
        for p in ["template", "docker-compose.yml", "./template/prod.yml"] {
            assert_eq!(check_path(p), Ok(()), "{p}");
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use crate::manifest::parse_manifest;

    fn manifest(upstream_a: &str, upstream_b: &str) -> String {
        format!(
            "[installation]\nname = \"m\"\nproduct = \"mender\"\nversion = \"3.6.3\"\n\
             [services.a]\ndriver = \"compose\"\n[services.a.compose]\nproject = \"p\"\n{upstream_a}\n\
             [services.b]\ndriver = \"compose\"\n[services.b.compose]\nproject = \"p\"\n{upstream_b}\n"
        )
    }

    #[test]
    fn a_hostile_tag_is_refused_at_its_line() {
        let src = manifest("upstream = { tag = \"--upload-pack=touch x\" }", "");
        let e = parse_manifest("m.toml", &src).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(
            e.message.contains("is not a tag name: it starts with `-`"),
            "{e}"
        );
        assert!(e.help.clone().unwrap().contains("{version}"));
    }

    #[test]
    fn a_path_leaving_the_repository_is_refused() {
        let src = manifest("upstream = { paths = [\"template\", \"../etc\"] }", "");
        let e = parse_manifest("m.toml", &src).unwrap_err();
        assert_eq!((e.line, e.column), (9, 35), "{e}");
        assert!(e.message.contains("leaves the repository"), "{e}");
    }

    #[test]
    fn one_project_names_one_checkout() {
        let same = "upstream = { checkout = \"..\" }";
        assert!(parse_manifest("m.toml", &manifest(same, same)).is_ok());
        assert!(parse_manifest("m.toml", &manifest(same, "")).is_ok());
        let e = parse_manifest(
            "m.toml",
            &manifest(same, "upstream = { checkout = \"../other\" }"),
        )
        .unwrap_err();
        assert_eq!(e.line, 14, "{e}");
        assert!(
            e.message.contains("another upstream checkout than `a`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_name_the_allowed_ones() {
        let e = parse_manifest("m.toml", &manifest("upstream = { branch = \"main\" }", ""))
            .unwrap_err();
        let help = e.help.clone().unwrap_or_default();
        assert!(
            help.contains("`checkout`") && help.contains("`tag`") && help.contains("`paths`"),
            "{e} {help}"
        );
    }
}
