//! Claims: the sentences most answers make (key points) and those one answer alone makes
//! (dissent).

use super::analysis::{Analysis, Sentence};
use super::{Claim, CLAIM_THRESHOLD};
use crate::text;

/// Sentences considered for key points and dissent, over all answers.
const CLAIM_SENTENCE_BUDGET: usize = 160;
const MAX_KEY_POINTS: usize = 10;
const MAX_DISSENT_PER_ANSWER: usize = 3;
const MAX_DISSENT: usize = 20;

/// Key points (claims made by at least half of the answers, and by two or more) and dissent
/// (claims made by one answer only, with three answers or more).
///
/// Each answer contributes at most `max(3, budget / n)` sentences — its first ones and its
/// last one (where the verdict usually is) — so the cost stays bounded for very long answers.
pub(super) fn claims(analysed: &[Analysis<'_>]) -> (Vec<Claim>, Vec<Claim>) {
    let n = analysed.len();
    if n < 2 {
        return (Vec::new(), Vec::new());
    }
    let per_answer = (CLAIM_SENTENCE_BUDGET / n).max(3);
    let mut owner: Vec<usize> = Vec::new();
    let mut position: Vec<usize> = Vec::new();
    let mut picked: Vec<Sentence<'_>> = Vec::new();
    for (a, analysis) in analysed.iter().enumerate() {
        let usable: Vec<(usize, Sentence<'_>)> = analysis
            .sentences()
            .enumerate()
            .filter(|(_, s)| s.words.len() >= 2)
            .collect();
        let chosen: Vec<(usize, Sentence<'_>)> = if usable.len() <= per_answer {
            usable
        } else {
            let mut c: Vec<_> = usable[..per_answer - 1].to_vec();
            c.push(usable[usable.len() - 1]);
            c
        };
        for (p, s) in chosen {
            owner.push(a);
            position.push(p);
            picked.push(s);
        }
    }
    let words: Vec<&[u64]> = picked.iter().map(|s| s.words).collect();
    let near = text::similar_pairs(&words, CLAIM_THRESHOLD);
    let supporters: Vec<Vec<usize>> = (0..picked.len())
        .map(|s| {
            let mut sup: Vec<usize> = near[s].iter().map(|&t| owner[t]).collect();
            sup.push(owner[s]);
            sup.sort_unstable();
            sup.dedup();
            sup
        })
        .collect();

    let needed = n.div_ceil(2).max(2);
    let mut candidates: Vec<usize> = (0..picked.len())
        .filter(|&s| supporters[s].len() >= needed)
        .collect();
    // Most supported first; then by wording, so the choice does not depend on answer order.
    candidates.sort_by(|&a, &b| {
        supporters[b]
            .len()
            .cmp(&supporters[a].len())
            .then_with(|| picked[a].raw.cmp(picked[b].raw))
    });
    let key_points = select(&candidates, &near, &supporters, &picked, MAX_KEY_POINTS);

    let mut dissent = Vec::new();
    if n >= 3 {
        let mut lonely: Vec<usize> = (0..picked.len())
            .filter(|&s| supporters[s].len() == 1)
            .collect();
        lonely.sort_by(|&a, &b| {
            position[a]
                .cmp(&position[b])
                .then_with(|| picked[a].raw.cmp(picked[b].raw))
        });
        let mut per: Vec<usize> = vec![0; n];
        let mut chosen: Vec<usize> = Vec::new();
        for s in lonely {
            if chosen.len() >= MAX_DISSENT || per[owner[s]] >= MAX_DISSENT_PER_ANSWER {
                continue;
            }
            if chosen
                .iter()
                .any(|&c| near[s].contains(&c) || picked[c].raw == picked[s].raw)
            {
                continue;
            }
            per[owner[s]] += 1;
            chosen.push(s);
        }
        chosen.sort_by(|&a, &b| owner[a].cmp(&owner[b]).then(position[a].cmp(&position[b])));
        dissent = chosen
            .into_iter()
            .map(|s| Claim {
                text: picked[s].raw.to_owned(),
                supporters: supporters[s].clone(),
            })
            .collect();
    }
    (key_points, dissent)
}

fn select(
    candidates: &[usize],
    near: &[Vec<usize>],
    supporters: &[Vec<usize>],
    picked: &[Sentence<'_>],
    limit: usize,
) -> Vec<Claim> {
    let mut chosen: Vec<usize> = Vec::new();
    for &s in candidates {
        if chosen.len() >= limit {
            break;
        }
        // One wording per claim: skip a sentence close to one already chosen.
        if chosen
            .iter()
            .any(|&c| near[s].contains(&c) || picked[c].raw == picked[s].raw)
        {
            continue;
        }
        chosen.push(s);
    }
    chosen
        .into_iter()
        .map(|s| Claim {
            text: picked[s].raw.to_owned(),
            supporters: supporters[s].clone(),
        })
        .collect()
}
