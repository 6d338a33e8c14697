//! Each answer split into sentences with their word features, once per call: the body's
//! features feed the text similarity and the sentences feed the claims.

use std::ops::Range;

use crate::text;

/// An answer's word features, sentence by sentence in one buffer.
pub(super) struct Analysis<'a> {
    /// The features of every sentence, in order: the body's features.
    pub(super) words: Vec<u64>,
    /// Each sentence (trimmed) and the range of its features in `words`.
    sentences: Vec<(&'a str, Range<usize>)>,
}

/// One sentence of an answer with its word features.
#[derive(Clone, Copy)]
pub(super) struct Sentence<'a> {
    pub(super) raw: &'a str,
    pub(super) words: &'a [u64],
}

impl Analysis<'_> {
    /// The sentences, in order.
    pub(super) fn sentences(&self) -> impl Iterator<Item = Sentence<'_>> {
        self.sentences.iter().map(|(raw, r)| Sentence {
            raw,
            words: &self.words[r.clone()],
        })
    }
}

/// The sentences of `answer` and their word features.
pub(super) fn analyse(answer: &str) -> Analysis<'_> {
    let mut words = Vec::new();
    let sentences = text::sentence_features(answer, &mut words)
        .into_iter()
        .map(|(span, r)| (&answer[span], r))
        .collect();
    Analysis { words, sentences }
}
