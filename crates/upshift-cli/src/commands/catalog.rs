//! `upshift catalog list | show PRODUCT | lint [PRODUCT…]`.

use serde::Serialize;
use upshift_core::diag::did_you_mean;

use crate::cli::CatalogCommand;
use crate::error::{code, CliError};
use crate::render::table;
use crate::settings::Settings;

#[derive(Serialize)]
struct Summary<'a> {
    product: &'a str,
    name: &'a str,
    releases: usize,
    oldest: Option<String>,
    newest: Option<String>,
    origin: &'a str,
}

pub fn run(settings: &Settings, cmd: &CatalogCommand) -> Result<i32, CliError> {
    let catalogs = settings.catalogs()?;
    let p = settings.printer;
    match cmd {
        CatalogCommand::List => {
            let rows: Vec<Summary> = catalogs
                .iter()
                .map(|c| Summary {
                    product: &c.product,
                    name: &c.name,
                    releases: c.releases.len(),
                    oldest: c.releases.first().map(|r| r.version.to_string()),
                    newest: c.latest().map(|r| r.version.to_string()),
                    origin: &c.origin,
                })
                .collect();
            p.json(&rows);
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.product.to_string(),
                        r.name.to_string(),
                        r.releases.to_string(),
                        format!(
                            "{} … {}",
                            r.oldest.as_deref().unwrap_or("-"),
                            r.newest.as_deref().unwrap_or("-")
                        ),
                        r.origin.to_string(),
                    ]
                })
                .collect();
            p.human(table(
                &["PRODUCT", "NAME", "RELEASES", "VERSIONS", "FROM"],
                &body,
            ));
        }
        CatalogCommand::Lint { products, strict } => {
            return super::catalog_lint::run(settings, &catalogs, products, *strict);
        }
        CatalogCommand::Show { product } => {
            let c = find(&catalogs, product)?;
            p.json(c);
            let mut out = format!(
                "{} ({}), {} releases, from {}\n",
                c.name,
                c.product,
                c.releases.len(),
                c.origin
            );
            if let Some(d) = &c.docs {
                out += &format!("upstream guide: {d}\n");
            }
            if let Some(d) = &c.checked {
                out += &format!("checked against upstream: {d}\n");
            }
            for (f, what) in &c.facts {
                out += &format!("fact `{f}`: {what}\n");
            }
            out.push('\n');
            let body: Vec<Vec<String>> = c
                .releases
                .iter()
                .map(|r| {
                    let mut extra = Vec::new();
                    if !r.config_rules.is_empty() {
                        extra.push(format!("{} config rules", r.config_rules.len()));
                    }
                    if !r.data_steps.is_empty() {
                        extra.push(format!("{} data steps", r.data_steps.len()));
                    }
                    if !r.pre_checks.is_empty() {
                        extra.push(format!("{} pre-checks", r.pre_checks.len()));
                    }
                    if !r.known_issues.is_empty() {
                        extra.push(format!("{} known issues", r.known_issues.len()));
                    }
                    match r.notes.len() {
                        0 | 1 => {}
                        2 => extra.push("1 more note".into()),
                        n => extra.push(format!("{} more notes", n - 1)),
                    }
                    vec![
                        r.version.to_string(),
                        r.upgrade_from.to_string(),
                        r.window.clone().unwrap_or_else(|| "-".into()),
                        r.notes.first().map(|n| n.text.clone()).unwrap_or_default(),
                        extra.join(", "),
                    ]
                })
                .collect();
            out += &table(
                &["VERSION", "UPGRADES FROM", "WINDOW", "NOTES", "ALSO"],
                &body,
            );
            p.human(out);
        }
    }
    Ok(code::OK)
}

/// The catalog of `product`, or an error naming the known ones.
pub(super) fn find<'a>(
    catalogs: &'a upshift_core::catalog::CatalogSet,
    product: &str,
) -> Result<&'a upshift_core::catalog::Catalog, CliError> {
    catalogs.get(product).ok_or_else(|| {
        let known = catalogs.products();
        let hint = did_you_mean(product, known.iter().copied())
            .map(|s| format!("did you mean `{s}`? "))
            .unwrap_or_default();
        CliError::BadInput(format!(
            "no catalog for product `{product}`; {hint}known products: {}",
            known.join(", ")
        ))
    })
}
