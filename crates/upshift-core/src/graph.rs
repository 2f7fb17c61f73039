//! Dependency graphs written in TOML (services' `depends_on`, a fleet's
//! `uses`): the cycle that makes an order impossible, named with the
//! entry that closes it.

use std::ops::Range;

use indexmap::IndexMap;
use toml::Spanned;

/// The first cycle in `edges` (node → the nodes it needs), as the names
/// along it (the first repeated at the end) and the span of the entry
/// that closes it. Edges to unknown nodes are ignored: those are reported
/// apart, with a "did you mean".
pub fn find_cycle(
    edges: &IndexMap<&str, &[Spanned<String>]>,
) -> Option<(Vec<String>, Range<usize>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    // Iterative DFS: stack of (node index, next edge index).
    for root in 0..edges.len() {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Active;
        while let Some(&mut (i, ref mut next)) = stack.last_mut() {
            let deps = edges[i];
            if *next == deps.len() {
                mark[i] = Mark::Done;
                stack.pop();
                continue;
            }
            let dep = &deps[*next];
            *next += 1;
            let Some(j) = edges.get_index_of(dep.get_ref().as_str()) else {
                continue;
            };
            match mark[j] {
                Mark::Active => {
                    let from = stack.iter().position(|(k, _)| *k == j).unwrap_or(0);
                    let mut cycle: Vec<String> = stack[from..]
                        .iter()
                        .map(|(k, _)| edges.get_index(*k).map(|(n, _)| n.to_string()))
                        .collect::<Option<_>>()?;
                    cycle.push(dep.get_ref().clone());
                    return Some((cycle, dep.span()));
                }
                Mark::New => {
                    mark[j] = Mark::Active;
                    stack.push((j, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
