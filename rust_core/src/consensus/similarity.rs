//! The similarity matrix of the answers, from the strongest signal given: an agreement matrix,
//! else verdict lines blended with the body, else embeddings, else text.

use super::analysis::Analysis;
use super::{Options, STANCE_AGREEMENT, VERDICT_WEIGHT};
use crate::text;

/// The matrix to cluster: symmetric, diagonal 1, values in [0, 1].
pub(super) fn matrix(
    answers: &[&str],
    o: &Options<'_>,
    analysed: &[Analysis<'_>],
) -> Vec<Vec<f64>> {
    let n = answers.len();
    match (o.agreement, o.verdicts) {
        (Some(a), _) => (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        if i == j {
                            1.0
                        } else {
                            f64::midpoint(a[i][j], a[j][i])
                        }
                    })
                    .collect()
            })
            .collect(),
        (None, verdicts) => {
            let body = match o.embeddings {
                Some(e) => embedding_matrix(e),
                None => text_matrix(answers, analysed),
            };
            match verdicts {
                Some(v) => blend_verdicts(v, &body),
                None => body,
            }
        }
    }
}

/// TF-IDF cosine of word-feature sequences; two sequences without features (only stop words
/// or punctuation) are alike only when their texts are equal after normalising.
fn text_similarities<W: AsRef<[u64]>>(words: &[W], texts: &[&str]) -> Vec<Vec<f64>> {
    let mut m = text::cosine_matrix(words);
    let empty: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].as_ref().is_empty())
        .collect();
    let norm: Vec<String> = empty
        .iter()
        .map(|&i| text::normalize(texts[i]).trim().to_owned())
        .collect();
    for (x, &i) in empty.iter().enumerate() {
        for (y, &j) in empty.iter().enumerate().skip(x + 1) {
            let s = if norm[x] == norm[y] { 1.0 } else { 0.0 };
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

fn embedding_matrix(e: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = e.len();
    let norms: Vec<f64> = e
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let mut m = vec![vec![0.0; n]; n];
    for i in 0..n {
        m[i][i] = 1.0;
        for j in i + 1..n {
            let dot: f64 = e[i].iter().zip(&e[j]).map(|(a, b)| a * b).sum();
            let s = if norms[i] > 0.0 && norms[j] > 0.0 {
                (dot / (norms[i] * norms[j])).clamp(0.0, 1.0)
            } else if e[i] == e[j] {
                1.0
            } else {
                0.0
            };
            let s = if s.is_finite() { s } else { 0.0 };
            m[i][j] = s;
            m[j][i] = s;
        }
    }
    m
}

fn text_matrix(answers: &[&str], analysed: &[Analysis<'_>]) -> Vec<Vec<f64>> {
    let words: Vec<&[u64]> = analysed.iter().map(|a| a.words.as_slice()).collect();
    text_similarities(&words, answers)
}

fn blend_verdicts(verdicts: &[Option<&str>], body: &[Vec<f64>]) -> Vec<Vec<f64>> {
    // A missing verdict is treated as unknown (its pairs fall back to the body), not guessed.
    let framed: Vec<String> = verdicts
        .iter()
        .map(|v| v.map_or_else(String::new, text::strip_framing))
        .collect();
    let lines: Vec<&str> = framed.iter().map(String::as_str).collect();
    let words: Vec<Vec<u64>> = lines.iter().map(|l| text::word_features(l)).collect();
    let mut stances: Vec<i8> = words.iter().map(|w| text::stance(w)).collect();
    // When most stated verdicts are explicit votes, the question was a yes/no one, and a
    // verdict that negates nothing ("run them on every PR") affirms.
    let stated = verdicts.iter().filter(|v| v.is_some()).count();
    if stances.iter().filter(|s| **s != 0).count() * 2 >= stated {
        for (s, v) in stances.iter_mut().zip(verdicts) {
            if *s == 0 && v.is_some() {
                *s = 1;
            }
        }
    }
    let vsim = text_similarities(&words, &lines);
    let n = verdicts.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        return 1.0;
                    }
                    if verdicts[i].is_none() || verdicts[j].is_none() {
                        return body[i][j];
                    }
                    let v = match stances[i] * stances[j] {
                        // Opposite votes ("yes" / "not adequate") never agree ...
                        -1 => 0.0,
                        // ... and equal votes agree at least STANCE_AGREEMENT.
                        1 => STANCE_AGREEMENT + (1.0 - STANCE_AGREEMENT) * vsim[i][j],
                        _ => vsim[i][j],
                    };
                    // The body can only temper verdict similarity, never create it: answers on
                    // one topic share words whatever they conclude.
                    v * (VERDICT_WEIGHT + (1.0 - VERDICT_WEIGHT) * body[i][j])
                })
                .collect()
        })
        .collect()
}
