//! A batch of token ids with its padding mask, the one every model takes, and
//! the additive mask value their attention gives a disallowed key.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// Additive mask value for disallowed keys: finite, so a row with no allowed
/// key (a padding query) gives a uniform softmax, not NaN.
pub const MASKED: f32 = -1.0e9;

/// A batch of token ids with its padding mask (host side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Token ids, every row the same length.
    pub ids: Vec<Vec<u32>>,
    /// `true` for real tokens, `false` for padding.
    pub mask: Vec<Vec<bool>>,
}

impl Batch {
    /// Pads `seqs` to a common length with `pad`, on the left or the right.
    pub fn pad(seqs: &[Vec<u32>], pad: u32, left: bool) -> Self {
        let n = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(seqs.len());
        let mut mask = Vec::with_capacity(seqs.len());
        for s in seqs {
            let fill = n - s.len();
            let (mut r, mut m) = (Vec::with_capacity(n), Vec::with_capacity(n));
            if left {
                r.extend(std::iter::repeat_n(pad, fill));
                m.extend(std::iter::repeat_n(false, fill));
            }
            r.extend_from_slice(s);
            m.extend(std::iter::repeat_n(true, s.len()));
            if !left {
                r.extend(std::iter::repeat_n(pad, fill));
                m.extend(std::iter::repeat_n(false, fill));
            }
            ids.push(r);
            mask.push(m);
        }
        Batch { ids, mask }
    }

    /// Rows.
    pub fn batch_size(&self) -> usize {
        self.ids.len()
    }

    /// Columns.
    pub fn seq_len(&self) -> usize {
        self.ids.first().map_or(0, Vec::len)
    }

    /// The ids as an Int tensor `[batch, seq]`.
    pub fn ids_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2, Int> {
        let flat: Vec<i64> = self.ids.iter().flatten().map(|&x| i64::from(x)).collect();
        Tensor::from_data(
            TensorData::new(flat, [self.batch_size(), self.seq_len()]),
            device,
        )
    }

    /// The additive key mask `[b, 1, 1, s]`: 0 for real tokens, [`MASKED`]
    /// for padding (what a bidirectional encoder's attention adds).
    pub fn key_bias<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        let (b, s) = (self.batch_size(), self.seq_len());
        let bias: Vec<f32> = self
            .mask
            .iter()
            .flat_map(|m| m.iter().map(|&r| if r { 0.0 } else { MASKED }))
            .collect();
        Tensor::from_data(TensorData::new(bias, [b, 1, 1, s]), device)
    }

    /// Index of the last real token of each row.
    pub fn last_index(&self) -> Vec<usize> {
        self.mask
            .iter()
            .map(|m| m.iter().rposition(|&x| x).unwrap_or(0))
            .collect()
    }
}
