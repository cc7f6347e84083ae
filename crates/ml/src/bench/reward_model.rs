//! The reward model the training row times: MiniLM, mean-pooled, a linear score.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::model::batch::Batch;
use crate::model::bert::Bert;

/// A MiniLM reward model: mean-pooled encoder states → linear score.
#[derive(Module, Debug)]
pub struct MiniLmRm<B: Backend> {
    /// The encoder.
    pub bert: Bert<B>,
    /// The linear score head.
    pub head: burn::nn::Linear<B>,
}

impl<B: Backend> MiniLmRm<B> {
    /// One score per row `[b]`: the head on the mask-weighted mean of the states.
    pub fn score(&self, batch: &Batch) -> Tensor<B, 1> {
        let h = self.bert.forward(batch); // [b, s, d]
        let [b, s, d] = h.dims();
        let m: Vec<f32> = batch
            .mask
            .iter()
            .flat_map(|m| m.iter().map(|&x| f32::from(u8::from(x))))
            .collect();
        let m = Tensor::<B, 3>::from_data(TensorData::new(m, [b, s, 1]), &h.device());
        let pooled = (h * m.clone()).sum_dim(1) / m.sum_dim(1); // [b, 1, d]
        self.head.forward(pooled.reshape([b, d])).reshape([b])
    }
}
