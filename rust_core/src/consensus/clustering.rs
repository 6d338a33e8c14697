//! Average-linkage agglomerative clustering, run on a canonical (content-sorted) order of the
//! answers so that the clusters do not depend on the order the answers came in.

use std::cmp::Ordering;

use super::Options;

/// Average-linkage agglomerative clustering of `sim` (in its given order): repeatedly merge the
/// two most similar clusters while their mean pairwise similarity is ≥ `threshold`. Exact ties
/// go to the lowest (row, column) pair.
pub fn average_linkage(sim: &[Vec<f64>], threshold: f64) -> Vec<Vec<usize>> {
    let n = sim.len();
    let mut link: Vec<Vec<f64>> = sim.to_vec();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut active: Vec<bool> = vec![true; n];
    loop {
        let mut best: Option<(usize, usize, f64)> = None;
        for a in 0..n {
            if !active[a] {
                continue;
            }
            for b in a + 1..n {
                if active[b] && best.is_none_or(|(_, _, s)| link[a][b] > s) {
                    best = Some((a, b, link[a][b]));
                }
            }
        }
        let Some((a, b, s)) = best else { break };
        if s < threshold {
            break;
        }
        let (na, nb) = (members[a].len() as f64, members[b].len() as f64);
        for c in 0..n {
            if active[c] && c != a && c != b {
                let merged = (na * link[a][c] + nb * link[b][c]) / (na + nb);
                link[a][c] = merged;
                link[c][a] = merged;
            }
        }
        let moved = std::mem::take(&mut members[b]);
        members[a].extend(moved);
        active[b] = false;
    }
    members
        .into_iter()
        .zip(active)
        .filter(|(_, on)| *on)
        .map(|(m, _)| m)
        .collect()
}

/// A content order of the answers: equal inputs up to permutation give equal orders, so
/// clustering in this order is invariant to the order the answers came in.
fn canonical_order(answers: &[&str], o: &Options<'_>, sim: &[Vec<f64>]) -> Vec<usize> {
    let sorted_row = |m: &[Vec<f64>], i: usize| {
        let mut r = m[i].clone();
        r.sort_by(f64::total_cmp);
        r
    };
    let sim_rows: Vec<Vec<f64>> = (0..answers.len()).map(|i| sorted_row(sim, i)).collect();
    let mut order: Vec<usize> = (0..answers.len()).collect();
    order.sort_by(|&i, &j| {
        let mut c = answers[i].cmp(answers[j]);
        if let Some(v) = o.verdicts {
            c = c.then_with(|| v[i].cmp(&v[j]));
        }
        if let Some(w) = o.weights {
            c = c.then_with(|| w[i].total_cmp(&w[j]));
        }
        if let Some(e) = o.embeddings {
            c = c.then_with(|| cmp_floats(&e[i], &e[j]));
        }
        c.then_with(|| cmp_floats(&sim_rows[i], &sim_rows[j]))
    });
    order
}

fn cmp_floats(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|c| c.is_ne())
        .unwrap_or(a.len().cmp(&b.len()))
}

/// Clusters `sim` invariantly to the order of the answers; members in original indices.
pub(super) fn cluster(
    answers: &[&str],
    o: &Options<'_>,
    sim: &[Vec<f64>],
    threshold: f64,
) -> Vec<Vec<usize>> {
    let order = canonical_order(answers, o, sim);
    let permuted: Vec<Vec<f64>> = order
        .iter()
        .map(|&i| order.iter().map(|&j| sim[i][j]).collect())
        .collect();
    average_linkage(&permuted, threshold)
        .into_iter()
        .map(|c| {
            // Keep canonical order inside a cluster for the medoid's tie-break.
            c.into_iter().map(|k| order[k]).collect()
        })
        .collect()
}

/// The member with the highest total similarity to the other members (the first on a tie).
pub(super) fn medoid(members: &[usize], sim: &[Vec<f64>]) -> usize {
    let mut best = (members[0], f64::NEG_INFINITY);
    for &i in members {
        let total: f64 = members
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| sim[i][j])
            .sum();
        if total > best.1 {
            best = (i, total);
        }
    }
    best.0
}
