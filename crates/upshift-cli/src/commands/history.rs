//! `upshift history`: every run of the installation.

use upshift_run::Journal;

use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let runs = if settings.journal().exists() {
        Journal::open(&settings.journal())?.runs(&loaded.manifest.installation.name)?
    } else {
        Vec::new()
    };
    let p = settings.printer;
    p.json(&runs);
    if runs.is_empty() {
        p.human(format!(
            "{} has no runs yet.",
            loaded.manifest.installation.name
        ));
        return Ok(code::OK);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                format!("{} → {}", r.from, r.to),
                time_of(r.started_ms),
                r.ended_ms.map_or("-".into(), |e| {
                    format!("{:.1}s", (e - r.started_ms) as f64 / 1000.0)
                }),
                format!("{:.1}s", r.maintenance_ms as f64 / 1000.0),
                r.outcome.as_str().to_string(),
                r.at_version.clone().unwrap_or_default(),
                r.snapshots.join(" "),
            ]
        })
        .collect();
    p.human(table(
        &[
            "RUN",
            "FROM → TO",
            "STARTED (UTC)",
            "DURATION",
            "WINDOW",
            "OUTCOME",
            "AT",
            "SNAPSHOTS",
        ],
        &rows,
    ));
    Ok(code::OK)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, from Unix milliseconds.
pub fn time_of(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
