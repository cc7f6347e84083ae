//! Writing and reading `features.safetensors`, the frozen backbone's pooled features
//! that `model.features` computes once for every λ of a sweep: f32 tensors
//! `train.chosen`, `train.rejected`, `eval.chosen`, `eval.rejected`
//! (`[rows, hidden]`, rows in the token table's order) and `probes.more`,
//! `probes.less` (`[items, hidden]`, possibly empty).

use std::path::Path;

use anyhow::{Context, bail};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// File name under a `model.features` stage's outputs.
pub const FEATURES_FILE: &str = "features.safetensors";

/// A host matrix `[rows, cols]`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Values.
    pub data: Vec<f32>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// Every tensor of a features file.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Training split, chosen side.
    pub train_chosen: Matrix,
    /// Training split, rejected side.
    pub train_rejected: Matrix,
    /// Eval split, chosen side.
    pub eval_chosen: Matrix,
    /// Eval split, rejected side.
    pub eval_rejected: Matrix,
    /// Stereotype probes, the more stereotypical sentence.
    pub probes_more: Matrix,
    /// Stereotype probes, the less stereotypical sentence.
    pub probes_less: Matrix,
}

impl Matrix {
    /// `[rows, cols]`.
    pub fn shape(&self) -> Vec<usize> {
        vec![self.rows, self.cols]
    }
}

impl Features {
    /// The tensor called `name` in the file (`train.chosen`, …).
    pub fn tensor(&self, name: &str) -> Option<&Matrix> {
        let i = FEATURE_TENSORS.iter().position(|n| *n == name)?;
        Some(self.all()[i])
    }

    /// Every tensor, in [`FEATURE_TENSORS`] order.
    fn all(&self) -> [&Matrix; 6] {
        [
            &self.train_chosen,
            &self.train_rejected,
            &self.eval_chosen,
            &self.eval_rejected,
            &self.probes_more,
            &self.probes_less,
        ]
    }

    /// Width of the features.
    pub fn hidden(&self) -> usize {
        self.train_chosen.cols
    }
}

/// Tensor `name` of `st` as a host matrix: 2-D f32, every value finite.
///
/// # Errors
/// A missing tensor, another dtype or rank, or a non-finite value, named
/// with `path`.
pub fn matrix(st: &SafeTensors<'_>, name: &str, path: &Path) -> anyhow::Result<Matrix> {
    let t = st
        .tensor(name)
        .with_context(|| format!("{}: no tensor `{name}`", path.display()))?;
    if t.dtype() != Dtype::F32 || t.shape().len() != 2 {
        bail!(
            "{}: tensor `{name}` must be 2-D f32, is {:?} {:?}",
            path.display(),
            t.dtype(),
            t.shape()
        );
    }
    let data: Vec<f32> = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        bail!(
            "{}: tensor `{name}` has a non-finite value at {i}",
            path.display()
        );
    }
    Ok(Matrix {
        data,
        rows: t.shape()[0],
        cols: t.shape()[1],
    })
}

/// Tensor names of `features.safetensors`, in the order they are computed.
pub const FEATURE_TENSORS: [&str; 6] = [
    "train.chosen",
    "train.rejected",
    "eval.chosen",
    "eval.rejected",
    "probes.more",
    "probes.less",
];

/// Writes a features file: `values` holds the rows of every tensor of
/// [`FEATURE_TENSORS`] one after the other (`counts[i]` rows of width
/// `hidden` for tensor `i`), as little-endian f32.
///
/// # Errors
/// Counts that do not add up to `values`, or a write failure.
pub fn write_features(
    path: &Path,
    values: &[f32],
    hidden: usize,
    counts: &[usize],
) -> anyhow::Result<()> {
    if counts.len() != FEATURE_TENSORS.len()
        || counts.iter().sum::<usize>() * hidden != values.len()
    {
        bail!(
            "{}: {} values do not make {counts:?} rows of width {hidden}",
            path.display(),
            values.len()
        );
    }
    let mut tensors = Vec::with_capacity(FEATURE_TENSORS.len());
    let mut at = 0;
    for (name, n) in FEATURE_TENSORS.iter().zip(counts) {
        let bytes: Vec<u8> = values[at * hidden..(at + n) * hidden]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        tensors.push((*name, vec![*n, hidden], bytes));
        at += n;
    }
    let views = tensors
        .iter()
        .map(|(n, shape, bytes)| TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (*n, v)))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("building {}", path.display()))?;
    safetensors::tensor::serialize_to_file(views, None, path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads and checks a features file: every tensor present, one width.
///
/// # Errors
/// A missing or malformed tensor, named with the file.
pub fn read_features(path: &Path) -> anyhow::Result<Features> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let f = Features {
        train_chosen: matrix(&st, FEATURE_TENSORS[0], path)?,
        train_rejected: matrix(&st, FEATURE_TENSORS[1], path)?,
        eval_chosen: matrix(&st, FEATURE_TENSORS[2], path)?,
        eval_rejected: matrix(&st, FEATURE_TENSORS[3], path)?,
        probes_more: matrix(&st, FEATURE_TENSORS[4], path)?,
        probes_less: matrix(&st, FEATURE_TENSORS[5], path)?,
    };
    if f.all().iter().any(|m| m.cols != f.hidden()) {
        bail!("{}: tensors of different widths", path.display());
    }
    if f.train_chosen.rows != f.train_rejected.rows
        || f.eval_chosen.rows != f.eval_rejected.rows
        || f.probes_more.rows != f.probes_less.rows
    {
        bail!("{}: chosen and rejected row counts differ", path.display());
    }
    Ok(f)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use crate::testing::write_features as write;

    #[test]
    fn reads_back_and_refuses_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FEATURES_FILE);
        let m = |r: usize| (0..r * 2).map(|x| x as f32).collect::<Vec<f32>>();
        let mut t = vec![
            ("train.chosen", 3, 2, m(3)),
            ("train.rejected", 3, 2, m(3)),
            ("eval.chosen", 1, 2, m(1)),
            ("eval.rejected", 1, 2, m(1)),
            ("probes.more", 0, 2, vec![]),
            ("probes.less", 0, 2, vec![]),
        ];
        write(&p, &t);
        let f = read_features(&p).unwrap();
        assert_eq!(f.hidden(), 2);
        assert_eq!(f.train_chosen.data[5], 5.0);
        assert_eq!(f.probes_less.rows, 0);
        t[3] = ("eval.rejected", 2, 2, m(2));
        write(&p, &t);
        assert!(
            read_features(&p)
                .unwrap_err()
                .to_string()
                .contains("row counts")
        );
        t.pop();
        write(&p, &t);
        let e = read_features(&p).unwrap_err().to_string();
        assert!(e.contains("probes.less"), "{e}");
        std::fs::write(&p, b"junk").unwrap();
        assert!(read_features(&p).is_err());
    }
}
