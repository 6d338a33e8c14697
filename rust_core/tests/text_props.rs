//! Property tests of the text features: the fast paths agree with the plain definitions.
#![expect(clippy::float_cmp, reason = "exact values are what the tests pin")]

use proptest::prelude::*;
use rust_core::text::{
    cosine_matrix, sentence_features, similar_pairs, split_sentences, word_features,
};

/// Pieces that exercise every branch of the scanners: negators, contractions, apostrophes,
/// clause and sentence ends (ASCII, CJK, and '.' not followed by whitespace), stemming
/// suffixes, stop words, non-ASCII letters and whitespace.
const PIECES: &[&str] = &[
    "not",
    "isn't",
    "can't",
    "Don’t",
    "never",
    "but",
    "however",
    "adequate",
    "fine",
    "LGTM",
    "nope",
    "reject",
    "deployments",
    "scaling",
    "scaled",
    "quickly",
    "classes",
    "boss",
    "the",
    "'quoted'",
    "''",
    "a'b",
    "e.g.",
    "v1.2",
    "...",
    ".",
    ",",
    "!",
    "?",
    ";",
    ":",
    "(",
    ")",
    "\n",
    "\t",
    "\u{0b}",
    " ",
    "  ",
    "部署",
    "問題。",
    "不",
    "！",
    "？",
    "ＳＴＲＡẞＥ",
    "naïve",
    "é",
    "e\u{301}",
    "\u{a0}",
    "\u{2028}",
    "🙂",
    "nicht",
    "pas",
    "yes",
    "x1",
    "123",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec((0..PIECES.len(), 0..3usize), 0..40).prop_map(|v| {
        v.into_iter()
            .map(|(i, sep)| [PIECES[i], ["", " ", ". "][sep]].concat())
            .collect()
    })
}

fn ascii_text() -> impl Strategy<Value = String> {
    text().prop_map(|t| t.chars().filter(char::is_ascii).collect())
}

fn check_sentences(t: &str) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let sentences = sentence_features(t, &mut out);
    let spans: Vec<&str> = sentences.iter().map(|(span, _)| &t[span.clone()]).collect();
    prop_assert_eq!(spans, split_sentences(t));
    for (span, range) in &sentences {
        let alone = word_features(&t[span.clone()]);
        prop_assert_eq!(&out[range.clone()], alone.as_slice());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// One pass over a whole ASCII answer gives each sentence the features of the sentence
    /// scanned on its own, and the sentences of `split_sentences`.
    #[test]
    fn ascii_sentence_features_match_per_sentence(t in ascii_text()) {
        check_sentences(&t)?;
    }

    /// The byte scanner for ASCII text agrees with the general char scanner (a trailing U+2028,
    /// which is neither a word nor a clause end and survives normalisation, forces the latter).
    #[test]
    fn ascii_scanner_matches_char_scanner(t in ascii_text()) {
        prop_assert_eq!(word_features(&t), word_features(&format!("{t}\u{2028}")));
    }

    /// The same for any text (the non-ASCII path).
    #[test]
    fn sentence_features_match_per_sentence(t in text()) {
        check_sentences(&t)?;
    }

    /// The cosine matrix is bitwise invariant under permutation of the documents, symmetric
    /// with unit diagonal, and `similar_pairs` is its thresholded form.
    #[test]
    fn cosine_is_order_invariant(texts in prop::collection::vec(text(), 0..9), seed in any::<u64>()) {
        let docs: Vec<Vec<u64>> = texts.iter().map(|t| word_features(t)).collect();
        let n = docs.len();
        let m = cosine_matrix(&docs);
        let mut perm: Vec<usize> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            perm.swap(i, usize::try_from(s % (i as u64 + 1)).unwrap());
        }
        let shuffled: Vec<Vec<u64>> = perm.iter().map(|&i| docs[i].clone()).collect();
        let p = cosine_matrix(&shuffled);
        for a in 0..n {
            prop_assert_eq!(m[a][a], 1.0);
            for b in 0..n {
                prop_assert_eq!(m[a][b].to_bits(), m[b][a].to_bits());
                prop_assert_eq!(p[a][b].to_bits(), m[perm[a]][perm[b]].to_bits());
                prop_assert!((0.0..=1.0).contains(&m[a][b]));
            }
        }
        let near = similar_pairs(&docs, 0.5);
        for a in 0..n {
            let expected: Vec<usize> = (0..n).filter(|&b| b != a && m[a][b] >= 0.5).collect();
            prop_assert_eq!(&near[a], &expected);
        }
    }
}
