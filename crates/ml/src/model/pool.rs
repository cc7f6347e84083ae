//! One vector per row from a sequence of hidden states: the mean over the
//! real tokens, and that mean L2-normalised (sentence-transformers' `Pooling`
//! then `Normalize`). The one home of pooling for BERT, MPNet and the encoder
//! heads.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::batch::Batch;

/// A 0/1 mask `[b, s, 1]` of the real tokens of `batch`.
fn token_mask<B: Backend>(batch: &Batch, device: &B::Device) -> Tensor<B, 3> {
    let (b, s) = (batch.batch_size(), batch.seq_len());
    let m: Vec<f32> = batch
        .mask
        .iter()
        .flat_map(|m| m.iter().map(|&r| if r { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(m, [b, s, 1]), device)
}

/// Mean of `hidden` `[b, s, d]` over the real tokens of `batch`, `[b, 1, d]`.
fn masked_mean<B: Backend>(hidden: Tensor<B, 3>, batch: &Batch) -> Tensor<B, 3> {
    let m = token_mask::<B>(batch, &hidden.device());
    let summed = (hidden * m.clone()).sum_dim(1); // [b, 1, d]
    let count = m.sum_dim(1).clamp_min(1e-9); // [b, 1, 1]
    summed / count
}

/// Mean of `hidden` `[b, s, d]` over the real tokens of `batch`, `[b, d]`.
pub fn mean_pool<B: Backend>(hidden: Tensor<B, 3>, batch: &Batch) -> Tensor<B, 2> {
    let [b, _, d] = hidden.dims();
    masked_mean(hidden, batch).reshape([b, d])
}

/// [`mean_pool`] divided by its L2 norm (at least 1e-12), `[b, d]`: a
/// sentence embedding.
pub fn mean_pool_l2<B: Backend>(hidden: Tensor<B, 3>, batch: &Batch) -> Tensor<B, 2> {
    let [b, _, d] = hidden.dims();
    let mean = masked_mean(hidden, batch);
    let norm = mean
        .clone()
        .powf_scalar(2.0)
        .sum_dim(2)
        .sqrt()
        .clamp_min(1e-12);
    (mean / norm).reshape([b, d])
}
