//! Sentences: where a text splits into sentences, and the word features of each sentence
//! (in one scan for ASCII text).

use std::ops::Range;

use super::tokenizer::{extend_word_features, scan_ascii};

/// Splits a text into sentences (raw slices, trimmed, non-empty): at line breaks, and at
/// `.`, `!`, `?` followed by whitespace, and at CJK full stops.
pub fn split_sentences(text: &str) -> Vec<&str> {
    sentence_spans(text)
        .into_iter()
        .map(|span| &text[span])
        .collect()
}

/// Whether a byte may end a sentence: ASCII ends, and the lead byte of '。' (E3 80 82),
/// '！' (EF BC 81) and '？' (EF BC 9F).
const SENTENCE_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'.' as usize] = true;
    t[b'!' as usize] = true;
    t[b'?' as usize] = true;
    t[0xE3] = true;
    t[0xEF] = true;
    t
};

/// The byte spans of [`split_sentences`].
fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut push = |from: usize, to: usize| out.extend(trimmed(text, from..to));
    let mut start = 0;
    let mut i = 0;
    while let Some(k) = bytes[i..]
        .iter()
        .position(|&b| SENTENCE_BYTE[usize::from(b)])
    {
        i += k;
        // Only ASCII bytes and lead bytes are in the table, so `i` is a char boundary.
        let len = match bytes[i] {
            b'\n' => 1,
            b'.' | b'!' | b'?' => match text[i + 1..].chars().next() {
                None => 1,
                Some(c) if c.is_whitespace() => 1,
                Some(_) => 0,
            },
            _ => match text[i..].chars().next() {
                Some('。' | '！' | '？') => 3,
                _ => 0,
            },
        };
        if len > 0 {
            push(start, i + len);
            start = i + len;
        }
        i += 1;
    }
    push(start, text.len());
    out
}

/// The word features of every sentence of `text` (see [`split_sentences`]), appended to `out`
/// in order: for each sentence, its trimmed span in `text` and its range in `out`. ASCII text
/// is lower-cased once for all its sentences.
pub fn sentence_features(text: &str, out: &mut Vec<u64>) -> Vec<(Range<usize>, Range<usize>)> {
    let mut result = Vec::new();
    if !text.is_ascii() {
        for span in sentence_spans(text) {
            let first = out.len();
            extend_word_features(&text[span.clone()], out);
            result.push((span, first..out.len()));
        }
        return result;
    }
    // ASCII: one pass finds the words and the sentence ends. Every sentence end is a clause
    // end and no word crosses one, so this equals scanning each sentence on its own.
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    out.reserve(text.len() / 6 + 1);
    let mut sentence = (0usize, out.len());
    let mut close = |end: usize, out: &mut Vec<u64>, sentence: &mut (usize, usize)| {
        if let Some(span) = trimmed(text, sentence.0..end) {
            result.push((span, sentence.1..out.len()));
        }
        *sentence = (end, out.len());
    };
    let mut negated = false;
    scan_ascii(&lower, &mut negated, out, |i, out| {
        let ends = match bytes[i] {
            b'\n' => true,
            b'.' | b'!' | b'?' => bytes
                .get(i + 1)
                .is_none_or(|&b| char::from(b).is_whitespace()),
            _ => false,
        };
        if ends {
            close(i + 1, out, &mut sentence);
        }
    });
    close(text.len(), out, &mut sentence);
    result
}

/// The span of `text[span]` without surrounding whitespace; `None` when nothing is left.
fn trimmed(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let s = &text[span.clone()];
    let lead = s.len() - s.trim_start().len();
    let len = s.trim().len();
    (len > 0).then(|| span.start + lead..span.start + lead + len)
}
