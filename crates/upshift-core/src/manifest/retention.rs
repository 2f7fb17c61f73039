//! Which snapshots to keep: restic's policy words
//! (<https://restic.readthedocs.io/en/stable/060_forget.html#removing-snapshots-according-to-a-policy>),
//! as `upshift snapshots forget` flags and as the manifest's optional
//! `[retention]` table, applied after every successful `upshift apply`.

use serde::{Deserialize, Serialize};
use toml::{Spanned, Value};

use super::duration::{Seconds, DURATION_FORMS};
use crate::diag::Diagnostic;

/// The keep rules: a snapshot is kept when any rule keeps it. Counts are
/// at least 1; a rule left out does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KeepPolicy {
    /// The newest N snapshots.
    pub last: Option<u32>,
    /// The newest snapshot of each of the last N hours (days, ...) that have one.
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
    /// Every snapshot taken within this time before the newest one.
    pub within: Option<Seconds>,
}

impl KeepPolicy {
    /// Whether no rule is given (nothing would be kept).
    pub fn is_empty(&self) -> bool {
        *self == KeepPolicy::default()
    }
}

/// The `[retention]` table: the keep rules, and whether to remove the data
/// no snapshot uses any more afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub keep: KeepPolicy,
    pub prune: bool,
}

/// The keys of `[retention]`, with their spans, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    keep_last: Option<Spanned<Value>>,
    keep_hourly: Option<Spanned<Value>>,
    keep_daily: Option<Spanned<Value>>,
    keep_weekly: Option<Spanned<Value>>,
    keep_monthly: Option<Spanned<Value>>,
    keep_yearly: Option<Spanned<Value>>,
    keep_within: Option<Spanned<Value>>,
    prune: Option<Spanned<Value>>,
}

/// The keep keys, as the error for an empty table lists them.
pub const KEEP_KEYS: &str =
    "`keep_last`, `keep_hourly`, `keep_daily`, `keep_weekly`, `keep_monthly`, `keep_yearly`, `keep_within`";

impl RawRetention {
    /// The table checked: every value of the right kind, at least one keep
    /// rule. An error names the key, its line, and what it takes.
    pub fn check(&self, file: &str, src: &str) -> Result<Retention, Diagnostic> {
        let count = |key: &str, v: &Option<Spanned<Value>>| count(file, src, key, v.as_ref());
        let keep = KeepPolicy {
            last: count("keep_last", &self.keep_last)?,
            hourly: count("keep_hourly", &self.keep_hourly)?,
            daily: count("keep_daily", &self.keep_daily)?,
            weekly: count("keep_weekly", &self.keep_weekly)?,
            monthly: count("keep_monthly", &self.keep_monthly)?,
            yearly: count("keep_yearly", &self.keep_yearly)?,
            within: within(file, src, self.keep_within.as_ref())?,
        };
        let prune = match &self.prune {
            None => false,
            Some(v) => v.get_ref().as_bool().ok_or_else(|| {
                Diagnostic::at(
                    file,
                    src,
                    v.span(),
                    format!(
                        "`[retention] prune` must be true or false, not {}",
                        v.get_ref()
                    ),
                )
                .with_help("write `prune = true` to remove the data no kept snapshot uses")
            })?,
        };
        if keep.is_empty() {
            let at = src.find("[retention]").map_or(0..0, |i| i..i + 11);
            return Err(Diagnostic::at(
                file,
                src,
                at,
                "`[retention]` names no snapshots to keep, so it would remove them all",
            )
            .with_help(format!(
                "add at least one of {KEEP_KEYS}, e.g. `keep_last = 10`, or remove the table"
            )));
        }
        Ok(Retention { keep, prune })
    }
}

fn count(
    file: &str,
    src: &str,
    key: &str,
    v: Option<&Spanned<Value>>,
) -> Result<Option<u32>, Diagnostic> {
    let Some(v) = v else { return Ok(None) };
    match v.get_ref().as_integer().map(u32::try_from) {
        Some(Ok(n)) if n >= 1 => Ok(Some(n)),
        _ => Err(Diagnostic::at(
            file,
            src,
            v.span(),
            format!(
                "`[retention] {key}` must be a whole number of snapshots, at least 1, not {}",
                v.get_ref()
            ),
        )
        .with_help(format!(
            "e.g. `{key} = 7`; leave the key out when that rule should not apply"
        ))),
    }
}

fn within(
    file: &str,
    src: &str,
    v: Option<&Spanned<Value>>,
) -> Result<Option<Seconds>, Diagnostic> {
    let Some(v) = v else { return Ok(None) };
    let parsed = match v.get_ref() {
        Value::String(s) => Seconds::parse(s).ok(),
        Value::Integer(n) => u64::try_from(*n).ok().map(Seconds::from_secs),
        Value::Float(f) => Seconds::from_secs_f64(*f).ok(),
        _ => None,
    };
    match parsed {
        Some(d) if !d.duration().is_zero() => Ok(Some(d)),
        _ => Err(Diagnostic::at(
            file,
            src,
            v.span(),
            format!(
                "`[retention] keep_within` must be a length of time, not {}",
                v.get_ref()
            ),
        )
        .with_help(format!(
            "use {DURATION_FORMS}, e.g. `keep_within = \"30d\"`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse_manifest;

    const HEAD: &str = "[installation]\nname = \"a\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n";

    fn parse(table: &str) -> Result<super::Retention, String> {
        let src = format!("{HEAD}\n[retention]\n{table}\n");
        parse_manifest("m.toml", &src)
            .map(|m| m.retention.expect("a [retention] table"))
            .map_err(|d| d.to_string())
    }

    #[test]
    fn every_key_is_read() {
        let r = parse(
            "keep_last = 3\nkeep_hourly = 4\nkeep_daily = 7\nkeep_weekly = 5\nkeep_monthly = 12\nkeep_yearly = 2\nkeep_within = \"30d\"\nprune = true",
        )
        .unwrap();
        assert_eq!(r.keep.last, Some(3));
        assert_eq!(r.keep.hourly, Some(4));
        assert_eq!(r.keep.daily, Some(7));
        assert_eq!(r.keep.weekly, Some(5));
        assert_eq!(r.keep.monthly, Some(12));
        assert_eq!(r.keep.yearly, Some(2));
        assert_eq!(
            r.keep.within.map(|s| s.duration().as_secs()),
            Some(30 * 86_400)
        );
        assert!(r.prune);
        assert!(!parse("keep_last = 1").unwrap().prune);
    }

    #[test]
    fn no_table_is_no_retention() {
        let m = parse_manifest("m.toml", HEAD).unwrap();
        assert!(m.retention.is_none());
    }

    #[test]
    fn bad_values_name_the_key_and_its_line() {
        for (table, key) in [
            ("keep_last = 0", "keep_last"),
            ("keep_daily = -2", "keep_daily"),
            ("keep_weekly = \"many\"", "keep_weekly"),
            ("keep_monthly = 1.5", "keep_monthly"),
            ("keep_within = \"30x\"", "keep_within"),
            ("keep_within = 0", "keep_within"),
            ("keep_last = 1\nprune = \"yes\"", "prune"),
        ] {
            let e = parse(table).expect_err(table);
            assert!(e.contains(&format!("`[retention] {key}`")), "{table}: {e}");
            let line = 7 + table.lines().count() - 1;
            assert!(e.contains(&format!("m.toml:{line}:")), "{table}: {e}");
        }
    }

    #[test]
    fn a_table_without_keep_rules_and_unknown_keys_are_refused() {
        let e = parse("prune = true").unwrap_err();
        assert!(e.contains("names no snapshots to keep"), "{e}");
        assert!(e.contains("keep_last"), "{e}");
        let e = parse("keep_lats = 3").unwrap_err();
        assert!(e.contains("unknown key `keep_lats`"), "{e}");
        assert!(e.contains("did you mean `keep_last`"), "{e}");
    }
}
