//! `upshift catalog lint [PRODUCT…] [--strict]`.

use serde::Serialize;
use upshift_core::catalog::{lint, CatalogSet, Finding, Severity};

use crate::error::{code, CliError};
use crate::settings::Settings;

#[derive(Serialize)]
struct Report<'a> {
    product: &'a str,
    origin: &'a str,
    findings: Vec<Finding>,
}

pub fn run(
    settings: &Settings,
    catalogs: &CatalogSet,
    products: &[String],
    strict: bool,
) -> Result<i32, CliError> {
    let chosen = if products.is_empty() {
        catalogs.iter().collect()
    } else {
        products
            .iter()
            .map(|p| super::catalog::find(catalogs, p))
            .collect::<Result<Vec<_>, _>>()?
    };
    let reports: Vec<Report> = chosen
        .into_iter()
        .map(|c| Report {
            product: &c.product,
            origin: &c.origin,
            findings: lint(c),
        })
        .collect();
    let p = settings.printer;
    p.json(&reports);
    p.human(human(&reports));
    let fails = |f: &Finding| f.severity == Severity::Error || strict;
    let failed = reports.iter().flat_map(|r| &r.findings).any(fails);
    Ok(if failed { code::FAILED } else { code::OK })
}

fn human(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let errors = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = r.findings.len() - errors;
        out += &format!(
            "{} ({}): {errors} errors, {warnings} warnings\n",
            r.product, r.origin
        );
        for f in &r.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let at = f
                .release
                .as_deref()
                .map(|v| format!("release {v}: "))
                .unwrap_or_default();
            out += &format!("  {level}[{}] {at}{}\n", f.rule, f.message);
        }
    }
    out
}
