//! Negation-aware lexical features: NFKC + case folding, tokenising, negation-scope marking,
//! TF-IDF over word unigrams and bigrams, cosine similarity. Deterministic: features are
//! 64-bit FNV-1a hashes and every sum runs in an order fixed by the texts' contents, so no
//! result depends on input order.
//!
//! The parts: the feature hashes (`hash`), the word lists (`lexicon`), the tokenizer with its
//! negation scopes (`tokenizer`), sentences (`sentences`), verdict lines (`verdict`), and
//! TF-IDF with cosine similarity (`tfidf`).

mod hash;
mod lexicon;
mod sentences;
mod tfidf;
mod tokenizer;
mod verdict;

pub use hash::{AFFIRM_TOKEN, NEGATION_TOKEN};
pub use sentences::{sentence_features, split_sentences};
pub use tfidf::{cosine_matrix, similar_pairs};
pub use tokenizer::{extend_word_features, normalize, word_features};
pub use verdict::{stance, strip_framing};

/// The negation-aware similarity of two texts in [0, 1]: TF-IDF fitted on the pair.
/// Two texts with no content words are identical (1.0) when equal after normalisation.
pub fn text_similarity(a: &str, b: &str) -> f64 {
    let (wa, wb) = (word_features(a), word_features(b));
    if wa.is_empty() || wb.is_empty() {
        return if wa.is_empty() && wb.is_empty() && normalize(a).trim() == normalize(b).trim() {
            1.0
        } else {
            0.0
        };
    }
    cosine_matrix(&[wa, wb])[0][1]
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "exact values are what the tests pin")]
mod tests {
    use super::*;

    #[test]
    fn negation_changes_features() {
        assert!(
            text_similarity(
                "A Deployment is adequate here.",
                "A Deployment is not adequate here."
            ) < 0.5
        );
        assert!(
            text_similarity(
                "A Deployment is adequate here.",
                "a deployment is ADEQUATE here"
            ) > 0.99
        );
    }

    #[test]
    fn empty_texts() {
        assert_eq!(text_similarity("", ""), 1.0);
        assert_eq!(text_similarity("", "the"), 0.0);
        assert_eq!(text_similarity("!!", "!!"), 1.0);
    }
}
