//! Fleiss' kappa: chance-corrected agreement of categorical votes.

use crate::error::{Error, Result};

/// Fleiss' kappa for `counts[subject][category]` = raters who put the subject in the category.
/// Every subject must have the same number of raters (≥ 2).
///
/// When every vote falls in one category, chance agreement is 1 and kappa is undefined; this
/// returns 1.0 then (the raters agree perfectly).
///
/// # Errors
///
/// [`Error::InvalidInput`] when there are no subjects or no categories, a subject has fewer
/// than 2 raters or not as many as the first one, the rows are ragged, or a count overflows.
pub fn fleiss_kappa(counts: &[Vec<u64>]) -> Result<f64> {
    let first = counts
        .first()
        .ok_or_else(|| Error::InvalidInput("no subjects to rate".to_owned()))?;
    if first.is_empty() {
        return Err(Error::InvalidInput("no categories".to_owned()));
    }
    let raters: u64 = first
        .iter()
        .try_fold(0u64, |a, &c| a.checked_add(c))
        .ok_or_else(too_many)?;
    if raters < 2 {
        return Err(Error::InvalidInput(format!(
            "each subject needs >= 2 raters, got {raters}"
        )));
    }
    let categories = first.len();
    let mut column = vec![0f64; categories];
    let mut p_bar = 0.0;
    for (s, row) in counts.iter().enumerate() {
        if row.len() != categories {
            return Err(Error::InvalidInput(format!(
                "ragged counts: row {s} has {} categories, row 0 has {categories}",
                row.len()
            )));
        }
        let n: u64 = row
            .iter()
            .try_fold(0u64, |a, &c| a.checked_add(c))
            .ok_or_else(too_many)?;
        if n != raters {
            return Err(Error::InvalidInput(format!(
                "row {s} has {n} raters, row 0 has {raters}"
            )));
        }
        let n = n as f64;
        let agree: f64 = row.iter().map(|&c| (c as f64) * (c as f64 - 1.0)).sum();
        p_bar += agree / (n * (n - 1.0));
        for (j, &c) in row.iter().enumerate() {
            column[j] += c as f64;
        }
    }
    let subjects = counts.len() as f64;
    p_bar /= subjects;
    let total = subjects * raters as f64;
    let p_e: f64 = column.iter().map(|c| (c / total) * (c / total)).sum();
    if (1.0 - p_e).abs() < 1e-12 {
        return Ok(1.0);
    }
    Ok((p_bar - p_e) / (1.0 - p_e))
}

fn too_many() -> Error {
    Error::InvalidInput("rater counts overflow".to_owned())
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "exact values are what the tests pin")]
mod tests {
    use super::*;

    #[test]
    fn wikipedia_example() {
        // The worked example of the Wikipedia article on Fleiss' kappa: kappa = 0.210.
        let counts = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        let k = fleiss_kappa(&counts).unwrap();
        assert!((k - 0.210).abs() < 1e-3, "{k}");
    }

    #[test]
    fn perfect_and_errors() {
        assert_eq!(fleiss_kappa(&[vec![3, 0], vec![3, 0]]).unwrap(), 1.0);
        assert!(fleiss_kappa(&[vec![3, 0], vec![0, 3]]).unwrap() > 0.99);
        assert!(fleiss_kappa(&[]).is_err());
        assert!(fleiss_kappa(&[vec![1, 0]]).is_err());
        assert!(fleiss_kappa(&[vec![2, 0], vec![1, 0, 1]]).is_err());
        assert!(fleiss_kappa(&[vec![2, 0], vec![2, 1]]).is_err());
        assert!(fleiss_kappa(&[vec![u64::MAX, 1]]).is_err());
    }
}
