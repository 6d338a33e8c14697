//! The tokenizer: NFKC and case folding, word splitting (with a byte scanner for ASCII),
//! light English stemming, and negation scopes. A negator opens a scope that the end of the
//! clause (punctuation or a contrast word) closes, and a word inside it gets a feature distinct
//! from the same word outside.

use caseless::default_case_fold_str;
use unicode_normalization::UnicodeNormalization;

use super::hash::{fnv1a, fnv1a_from, AFFIRM_TOKEN, NEGATED_SALT, NEGATION_TOKEN};
use super::lexicon::{role, role_hashed, Role};

/// Unicode NFKC, then full case folding.
pub fn normalize(text: &str) -> String {
    if text.is_ascii() {
        // NFKC is the identity on ASCII and folding is lowercasing.
        return text.to_ascii_lowercase();
    }
    let composed: String = text.nfkc().collect();
    // Typographic apostrophes would hide contractions ("isn’t").
    default_case_fold_str(&composed).replace('’', "'")
}

fn is_ideograph(c: char) -> bool {
    // Scripts written without spaces: each character counts as a word.
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn is_clause_end(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '\n'
            | '('
            | ')'
            | '—'
            | '–'
            | '。'
            | '、'
            | '！'
            | '？'
            | '；'
    )
}

/// English suffix stripping, enough to join "deployments"/"deployment" and "scaling"/"scale"s.
fn stem(word: &str) -> &str {
    let b = word.as_bytes();
    let n = b.len();
    if n <= 3 {
        return word;
    }
    // The first matching rule of: "ing" (length ≥ 6), "ed" (≥ 5), "ly" (≥ 5), "es" (≥ 5),
    // "s" (≥ 4, not "ss"); decided by the last two bytes. Only ASCII words are stemmed.
    let strip = match (b[n - 1], b[n - 2]) {
        (b'g', b'n') if n >= 6 && b[n - 3] == b'i' => 3,
        (b'd' | b's', b'e') | (b'y', b'l') if n >= 5 => 2,
        (b's', prev) if prev != b's' => 1,
        _ => 0,
    };
    if strip == 0 || !word.is_ascii() {
        return word;
    }
    &word[..n - strip]
}

fn word_hash(word: &str, negated: bool) -> u64 {
    let h = fnv1a(stem(word).as_bytes());
    if negated {
        h ^ NEGATED_SALT
    } else {
        h
    }
}

/// Appends the features of one word and updates the negation scope.
fn emit(word: &str, negated: &mut bool, out: &mut Vec<u64>) {
    // Trimming an ASCII byte keeps char boundaries: the same as `trim_matches('\'')`.
    let b = word.as_bytes();
    let w = match (b.first(), b.last()) {
        (None, _) => return,
        (Some(b'\''), _) | (_, Some(b'\'')) => {
            let lead = b.iter().take_while(|&&c| c == b'\'').count();
            if lead == b.len() {
                return;
            }
            let trail = b.iter().rev().take_while(|&&c| c == b'\'').count();
            &word[lead..b.len() - trail]
        }
        _ => word,
    };
    if let Some(head) = w.strip_suffix("n't") {
        // "can't" → "ca" + negation; the head of a contraction is a function word anyway.
        if head.len() > 2 && role(head) != Some(Role::Stop) {
            out.push(word_hash(head, *negated));
        }
        out.push(NEGATION_TOKEN);
        *negated = true;
        return;
    }
    // One pass over the word: the hash of its stem (its feature), continued over the stripped
    // suffix to the hash of the whole word (its lexicon key).
    let stemmed = stem(w);
    let feature = fnv1a(stemmed.as_bytes());
    let whole = fnv1a_from(feature, &w.as_bytes()[stemmed.len()..]);
    let salted = |negated: bool| {
        if negated {
            feature ^ NEGATED_SALT
        } else {
            feature
        }
    };
    match role_hashed(w, whole) {
        Some(Role::Stop) => {}
        Some(Role::Negator) => {
            out.push(NEGATION_TOKEN);
            *negated = true;
        }
        Some(Role::Rejection) => {
            out.push(NEGATION_TOKEN);
            out.push(feature);
            *negated = true;
        }
        Some(Role::ScopeBreaker) => *negated = false,
        Some(Role::Affirmative) => {
            if !*negated {
                out.push(AFFIRM_TOKEN);
            }
            out.push(salted(*negated));
        }
        None => out.push(salted(*negated)),
    }
}

/// The word features of a text, in order: negators become one shared negation token, and
/// every word after a negator up to the end of the clause (punctuation or a contrast word)
/// is marked as negated, so "not adequate" and "adequate" differ.
pub fn word_features(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    extend_word_features(text, &mut out);
    out
}

/// Appends the [`word_features`] of `text` to `out`.
pub fn extend_word_features(text: &str, out: &mut Vec<u64>) {
    let norm = normalize(text);
    out.reserve(norm.len() / 6 + 1);
    if norm.is_ascii() {
        ascii_word_features(&norm, out);
        return;
    }
    let mut negated = false;
    let mut start: Option<usize> = None;
    for (i, c) in norm.char_indices() {
        if (c.is_alphanumeric() && !is_ideograph(c)) || (c == '\'' && start.is_some()) {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            emit(&norm[s..i], &mut negated, out);
        }
        if is_ideograph(c) {
            let mut buf = [0u8; 4];
            out.push(word_hash(c.encode_utf8(&mut buf), negated));
        } else if is_clause_end(c) {
            negated = false;
        }
    }
    if let Some(s) = start {
        emit(&norm[s..], &mut negated, out);
    }
}

/// What an ASCII byte is to the word scanner.
const OTHER: u8 = 0;
const WORD: u8 = 1;
const APOSTROPHE: u8 = 2;
const CLAUSE_END: u8 = 3;
const ASCII_CLASS: [u8; 128] = {
    let mut t = [OTHER; 128];
    let mut b: u8 = 0;
    while b < 128 {
        t[b as usize] = if b.is_ascii_alphanumeric() {
            WORD
        } else if b == b'\'' {
            APOSTROPHE
        } else if matches!(
            b,
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\n' | b'(' | b')'
        ) {
            CLAUSE_END
        } else {
            OTHER
        };
        b += 1;
    }
    t
};

/// [`word_features`] of normalised ASCII text: the same scan over bytes (on ASCII, a letter or
/// digit is exactly an alphanumeric char, no char is an ideograph, and the clause ends are the
/// ASCII ones of [`is_clause_end`]).
fn ascii_word_features(norm: &str, out: &mut Vec<u64>) {
    let mut negated = false;
    scan_ascii(norm, &mut negated, out, |_, _| {});
}

/// The word scan of [`ascii_word_features`]; `clause_end(i, out)` is called at every clause
/// end byte `i`, after the words before it were emitted.
pub(super) fn scan_ascii(
    norm: &str,
    negated: &mut bool,
    out: &mut Vec<u64>,
    mut clause_end: impl FnMut(usize, &mut Vec<u64>),
) {
    let bytes = norm.as_bytes();
    let class = |b: u8| ASCII_CLASS[usize::from(b & 0x7f)];
    let mut i = 0;
    while i < bytes.len() {
        match class(bytes[i]) {
            WORD => {
                // A word: a letter or digit, then letters, digits and apostrophes.
                let len = bytes[i + 1..]
                    .iter()
                    .position(|&b| !matches!(class(b), WORD | APOSTROPHE))
                    .unwrap_or(bytes.len() - i - 1);
                emit(&norm[i..i + 1 + len], negated, out);
                i += 1 + len;
            }
            CLAUSE_END => {
                *negated = false;
                clause_end(i, out);
                i += 1;
            }
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contraction_negates() {
        assert_eq!(
            word_features("isn't adequate"),
            word_features("is not adequate")
        );
    }

    #[test]
    fn scope_ends_at_punctuation_and_contrast() {
        let a = word_features("not fast, adequate");
        let b = word_features("not fast but adequate");
        assert_eq!(a, b);
        assert_eq!(a.last(), word_features("adequate").last());
    }

    #[test]
    fn nfkc_and_casefold() {
        assert_eq!(word_features("ＳＴＲＡẞＥ"), word_features("strasse"));
    }

    #[test]
    fn ideographs_are_words() {
        assert_eq!(word_features("部署").len(), 2);
    }
}
