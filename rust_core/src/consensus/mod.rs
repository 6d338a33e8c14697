//! Consensus over expert answers: cluster them by conclusion, measure agreement, extract key
//! points and dissent.
//!
//! Similarity comes from the strongest signal given: an external agreement matrix, else the
//! verdict lines blended with the body, else embeddings, else the negation-aware text features
//! of [`crate::text`]. Clustering is average-linkage agglomerative with a threshold, run on a
//! canonical (content-sorted) order of the answers, so the result does not depend on the
//! order the answers came in.
//!
//! The parts: input checks (`validate`), per-answer sentences and features (`analysis`), the
//! similarity matrix (`similarity`), clustering (`clustering`), key points and dissent
//! (`claims`).

mod analysis;
mod claims;
mod clustering;
mod similarity;
mod validate;

use crate::error::Result;
use analysis::{analyse, Analysis};
use claims::claims;
use clustering::{cluster, medoid};
use validate::validate;

pub use clustering::average_linkage;

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

/// Clusters answers by conclusion and measures the consensus. Deterministic and invariant to
/// the order of the answers (up to exact ties between indistinguishable answers).
///
/// # Errors
///
/// [`Error::InvalidInput`](crate::Error::InvalidInput) when there are more than
/// [`MAX_ANSWERS`] answers or more than [`MAX_INPUT_BYTES`] of text, an option's length does
/// not match the answers, a weight is negative or not finite (or the weights sum to 0 or to
/// infinity), the embeddings are empty, ragged or not finite, the agreement matrix is not
/// square or holds a value outside [0, 1], or the threshold is outside [0, 1].
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
    let sim = similarity::matrix(answers, o, &analysed);
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

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "exact values are what the tests pin")]
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
}
