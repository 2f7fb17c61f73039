//! Planning speed on generated catalogs of 10,000 releases.
//!
//! `cargo bench -p upshift-core --bench planner` prints a table: catalog
//! shape, hops in the plan, and the time to plan (median and worst of 25
//! runs). The target is under 50 ms for a 10,000-release catalog.

use std::time::{Duration, Instant};

use upshift_core::{load, plan, CatalogSet};

const RUNS: usize = 25;

/// 100 majors × 10 minors × 10 patches; `rule` writes each release's `upgrade_from`.
fn catalog(rule: impl Fn(u64, u64, u64) -> Option<String>) -> String {
    let mut s = String::from("product = \"gen\"\n");
    for major in 1..=100 {
        for minor in 0..10 {
            for patch in 0..10 {
                s += &format!("[[release]]\nversion = \"{major}.{minor}.{patch}\"\n");
                if let Some(r) = rule(major, minor, patch) {
                    s += &format!("upgrade_from = \"{r}\"\n");
                }
            }
        }
    }
    s
}

fn adjacent_minor(major: u64, minor: u64, _patch: u64) -> Option<String> {
    // Like Mender: each minor line accepts the previous minor line (and its own).
    match (major, minor) {
        (1, 0) => None,
        (m, 0) => Some(format!(">={}.9.0, <{m}.1.0", m - 1)),
        (m, n) => Some(format!(">={m}.{}.0, <{m}.{}.0", n - 1, n + 1)),
    }
}

fn any_older(_: u64, _: u64, _: u64) -> Option<String> {
    Some(">=1.0.0".into())
}

fn previous_only(major: u64, minor: u64, patch: u64) -> Option<String> {
    // The worst case: every release accepts only the one before it.
    let prev = if patch > 0 {
        format!("{major}.{minor}.{}", patch - 1)
    } else if minor > 0 {
        format!("{major}.{}.9", minor - 1)
    } else if major > 1 {
        format!("{}.9.9", major - 1)
    } else {
        return None;
    };
    Some(format!("={prev}"))
}

fn measure(name: &str, text: &str) -> (String, usize, usize, Duration, Duration, Duration) {
    let t = Instant::now();
    let set = CatalogSet::default()
        .with_files([("gen.toml", text)])
        .expect("generated catalog parses");
    let parse = t.elapsed();
    let releases = set.get("gen").unwrap().releases.len();
    let src = "[installation]\nname = \"bench\"\nproduct = \"gen\"\nversion = \"1.0.0\"\n";
    let loaded = load("bench.toml", src, &set).unwrap();
    let mut times = Vec::with_capacity(RUNS);
    let mut hops = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let p = plan(&loaded, "100.9.9").expect("a path exists");
        times.push(t.elapsed());
        hops = std::hint::black_box(p).hops.len();
    }
    times.sort();
    (
        name.to_string(),
        releases,
        hops,
        parse,
        times[RUNS / 2],
        times[RUNS - 1],
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rows = [
        measure(
            "adjacent minor versions (Mender-like)",
            &catalog(adjacent_minor),
        ),
        measure("any older release accepted", &catalog(any_older)),
        measure(
            "only the previous release (worst case)",
            &catalog(previous_only),
        ),
    ];
    println!("\nplanner benchmark: 1.0.0 → 100.9.9, {RUNS} runs each (target: plan < 50 ms)\n");
    println!("| catalog shape | releases | hops | parse catalog ms | plan median ms | plan worst ms | target |");
    println!("|---|---|---|---|---|---|---|");
    for (name, releases, hops, parse, median, worst) in rows {
        let ok = if median < Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "| {name} | {releases} | {hops} | {} | {} | {} | {ok} |",
            ms(parse),
            ms(median),
            ms(worst)
        );
    }
}
