//! The lexicon: the word lists that give words a role besides carrying topic (negators,
//! affirmatives, rejections, scope breakers, stop words), the framing words of verdict lines,
//! and the one-probe lookup of a word's role.

use std::sync::OnceLock;

use hashbrown::HashTable;

use super::hash::fnv1a;

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

/// Words that frame a recommendation without being part of it: in `use Postgres` versus
/// `use MongoDB` the conclusion is the object, and a shared framing verb must not make the two
/// verdicts look alike.
pub(super) const FRAMING: &[&str] = &[
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
pub(super) const FRAMING_PARTICLES: &[&str] = &["with", "for", "on"];

/// What a word does besides carrying topic.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
pub(super) fn role_hashed(word: &str, h: u64) -> Option<Role> {
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

/// The role of a word, if it has one.
pub(super) fn role(word: &str) -> Option<Role> {
    role_hashed(word, fnv1a(word.as_bytes()))
}
