//! Verdict lines: their framing words stripped, and their stance (affirm, negate, neither).

use super::hash::{AFFIRM_TOKEN, NEGATION_TOKEN};
use super::lexicon::{FRAMING, FRAMING_PARTICLES};
use super::tokenizer::normalize;

/// A verdict line without its framing words ("use", "choose", "recommend"..., and "go / stick /
/// settle" before "with / for / on"), so that verdicts compare by what they conclude. A line
/// that is nothing but framing is returned whole.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::text_similarity;

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
}
