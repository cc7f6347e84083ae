//! Semantic diversity of a set of responses (App. B.2): the mean pairwise
//! cosine distance `2 / (n (n-1)) Σ_{i<j} (1 - cos(e_i, e_j))` of their
//! sentence embeddings, rows ℓ2-normalised first.

use super::error::{StatsError, check_finite};

/// Mean pairwise cosine distance of the rows of `embeddings`, row-major
/// `[n, dim]`; in `[0, 2]`, higher is more diverse.
///
/// # Errors
/// `dim = 0`, a length not a multiple of `dim`, fewer than two rows, a
/// non-finite value, or an all-zero row (no direction).
pub fn semantic_diversity(embeddings: &[f64], dim: usize) -> Result<f64, StatsError> {
    const WHAT: &str = "semantic_diversity";
    if dim == 0 || !embeddings.len().is_multiple_of(dim) {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "dim",
            expected: "> 0 and dividing the embedding length",
            found: dim as f64,
        });
    }
    let n = embeddings.len() / dim;
    if n < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "embeddings",
            needed: 2,
            found: n,
        });
    }
    check_finite(WHAT, "embeddings", embeddings)?;
    let mut unit = Vec::with_capacity(embeddings.len());
    for row in embeddings.chunks_exact(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(StatsError::Undefined {
                what: WHAT,
                reason: "an embedding row is all zeros",
            });
        }
        unit.extend(row.iter().map(|x| x / norm));
    }
    let rows: Vec<&[f64]> = unit.chunks_exact(dim).collect();
    let mut total = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let cos: f64 = rows[i].iter().zip(rows[j]).map(|(a, b)| a * b).sum();
            total += 1.0 - cos;
        }
    }
    Ok(total * 2.0 / (n as f64 * (n as f64 - 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_sklearn_cosine_distances() {
        let fx = Fixture::load();
        for case in fx.cases("semantic_diversity") {
            let got =
                semantic_diversity(&case.sample("embeddings"), case.int("dim") as usize).unwrap();
            assert_close(got, case.num("semdiv"), 1e-12, &case.name());
        }
    }

    #[test]
    fn orthogonal_and_identical_rows() {
        assert_eq!(semantic_diversity(&[1.0, 0.0, 0.0, 3.0], 2).unwrap(), 1.0);
        assert!(semantic_diversity(&[1.0, 1.0, 2.0, 2.0], 2).unwrap().abs() < 1e-15);
        assert!(semantic_diversity(&[1.0, 0.0, 0.0, 0.0], 2).is_err());
        assert!(semantic_diversity(&[1.0, 0.0, 1.0], 2).is_err());
    }
}
