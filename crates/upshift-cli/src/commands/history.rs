//! `upshift history`: every run of the installation.

use upshift_run::{Journal, RunView};

use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let loaded = settings.load()?;
    let mut runs: Vec<RunView> = Vec::new();
    if let Some(j) = Journal::open_existing(&settings.journal())? {
        for r in j.runs(&loaded.manifest.installation.name)? {
            runs.push(j.view(r)?);
        }
    }
    let p = settings.printer;
    p.json(&runs);
    if runs.is_empty() {
        p.human(format!(
            "{} has no runs yet.",
            loaded.manifest.installation.name
        ));
        return Ok(code::OK);
    }
    let rows: Vec<Vec<String>> = runs.iter().map(row).collect();
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
            "ERROR",
        ],
        &rows,
    ));
    let timed: Vec<String> = runs.iter().flat_map(data_step_lines).collect();
    if !timed.is_empty() {
        p.human(format!(
            "\ndata steps (migrations), as they took:\n{}",
            timed.join("\n")
        ));
    }
    Ok(code::OK)
}

/// "  RUN hop 3: migrate.notes-schema-v3 0.4s" per data step of a run.
fn data_step_lines(v: &RunView) -> Vec<String> {
    v.data_steps
        .iter()
        .map(|d| {
            format!(
                "  {} hop {}: {} {:.1}s",
                v.run.id,
                d.hop,
                d.step,
                d.ms as f64 / 1000.0
            )
        })
        .collect()
}

/// The widest ERROR cell: the first line of the error, cut here.
const ERROR_WIDTH: usize = 60;

fn row(v: &RunView) -> Vec<String> {
    let r = &v.run;
    let secs = |ms: i64| format!("{:.1}s", ms as f64 / 1000.0);
    let outcome = match v.manual_rollback_ms {
        Some(at) => format!("rolled back (manual, {})", time_of(at)),
        None => r.outcome.as_str().to_string(),
    };
    vec![
        r.id.clone(),
        format!("{} → {}", r.from, r.to),
        time_of(r.started_ms),
        v.duration_ms.map_or("-".into(), secs),
        secs(v.window_ms),
        outcome,
        r.at_version.clone().unwrap_or_default(),
        r.snapshots.join(" "),
        r.error.as_deref().map(first_line).unwrap_or_default(),
    ]
}

/// The first line of `error`, shortened to [`ERROR_WIDTH`] characters
/// (`--json` has the whole error).
fn first_line(error: &str) -> String {
    let line = error.lines().next().unwrap_or_default().trim_end();
    if line.chars().count() <= ERROR_WIDTH {
        return line.to_string();
    }
    let cut: String = line.chars().take(ERROR_WIDTH - 1).collect();
    format!("{}…", cut.trim_end())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_cell_is_the_first_line_shortened() {
        assert_eq!(first_line("short\nlog tail"), "short");
        let long = format!("{}\nmore", "x".repeat(100));
        let cell = first_line(&long);
        assert_eq!(cell.chars().count(), ERROR_WIDTH);
        assert!(cell.ends_with('…'), "{cell}");
    }
}
