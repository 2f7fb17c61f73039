//! A files store's `exclude` globs (`globset` syntax: `*`, `**`, `?`,
//! `[…]`, `{a,b}`; <https://docs.rs/globset/latest/globset/#syntax>).
//! A glob is matched against the path of each file and directory relative
//! to the store path it lies under, so `*.log` leaves out every log at any
//! depth and `cache` the directory `cache` with all it holds.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::model::{Store, StoreKind};
use crate::diag::Diagnostic;

/// A glob that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("exclude glob `{glob}`: {reason}")]
pub struct ExcludeError {
    pub glob: String,
    pub reason: String,
}

/// The store's `exclude` globs as one set (empty when it has none).
pub fn exclude_set(store: &Store) -> Result<GlobSet, ExcludeError> {
    glob_set(store.exclude.iter().map(|g| g.get_ref().as_str()))
}

/// Globs as one set.
pub fn glob_set<'a>(globs: impl IntoIterator<Item = &'a str>) -> Result<GlobSet, ExcludeError> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        set.add(glob(g)?);
    }
    set.build().map_err(|e| ExcludeError {
        glob: String::new(),
        reason: e.to_string(),
    })
}

/// True when `rel` (relative to a store path) or a directory it lies in
/// matches `set`.
pub fn is_excluded(set: &GlobSet, rel: &std::path::Path) -> bool {
    !set.is_empty()
        && !rel.as_os_str().is_empty()
        && rel
            .ancestors()
            .any(|a| !a.as_os_str().is_empty() && set.is_match(a))
}

fn glob(text: &str) -> Result<Glob, ExcludeError> {
    let refuse = |reason: &str| ExcludeError {
        glob: text.to_string(),
        reason: reason.to_string(),
    };
    if text.trim().is_empty() {
        return Err(refuse("is empty"));
    }
    if text.starts_with('/') {
        return Err(refuse(
            "starts with `/`, but globs are relative to the store path",
        ));
    }
    Glob::new(text).map_err(|e| refuse(&e.kind().to_string()))
}

/// Refuses `exclude` on kinds that do not take it, and globs that do not
/// compile, at the glob's line.
pub(super) fn check(file: &str, src: &str, name: &str, s: &Store) -> Result<(), Diagnostic> {
    let Some(first) = s.exclude.first() else {
        return Ok(());
    };
    if *s.kind.get_ref() != StoreKind::Files {
        return Err(Diagnostic::at(
            file,
            src,
            first.span(),
            format!(
                "store `{name}`: `exclude` applies to files stores, not {}",
                s.kind.get_ref().as_str()
            ),
        )
        .with_help(format!("remove `exclude` from [stores.{name}]")));
    }
    for g in &s.exclude {
        if let Err(e) = glob(g.get_ref()) {
            return Err(
                Diagnostic::at(file, src, g.span(), format!("store `{name}`: {e}")).with_help(
                    "write a glob relative to the store path, e.g. `*.log` or `cache/**`",
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse_manifest;

    fn parse(store: &str) -> Result<crate::manifest::Manifest, crate::Diagnostic> {
        let src = format!(
            "[installation]\nname = \"i\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n\
             [stores.up]\n{store}\n"
        );
        parse_manifest("upshift.toml", &src)
    }

    #[test]
    fn globs_match_relative_paths_at_any_depth() {
        let m =
            parse("kind = \"files\"\npath = \"data\"\nexclude = [\"*.log\", \"cache\"]").unwrap();
        let set = super::exclude_set(&m.stores["up"]).unwrap();
        for hit in ["app.log", "sub/deep/x.log", "cache"] {
            assert!(set.is_match(hit), "{hit}");
        }
        for miss in ["app.txt", "logs", "cached/x"] {
            assert!(!set.is_match(miss), "{miss}");
        }
    }

    #[test]
    fn a_bad_glob_names_its_line_and_the_fix() {
        let d = parse("kind = \"files\"\npath = \"data\"\nexclude = [\"*.log\",\n  \"a[b\"]")
            .unwrap_err();
        let text = format!("{d}");
        assert!(text.contains("upshift.toml:10"), "{text}");
        assert!(
            text.contains("`a[b`") && text.contains("e.g. `*.log`"),
            "{text}"
        );
    }

    #[test]
    fn exclude_on_a_database_store_is_refused() {
        let d = parse("kind = \"postgres\"\ndatabase = \"app\"\nexclude = [\"x\"]").unwrap_err();
        let text = format!("{d}");
        assert!(text.contains("applies to files stores"), "{text}");
    }
}
