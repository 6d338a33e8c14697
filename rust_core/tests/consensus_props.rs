//! Property tests of the consensus engine.
#![expect(clippy::float_cmp, reason = "exact values are what the tests pin")]

use std::collections::BTreeSet;
use std::fmt::Write;

use proptest::prelude::*;
use rust_core::consensus::{consensus, Options, Report};

/// Sentences on one topic with opposite conclusions, so random answers have real structure.
const PHRASES: &[&str] = &[
    "A Deployment is adequate for this stateless service.",
    "A Deployment is not adequate for this stateless service.",
    "Use a StatefulSet because each replica needs its own volume.",
    "Scale the replicas horizontally behind the load balancer.",
    "Do not scale the replicas; the database is the bottleneck.",
    "Rolling updates keep the service available during a release.",
    "Verdict: yes.",
    "Verdict: no.",
    "",
    "日本語の回答です。",
];

fn answers() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::collection::vec(0..PHRASES.len(), 1..4), 0..12).prop_map(|v| {
        v.into_iter()
            .map(|idx| {
                idx.into_iter()
                    .map(|i| PHRASES[i])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    })
}

fn partition(r: &Report, relabel: &dyn Fn(usize) -> usize) -> BTreeSet<BTreeSet<usize>> {
    r.clusters
        .iter()
        .map(|c| c.members.iter().map(|&m| relabel(m)).collect())
        .collect()
}

fn check_invariants(r: &Report, n: usize) -> Result<(), TestCaseError> {
    prop_assert!((0.0..=1.0).contains(&r.agreement));
    prop_assert!(r.entropy >= 0.0 && r.entropy.is_finite());
    prop_assert_eq!(r.similarity.len(), n);
    for i in 0..n {
        prop_assert_eq!(r.similarity[i][i], 1.0);
        for j in 0..n {
            prop_assert!((0.0..=1.0).contains(&r.similarity[i][j]));
            prop_assert_eq!(r.similarity[i][j], r.similarity[j][i]);
        }
    }
    let members: usize = r.clusters.iter().map(|c| c.members.len()).sum();
    prop_assert_eq!(members, n);
    let share: f64 = r.clusters.iter().map(|c| c.share).sum();
    if n > 0 {
        prop_assert!((share - 1.0).abs() < 1e-9);
        prop_assert!(r.clusters[0].members.contains(&r.consensus.unwrap()));
    }
    for c in &r.clusters {
        prop_assert!(c.members.contains(&c.representative));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Clustering depends on the answers, not on the order they came in.
    #[test]
    fn invariant_under_permutation(texts in answers(), seed in any::<u64>(), with_verdicts in any::<bool>()) {
        let n = texts.len();
        let mut perm: Vec<usize> = (0..n).collect();
        // A seeded Fisher-Yates shuffle: perm[new] = old.
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            perm.swap(i, usize::try_from(s % (i as u64 + 1)).unwrap());
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let shuffled: Vec<&str> = perm.iter().map(|&i| refs[i]).collect();
        let verdicts: Vec<Option<&str>> = refs.iter().map(|t| if t.contains("yes") { Some("yes") } else { None }).collect();
        let shuffled_verdicts: Vec<Option<&str>> = perm.iter().map(|&i| verdicts[i]).collect();
        let (o1, o2) = if with_verdicts {
            (Options { verdicts: Some(&verdicts), ..Options::default() },
             Options { verdicts: Some(&shuffled_verdicts), ..Options::default() })
        } else {
            (Options::default(), Options::default())
        };
        let a = consensus(&refs, &o1).unwrap();
        let b = consensus(&shuffled, &o2).unwrap();
        check_invariants(&a, n)?;
        check_invariants(&b, n)?;
        prop_assert_eq!(partition(&a, &|i| i), partition(&b, &|i| perm[i]));
        prop_assert!((a.agreement - b.agreement).abs() < 1e-12);
        prop_assert!((a.entropy - b.entropy).abs() < 1e-12);
        let claims = |r: &Report| -> BTreeSet<String> { r.key_points.iter().map(|c| c.text.clone()).collect() };
        prop_assert_eq!(claims(&a), claims(&b));
    }

    /// Identical answers: one cluster, agreement 1, entropy 0.
    #[test]
    fn identical_answers_agree(text in "\\PC{0,80}", n in 1usize..12) {
        let refs: Vec<&str> = vec![text.as_str(); n];
        let r = consensus(&refs, &Options::default()).unwrap();
        prop_assert_eq!(r.clusters.len(), 1);
        prop_assert_eq!(r.agreement, 1.0);
        prop_assert_eq!(r.entropy, 0.0);
    }

    /// Any text, weights and threshold: no panic, and the report's invariants hold.
    #[test]
    fn arbitrary_input_keeps_invariants(
        texts in prop::collection::vec("\\PC{0,60}", 0..10),
        weights in prop::collection::vec(0.0f64..10.0, 10),
        threshold in 0.0f64..=1.0,
    ) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut w = weights[..refs.len()].to_vec();
        if let Some(first) = w.first_mut() { *first += 1.0; }
        let r = consensus(&refs, &Options { weights: Some(&w), threshold: Some(threshold), ..Options::default() }).unwrap();
        check_invariants(&r, refs.len())?;
    }

    /// An agreement matrix of hard 0/1 votes clusters into exactly its blocks.
    #[test]
    fn agreement_blocks_are_recovered(labels in prop::collection::vec(0usize..4, 1..15)) {
        let n = labels.len();
        let m: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| if labels[i] == labels[j] { 1.0 } else { 0.0 }).collect()).collect();
        let refs: Vec<&str> = vec!["same words"; n];
        let r = consensus(&refs, &Options { agreement: Some(&m), ..Options::default() }).unwrap();
        let expected: BTreeSet<BTreeSet<usize>> = labels.iter().map(|l| (0..n).filter(|&i| labels[i] == *l).collect()).collect();
        prop_assert_eq!(partition(&r, &|i| i), expected);
    }
}

#[test]
fn long_and_many_answers() {
    let long: String = (0..100_000).fold(String::new(), |mut s, i| {
        write!(s, "word{} ", i % 5000).unwrap();
        s
    });
    let mut texts: Vec<String> = (0..49)
        .map(|i| {
            [
                "The service should scale out.",
                "Scale the service out!",
                "The service should scale out",
            ][i % 3]
                .to_owned()
        })
        .collect();
    texts.push(long);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let r = consensus(&refs, &Options::default()).unwrap();
    assert_eq!(r.similarity.len(), 50);
    // The long answer shares no word with the others: it stands alone.
    assert!(r.clusters.iter().any(|c| c.members == vec![49]));
    assert_eq!(r.clusters[0].members.len(), 49);
    assert!((r.agreement - 49.0 / 50.0).abs() < 1e-12);
}

#[test]
fn mixed_languages() {
    let refs = [
        "Kubernetes Deployment ist hier nicht geeignet.",
        "Kubernetes Deployment ist hier geeignet.",
        "Un Deployment n'est pas adapté ici.",
        "Deployment は適切です。",
    ];
    let r = consensus(&refs, &Options::default()).unwrap();
    assert_eq!(r.similarity.len(), 4);
    // Negation costs more similarity than an extra adverb, in German as in English.
    let adverb =
        rust_core::text::text_similarity(refs[1], "Kubernetes Deployment ist hier sehr geeignet.");
    assert!(
        r.similarity[0][1] < adverb,
        "{} vs {adverb}",
        r.similarity[0][1]
    );
}
