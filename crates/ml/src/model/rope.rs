//! Rotary position embedding in the rotate-half (GPT-NeoX / HF Llama) layout,
//! with Llama-3 frequency scaling.
//!
//! Q/K weights are kept in HF's row order; GGUF files store them permuted for
//! the interleaved layout and are un-permuted when loaded
//! ([`super::load::llama::unpermute_gguf_rows`]).

use std::f64::consts::PI;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::config::{Llama3Scaling, LlamaConfig};

/// Inverse frequencies `theta^(-2i/d)`, `i < d/2`, scaled as Llama-3 does
/// (HF `_compute_llama3_parameters`), or divided by per-frequency factors
/// (`rope_freqs.weight` of Llama-3 GGUFs).
pub fn inv_freq(cfg: &LlamaConfig, freq_factors: Option<&[f32]>) -> Vec<f64> {
    let d = cfg.head_dim;
    let mut f: Vec<f64> = (0..d / 2)
        .map(|i| 1.0 / cfg.rope_theta.powf((2 * i) as f64 / d as f64))
        .collect();
    if let Some(s) = cfg.rope_scaling {
        f = f.into_iter().map(|x| llama3_scale(x, &s)).collect();
    }
    if let Some(ff) = freq_factors {
        for (x, &k) in f.iter_mut().zip(ff) {
            *x /= f64::from(k);
        }
    }
    f
}

/// One inverse frequency under Llama-3 scaling.
fn llama3_scale(inv: f64, s: &Llama3Scaling) -> f64 {
    let low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
    let high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
    let wavelen = 2.0 * PI / inv;
    if wavelen < high_wavelen {
        inv
    } else if wavelen > low_wavelen {
        inv / s.factor
    } else {
        let smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor)
            / (s.high_freq_factor - s.low_freq_factor);
        (1.0 - smooth) * inv / s.factor + smooth * inv
    }
}

/// cos and sin tables `[batch, 1, seq, head_dim]` for per-row positions.
pub fn tables<B: Backend>(
    inv: &[f64],
    positions: &[Vec<usize>],
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let b = positions.len();
    let s = positions.first().map_or(0, Vec::len);
    let half = inv.len();
    let d = 2 * half;
    let mut cos = Vec::with_capacity(b * s * d);
    let mut sin = Vec::with_capacity(b * s * d);
    for row in positions {
        for &p in row {
            // Angles in f64 then rounded, as HF computes them in f32 from f32
            // inv_freq; the difference is far below the parity tolerance.
            // The table is [f_0..f_{d/2}, f_0..f_{d/2}] (HF `cat((freqs, freqs))`).
            for _ in 0..2 {
                for &f in inv {
                    let a = p as f64 * f;
                    cos.push(a.cos() as f32);
                    sin.push(a.sin() as f32);
                }
            }
        }
    }
    let shape = [b, 1, s, d];
    (
        Tensor::from_data(TensorData::new(cos, shape), device),
        Tensor::from_data(TensorData::new(sin, shape), device),
    )
}

/// Applies rotate-half RoPE: `x·cos + rotate_half(x)·sin`, with
/// `rotate_half([x1, x2]) = [-x2, x1]`. `x`: `[batch, heads, seq, head_dim]`.
pub fn apply<B: Backend>(x: Tensor<B, 4>, cos: &Tensor<B, 4>, sin: &Tensor<B, 4>) -> Tensor<B, 4> {
    let d = x.dims()[3];
    let half = d / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.clone().narrow(3, half, half);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(scaling: Option<Llama3Scaling>) -> LlamaConfig {
        LlamaConfig {
            vocab_size: 8,
            hidden_size: 64,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 1,
            num_key_value_heads: 1,
            head_dim: 64,
            rms_norm_eps: 1e-5,
            rope_theta: 500000.0,
            rope_scaling: scaling,
            max_position_embeddings: 128,
            tie_word_embeddings: true,
            bos_token_id: None,
            eos_token_id: None,
            pad_token_id: None,
        }
    }

    #[test]
    fn llama3_scaling_keeps_high_and_divides_low_frequencies() {
        let s = Llama3Scaling {
            factor: 32.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192.0,
        };
        let plain = inv_freq(&cfg(None), None);
        let scaled = inv_freq(&cfg(Some(s)), None);
        // Highest frequency (wavelength 2π < 2048) is untouched.
        assert_eq!(plain[0], scaled[0]);
        // Lowest frequency (wavelength ≫ 8192) is divided by the factor.
        let last = plain.len() - 1;
        assert!(
            (scaled[last] * 32.0 - plain[last]).abs()
                < 1e-15 * plain[last].abs().max(1e-30) + 1e-18
        );
        // Medium ones lie in between.
        assert!(
            scaled
                .iter()
                .zip(&plain)
                .all(|(a, b)| *a <= *b && *a >= *b / 32.0)
        );
    }
}
