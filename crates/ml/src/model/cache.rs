//! Key/value cache for incremental decoding, with the per-row bookkeeping
//! (which cached keys are padding, the next position of each row) that
//! batched, left-padded generation needs.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Cached keys and values of every layer, `[batch, kv_heads, t, head_dim]`.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// Per layer: keys and values so far (after RoPE).
    pub layers: Vec<Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
    /// Per layer, for the fused Flex path: keys and values with the heads
    /// not split apart, `[batch, t, kv_heads·head_dim]`.
    pub rows: Vec<Option<(Tensor<B, 3>, Tensor<B, 3>)>>,
    /// Per row: whether each cached key is a real token (false: padding).
    pub key_mask: Vec<Vec<bool>>,
    /// Per row: position id of the next real token.
    pub next_pos: Vec<usize>,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `batch` rows and `n_layers` layers.
    pub fn new(n_layers: usize, batch: usize) -> Self {
        KvCache {
            layers: vec![None; n_layers],
            rows: vec![None; n_layers],
            key_mask: vec![Vec::new(); batch],
            next_pos: vec![0; batch],
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.key_mask.first().map_or(0, Vec::len)
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`KvCache::append`] for the unsplit `[batch, t, kv_heads·head_dim]`
    /// layout of the fused Flex path.
    pub fn append_rows(
        &mut self,
        layer: usize,
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let (k, v) = match self.rows[layer].take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 1), Tensor::cat(vec![pv, v], 1)),
        };
        self.rows[layer] = Some((k.clone(), v.clone()));
        (k, v)
    }

    /// Appends one layer's new keys/values and returns the full ones.
    pub fn append(
        &mut self,
        layer: usize,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (k, v) = match self.layers[layer].take() {
            None => (k, v),
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
        };
        self.layers[layer] = Some((k.clone(), v.clone()));
        (k, v)
    }
}
