//! The upgrade path: the fewest hops from the current release to the target
//! in which every hop's target accepts its start, preferring the newest
//! release at each stop.
//!
//! Releases are sorted and every `upgrade_from` range is an interval, so each
//! release accepts a contiguous span of older releases. Hops only go forward,
//! so the releases form a DAG in version order and a single pass with a
//! range-minimum tree gives the shortest path in O(n log n).

use std::collections::BTreeSet;

use crate::catalog::Catalog;

/// Why no path exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoPath {
    /// Index of the newest release reachable from the start (maybe the start).
    pub furthest: usize,
}

/// For each release, the oldest release a hop into it may start from,
/// given the installation's facts: a release whose `stop_if` names one of
/// them is a required stop, so no hop into a later minor line starts
/// before it (from `16.0.3` the path lands on the stop `16.0.10` first).
pub fn floors(catalog: &Catalog, facts: &BTreeSet<&str>) -> Vec<usize> {
    let rs = &catalog.releases;
    let mut floors = vec![0; rs.len()];
    let (mut floor, mut i) = (0, 0);
    while i < rs.len() {
        let line = (rs[i].version.major, rs[i].version.minor);
        let end = i + rs[i..]
            .iter()
            .take_while(|r| (r.version.major, r.version.minor) == line)
            .count();
        floors[i..end].fill(floor);
        if let Some(k) = rs[i..end].iter().rposition(|r| stops_for(r, facts)) {
            floor = i + k;
        }
        i = end;
    }
    floors
}

/// Whether the installation's facts make `r` a required stop.
pub fn stops_for(r: &crate::catalog::Release, facts: &BTreeSet<&str>) -> bool {
    r.stop_if.iter().any(|f| facts.contains(f.as_str()))
}

/// Stops after `start` up to and including `target` (indices into
/// `catalog.releases`); no hop into release `i` starts before `floors[i]`.
pub fn find_path(
    catalog: &Catalog,
    floors: &[usize],
    start: usize,
    target: usize,
) -> Result<Vec<usize>, NoPath> {
    assert!(start < target && target < catalog.releases.len());
    let n = target - start + 1; // local index k ↔ release start + k
    let mut tree = MinTree::new(n);
    let mut pred = vec![usize::MAX; n];
    let mut furthest = 0;
    tree.set(0, 0);
    for (k, pred_k) in pred.iter_mut().enumerate().skip(1) {
        let i = start + k;
        let (lo, hi) = catalog.releases[i].accepts;
        let lo = lo.max(start).max(floors[i]);
        let hi = hi.min(i);
        if lo >= hi {
            continue;
        }
        if let Some((dist, j)) = tree.min(lo - start, hi - start) {
            *pred_k = j;
            tree.set(k, dist + 1);
            furthest = k;
        }
    }
    if pred[n - 1] == usize::MAX {
        return Err(NoPath {
            furthest: start + furthest,
        });
    }
    let mut stops = Vec::new();
    let mut k = n - 1;
    while k != 0 {
        stops.push(start + k);
        k = pred[k];
    }
    stops.reverse();
    Ok(stops)
}

/// Range minimum over (distance, newest index first) with point updates.
struct MinTree {
    size: usize,
    // (dist, index); empty = (u32::MAX, 0)
    nodes: Vec<(u32, usize)>,
}

const EMPTY: (u32, usize) = (u32::MAX, 0);

fn better(a: (u32, usize), b: (u32, usize)) -> (u32, usize) {
    // Fewer hops wins; on a tie the newer release (higher index) wins.
    if a.0 < b.0 || (a.0 == b.0 && a.1 > b.1) {
        a
    } else {
        b
    }
}

impl MinTree {
    fn new(n: usize) -> Self {
        let size = n.next_power_of_two();
        MinTree {
            size,
            nodes: vec![EMPTY; 2 * size],
        }
    }

    fn set(&mut self, i: usize, dist: u32) {
        let mut p = i + self.size;
        self.nodes[p] = (dist, i);
        while p > 1 {
            p /= 2;
            self.nodes[p] = better(self.nodes[2 * p], self.nodes[2 * p + 1]);
        }
    }

    /// Best over `[lo, hi)`, or `None` when nothing there is reachable.
    fn min(&self, lo: usize, hi: usize) -> Option<(u32, usize)> {
        let (mut l, mut r) = (lo + self.size, hi + self.size);
        let mut best = EMPTY;
        while l < r {
            if l & 1 == 1 {
                best = better(best, self.nodes[l]);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                best = better(best, self.nodes[r]);
            }
            l /= 2;
            r /= 2;
        }
        (best.0 != u32::MAX).then_some(best)
    }
}
