//! Batched generation with a KV cache: greedy (temperature 0) or temperature
//! plus nucleus (top-p) sampling, stopping at EOS, seeded and reproducible.

use burn::tensor::backend::Backend;

use super::batch::Batch;
use super::cache::KvCache;
use super::llama::Llama;
use super::readback::{ReadbackError, to_vec_f32};
use crate::util::rng::SplitMix64 as Rng;

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Most tokens to add per row.
    pub max_new_tokens: usize,
    /// Softmax temperature; 0 means greedy.
    pub temperature: f64,
    /// Nucleus mass in (0, 1]; 1 keeps every token.
    pub top_p: f64,
    /// Seed of the sampling stream.
    pub seed: u64,
    /// Token ids that end a row.
    pub eos: Vec<u32>,
    /// Id used to pad prompts (on the left).
    pub pad: u32,
}

/// Picks a token from one row of logits.
pub fn sample(logits: &[f32], temperature: f64, top_p: f64, rng: &mut Rng) -> u32 {
    let argmax = argmax(logits);
    if temperature <= 0.0 {
        return argmax as u32;
    }
    let mut probs = weights(logits, argmax, temperature);
    let n = nucleus(&mut probs, top_p);
    draw(&probs[..n], rng)
}

/// The first index of the largest logit.
fn argmax(logits: &[f32]) -> usize {
    logits
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}

/// Each token's unnormalised probability `e^((x − max) / T)`, by id.
fn weights(logits: &[f32], argmax: usize, temperature: f64) -> Vec<(usize, f64)> {
    let max = f64::from(logits[argmax]);
    logits
        .iter()
        .enumerate()
        .map(|(i, &x)| (i, ((f64::from(x) - max) / temperature).exp()))
        .collect()
}

/// A token of the (non-empty) nucleus `probs`, drawn by its weight.
fn draw(probs: &[(usize, f64)], rng: &mut Rng) -> u32 {
    let mass: f64 = probs.iter().map(|p| p.1).sum();
    let mut u = rng.next_f64() * mass;
    for p in probs {
        u -= p.1;
        if u <= 0.0 {
            return p.0 as u32;
        }
    }
    probs[probs.len() - 1].0 as u32
}

/// The nucleus: the smallest run of most likely tokens whose mass reaches
/// `top_p` (at least one token), as HF's `TopPLogitsWarper` keeps it.
/// Orders the front of `probs` as sorting it all would (most likely first,
/// ties by id, a total order) as far as the nucleus, and returns its length.
/// Only a top slice is sorted, grown until it holds the nucleus: the top
/// `k` of a total order, sorted, are the full sort's first `k`, so the
/// masses add up in the same order and the same token is drawn, for the
/// cost of one selection pass over the vocabulary instead of a sort of it.
fn nucleus(probs: &mut [(usize, f64)], top_p: f64) -> usize {
    // Summed in id order, before anything is moved.
    let total: f64 = probs.iter().map(|p| p.1).sum();
    let order = |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let mut k = probs.len().min(64);
    loop {
        if k < probs.len() {
            probs.select_nth_unstable_by(k - 1, order);
        }
        probs[..k].sort_by(order);
        let mut kept = 0.0;
        for (n, p) in probs[..k].iter().enumerate() {
            kept += p.1 / total;
            if kept >= top_p {
                return n + 1;
            }
        }
        if k == probs.len() {
            return k.max(1);
        }
        k = probs.len().min(k * 8);
    }
}

/// `log_softmax(logits / T)[token]` over the full vocabulary (no top-p), in
/// f64; `T` ≤ 0 is read as 1 (greedy decoding scores with the raw logits).
pub fn token_logprob(logits: &[f32], token: u32, temperature: f64) -> f64 {
    let t = if temperature > 0.0 { temperature } else { 1.0 };
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let z: f64 = logits
        .iter()
        .map(|&x| ((f64::from(x) - f64::from(max)) / t).exp())
        .sum();
    let x = logits
        .get(token as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    (f64::from(x) - f64::from(max)) / t - z.ln()
}

/// Generated tokens and the log-prob of each under the sampling temperature.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Generated {
    /// New tokens of each row, EOS included when reached.
    pub tokens: Vec<Vec<u32>>,
    /// `log_softmax(logits / T)` of each new token ([`token_logprob`]).
    pub logprobs: Vec<Vec<f64>>,
}

/// Generates continuations of `prompts` (token ids). Returns the new tokens
/// of each row, EOS included when reached.
///
/// # Errors
/// A step's logits cannot be read back from the device.
pub fn generate<B: Backend>(
    model: &Llama<B>,
    prompts: &[Vec<u32>],
    cfg: &GenerateConfig,
) -> Result<Vec<Vec<u32>>, ReadbackError> {
    Ok(run(model, prompts, cfg, false)?.tokens)
}

/// [`generate`], also recording each new token's log-prob (PPO rollouts).
///
/// # Errors
/// A step's logits cannot be read back from the device.
pub fn generate_scored<B: Backend>(
    model: &Llama<B>,
    prompts: &[Vec<u32>],
    cfg: &GenerateConfig,
) -> Result<Generated, ReadbackError> {
    run(model, prompts, cfg, true)
}

/// The decoding loop; `scored` records each token's log-prob (a pass of
/// `exp` over the vocabulary per row and step, which [`generate`] skips).
fn run<B: Backend>(
    model: &Llama<B>,
    prompts: &[Vec<u32>],
    cfg: &GenerateConfig,
    scored: bool,
) -> Result<Generated, ReadbackError> {
    let b = prompts.len();
    let mut out = vec![Vec::new(); b];
    let mut lps = vec![Vec::new(); b];
    if b == 0 || cfg.max_new_tokens == 0 {
        return Ok(Generated {
            tokens: out,
            logprobs: lps,
        });
    }
    // Every step reads every weight: pack them once for the steps
    // (bit for bit the same products, read at the memory's speed).
    super::fast::with_packed_weights(|| {
        let mut rng = Rng::new(cfg.seed);
        let mut cache = KvCache::new(model.n_layers(), b);
        let mut batch = Batch::pad(prompts, cfg.pad, true);
        let mut done = vec![false; b];
        for _ in 0..cfg.max_new_tokens {
            let hidden = model.forward_hidden(&batch, Some(&mut cache));
            let [_, s, d] = hidden.dims();
            let last = hidden.narrow(1, s - 1, 1).reshape([b, 1, d]);
            let logits = model.logits(last);
            let v = logits.dims()[2];
            let flat = to_vec_f32(logits, "the next-token logits")?; // [b, 1, V]
            let mut next = Vec::with_capacity(b);
            for r in 0..b {
                if done[r] || flat.len() < (r + 1) * v {
                    next.push(cfg.pad);
                    continue;
                }
                let row = &flat[r * v..(r + 1) * v];
                let t = sample(row, cfg.temperature, cfg.top_p, &mut rng);
                out[r].push(t);
                if scored {
                    lps[r].push(token_logprob(row, t, cfg.temperature));
                }
                if cfg.eos.contains(&t) {
                    done[r] = true;
                }
                next.push(t);
            }
            if done.iter().all(|&x| x) {
                break;
            }
            batch = Batch {
                ids: next.iter().map(|&t| vec![t]).collect(),
                mask: vec![vec![true]; b],
            };
        }
        Ok(Generated {
            tokens: out,
            logprobs: lps,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_and_top_p_restricts_to_the_nucleus() {
        let logits = [0.0f32, 5.0, 4.9, -3.0];
        let mut rng = Rng::new(1);
        assert_eq!(sample(&logits, 0.0, 1.0, &mut rng), 1);
        // p(1) ≈ 0.52 < 0.6 so the nucleus is {1, 2}: token 0 and 3 never appear.
        for _ in 0..200 {
            let t = sample(&logits, 1.0, 0.6, &mut rng);
            assert!(t == 1 || t == 2, "{t}");
        }
        // A tiny top_p keeps only the most likely token.
        assert_eq!(sample(&logits, 1.0, 1e-6, &mut rng), 1);
    }

    /// `sample` as it was before [`nucleus`]: the whole vocabulary sorted.
    fn sample_by_full_sort(logits: &[f32], temperature: f64, top_p: f64, rng: &mut Rng) -> u32 {
        let mut probs = weights(logits, argmax(logits), temperature);
        let total: f64 = probs.iter().map(|p| p.1).sum();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = 0.0;
        let mut n = 0;
        for p in &probs {
            n += 1;
            kept += p.1 / total;
            if kept >= top_p {
                break;
            }
        }
        draw(&probs[..n.max(1)], rng)
    }

    #[test]
    fn nucleus_draws_the_token_a_full_sort_draws() {
        // Peaked and flat rows (nuclei of one token to most of the
        // vocabulary, past every growth of the sorted slice), ties, and
        // top_p 1 (every token), at the pipelines' settings and others.
        let mut g = Rng::new(42);
        for case in 0..300u64 {
            let v = [5, 64, 65, 600, 5000, 49152][case as usize % 6];
            let spread = [0.01, 0.5, 2.0, 8.0][(case / 6) as usize % 4];
            let logits: Vec<f32> = (0..v)
                .map(|i| {
                    if case % 7 == 0 && i % 3 == 0 {
                        1.0 // ties
                    } else {
                        ((g.next_f64() * 2.0 - 1.0) * spread) as f32
                    }
                })
                .collect();
            for (t, p) in [
                (0.7, 0.9),
                (0.9, 0.95),
                (1.0, 1.0),
                (1.3, 0.5),
                (0.2, 0.999),
            ] {
                let (mut a, mut b) = (Rng::new(case), Rng::new(case));
                for _ in 0..5 {
                    assert_eq!(
                        sample(&logits, t, p, &mut a),
                        sample_by_full_sort(&logits, t, p, &mut b),
                        "case {case}: vocabulary {v}, spread {spread}, T {t}, top-p {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn sampling_is_reproducible_from_the_seed() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..20)
                .map(|_| sample(&logits, 0.8, 0.95, &mut r))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }
}
