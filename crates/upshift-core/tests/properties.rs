//! Property tests: the planner over random catalogs, and the manifest parser
//! over random input. The oracle is an independent breadth-first search that
//! uses the `semver` crate's own matching.

use proptest::prelude::*;
use semver::{Version, VersionReq};
use upshift_core::{load, plan, CatalogSet, PlanError};

fn range_strategy() -> impl Strategy<Value = Option<String>> {
    let v = || (0u64..4, 0u64..4, 0u64..3);
    prop_oneof![
        Just(None),
        v().prop_map(|(a, b, c)| Some(format!(">={a}.{b}.{c}"))),
        (v(), v()).prop_map(|((a, b, c), (d, e, f))| Some(format!(">={a}.{b}.{c}, <{d}.{e}.{f}"))),
        (0u64..4, 0u64..4).prop_map(|(a, b)| Some(format!("~{a}.{b}"))),
        (0u64..4, 0u64..4).prop_map(|(a, b)| Some(format!("^{a}.{b}"))),
        v().prop_map(|(a, b, c)| Some(format!("={a}.{b}.{c}"))),
        v().prop_map(|(a, b, c)| Some(format!("<{a}.{b}.{c}"))),
        v().prop_map(|(a, b, c)| Some(format!(">{a}.{b}.{c}, <={a}.{b}.9"))),
    ]
}

fn catalog_strategy() -> impl Strategy<Value = Vec<(Version, Option<String>)>> {
    prop::collection::btree_map((0u64..4, 0u64..4, 0u64..3), range_strategy(), 1..25).prop_map(
        |m| {
            m.into_iter()
                .map(|((a, b, c), r)| (Version::new(a, b, c), r))
                .collect()
        },
    )
}

fn catalog_text(releases: &[(Version, Option<String>)]) -> String {
    let mut s = String::from("product = \"rand\"\n");
    for (v, r) in releases {
        s += &format!("[[release]]\nversion = \"{v}\"\n");
        if let Some(r) = r {
            s += &format!("upgrade_from = \"{r}\"\n");
        }
    }
    s
}

/// Fewest hops by brute force, or None.
fn bfs(releases: &[(Version, Option<String>)], from: usize, to: usize) -> Option<usize> {
    let accepts = |b: usize, a: usize| match &releases[b].1 {
        None => true,
        Some(r) => VersionReq::parse(r).unwrap().matches(&releases[a].0),
    };
    let mut dist = vec![usize::MAX; releases.len()];
    dist[from] = 0;
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(a) = queue.pop_front() {
        for b in a + 1..=to {
            if dist[b] == usize::MAX && accepts(b, a) {
                dist[b] = dist[a] + 1;
                queue.push_back(b);
            }
        }
    }
    (dist[to] != usize::MAX).then_some(dist[to])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn planner_finds_a_valid_shortest_path_or_says_why_not(
        releases in catalog_strategy(), i in any::<prop::sample::Index>(), j in any::<prop::sample::Index>()
    ) {
        let text = catalog_text(&releases);
        let set = CatalogSet::default().with_files([("rand.toml", text.as_str())]).unwrap();
        let (from, to) = (i.index(releases.len()), j.index(releases.len()));
        let src = format!("[installation]\nname = \"r\"\nproduct = \"rand\"\nversion = \"{}\"\n", releases[from].0);
        let loaded = load("m.toml", &src, &set).unwrap();
        match plan(&loaded, &releases[to].0.to_string()) {
            Ok(p) => {
                prop_assert!(to >= from);
                let mut at = releases[from].0.clone();
                for hop in &p.hops {
                    prop_assert_eq!(&hop.from, &at.to_string());
                    let b = releases.iter().find(|(v, _)| v.to_string() == hop.to).unwrap();
                    prop_assert!(b.0 > at, "hops go forward");
                    if let Some(r) = &b.1 {
                        prop_assert!(VersionReq::parse(r).unwrap().matches(&at), "{} does not accept {}", hop.to, at);
                    }
                    prop_assert!(!hop.reasons.is_empty());
                    at = b.0.clone();
                }
                prop_assert_eq!(at, releases[to].0.clone());
                prop_assert_eq!(Some(p.hops.len()), bfs(&releases, from, to));
            }
            Err(PlanError::Downgrade { .. }) => prop_assert!(to < from),
            Err(PlanError::NoPath { .. }) => prop_assert_eq!(bfs(&releases, from, to), None),
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    #[test]
    fn manifest_parser_never_panics_on_mutated_input(
        cut in any::<prop::sample::Index>(), junk in "[\\[\\]=\"a-z0-9 .,\n{}#]{0,12}", keep in any::<prop::sample::Index>()
    ) {
        let base = include_str!("../../../examples/demo/upshift.toml");
        let at = cut.index(base.len());
        let at = (0..=at).rev().find(|&k| base.is_char_boundary(k)).unwrap_or(0);
        let tail_from = (at + keep.index(40)).min(base.len());
        let tail_from = (tail_from..=base.len()).find(|&k| base.is_char_boundary(k)).unwrap_or(base.len());
        let src = format!("{}{}{}", &base[..at], junk, &base[tail_from..]);
        if let Err(d) = load("m.toml", &src, &CatalogSet::built_in()) {
            prop_assert!(d.line >= 1 && d.column >= 1);
            let text = d.to_string();
            prop_assert!(text.contains("m.toml:"), "{}", text);
        }
    }

    #[test]
    fn catalog_parser_never_panics(src in "(product = \"x\"\n)?(\\[\\[release\\]\\]\nversion = \"[0-9v.a-z-]{0,6}\"\n(upgrade_from = \"[<>=~^0-9., ]{0,10}\"\n)?){0,4}") {
        if let Ok(set) = CatalogSet::default().with_files([("c.toml", src.as_str())]) {
            for c in set.iter() {
                prop_assert!(c.releases.windows(2).all(|w| w[0].version < w[1].version));
            }
        }
    }
}
