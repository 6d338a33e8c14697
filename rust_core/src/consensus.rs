//! Consensus over expert answers: cluster them by conclusion, measure agreement, extract key
//! points and dissent.
//!
//! Similarity comes from the strongest signal given: an external agreement matrix, else the
//! verdict lines blended with the body, else embeddings, else the negation-aware text features
//! of [`crate::text`]. Clustering is average-linkage agglomerative with a threshold, run on a
//! canonical (content-sorted) order of the answers, so the result does not depend on the
//! order the answers came in.

use std::cmp::Ordering;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::text;

/// Default threshold for text alone (chosen on the labelled answer groups, see the README).
pub const TEXT_THRESHOLD: f64 = 0.15;
/// Default threshold for verdicts blended with text.
pub const VERDICT_THRESHOLD: f64 = 0.05;
/// Default threshold for embedding cosine.
pub const EMBEDDING_THRESHOLD: f64 = 0.80;
/// Default threshold for an agreement matrix: agree when most judges say so.
pub const AGREEMENT_THRESHOLD: f64 = 0.5;
/// With verdicts, similarity = verdict · (W + (1 − W) · body): the share W of the verdict
/// similarity that does not depend on the body.
pub const VERDICT_WEIGHT: f64 = 0.7;
/// Least verdict similarity of two verdicts with the same stance (both affirm or both negate).
pub const STANCE_AGREEMENT: f64 = 0.5;
/// Two sentences state the same claim at this TF-IDF cosine or above.
pub const CLAIM_THRESHOLD: f64 = 0.5;
/// Most answers accepted in one call (clustering is cubic in the number of answers).
pub const MAX_ANSWERS: usize = 256;
/// Most bytes of text (answers and verdicts together) accepted in one call.
pub const MAX_INPUT_BYTES: usize = 64 << 20;
/// Sentences considered for key points and dissent, over all answers.
const CLAIM_SENTENCE_BUDGET: usize = 160;
const MAX_KEY_POINTS: usize = 10;
const MAX_DISSENT_PER_ANSWER: usize = 3;
const MAX_DISSENT: usize = 20;

/// Which signal drove the clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An external agreement matrix.
    Agreement,
    /// Verdict lines blended with the body (text or embeddings).
    Verdicts,
    /// Precomputed embedding vectors.
    Embeddings,
    /// Negation-aware TF-IDF text features.
    Text,
}

impl Signal {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Agreement => "agreement",
            Signal::Verdicts => "verdicts",
            Signal::Embeddings => "embeddings",
            Signal::Text => "text",
        }
    }

    /// The default clustering threshold for this signal.
    pub fn default_threshold(self) -> f64 {
        match self {
            Signal::Agreement => AGREEMENT_THRESHOLD,
            Signal::Verdicts => VERDICT_THRESHOLD,
            Signal::Embeddings => EMBEDDING_THRESHOLD,
            Signal::Text => TEXT_THRESHOLD,
        }
    }
}

/// Optional inputs of [`consensus`]; every slice, when given, has one entry per answer.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options<'a> {
    /// Per-answer weights (finite, ≥ 0, not all 0); equal weights when absent.
    pub weights: Option<&'a [f64]>,
    /// Per-answer verdict lines; a `None` entry is unknown: that answer's pairs use the body.
    pub verdicts: Option<&'a [Option<&'a str>]>,
    /// Per-answer embedding vectors, all of one dimension.
    pub embeddings: Option<&'a [Vec<f64>]>,
    /// `agreement[i][j]` in [0, 1]: how much answer i is judged to reach j's conclusion.
    pub agreement: Option<&'a [Vec<f64>]>,
    /// Clustering threshold in [0, 1]; the signal's default when absent.
    pub threshold: Option<f64>,
}

/// A group of answers that reach the same conclusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Indices of the member answers, ascending.
    pub members: Vec<usize>,
    /// The medoid: the member with the highest mean similarity to the other members.
    pub representative: usize,
    /// Sum of the members' weights.
    pub weight: f64,
    /// `weight` / total weight.
    pub share: f64,
}

/// A sentence-level claim and the answers that make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claim as one answer worded it.
    pub text: String,
    /// Indices of the answers that make the claim, ascending.
    pub supporters: Vec<usize>,
}

/// The measured consensus of a set of answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Which signal drove the clustering.
    pub signal: Signal,
    /// The threshold the clustering used.
    pub threshold: f64,
    /// Clusters, heaviest first; ties broken by the smallest member index.
    pub clusters: Vec<Cluster>,
    /// The heaviest cluster's representative; `None` for no answers.
    pub consensus: Option<usize>,
    /// Weighted share of the heaviest cluster in [0, 1]; 0 for no answers.
    pub agreement: f64,
    /// Semantic entropy (natural log) over cluster shares.
    pub entropy: f64,
    /// The similarity matrix that was clustered (symmetric, diagonal 1).
    pub similarity: Vec<Vec<f64>>,
    /// Claims supported by at least half of the answers (and at least two).
    pub key_points: Vec<Claim>,
    /// Claims made by one answer only (with three answers or more).
    pub dissent: Vec<Claim>,
}

fn invalid(msg: String) -> Error {
    Error::InvalidInput(msg)
}

fn validate(answers: &[&str], o: &Options<'_>) -> Result<Signal> {
    let n = answers.len();
    if n > MAX_ANSWERS {
        return Err(invalid(format!(
            "{n} answers; at most {MAX_ANSWERS} are accepted"
        )));
    }
    let mut bytes: usize = answers.iter().map(|a| a.len()).sum();
    if let Some(w) = o.weights {
        if w.len() != n {
            return Err(invalid(format!("{} weights for {n} answers", w.len())));
        }
        if let Some((i, x)) = w
            .iter()
            .enumerate()
            .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
        {
            return Err(invalid(format!(
                "weight {i} is {x}; weights must be finite and >= 0"
            )));
        }
        if n > 0 && w.iter().sum::<f64>() <= 0.0 {
            return Err(invalid("weights sum to 0".to_owned()));
        }
        if !w.iter().sum::<f64>().is_finite() {
            return Err(invalid("weights sum to infinity".to_owned()));
        }
    }
    if let Some(v) = o.verdicts {
        if v.len() != n {
            return Err(invalid(format!("{} verdicts for {n} answers", v.len())));
        }
        bytes += v.iter().map(|x| x.map_or(0, str::len)).sum::<usize>();
    }
    if bytes > MAX_INPUT_BYTES {
        return Err(invalid(format!(
            "{bytes} bytes of text; at most {MAX_INPUT_BYTES} are accepted"
        )));
    }
    if let Some(e) = o.embeddings {
        if e.len() != n {
            return Err(invalid(format!("{} embeddings for {n} answers", e.len())));
        }
        if let Some(first) = e.first() {
            if first.is_empty() {
                return Err(invalid("embeddings must have dimension >= 1".to_owned()));
            }
            for (i, row) in e.iter().enumerate() {
                if row.len() != first.len() {
                    return Err(invalid(format!(
                        "embedding {i} has dimension {}, embedding 0 has {}",
                        row.len(),
                        first.len()
                    )));
                }
                if row.iter().any(|x| !x.is_finite()) {
                    return Err(invalid(format!("embedding {i} has a non-finite value")));
                }
            }
        }
    }
    if let Some(a) = o.agreement {
        if a.len() != n {
            return Err(invalid(format!(
                "agreement matrix has {} rows for {n} answers",
                a.len()
            )));
        }
        for (i, row) in a.iter().enumerate() {
            if row.len() != n {
                return Err(invalid(format!(
                    "agreement row {i} has {} columns; the matrix must be {n} x {n}",
                    row.len()
                )));
            }
            if let Some(x) = row
                .iter()
                .find(|x| !(x.is_finite() && (0.0..=1.0).contains(*x)))
            {
                return Err(invalid(format!(
                    "agreement row {i} holds {x}; values must be in [0, 1]"
                )));
            }
        }
    }
    if let Some(t) = o.threshold {
        if !(t.is_finite() && (0.0..=1.0).contains(&t)) {
            return Err(invalid(format!("threshold {t} is outside [0, 1]")));
        }
    }
    Ok(if o.agreement.is_some() {
        Signal::Agreement
    } else if o.verdicts.is_some() {
        Signal::Verdicts
    } else if o.embeddings.is_some() {
        Signal::Embeddings
    } else {
        Signal::Text
    })
}

/// An answer's word features, sentence by sentence in one buffer.
struct Analysis<'a> {
    /// The features of every sentence, in order: the body's features.
    words: Vec<u64>,
    /// Each sentence (trimmed) and the range of its features in `words`.
    sentences: Vec<(&'a str, Range<usize>)>,
}

/// One sentence of an answer with its word features.
#[derive(Clone, Copy)]
struct Sentence<'a> {
    raw: &'a str,
    words: &'a [u64],
}

impl Analysis<'_> {
    fn sentences(&self) -> impl Iterator<Item = Sentence<'_>> {
        self.sentences.iter().map(|(raw, r)| Sentence {
            raw,
            words: &self.words[r.clone()],
        })
    }
}

fn analyse(answer: &str) -> Analysis<'_> {
    let mut words = Vec::new();
    let sentences = text::sentence_features(answer, &mut words)
        .into_iter()
        .map(|(span, r)| (&answer[span], r))
        .collect();
    Analysis { words, sentences }
}

/// TF-IDF cosine of word-feature sequences; two sequences without features (only stop words
/// or punctuation) are alike only when their texts are equal after normalising.
fn text_similarities<W: AsRef<[u64]>>(words: &[W], texts: &[&str]) -> Vec<Vec<f64>> {
    let mut m = text::cosine_matrix(words);
    let empty: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].as_ref().is_empty())
        .collect();
    let norm: Vec<String> = empty
        .iter()
        .map(|&i| text::normalize(texts[i]).trim().to_owned())
        .collect();
    for (x, &i) in empty.iter().enumerate() {
        for (y, &j) in empty.iter().enumerate().skip(x + 1) {
            let s = if norm[x] == norm[y] { 1.0 } else { 0.0 };
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

fn embedding_matrix(e: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = e.len();
    let norms: Vec<f64> = e
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let mut m = vec![vec![0.0; n]; n];
    for i in 0..n {
        m[i][i] = 1.0;
        for j in i + 1..n {
            let dot: f64 = e[i].iter().zip(&e[j]).map(|(a, b)| a * b).sum();
            let s = if norms[i] > 0.0 && norms[j] > 0.0 {
                (dot / (norms[i] * norms[j])).clamp(0.0, 1.0)
            } else if e[i] == e[j] {
                1.0
            } else {
                0.0
            };
            let s = if s.is_finite() { s } else { 0.0 };
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

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
fn cluster(answers: &[&str], o: &Options<'_>, sim: &[Vec<f64>], threshold: f64) -> Vec<Vec<usize>> {
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

fn medoid(members: &[usize], sim: &[Vec<f64>]) -> usize {
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

/// Clusters answers by conclusion and measures the consensus. Deterministic and invariant to
/// the order of the answers (up to exact ties between indistinguishable answers).
pub fn consensus(answers: &[&str], o: &Options<'_>) -> Result<Report> {
    let signal = validate(answers, o)?;
    let threshold = o.threshold.unwrap_or(signal.default_threshold());
    let n = answers.len();
    if n == 0 {
        return Ok(Report {
            signal,
            threshold,
            clusters: Vec::new(),
            consensus: None,
            agreement: 0.0,
            entropy: 0.0,
            similarity: Vec::new(),
            key_points: Vec::new(),
            dissent: Vec::new(),
        });
    }
    let analysed: Vec<Analysis<'_>> = answers.iter().map(|a| analyse(a)).collect();
    let sim = match (o.agreement, o.verdicts) {
        (Some(a), _) => (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            1.0
                        } else {
                            (a[i][j] + a[j][i]) / 2.0
                        }
                    })
                    .collect()
            })
            .collect(),
        (None, verdicts) => {
            let body = match o.embeddings {
                Some(e) => embedding_matrix(e),
                None => text_matrix(answers, &analysed),
            };
            match verdicts {
                Some(v) => blend_verdicts(v, &body),
                None => body,
            }
        }
    };
    let weights: Vec<f64> = o.weights.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
    let total: f64 = weights.iter().sum();
    let mut clusters: Vec<Cluster> = cluster(answers, o, &sim, threshold)
        .into_iter()
        .map(|canon_members| {
            let representative = medoid(&canon_members, &sim);
            let mut members = canon_members;
            members.sort_unstable();
            let weight: f64 = members.iter().map(|&i| weights[i]).sum();
            Cluster {
                members,
                representative,
                weight,
                share: (weight / total).clamp(0.0, 1.0),
            }
        })
        .collect();
    clusters.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then(a.members[0].cmp(&b.members[0]))
    });
    let agreement = clusters[0].share;
    let entropy = clusters
        .iter()
        .filter(|c| c.share > 0.0)
        .map(|c| -c.share * c.share.ln())
        .sum::<f64>()
        .max(0.0);
    let (key_points, dissent) = claims(&analysed);
    Ok(Report {
        signal,
        threshold,
        consensus: Some(clusters[0].representative),
        clusters,
        agreement,
        entropy,
        similarity: sim,
        key_points,
        dissent,
    })
}

fn text_matrix(answers: &[&str], analysed: &[Analysis<'_>]) -> Vec<Vec<f64>> {
    let words: Vec<&[u64]> = analysed.iter().map(|a| a.words.as_slice()).collect();
    text_similarities(&words, answers)
}

fn blend_verdicts(verdicts: &[Option<&str>], body: &[Vec<f64>]) -> Vec<Vec<f64>> {
    // A missing verdict is treated as unknown (its pairs fall back to the body), not guessed.
    let framed: Vec<String> = verdicts
        .iter()
        .map(|v| v.map_or_else(String::new, text::strip_framing))
        .collect();
    let lines: Vec<&str> = framed.iter().map(String::as_str).collect();
    let words: Vec<Vec<u64>> = lines.iter().map(|l| text::word_features(l)).collect();
    let mut stances: Vec<i8> = words.iter().map(|w| text::stance(w)).collect();
    // When most stated verdicts are explicit votes, the question was a yes/no one, and a
    // verdict that negates nothing ("run them on every PR") affirms.
    let stated = verdicts.iter().filter(|v| v.is_some()).count();
    if stances.iter().filter(|s| **s != 0).count() * 2 >= stated {
        for (s, v) in stances.iter_mut().zip(verdicts) {
            if *s == 0 && v.is_some() {
                *s = 1;
            }
        }
    }
    let vsim = text_similarities(&words, &lines);
    let n = verdicts.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        return 1.0;
                    }
                    if verdicts[i].is_none() || verdicts[j].is_none() {
                        return body[i][j];
                    }
                    let v = match stances[i] * stances[j] {
                        // Opposite votes ("yes" / "not adequate") never agree ...
                        -1 => 0.0,
                        // ... and equal votes agree at least STANCE_AGREEMENT.
                        1 => STANCE_AGREEMENT + (1.0 - STANCE_AGREEMENT) * vsim[i][j],
                        _ => vsim[i][j],
                    };
                    // The body can only temper verdict similarity, never create it: answers on
                    // one topic share words whatever they conclude.
                    v * (VERDICT_WEIGHT + (1.0 - VERDICT_WEIGHT) * body[i][j])
                })
                .collect()
        })
        .collect()
}

/// Key points (claims made by at least half of the answers, and by two or more) and dissent
/// (claims made by one answer only, with three answers or more).
///
/// Each answer contributes at most `max(3, budget / n)` sentences — its first ones and its
/// last one (where the verdict usually is) — so the cost stays bounded for very long answers.
fn claims(analysed: &[Analysis<'_>]) -> (Vec<Claim>, Vec<Claim>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_one_and_identical() {
        let r = consensus(&[], &Options::default()).unwrap();
        assert_eq!(r.consensus, None);
        assert_eq!(r.agreement, 0.0);
        let r = consensus(&["only one"], &Options::default()).unwrap();
        assert_eq!(r.consensus, Some(0));
        assert_eq!(r.agreement, 1.0);
        let same = ["Use a Deployment. It is fine for this web service."; 4];
        let r = consensus(&same, &Options::default()).unwrap();
        assert_eq!(r.clusters.len(), 1);
        assert_eq!(r.agreement, 1.0);
        assert_eq!(r.entropy, 0.0);
        assert_eq!(r.key_points.len(), 2);
        assert!(r.dissent.is_empty());
    }

    #[test]
    fn negation_splits_near_copies() {
        let answers = [
            "A Deployment is adequate for this stateless web service.",
            "For this stateless web service a Deployment is adequate.",
            "A Deployment is not adequate for this stateless web service.",
        ];
        let r = consensus(&answers, &Options::default()).unwrap();
        assert_eq!(r.clusters.len(), 2, "{:?}", r.similarity);
        assert_eq!(r.clusters[0].members, vec![0, 1]);
        assert!((r.agreement - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn agreement_matrix_wins() {
        let a = vec![
            vec![1.0, 1.0, 0.0],
            vec![1.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        let o = Options {
            agreement: Some(&a),
            ..Options::default()
        };
        let r = consensus(&["x", "y", "z"], &o).unwrap();
        assert_eq!(r.signal, Signal::Agreement);
        assert_eq!(r.clusters[0].members, vec![0, 1]);
    }

    #[test]
    fn rejects_bad_input() {
        let bad = [f64::NAN];
        assert!(consensus(
            &["a"],
            &Options {
                weights: Some(&bad),
                ..Options::default()
            }
        )
        .is_err());
        let ragged = vec![vec![1.0, 0.0], vec![1.0]];
        assert!(consensus(
            &["a", "b"],
            &Options {
                agreement: Some(&ragged),
                ..Options::default()
            }
        )
        .is_err());
        assert!(consensus(
            &["a"],
            &Options {
                threshold: Some(1.5),
                ..Options::default()
            }
        )
        .is_err());
        let dims = vec![vec![1.0, 0.0], vec![1.0]];
        assert!(consensus(
            &["a", "b"],
            &Options {
                embeddings: Some(&dims),
                ..Options::default()
            }
        )
        .is_err());
        let v = [None];
        assert!(consensus(
            &["a", "b"],
            &Options {
                verdicts: Some(&v),
                ..Options::default()
            }
        )
        .is_err());
    }
}
