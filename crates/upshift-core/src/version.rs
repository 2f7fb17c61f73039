//! Release versions: semver, tolerant of the forms operators and registries use
//! (`1.3`, `v4.0.0`, Mender's `mender-3.7.7` image tags), and version ranges
//! (`upgrade_from`) turned into intervals the planner can search quickly.

use std::fmt;

use semver::{Comparator, Op, Version, VersionReq};

/// Why a version or range string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("`{input}` is not a version: {reason} (write it like `3.7.7`, `3.7` or `v3.7.7`)")]
    Version { input: String, reason: String },
    #[error(
        "`{input}` is not a version range: {reason} (write it like `>=3.6.0, <3.8.0` or `~3.7`)"
    )]
    Range { input: String, reason: String },
}

/// Parses a version leniently. `prefixes` are product tag prefixes such as
/// `mender-` that may precede the number; a leading `v` is always accepted and
/// missing minor/patch parts are zero.
pub fn parse_version(input: &str, prefixes: &[String]) -> Result<Version, VersionError> {
    let mut s = input.trim();
    for p in prefixes {
        if let Some(rest) = s.strip_prefix(p.as_str()) {
            s = rest;
            break;
        }
    }
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    // Split off pre-release / build metadata before padding the numeric core.
    let split = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(split);
    let parts = core.split('.').count();
    let padded = match parts {
        1 if !core.is_empty() => format!("{core}.0.0{rest}"),
        2 => format!("{core}.0{rest}"),
        _ => s.to_string(),
    };
    Version::parse(&padded).map_err(|e| VersionError::Version {
        input: input.to_string(),
        reason: e.to_string(),
    })
}

/// Parses a version range (`>=2.1.0`, `~3.6`, `>=3.4.0, <3.6.0`, `*`).
pub fn parse_range(input: &str) -> Result<Range, VersionError> {
    let req = VersionReq::parse(input.trim()).map_err(|e| VersionError::Range {
        input: input.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Range::from_req(input.trim().to_string(), req))
}

/// A bound on the version line; `None` means unbounded.
type Bound = Option<(Version, bool)>; // (version, inclusive)

/// A version range as written, plus the equivalent closed/open interval on
/// release versions. Every semver requirement without `||` is an interval, so
/// "is `a` accepted" is two comparisons and the planner can binary-search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    text: String,
    lower: Bound,
    upper: Bound,
}

impl Range {
    /// Accepts any version.
    pub fn any() -> Self {
        Range {
            text: "*".into(),
            lower: None,
            upper: None,
        }
    }

    fn from_req(text: String, req: VersionReq) -> Self {
        let mut r = Range {
            text,
            lower: None,
            upper: None,
        };
        for c in &req.comparators {
            let (lo, hi) = comparator_interval(c);
            r.lower = tighter_lower(r.lower.take(), lo);
            r.upper = tighter_upper(r.upper.take(), hi);
        }
        r
    }

    /// Whether it accepts every version.
    pub fn is_any(&self) -> bool {
        self.lower.is_none() && self.upper.is_none()
    }

    /// The oldest version it accepts, when that bound is inclusive
    /// (`>=5.37.10` → 5.37.10): a release the catalog should list.
    pub fn lower_bound(&self) -> Option<&Version> {
        match &self.lower {
            Some((v, true)) => Some(v),
            _ => None,
        }
    }

    /// The range as the catalog wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `v` lies in the range (pre-release tags compare by semver order).
    pub fn contains(&self, v: &Version) -> bool {
        let above = match &self.lower {
            None => true,
            Some((b, true)) => v >= b,
            Some((b, false)) => v > b,
        };
        let below = match &self.upper {
            None => true,
            Some((b, true)) => v <= b,
            Some((b, false)) => v < b,
        };
        above && below
    }

    /// Index range `[lo, hi)` of the versions in `sorted` that the range accepts.
    pub fn index_span(&self, sorted: &[Version]) -> (usize, usize) {
        let lo = match &self.lower {
            None => 0,
            Some((b, true)) => sorted.partition_point(|v| v < b),
            Some((b, false)) => sorted.partition_point(|v| v <= b),
        };
        let hi = match &self.upper {
            None => sorted.len(),
            Some((b, true)) => sorted.partition_point(|v| v <= b),
            Some((b, false)) => sorted.partition_point(|v| v < b),
        };
        (lo, hi.max(lo))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

fn with_pre(c: &Comparator, base: Version) -> Version {
    Version {
        pre: c.pre.clone(),
        ..base
    }
}

/// The interval of one comparator, following Cargo's semver rules.
fn comparator_interval(c: &Comparator) -> (Bound, Bound) {
    let (maj, min, pat) = (c.major, c.minor, c.patch);
    // The smallest version matching the given components, and the first one past them.
    let floor = with_pre(c, v(maj, min.unwrap_or(0), pat.unwrap_or(0)));
    let past = match (min, pat) {
        (None, _) => v(maj + 1, 0, 0),
        (Some(m), None) => v(maj, m + 1, 0),
        (Some(m), Some(p)) => v(maj, m, p + 1),
    };
    let pre0 = |mut x: Version| {
        // `<1.2.0` must also exclude `1.2.0-rc.1`: compare against the lowest pre-release.
        x.pre = semver::Prerelease::new("0").expect("static prerelease");
        x
    };
    match c.op {
        Op::Exact | Op::Wildcard => match (min, pat) {
            (Some(_), Some(_)) => (Some((floor.clone(), true)), Some((floor, true))),
            _ => (Some((floor, true)), Some((pre0(past), false))),
        },
        Op::Greater => match (min, pat) {
            (Some(_), Some(_)) => (Some((floor, false)), None),
            _ => (Some((pre0(past), true)), None),
        },
        Op::GreaterEq => (Some((floor, true)), None),
        Op::Less => (None, Some((pre0(floor), false))),
        Op::LessEq => match (min, pat) {
            (Some(_), Some(_)) => (None, Some((floor, true))),
            _ => (None, Some((pre0(past), false))),
        },
        Op::Tilde => {
            let up = match min {
                None => v(maj + 1, 0, 0),
                Some(m) => v(maj, m + 1, 0),
            };
            (Some((floor, true)), Some((pre0(up), false)))
        }
        Op::Caret => {
            let up = match (maj, min, pat) {
                (0, None, _) => v(1, 0, 0),
                (0, Some(0), None) => v(0, 1, 0),
                (0, Some(0), Some(p)) => v(0, 0, p + 1),
                (0, Some(m), _) => v(0, m + 1, 0),
                (x, _, _) => v(x + 1, 0, 0),
            };
            (Some((floor, true)), Some((pre0(up), false)))
        }
        _ => (None, None),
    }
}

fn tighter_lower(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(if x.0 > y.0 || (x.0 == y.0 && !x.1) {
            x
        } else {
            y
        }),
    }
}

fn tighter_upper(a: Bound, b: Bound) -> Bound {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(if x.0 < y.0 || (x.0 == y.0 && !x.1) {
            x
        } else {
            y
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pv(s: &str) -> Version {
        parse_version(s, &["mender-".to_string()]).unwrap()
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(pv("1.3"), v(1, 3, 0));
        assert_eq!(pv("v4.0.0"), v(4, 0, 0));
        assert_eq!(pv("mender-3.7.7"), v(3, 7, 7));
        assert_eq!(pv("mender-3.7"), v(3, 7, 0));
        assert_eq!(pv("7"), v(7, 0, 0));
        assert_eq!(pv("2.0-rc.1").pre.as_str(), "rc.1");
        assert!(parse_version("three", &[]).is_err());
        assert!(parse_version("", &[]).is_err());
    }

    #[test]
    fn ranges() {
        let r = parse_range(">=3.4.0, <3.6.0").unwrap();
        assert!(r.contains(&v(3, 4, 0)));
        assert!(r.contains(&v(3, 5, 9)));
        assert!(!r.contains(&v(3, 6, 0)));
        assert!(!r.contains(&v(3, 3, 9)));
        let t = parse_range("~3.7").unwrap();
        assert!(t.contains(&v(3, 7, 7)) && !t.contains(&v(3, 8, 0)));
        assert!(parse_range(">= banana").is_err());
    }

    proptest! {
        /// The interval must agree with semver's own matching for release versions.
        #[test]
        fn interval_agrees_with_semver(
            op in prop::sample::select(vec!["=", ">", ">=", "<", "<=", "~", "^", ""]),
            parts in 1usize..=3, a in 0u64..4, b in 0u64..4, c in 0u64..4,
            x in 0u64..5, y in 0u64..5, z in 0u64..5,
        ) {
            let nums = [a, b, c];
            let text = format!("{op}{}", nums[..parts].iter().map(|n| n.to_string()).collect::<Vec<_>>().join("."));
            let req = VersionReq::parse(&text).unwrap();
            let range = parse_range(&text).unwrap();
            let ver = v(x, y, z);
            prop_assert_eq!(range.contains(&ver), req.matches(&ver), "{} vs {}", text, ver);
        }
    }
}
