//! The model rows: one pass of a model at the shapes the pipeline runs,
//! timed, with its cost per token (`model::cost`) so a speed can be read
//! against the machine's limit.

use burn::backend::Autodiff;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::Backend;

use super::error::BenchError;
use super::reward_model::MiniLmRm;
use super::timing::Timing;
use super::weights::Weights;
use crate::model::batch::Batch;
use crate::model::cost::{self, Pass};
use crate::model::encoder::Encoder;
use crate::model::generate::{GenerateConfig, generate};
use crate::model::lora::LoraConfig;

/// A model row of the bench table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A reward-model training step: MiniLM, 16 × 128 tokens, AdamW.
    RmStep,
    /// MiniLM pooled features (the `model.features` path), 64 × 128.
    MinilmInfer,
    /// SmolLM2 forward and backward, every weight trained, 4 × 128.
    LmFwdBwd,
    /// SmolLM2 forward and backward with LoRA (rank 16, q/k/v/o), 8 × 128.
    LoraFwdBwd,
    /// SmolLM2 forward without gradients, 8 × 192.
    LmForward,
    /// Greedy generation, batch 1: 16 prompt tokens, 64 new.
    GenB1,
    /// Greedy generation, batch 8: 16 prompt tokens, 64 new each.
    GenB8,
    /// Greedy generation, batch 32 (an evaluation batch): 16 prompt
    /// tokens, 64 new each.
    GenB32,
}

/// What one row measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RowResult {
    /// Tokens per call (generated tokens for generation rows).
    pub tokens: usize,
    /// Median seconds per call.
    pub secs: f64,
    /// Matrix-product FLOPs per token (every row; decoding rows count the
    /// prefill's share).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops_per_token: Option<f64>,
    /// Bytes read per generated token (decoding rows: bounded by the GEMM
    /// peak or the bandwidth, whichever they meet first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_token: Option<f64>,
}

/// Prompt and new tokens of the generation rows.
const GEN_PROMPT: usize = 16;
const GEN_NEW: usize = 64;

impl Row {
    /// Every row, in table order.
    pub const ALL: [Row; 8] = [
        Row::RmStep,
        Row::MinilmInfer,
        Row::LmFwdBwd,
        Row::LoraFwdBwd,
        Row::LmForward,
        Row::GenB1,
        Row::GenB8,
        Row::GenB32,
    ];

    /// The name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Row::RmStep => "rm_step",
            Row::MinilmInfer => "minilm_infer",
            Row::LmFwdBwd => "lm_fwd_bwd",
            Row::LoraFwdBwd => "lora_fwd_bwd",
            Row::LmForward => "lm_forward",
            Row::GenB1 => "gen_b1",
            Row::GenB8 => "gen_b8",
            Row::GenB32 => "gen_b32",
        }
    }

    /// Every row's name.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|r| r.name()).collect()
    }
}

impl std::str::FromStr for Row {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Row::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| BenchError::UnknownRow(s.to_string()))
    }
}

/// Random ids in `[3, vocab)`, every token real (both sides of a comparison
/// draw their own ids; only the shapes must match).
pub fn random_batch(b: usize, s: usize, vocab: usize, seed: u64) -> Batch {
    let mut r = crate::util::rng::SplitMix64::new(seed);
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

/// Runs `row` on backend `B` (training rows on `Autodiff<B>`) with the
/// models of `weights`.
pub fn run_row<B: Backend>(
    row: Row,
    weights: &Weights,
    timing: &Timing,
) -> Result<RowResult, BenchError> {
    type AD<B> = Autodiff<B>;
    let device = B::Device::default();
    let compute = |tokens: usize, secs: f64, flops: f64| RowResult {
        tokens,
        secs,
        flops_per_token: Some(flops),
        bytes_per_token: None,
    };
    match row {
        Row::RmStep => {
            let (bert, cfg) = weights.minilm::<AD<B>>(&device)?;
            let head = burn::nn::LinearConfig::new(cfg.hidden_size, 1).init(&device);
            let mut rm = MiniLmRm { bert, head };
            let mut opt = AdamWConfig::new()
                .with_weight_decay(0.0)
                .init::<AD<B>, MiniLmRm<AD<B>>>();
            let (b, s) = (16, 128);
            let batch = random_batch(b, s, cfg.vocab_size, 1);
            let secs = timing.median_secs(|| {
                let r = rm.score(&batch);
                let chosen = r.clone().narrow(0, 0, b / 2);
                let rejected = r.narrow(0, b / 2, b / 2);
                let loss = log_sigmoid(chosen - rejected).mean().neg();
                let grads = GradientsParams::from_grads(loss.backward(), &rm);
                rm = opt.step(1e-5, rm.clone(), grads);
            });
            Ok(compute(
                b * s,
                secs,
                cost::bert_flops_per_token(&cfg, s, Pass::Train),
            ))
        }
        Row::MinilmInfer => {
            let (bert, cfg) = weights.minilm::<B>(&device)?;
            let enc = Encoder::Bert(bert);
            let (b, s) = (64, 128);
            let batch = random_batch(b, s, cfg.vocab_size, 2);
            let secs = timing.median_secs(|| {
                std::hint::black_box(enc.pooled(&batch).into_data());
            });
            Ok(compute(
                b * s,
                secs,
                cost::bert_flops_per_token(&cfg, s, Pass::Forward),
            ))
        }
        Row::LmFwdBwd | Row::LoraFwdBwd => {
            let lora = LoraConfig::default();
            let (model, cfg) = weights.smollm2::<AD<B>>(&device)?;
            let (model, b, pass, seed) = if row == Row::LoraFwdBwd {
                (model.with_lora(lora, 7), 8, Pass::Lora(lora), 4)
            } else {
                (model, 4, Pass::Train, 3)
            };
            let s = 128;
            let batch = random_batch(b, s, cfg.vocab_size, seed);
            let secs = timing.median_secs(|| {
                std::hint::black_box(model.causal_lm_loss(&batch).backward());
            });
            Ok(compute(
                b * s,
                secs,
                cost::llama_flops_per_token(&cfg, s, pass),
            ))
        }
        Row::LmForward => {
            let (model, cfg) = weights.smollm2::<B>(&device)?;
            let (b, s) = (8, 192);
            let batch = random_batch(b, s, cfg.vocab_size, 5);
            let secs = timing.median_secs(|| {
                std::hint::black_box(model.forward(&batch, None).into_data());
            });
            Ok(compute(
                b * s,
                secs,
                cost::llama_flops_per_token(&cfg, s, Pass::Forward),
            ))
        }
        Row::GenB1 | Row::GenB8 | Row::GenB32 => {
            let b = match row {
                Row::GenB1 => 1,
                Row::GenB8 => 8,
                _ => 32,
            };
            let (model, cfg) = weights.smollm2::<B>(&device)?;
            let prompts = random_batch(b, GEN_PROMPT, cfg.vocab_size, 6).ids;
            let gen_cfg = GenerateConfig {
                max_new_tokens: GEN_NEW,
                temperature: 0.0,
                top_p: 1.0,
                seed: 0,
                eos: vec![],
                pad: 0,
            };
            let mut failed = None;
            let secs = timing.median_secs(|| {
                if let Err(e) = std::hint::black_box(generate(&model, &prompts, &gen_cfg)) {
                    failed.get_or_insert(e);
                }
            });
            if let Some(source) = failed {
                return Err(BenchError::Readback {
                    row: row.name(),
                    source,
                });
            }
            Ok(RowResult {
                tokens: b * GEN_NEW,
                secs,
                flops_per_token: Some(cost::llama_decode_flops_per_token(
                    &cfg, GEN_PROMPT, GEN_NEW,
                )),
                bytes_per_token: Some(cost::llama_decode_bytes_per_token(
                    &cfg, b, GEN_PROMPT, GEN_NEW,
                )),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_name_parses_back() {
        for r in Row::ALL {
            assert_eq!(r.name().parse::<Row>().unwrap(), r);
        }
        assert!(matches!(
            "nope".parse::<Row>(),
            Err(BenchError::UnknownRow(_))
        ));
    }
}
