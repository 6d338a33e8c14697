//! Negation-aware lexical features: NFKC + case folding, tokenising, negation-scope marking,
//! TF-IDF over word unigrams and bigrams, cosine similarity. Deterministic: features are
//! 64-bit FNV-1a hashes and every sum runs in an order fixed by the texts' contents, so no
//! result depends on input order.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::OnceLock;

use caseless::default_case_fold_str;
use hashbrown::{DefaultHashBuilder, HashTable};
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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes`, continued from the state `h` (start from [`FNV_OFFSET`]).
fn fnv1a_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(FNV_OFFSET, bytes)
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
    let b = word.as_bytes();
    let n = b.len();
    if n <= 3 {
        return word;
    }
    // The first matching rule of: "ing" (length ≥ 6), "ed" (≥ 5), "ly" (≥ 5), "es" (≥ 5),
    // "s" (≥ 4, not "ss"); decided by the last two bytes. Only ASCII words are stemmed.
    let strip = match (b[n - 1], b[n - 2]) {
        (b'g', b'n') if n >= 6 && b[n - 3] == b'i' => 3,
        (b'd', b'e') | (b'y', b'l') if n >= 5 => 2,
        (b's', b'e') if n >= 5 => 2,
        (b's', prev) if prev != b's' => 1,
        _ => 0,
    };
    if strip == 0 || !word.is_ascii() {
        return word;
    }
    &word[..n - strip]
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

/// The lexicon's slot for a word whose FNV-1a hash is `h` (FNV's low bits are weak: fold).
fn slot(h: u64) -> u64 {
    h ^ (h >> 29)
}

/// The role of a word whose FNV-1a hash is `h` (the word's feature hash is computed anyway, so
/// the lookup costs one probe and no second pass over the word).
fn role_hashed(word: &str, h: u64) -> Option<Role> {
    static LEXICON: OnceLock<HashTable<(&'static str, Role)>> = OnceLock::new();
    LEXICON
        .get_or_init(|| {
            let mut t: HashTable<(&'static str, Role)> = HashTable::new();
            // Later lists win: a negator is never just a stop word.
            for (list, r) in [
                (STOPWORDS, Role::Stop),
                (AFFIRMATIVES, Role::Affirmative),
                (SCOPE_BREAKERS, Role::ScopeBreaker),
                (REJECTIONS, Role::Rejection),
                (NEGATORS, Role::Negator),
            ] {
                for &w in list {
                    let h = slot(fnv1a(w.as_bytes()));
                    match t.find_mut(h, |e| e.0 == w) {
                        Some(e) => e.1 = r,
                        None => {
                            t.insert_unique(h, (w, r), |e| slot(fnv1a(e.0.as_bytes())));
                        }
                    }
                }
            }
            t
        })
        .find(slot(h), |e| e.0 == word)
        .map(|e| e.1)
}

fn role(word: &str) -> Option<Role> {
    role_hashed(word, fnv1a(word.as_bytes()))
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
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphanumeric() {
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
        c += 1;
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
fn scan_ascii(
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

/// TF-IDF cosine similarity of every pair of documents, each given as its word features
/// (see [`word_features`]): features are the words and the word bigrams, weighted by
/// sublinear TF times smoothed IDF fitted on the documents themselves (stance features
/// weigh [`STANCE_WEIGHT`] more). Symmetric, diagonal 1, values in [0, 1]; a document without
/// features has similarity 0 to every other one.
///
/// The documents are taken in a canonical order (by content) and their features numbered by
/// first occurrence in that order, so every sum can run in an order fixed by the contents
/// alone — a norm in its document's own order, a dot product in feature-number order — and the
/// result does not depend on the order of the documents. Only documents that share a feature
/// are ever multiplied (through per-feature postings).
pub fn cosine_matrix<W: AsRef<[u64]>>(docs: &[W]) -> Vec<Vec<f64>> {
    let n = docs.len();
    let mut m = vec![vec![0.0; n]; n];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    cosine_pairs(docs, |i, j, s| {
        m[i][j] = s;
        m[j][i] = s;
    });
    m
}

/// For each document, the other documents whose [`cosine_matrix`] similarity to it is at least
/// `threshold`, ascending (without building the matrix).
pub fn similar_pairs<W: AsRef<[u64]>>(docs: &[W], threshold: f64) -> Vec<Vec<usize>> {
    let mut near = vec![Vec::new(); docs.len()];
    cosine_pairs(docs, |i, j, s| {
        if s >= threshold {
            near[i].push(j);
            near[j].push(i);
        }
    });
    for list in &mut near {
        list.sort_unstable();
    }
    near
}

/// Calls `f(i, j, similarity)` once for every pair of distinct documents (see
/// [`cosine_matrix`]), with this thread's reusable [`Scratch`].
fn cosine_pairs<W: AsRef<[u64]>>(docs: &[W], f: impl FnMut(usize, usize, f64)) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            Cosines::of(docs, &mut scratch).pairs(&scratch.dots, f);
            scratch.trim();
        }
        Err(_) => {
            let mut scratch = Scratch::default();
            Cosines::of(docs, &mut scratch).pairs(&scratch.dots, f);
        }
    });
}

/// Buffers that [`cosine_matrix`] reuses from call to call on a thread. A call needs about a
/// megabyte of scratch for ten 1000-word answers; allocated afresh, glibc hands it back to the
/// kernel on free and faults it in again on the next call (measured: about a third of a call's
/// time). Kept only up to [`SCRATCH_KEEP`] features.
#[derive(Default)]
struct Scratch {
    ids: HashTable<u32>,
    features: Vec<Feature>,
    entries: Vec<(u32, u32)>,
    offsets: Vec<usize>,
    cursor: Vec<usize>,
    postings: Vec<(usize, f64)>,
    dots: Vec<f64>,
}

/// The most feature occurrences whose scratch space a thread keeps between calls (about 8 MB).
const SCRATCH_KEEP: usize = 1 << 18;

impl Scratch {
    /// Frees the buffers when an unusually large call grew them past [`SCRATCH_KEEP`].
    fn trim(&mut self) {
        if self.features.capacity() > SCRATCH_KEEP || self.dots.capacity() > SCRATCH_KEEP {
            *self = Scratch::default();
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The parts of [`cosine_matrix`]: the canonical order of the documents and their norms, by
/// canonical position (the dot products are left in the scratch).
struct Cosines {
    order: Vec<usize>,
    norms: Vec<f64>,
}

impl Cosines {
    fn of<W: AsRef<[u64]>>(docs: &[W], scratch: &mut Scratch) -> Self {
        let Scratch {
            ids,
            features,
            entries,
            offsets,
            cursor,
            postings,
            dots,
        } = scratch;
        let n = docs.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| docs[a].as_ref().cmp(docs[b].as_ref()));
        let occurrences: usize = docs
            .iter()
            .map(|d| (2 * d.as_ref().len()).saturating_sub(1))
            .sum();
        // Feature → id: a table of 4-byte ids whose keys live in `features` (read right after the
        // lookup anyway), so the table stays small enough for the cache.
        let hasher = DefaultHashBuilder::default();
        ids.clear();
        features.clear();
        ids.reserve(occurrences.min(1 << 16), |&i| {
            hasher.hash_one(features[i as usize].key)
        });
        features.reserve(occurrences);
        // Per document (in canonical order), its distinct features with term counts.
        entries.clear();
        entries.reserve(occurrences);
        let mut ends: Vec<usize> = Vec::with_capacity(n);
        for &d in &order {
            // Entries from `first` on belong to this document.
            let first = entries.len() as u32;
            let words = docs[d].as_ref();
            let bigrams = words.windows(2).map(|w| mix(w[0], w[1]));
            for f in words.iter().copied().chain(bigrams) {
                let h = hasher.hash_one(f);
                let id = match ids.find(h, |&i| features[i as usize].key == f) {
                    Some(&id) => id,
                    None => {
                        let id = features.len() as u32;
                        features.push(Feature {
                            key: f,
                            df: 0,
                            entry: u32::MAX,
                        });
                        ids.insert_unique(h, id, |&i| hasher.hash_one(features[i as usize].key));
                        id
                    }
                };
                let feature = &mut features[id as usize];
                if feature.entry != u32::MAX && feature.entry >= first {
                    entries[feature.entry as usize].1 += 1;
                } else {
                    feature.entry = entries.len() as u32;
                    feature.df += 1;
                    entries.push((id, 1));
                }
            }
            ends.push(entries.len());
        }

        let total = n as f64;
        let idf: Vec<f64> = (0..=n)
            .map(|df| ((1.0 + total) / (1.0 + df as f64)).ln() + 1.0)
            .collect();
        // Sublinear term frequency 1 + ln(tf), tabled for the common small counts.
        let sublinear: Vec<f64> = (0..64u32).map(|tf| 1.0 + f64::from(tf).ln()).collect();
        // Postings of the shared features (df ≥ 2), laid out per feature, documents ascending.
        offsets.clear();
        offsets.push(0);
        for f in features.iter() {
            let len = if f.df > 1 { f.df as usize } else { 0 };
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        cursor.clear();
        cursor.extend_from_slice(&offsets[..features.len()]);
        postings.clear();
        postings.resize(offsets[features.len()], (0, 0.0));
        let mut norms = vec![0.0f64; n];
        let mut start = 0;
        for (p, &end) in ends.iter().enumerate() {
            let mut sum = 0.0f64;
            for &(id, tf) in &entries[start..end] {
                let tf = match sublinear.get(tf as usize) {
                    Some(&s) => s,
                    None => 1.0 + f64::from(tf).ln(),
                };
                let feature = &features[id as usize];
                let stance = if feature.key == NEGATION_TOKEN || feature.key == AFFIRM_TOKEN {
                    STANCE_WEIGHT
                } else {
                    1.0
                };
                let w = tf * idf[feature.df as usize] * stance;
                sum += w * w;
                if feature.df > 1 {
                    let c = &mut cursor[id as usize];
                    postings[*c] = (p, w);
                    *c += 1;
                }
            }
            norms[p] = sum.sqrt();
            start = end;
        }
        dots.clear();
        dots.resize(n * n, 0.0);
        for pair in offsets.windows(2) {
            let list = &postings[pair[0]..pair[1]];
            for (x, &(p, wp)) in list.iter().enumerate() {
                let row = &mut dots[p * n..(p + 1) * n];
                for &(q, wq) in &list[x + 1..] {
                    row[q] += wp * wq;
                }
            }
        }
        Cosines { order, norms }
    }

    /// Calls `f(i, j, similarity)` once for every pair of distinct documents, given the dot
    /// products that [`Cosines::of`] left in the scratch.
    fn pairs(&self, dots: &[f64], mut f: impl FnMut(usize, usize, f64)) {
        let n = self.order.len();
        for p in 0..n {
            for q in p + 1..n {
                let (np, nq) = (self.norms[p], self.norms[q]);
                let s = if np > 0.0 && nq > 0.0 {
                    (dots[p * n + q] / (np * nq)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                f(self.order[p], self.order[q], s);
            }
        }
    }
}

/// What [`cosine_matrix`] keeps per distinct feature.
struct Feature {
    /// The feature itself.
    key: u64,
    /// Documents that hold the feature.
    df: u32,
    /// The index of the last document's entry for it (`u32::MAX` before the first): the
    /// current document holds it when that index is within the document's run of entries.
    entry: u32,
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
