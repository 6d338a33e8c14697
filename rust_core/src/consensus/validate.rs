//! Validation of the inputs of [`consensus`](super::consensus), and the choice of the signal
//! they give.

use super::{Options, Signal, MAX_ANSWERS, MAX_INPUT_BYTES};
use crate::error::{Error, Result};

fn invalid(msg: String) -> Error {
    Error::InvalidInput(msg)
}

/// Checks every input of [`consensus`](super::consensus) and returns the signal to cluster on.
pub(super) fn validate(answers: &[&str], o: &Options<'_>) -> Result<Signal> {
    let n = answers.len();
    if n > MAX_ANSWERS {
        return Err(invalid(format!(
            "{n} answers; at most {MAX_ANSWERS} are accepted"
        )));
    }
    let mut bytes: usize = answers.iter().map(|a| a.len()).sum();
    if let Some(w) = o.weights {
        if w.len() != n {
            return Err(invalid(format!("{} weights for {n} answers", w.len())));
        }
        if let Some((i, x)) = w
            .iter()
            .enumerate()
            .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
        {
            return Err(invalid(format!(
                "weight {i} is {x}; weights must be finite and >= 0"
            )));
        }
        if n > 0 && w.iter().sum::<f64>() <= 0.0 {
            return Err(invalid("weights sum to 0".to_owned()));
        }
        if !w.iter().sum::<f64>().is_finite() {
            return Err(invalid("weights sum to infinity".to_owned()));
        }
    }
    if let Some(v) = o.verdicts {
        if v.len() != n {
            return Err(invalid(format!("{} verdicts for {n} answers", v.len())));
        }
        bytes += v.iter().map(|x| x.map_or(0, str::len)).sum::<usize>();
    }
    if bytes > MAX_INPUT_BYTES {
        return Err(invalid(format!(
            "{bytes} bytes of text; at most {MAX_INPUT_BYTES} are accepted"
        )));
    }
    if let Some(e) = o.embeddings {
        if e.len() != n {
            return Err(invalid(format!("{} embeddings for {n} answers", e.len())));
        }
        if let Some(first) = e.first() {
            if first.is_empty() {
                return Err(invalid("embeddings must have dimension >= 1".to_owned()));
            }
            for (i, row) in e.iter().enumerate() {
                if row.len() != first.len() {
                    return Err(invalid(format!(
                        "embedding {i} has dimension {}, embedding 0 has {}",
                        row.len(),
                        first.len()
                    )));
                }
                if row.iter().any(|x| !x.is_finite()) {
                    return Err(invalid(format!("embedding {i} has a non-finite value")));
                }
            }
        }
    }
    if let Some(a) = o.agreement {
        if a.len() != n {
            return Err(invalid(format!(
                "agreement matrix has {} rows for {n} answers",
                a.len()
            )));
        }
        for (i, row) in a.iter().enumerate() {
            if row.len() != n {
                return Err(invalid(format!(
                    "agreement row {i} has {} columns; the matrix must be {n} x {n}",
                    row.len()
                )));
            }
            if let Some(x) = row
                .iter()
                .find(|x| !(x.is_finite() && (0.0..=1.0).contains(*x)))
            {
                return Err(invalid(format!(
                    "agreement row {i} holds {x}; values must be in [0, 1]"
                )));
            }
        }
    }
    if let Some(t) = o.threshold {
        if !(t.is_finite() && (0.0..=1.0).contains(&t)) {
            return Err(invalid(format!("threshold {t} is outside [0, 1]")));
        }
    }
    Ok(if o.agreement.is_some() {
        Signal::Agreement
    } else if o.verdicts.is_some() {
        Signal::Verdicts
    } else if o.embeddings.is_some() {
        Signal::Embeddings
    } else {
        Signal::Text
    })
}

#[cfg(test)]
mod tests {
    use crate::consensus::{consensus, Options};

    #[test]
    fn rejects_bad_input() {
        let bad = [f64::NAN];
        assert!(consensus(
            &["a"],
            &Options {
                weights: Some(&bad),
                ..Options::default()
            }
        )
        .is_err());
        let ragged = vec![vec![1.0, 0.0], vec![1.0]];
        assert!(consensus(
            &["a", "b"],
            &Options {
                agreement: Some(&ragged),
                ..Options::default()
            }
        )
        .is_err());
        assert!(consensus(
            &["a"],
            &Options {
                threshold: Some(1.5),
                ..Options::default()
            }
        )
        .is_err());
        let dims = vec![vec![1.0, 0.0], vec![1.0]];
        assert!(consensus(
            &["a", "b"],
            &Options {
                embeddings: Some(&dims),
                ..Options::default()
            }
        )
        .is_err());
        let v = [None];
        assert!(consensus(
            &["a", "b"],
            &Options {
                verdicts: Some(&v),
                ..Options::default()
            }
        )
        .is_err());
    }
}
