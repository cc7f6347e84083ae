//! Pieces the model benches share (`benches/model.rs`, `benches/compare.rs`).

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use repro::model::bert::Bert;
use repro::model::llama::Batch;

/// A MiniLM reward model: mean-pooled encoder states → linear score.
#[derive(Module, Debug)]
pub struct MiniLmRm<B: Backend> {
    /// The encoder.
    pub bert: Bert<B>,
    /// The linear score head.
    pub head: burn::nn::Linear<B>,
}

impl<B: Backend> MiniLmRm<B> {
    /// One score per row: the head on the mask-weighted mean of the states.
    pub fn score(&self, batch: &Batch) -> Tensor<B, 1> {
        let h = self.bert.forward(batch);
        let [b, s, d] = h.dims();
        let m: Vec<f32> = batch
            .mask
            .iter()
            .flat_map(|m| m.iter().map(|&x| f32::from(u8::from(x))))
            .collect();
        let m = Tensor::<B, 3>::from_data(TensorData::new(m, [b, s, 1]), &h.device());
        let pooled = (h * m.clone()).sum_dim(1) / m.sum_dim(1);
        self.head.forward(pooled.reshape([b, d])).reshape([b])
    }
}

/// Random ids in `[3, vocab)`, every token real (both sides draw their own
/// ids; only the shapes must match).
pub fn random_batch(b: usize, s: usize, vocab: usize, seed: u64) -> Batch {
    let mut r = repro::util::rng::SplitMix64::new(seed);
    let ids: Vec<Vec<u32>> = (0..b)
        .map(|_| {
            (0..s)
                .map(|_| 3 + (r.next_u64() % (vocab as u64 - 3)) as u32)
                .collect()
        })
        .collect();
    Batch {
        mask: vec![vec![true; s]; b],
        ids,
    }
}
