//! Durations in the manifest: a number of seconds (`15`, `0.5`) or a
//! string with a unit (`"200ms"`, `"15s"`, `"15m"`, `"1h"`, `"30d"`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The forms a duration may take, for error messages.
pub const DURATION_FORMS: &str =
    "a number of seconds (`15`, `0.5`) or a string with a unit: \"200ms\", \"15s\", \"15m\", \"1h\", \"30d\"";

/// A length of time given in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(Duration);

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {given}: use {DURATION_FORMS}")]
pub struct BadDuration {
    /// The value as written.
    pub given: String,
}

impl Seconds {
    pub const fn from_secs(secs: u64) -> Self {
        Seconds(Duration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Seconds(Duration::from_millis(ms))
    }

    /// The length of time.
    pub const fn duration(self) -> Duration {
        self.0
    }

    /// Whole seconds, rounded up (a `Retry-After` header takes whole seconds).
    pub fn whole_secs_ceil(self) -> u64 {
        let s = self.0.as_secs();
        if self.0.subsec_nanos() > 0 {
            s + 1
        } else {
            s
        }
    }

    /// A number of seconds, as the manifest has always accepted it.
    pub fn from_secs_f64(secs: f64) -> Result<Self, BadDuration> {
        Duration::try_from_secs_f64(secs)
            .map(Seconds)
            .map_err(|_| BadDuration {
                given: secs.to_string(),
            })
    }

    /// `"200ms"`, `"15s"`, `"15m"`, `"1h"`, `"30d"` (days of 24 hours), or
    /// a bare number of seconds.
    pub fn parse(text: &str) -> Result<Self, BadDuration> {
        let bad = || BadDuration {
            given: format!("\"{text}\""),
        };
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "" | "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        Duration::try_from_secs_f64(value * scale)
            .map(Seconds)
            .map_err(|_| bad())
    }
}

impl From<Seconds> for Duration {
    fn from(s: Seconds) -> Duration {
        s.0
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            write!(f, "{}ms", self.0.as_millis())
        }
    }
}

/// Written back as a number of seconds: whole seconds as an integer, so a
/// manifest that gave numbers reads the same.
impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.subsec_nanos() == 0 {
            s.serialize_u64(self.0.as_secs())
        } else {
            s.serialize_f64(self.0.as_secs_f64())
        }
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecondsVisitor)
    }
}

struct SecondsVisitor;

impl Visitor<'_> for SecondsVisitor {
    type Value = Seconds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DURATION_FORMS)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
        Ok(Seconds::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
        u64::try_from(v).map(Seconds::from_secs).map_err(|_| {
            E::custom(BadDuration {
                given: v.to_string(),
            })
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
        Seconds::from_secs_f64(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
        Seconds::parse(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de(toml_value: &str) -> Result<Seconds, String> {
        #[derive(Deserialize)]
        struct T {
            d: Seconds,
        }
        toml::from_str::<T>(&format!("d = {toml_value}"))
            .map(|t| t.d)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn strings_with_units() {
        assert_eq!(de("\"200ms\""), Ok(Seconds::from_millis(200)));
        assert_eq!(de("\"15s\""), Ok(Seconds::from_secs(15)));
        assert_eq!(de("\"15m\""), Ok(Seconds::from_secs(900)));
        assert_eq!(de("\"1h\""), Ok(Seconds::from_secs(3600)));
        assert_eq!(de("\"30d\""), Ok(Seconds::from_secs(30 * 86_400)));
        assert_eq!(de("\"1.5s\""), Ok(Seconds::from_millis(1500)));
        assert_eq!(de("\"30\""), Ok(Seconds::from_secs(30)));
    }

    #[test]
    fn numbers_are_seconds() {
        assert_eq!(de("15"), Ok(Seconds::from_secs(15)));
        assert_eq!(de("0.2"), Ok(Seconds::from_millis(200)));
        assert_eq!(de("0"), Ok(Seconds::from_secs(0)));
    }

    #[test]
    fn bad_values_name_the_accepted_forms() {
        for bad in [
            "\"15x\"", "\"ms\"", "\"\"", "\"1.s\"", "\"-1s\"", "-3", "-0.5", "true",
        ] {
            let e = de(bad).expect_err(bad);
            assert!(
                e.contains("\"200ms\", \"15s\", \"15m\", \"1h\""),
                "{bad}: {e}"
            );
        }
        assert!(de("\"15x\"")
            .unwrap_err()
            .contains("invalid duration \"15x\""));
    }

    #[test]
    fn written_back_as_seconds() {
        assert_eq!(
            serde_json::to_string(&Seconds::from_secs(15)).unwrap(),
            "15"
        );
        assert_eq!(
            serde_json::to_string(&Seconds::from_millis(200)).unwrap(),
            "0.2"
        );
    }

    #[test]
    fn whole_seconds_round_up() {
        assert_eq!(Seconds::from_millis(200).whole_secs_ceil(), 1);
        assert_eq!(Seconds::from_secs(60).whole_secs_ceil(), 60);
    }
}
