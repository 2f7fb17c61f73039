//! What the maintenance page tells users: whose service is down, the
//! operator's message, and when it should be back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use upshift_core::manifest::{Loaded, Seconds};

/// The longest message shown, in characters; a longer one is cut (the
/// page stays small whatever the manifest holds).
pub const MESSAGE_LIMIT: usize = 2000;
/// The longest installation or product name shown, in characters.
const NAME_LIMIT: usize = 200;
/// The page reloads itself at least this often, so users land on the
/// service soon after it is back.
const MAX_REFRESH: u64 = 30;
/// …and never more often than this.
const MIN_REFRESH: u64 = 5;

const DEFAULT_MESSAGE: &str = "This service is being upgraded and will be back shortly.";

/// The page's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The installation's name (`demo`, `mender-prod`).
    pub installation: String,
    /// The product's name (`Mender Server`).
    pub product: String,
    /// The operator's message, as written (cut to [`MESSAGE_LIMIT`]).
    pub message: String,
    /// `Retry-After` when the window's end is not known or has passed.
    pub retry_after: u64,
    /// The window being served, once it opened.
    pub window: Option<Window>,
}

/// A maintenance window: when it opened and how long the plan expects it
/// to last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opened: SystemTime,
    /// The plan's estimate (the catalog's `window` of the hop's release).
    pub estimate: Option<Duration>,
}

/// When the service should be back, as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// No estimate: "shortly".
    Unknown,
    /// Expected at this time (seconds since the epoch), this far ahead.
    At {
        epoch_secs: u64,
        remaining: Duration,
    },
    /// The estimate has passed: "any moment now".
    Overdue,
}

impl Notice {
    pub fn new(installation: &str, product: &str, message: Option<&str>, retry_after: u64) -> Self {
        Notice {
            installation: cut(installation, NAME_LIMIT),
            product: cut(product, NAME_LIMIT),
            message: cut(message.unwrap_or(DEFAULT_MESSAGE), MESSAGE_LIMIT),
            retry_after: retry_after.max(1),
            window: None,
        }
    }

    /// The page of a loaded manifest: its installation, its catalog's
    /// product name, `[maintenance] message` and `retry_after` (60 s when unset).
    pub fn for_manifest(loaded: &Loaded) -> Self {
        let m = &loaded.manifest;
        Notice::new(
            &m.installation.name,
            &loaded.catalog.name,
            m.maintenance.message.as_deref(),
            m.maintenance
                .retry_after
                .map_or(60, Seconds::whole_secs_ceil),
        )
    }

    /// When the service should be back, as of `now`.
    pub fn back(&self, now: SystemTime) -> Back {
        let Some(Window {
            opened,
            estimate: Some(estimate),
        }) = self.window
        else {
            return Back::Unknown;
        };
        let end = opened + estimate;
        match end.duration_since(now) {
            Ok(remaining) if !remaining.is_zero() => Back::At {
                epoch_secs: ceil_secs(end.duration_since(UNIX_EPOCH).unwrap_or_default()),
                remaining,
            },
            _ => Back::Overdue,
        }
    }

    /// The `Retry-After` seconds as of `now`: the time left of the window's
    /// estimate (at least [`MIN_REFRESH`]), else the manifest's `retry_after`.
    pub fn retry_after(&self, now: SystemTime) -> u64 {
        match self.back(now) {
            Back::At { remaining, .. } => ceil_secs(remaining).max(MIN_REFRESH),
            Back::Unknown | Back::Overdue => self.retry_after,
        }
    }

    /// How often the page reloads itself, in seconds, as of `now`.
    pub fn refresh(&self, now: SystemTime) -> u64 {
        self.retry_after(now).clamp(MIN_REFRESH, MAX_REFRESH)
    }
}

impl Back {
    /// The sentence users read.
    pub fn sentence(&self) -> String {
        match self {
            Back::Unknown => "It should be back shortly.".into(),
            Back::Overdue => "It should be back any moment now.".into(),
            Back::At {
                epoch_secs,
                remaining,
            } => {
                let minutes = ceil_secs(*remaining).div_ceil(60);
                let when = match minutes {
                    0 | 1 if remaining.as_secs() < 60 => "in less than a minute".to_string(),
                    1 => "in about 1 minute".to_string(),
                    n => format!("in about {n} minutes"),
                };
                format!("Expected back around {} UTC, {when}.", hh_mm(*epoch_secs))
            }
        }
    }
}

/// `HH:MM` of a time in seconds since the epoch, in UTC.
fn hh_mm(epoch_secs: u64) -> String {
    let day = epoch_secs % 86_400;
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `s` without control characters (but newlines), cut to `limit`
/// characters with an ellipsis.
fn cut(s: &str, limit: usize) -> String {
    let clean = s.chars().filter(|c| *c == '\n' || !c.is_control());
    let mut out: String = clean.clone().take(limit).collect();
    if clean.count() > limit {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn opened(estimate: u64) -> Notice {
        let mut n = Notice::new("demo", "Demo", Some("soon"), 60);
        // 2026-12-02 14:00:00 UTC
        n.window = Some(Window {
            opened: at(1_796_220_000),
            estimate: Some(Duration::from_secs(estimate)),
        });
        n
    }

    #[test]
    fn the_estimate_says_when_and_how_long() {
        let n = opened(15 * 60);
        let now = at(1_796_220_000 + 60);
        assert_eq!(
            n.back(now).sentence(),
            "Expected back around 14:15 UTC, in about 14 minutes."
        );
        assert_eq!(n.retry_after(now), 14 * 60);
        assert_eq!(n.refresh(now), 30, "reloads often even in a long window");
    }

    #[test]
    fn a_short_remainder_is_less_than_a_minute() {
        let n = opened(10);
        let now = at(1_796_220_000 + 8);
        assert_eq!(
            n.back(now).sentence(),
            "Expected back around 14:00 UTC, in less than a minute."
        );
        assert_eq!(
            n.retry_after(now),
            5,
            "never asks to come back sooner than 5 s"
        );
        assert_eq!(n.refresh(now), 5);
    }

    #[test]
    fn a_passed_estimate_falls_back_to_retry_after() {
        let n = opened(10);
        let now = at(1_796_220_000 + 11);
        assert_eq!(n.back(now), Back::Overdue);
        assert_eq!(n.retry_after(now), 60);
        assert_eq!(n.refresh(now), 30);
    }

    #[test]
    fn no_window_is_shortly() {
        let n = Notice::new("demo", "Demo", None, 45);
        assert_eq!(n.back(at(0)).sentence(), "It should be back shortly.");
        assert_eq!(n.retry_after(at(0)), 45);
        assert!(n.message.contains("being upgraded"));
    }

    #[test]
    fn a_huge_message_is_cut() {
        let huge = "x".repeat(1 << 20);
        let n = Notice::new("demo", "Demo", Some(&huge), 60);
        assert_eq!(n.message.chars().count(), MESSAGE_LIMIT + 1);
        assert!(n.message.ends_with('…'));
    }

    #[test]
    fn control_characters_are_dropped() {
        let n = Notice::new("de\u{1b}[2Jmo", "Demo", Some("a\u{0}b\nc\r"), 60);
        assert_eq!(n.installation, "de[2Jmo");
        assert_eq!(n.message, "ab\nc");
    }
}
