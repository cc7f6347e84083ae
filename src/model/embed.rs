//! Pooled features of many token sequences through a frozen backbone: sorted
//! by length, batched, results back in row order (so the output does not
//! depend on the batching).

use burn::tensor::backend::Backend as BurnBackend;

use super::encoder::{EncoderConfig, LoadedEncoder};
use crate::util::hooks::Hooks;

/// Counters of one [`embed_all`] run.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmbedStats {
    /// Real tokens.
    pub tokens: usize,
    /// Token slots including padding.
    pub slots: usize,
    /// Forward passes.
    pub batches: usize,
}

/// Pooled features of `seqs`, `[seqs.len() · hidden]` row-major in the order
/// of `seqs`, computed in batches of similar lengths. After every batch the
/// hooks are asked whether to stop and told the progress (`embed`).
pub fn embed_all<B: BurnBackend>(
    enc: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
    batch_size: usize,
    hooks: &dyn Hooks,
) -> anyhow::Result<(Vec<f32>, EmbedStats)> {
    let total = seqs.len() as u64;
    let d = enc.hidden;
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| (seqs[i].len(), i));
    let mut out = vec![0.0f32; seqs.len() * d];
    let mut stats = EmbedStats::default();
    let mut done = 0;
    for chunk in order.chunks(batch_size.max(1)) {
        let batch_seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
        let batch = enc.batch(&batch_seqs);
        stats.tokens += batch_seqs.iter().map(Vec::len).sum::<usize>();
        stats.slots += batch.batch_size() * batch.seq_len();
        stats.batches += 1;
        let pooled: Vec<f32> = enc
            .encoder
            .pooled(&batch)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|e| anyhow::anyhow!("reading pooled features: {e:?}"))?;
        anyhow::ensure!(
            pooled.len() == chunk.len() * d,
            "pooled features have {} values, expected {}",
            pooled.len(),
            chunk.len() * d
        );
        for (k, &i) in chunk.iter().enumerate() {
            out[i * d..(i + 1) * d].copy_from_slice(&pooled[k * d..(k + 1) * d]);
        }
        done += chunk.len();
        hooks.check()?;
        hooks.progress("embed", done as u64, total);
    }
    Ok((out, stats))
}

/// Checks that every sequence is non-empty and fits the backbone.
pub fn check_seqs(seqs: &[Vec<u32>], cfg: &EncoderConfig, what: &str) -> anyhow::Result<()> {
    let (vocab, max_pos) = match cfg {
        EncoderConfig::Bert(c) => (c.vocab_size, Some(c.max_position_embeddings)),
        EncoderConfig::Llama(c) => (c.vocab_size, None),
    };
    for (i, s) in seqs.iter().enumerate() {
        anyhow::ensure!(!s.is_empty(), "{what} row {}: no tokens", i + 1);
        if let Some(m) = max_pos {
            anyhow::ensure!(
                s.len() <= m,
                "{what} row {}: {} tokens, the backbone takes at most {m}",
                i + 1,
                s.len()
            );
        }
        if let Some(&t) = s.iter().find(|&&t| t as usize >= vocab) {
            anyhow::bail!(
                "{what} row {}: token id {t} outside the backbone's vocabulary of {vocab} \
                 (tokenized with another tokenizer?)",
                i + 1
            );
        }
    }
    Ok(())
}
