//! Negation-aware lexical features: NFKC + case folding, tokenising, negation-scope marking,
//! TF-IDF over word unigrams and bigrams, cosine similarity. Deterministic: features are
//! 64-bit FNV-1a hashes, vectors are sorted by feature, so no result depends on input order.

use std::sync::OnceLock;

use caseless::default_case_fold_str;
use hashbrown::HashMap;
use unicode_normalization::UnicodeNormalization;

/// Words that open a negation scope, after case folding (English, French, German, Spanish,
/// Portuguese, Italian). Contractions ending in "n't" are handled separately.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "cannot",
    "without", "ne", "pas", "non", "jamais", "aucun", "aucune", "sans", "nicht", "kein", "keine",
    "keinen", "keiner", "nie", "niemals", "ohne", "nunca", "nada", "ningún", "ninguna", "ninguno",
    "não", "nao", "nem", "mai", "nessun", "nessuna",
];

/// Words that assert agreement or approval: they share one stance feature, so "yes",
/// "approve" and "LGTM" count as the same vote (unless negated).
const AFFIRMATIVES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "approve",
    "approved",
    "lgtm",
    "agree",
    "agreed",
    "definitely",
    "absolutely",
    "correct",
    "ok",
    "okay",
    "fine",
    "safe",
    "sufficient",
    "adequate",
    "acceptable",
    "ready",
    "fixed",
    "resolved",
    "worth",
    "enable",
    "merge",
    "ship",
    "go",
    "recommended",
    "ja",
    "oui",
    "sí",
    "sim",
];

/// Words that refuse or reject: they count as a negator (and open a negation scope).
const REJECTIONS: &[&str] = &[
    "nope",
    "reject",
    "rejected",
    "disagree",
    "refuse",
    "avoid",
    "skip",
    "unsafe",
    "insufficient",
    "inadequate",
    "incorrect",
    "wrong",
    "nein",
];

/// Words that close a negation scope: what follows a contrast is asserted again.
const SCOPE_BREAKERS: &[&str] = &[
    "but", "however", "although", "though", "yet", "except", "aber", "sondern", "pero", "mais",
    "mas", "ma",
];

/// Function words that carry neither topic nor stance (English; other languages pass through
/// and are down-weighted by IDF).
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "am",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "as",
    "at",
    "by",
    "from",
    "and",
    "or",
    "so",
    "if",
    "then",
    "than",
    "there",
    "here",
    "we",
    "you",
    "i",
    "he",
    "she",
    "they",
    "them",
    "our",
    "your",
    "their",
    "my",
    "me",
    "us",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "must",
    "shall",
    "just",
    "also",
    "very",
    "which",
    "what",
    "who",
    "whom",
    "about",
    "into",
    "over",
    "only",
    "both",
    "each",
    "more",
    "most",
    "some",
    "such",
    "any",
    "all",
    "one",
    // German, French, Spanish function words.
    "der",
    "die",
    "das",
    "den",
    "dem",
    "ein",
    "eine",
    "einen",
    "ist",
    "sind",
    "und",
    "oder",
    "hier",
    "es",
    "für",
    "mit",
    "zu",
    "von",
    "le",
    "la",
    "les",
    "un",
    "une",
    "est",
    "sont",
    "des",
    "du",
    "de",
    "et",
    "ici",
    "pour",
    "avec",
    "en",
    "il",
    "elle",
    "ce",
    "c'est",
    "el",
    "los",
    "las",
    "una",
    "y",
    "para",
    "con",
    "aquí",
    "verdict",
    "answer",
    "conclusion",
    "recommendation",
    "what's",
    "it's",
    "that's",
    "there's",
    "i'm",
    "you're",
    "we're",
    "they're",
    "let's",
    "get",
    "got",
];

/// The feature of the negation marker itself, shared by every negator in every language.
pub const NEGATION_TOKEN: u64 = 0x9e37_79b9_7f4a_7c15;
/// The feature shared by every affirmative word outside a negation scope.
pub const AFFIRM_TOKEN: u64 = 0x6a09_e667_f3bc_c909;
/// How much more a stance feature (negation, affirmation) weighs than a word of equal TF-IDF:
/// stance is where a verdict's conclusion is.
const STANCE_WEIGHT: f64 = 2.0;
/// Mixed into a word's hash when it stands in a negation scope.
const NEGATED_SALT: u64 = 0xc2b2_ae3d_27d4_eb4f;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn mix(a: u64, b: u64) -> u64 {
    // A bigram's feature: order-sensitive combination of its two words.
    let x = a.rotate_left(17) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

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
    if !word.is_ascii() || word.len() <= 3 {
        return word;
    }
    for (suffix, min_len) in [("ing", 6), ("ed", 5), ("ly", 5), ("es", 5), ("s", 4)] {
        if word.len() >= min_len && word.ends_with(suffix) && !word.ends_with("ss") {
            return &word[..word.len() - suffix.len()];
        }
    }
    word
}

/// What a word does besides carrying topic.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Stop,
    Negator,
    Rejection,
    Affirmative,
    ScopeBreaker,
}

/// One hash lookup per word instead of scanning the word lists.
fn role(word: &str) -> Option<Role> {
    static LEXICON: OnceLock<HashMap<&'static str, Role>> = OnceLock::new();
    LEXICON
        .get_or_init(|| {
            let mut m = HashMap::new();
            // Later lists win: a negator is never just a stop word.
            for (list, r) in [
                (STOPWORDS, Role::Stop),
                (AFFIRMATIVES, Role::Affirmative),
                (SCOPE_BREAKERS, Role::ScopeBreaker),
                (REJECTIONS, Role::Rejection),
                (NEGATORS, Role::Negator),
            ] {
                for w in list {
                    m.insert(*w, r);
                }
            }
            m
        })
        .get(word)
        .copied()
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
    let w = word.trim_matches('\'');
    if w.is_empty() {
        return;
    }
    if let Some(head) = w.strip_suffix("n't") {
        // "can't" → "ca" + negation; the head of a contraction is a function word anyway.
        if head.len() > 2 && role(head) != Some(Role::Stop) {
            out.push(word_hash(head, *negated));
        }
        out.push(NEGATION_TOKEN);
        *negated = true;
        return;
    }
    match role(w) {
        Some(Role::Stop) => {}
        Some(Role::Negator) => {
            out.push(NEGATION_TOKEN);
            *negated = true;
        }
        Some(Role::Rejection) => {
            out.push(NEGATION_TOKEN);
            out.push(word_hash(w, false));
            *negated = true;
        }
        Some(Role::ScopeBreaker) => *negated = false,
        Some(Role::Affirmative) => {
            if !*negated {
                out.push(AFFIRM_TOKEN);
            }
            out.push(word_hash(w, *negated));
        }
        None => out.push(word_hash(w, *negated)),
    }
}

/// The word features of a text, in order: negators become one shared negation token, and
/// every word after a negator up to the end of the clause (punctuation or a contrast word)
/// is marked as negated, so "not adequate" and "adequate" differ.
pub fn word_features(text: &str) -> Vec<u64> {
    let norm = normalize(text);
    let mut out = Vec::with_capacity(norm.len() / 6 + 1);
    let mut negated = false;
    let mut start: Option<usize> = None;
    for (i, c) in norm.char_indices() {
        if (c.is_alphanumeric() && !is_ideograph(c)) || (c == '\'' && start.is_some()) {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            emit(&norm[s..i], &mut negated, &mut out);
        }
        if is_ideograph(c) {
            let mut buf = [0u8; 4];
            out.push(word_hash(c.encode_utf8(&mut buf), negated));
        } else if is_clause_end(c) {
            negated = false;
        }
    }
    if let Some(s) = start {
        emit(&norm[s..], &mut negated, &mut out);
    }
    out
}

/// Words that frame a recommendation without being part of it: in "use Postgres" versus
/// "use MongoDB" the conclusion is the object, and a shared framing verb must not make the two
/// verdicts look alike.
const FRAMING: &[&str] = &[
    "use",
    "using",
    "choose",
    "chose",
    "pick",
    "select",
    "prefer",
    "opt",
    "adopt",
    "recommend",
    "recommends",
    "suggest",
    "suggests",
    "option",
    "choice",
];
/// Words after which "go", "stick" or "settle" frame a choice ("go with X") rather than vote.
const FRAMING_PARTICLES: &[&str] = &["with", "for", "on"];

/// A verdict line without its framing words ([`FRAMING`], and "go / stick / settle" before
/// "with / for / on"), so that verdicts compare by what they conclude. A line that is nothing
/// but framing is returned whole.
pub fn strip_framing(line: &str) -> String {
    let norm = normalize(line);
    let words: Vec<&str> = norm.split_whitespace().collect();
    let bare = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = bare(words[i]);
        let next = words.get(i + 1).map(|n| bare(n));
        if matches!(w.as_str(), "go" | "stick" | "settle")
            && next
                .as_deref()
                .is_some_and(|n| FRAMING_PARTICLES.contains(&n))
        {
            i += 2;
            continue;
        }
        if !FRAMING.contains(&w.as_str()) {
            kept.push(words[i]);
        }
        i += 1;
    }
    if kept.iter().all(|w| bare(w).is_empty()) {
        norm
    } else {
        kept.join(" ")
    }
}

/// The stance of a short verdict from its word features: +1 when affirmations outnumber
/// negations, −1 when negations outnumber affirmations, 0 otherwise.
pub fn stance(words: &[u64]) -> i8 {
    let yes = words.iter().filter(|&&w| w == AFFIRM_TOKEN).count();
    let no = words.iter().filter(|&&w| w == NEGATION_TOKEN).count();
    match yes.cmp(&no) {
        std::cmp::Ordering::Greater => 1,
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
    }
}

/// Splits a text into sentences (raw slices, trimmed, non-empty): at line breaks, and at
/// `.`, `!`, `?` followed by whitespace, and at CJK full stops.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\n' | '。' | '！' | '？' => true,
            '.' | '!' | '?' => chars.peek().is_none_or(|&(_, n)| n.is_whitespace()),
            _ => false,
        };
        if end {
            let next = i + c.len_utf8();
            let s = text[start..next].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = next;
        }
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// TF-IDF cosine similarity of every pair of documents, each given as its word features
/// (see [`word_features`]): features are the words and the word bigrams, weighted by
/// sublinear TF times smoothed IDF fitted on the documents themselves (stance features
/// weigh [`STANCE_WEIGHT`] more). Symmetric, diagonal 1, values in [0, 1]; a document without
/// features has similarity 0 to every other one.
///
/// One sort of every (feature, document) occurrence gives TF, DF and an inverted index at
/// once; only documents that share a feature are ever multiplied, in feature order, so the
/// result does not depend on the order of the documents.
pub fn cosine_matrix<W: AsRef<[u64]>>(docs: &[W]) -> Vec<Vec<f64>> {
    let n = docs.len();
    let mut occurrences: Vec<(u64, u32)> = Vec::new();
    for (d, words) in docs.iter().enumerate() {
        let words = words.as_ref();
        let d = d as u32;
        occurrences.extend(words.iter().map(|&w| (w, d)));
        occurrences.extend(words.windows(2).map(|w| (mix(w[0], w[1]), d)));
    }
    occurrences.sort_unstable();
    // Postings: (feature, document, weight), one per distinct (feature, document).
    let mut postings: Vec<(u64, u32, f64)> = Vec::with_capacity(occurrences.len());
    let mut norms = vec![0.0f64; n];
    let total = n as f64;
    for feature in occurrences.chunk_by(|a, b| a.0 == b.0) {
        let first = postings.len();
        for doc in feature.chunk_by(|a, b| a.1 == b.1) {
            postings.push((doc[0].0, doc[0].1, doc.len() as f64));
        }
        let df = (postings.len() - first) as f64;
        let stance = if feature[0].0 == NEGATION_TOKEN || feature[0].0 == AFFIRM_TOKEN {
            STANCE_WEIGHT
        } else {
            1.0
        };
        let idf = ((1.0 + total) / (1.0 + df)).ln() + 1.0;
        for p in &mut postings[first..] {
            p.2 = (1.0 + p.2.ln()) * idf * stance;
            norms[p.1 as usize] += p.2 * p.2;
        }
    }
    let mut m = vec![vec![0.0; n]; n];
    for feature in postings.chunk_by(|a, b| a.0 == b.0) {
        for (x, &(_, i, wi)) in feature.iter().enumerate() {
            for &(_, j, wj) in &feature[x + 1..] {
                m[i as usize][j as usize] += wi * wj;
            }
        }
    }
    let norms: Vec<f64> = norms.into_iter().map(f64::sqrt).collect();
    for i in 0..n {
        m[i][i] = 1.0;
        for j in i + 1..n {
            let s = if norms[i] > 0.0 && norms[j] > 0.0 {
                (m[i][j] / (norms[i] * norms[j])).clamp(0.0, 1.0)
            } else {
                0.0
            };
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

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

    #[test]
    fn framing_words_do_not_make_verdicts_alike() {
        assert_eq!(strip_framing("Use Postgres."), "postgres.");
        assert_eq!(strip_framing("Go with MongoDB"), "mongodb");
        assert_eq!(strip_framing("go"), "go");
        assert_eq!(strip_framing("use it"), "it");
        assert_eq!(strip_framing("use"), "use");
        assert!(
            text_similarity(
                &strip_framing("use Postgres"),
                &strip_framing("use MongoDB")
            ) < 0.05
        );
        let same = text_similarity(
            &strip_framing("choose Postgres"),
            &strip_framing("go with Postgres"),
        );
        assert!(same > 0.9, "{same}");
    }

    #[test]
    fn empty_texts() {
        assert_eq!(text_similarity("", ""), 1.0);
        assert_eq!(text_similarity("", "the"), 0.0);
        assert_eq!(text_similarity("!!", "!!"), 1.0);
    }
}
