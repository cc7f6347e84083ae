//! Pooled features of many token sequences through a frozen backbone: sorted
//! by length, batched, results back in row order (so the output does not
//! depend on the order of `seqs`, while the batch's padded length can move
//! the last bits of a row: the fixed-order sums over keys split by it).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend as BurnBackend;

use super::batch::Batch;
use super::encoder::{EncoderConfig, LoadedEncoder};
use super::readback::to_vec_f32;
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

/// Runs `each` on batches of `seqs` of similar lengths (sorted by length,
/// `batch_size` at a time): `each(rows, batch)` gets the rows of `seqs` in the
/// batch and their right-padded [`Batch`]. After every batch the hooks are
/// asked whether to stop and told the progress (`what`).
fn for_batches<B: BurnBackend>(
    enc: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
    batch_size: usize,
    hooks: &dyn Hooks,
    what: &str,
    mut each: impl FnMut(&[usize], &Batch) -> anyhow::Result<()>,
) -> anyhow::Result<EmbedStats> {
    let total = seqs.len() as u64;
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| (seqs[i].len(), i));
    let mut stats = EmbedStats::default();
    let mut done = 0;
    for chunk in order.chunks(batch_size.max(1)) {
        let batch_seqs: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
        let batch = enc.batch(&batch_seqs);
        stats.tokens += batch_seqs.iter().map(Vec::len).sum::<usize>();
        stats.slots += batch.batch_size() * batch.seq_len();
        stats.batches += 1;
        each(chunk, &batch)?;
        done += chunk.len();
        hooks.check()?;
        hooks.progress(what, done as u64, total);
    }
    Ok(stats)
}

fn host<B: BurnBackend, const D: usize>(t: Tensor<B, D>, want: usize) -> anyhow::Result<Vec<f32>> {
    let v = to_vec_f32(t, "the backbone's output")?;
    anyhow::ensure!(
        v.len() == want,
        "the backbone's output has {} values, expected {want}",
        v.len()
    );
    Ok(v)
}

/// Pooled features of `seqs`, `[seqs.len() · hidden]` row-major in the order
/// of `seqs`, computed in batches of similar lengths (progress: `embed`).
pub fn embed_all<B: BurnBackend>(
    enc: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
    batch_size: usize,
    hooks: &dyn Hooks,
) -> anyhow::Result<(Vec<f32>, EmbedStats)> {
    let d = enc.hidden;
    let mut out = vec![0.0f32; seqs.len() * d];
    let stats = for_batches(enc, seqs, batch_size, hooks, "embed", |chunk, batch| {
        let pooled = host(enc.encoder.pooled(batch), chunk.len() * d)?;
        for (k, &i) in chunk.iter().enumerate() {
            out[i * d..(i + 1) * d].copy_from_slice(&pooled[k * d..(k + 1) * d]);
        }
        Ok(())
    })?;
    Ok((out, stats))
}

/// The hidden states of `seqs` after the embeddings and the first `lower`
/// layers ([`crate::model::encoder::Encoder::lower`]), in batches of similar
/// lengths (progress: `lower`): `sink(i, states)` receives row `i`'s states
/// `[s · hidden]` of its right-padded batch (its real tokens first).
pub fn lower_all<B: BurnBackend>(
    enc: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
    lower: usize,
    batch_size: usize,
    hooks: &dyn Hooks,
    mut sink: impl FnMut(usize, &[f32]),
) -> anyhow::Result<EmbedStats> {
    let d = enc.hidden;
    for_batches(enc, seqs, batch_size, hooks, "lower", |chunk, batch| {
        let s = batch.seq_len();
        let states = host(enc.encoder.lower(batch, lower), chunk.len() * s * d)?;
        for (k, &i) in chunk.iter().enumerate() {
            sink(i, &states[k * s * d..(k + 1) * s * d]);
        }
        Ok(())
    })
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
