//! One policy's responses to a prompt set with fixed sampling settings and
//! seed (App. B.1 note ii: identical across the policies compared).
//!
//! Each prompt becomes its chat turns ([`crate::model::chat_prompt`]: an HH-RLHF
//! transcript keeps its turns, anything else is one user turn) rendered with
//! the policy's own chat template (`add_generation_prompt`, tokenized without adding special
//! tokens again, as transformers' `apply_chat_template` does); a policy
//! without a template gets the project's transcript template
//! (`Human: … \n\nAssistant:`, [`crate::data::template::conversation`]) with
//! the tokenizer's special tokens. Prompts longer than `max_prompt_tokens`
//! lose tokens from the left (counted). Generation runs in batches of
//! `batch_size` prompts in prompt-set order, left-padded, with a KV cache
//! ([`crate::model::generate`]); batch `k` samples from its own stream, the
//! `k`-th draw of a [`SplitMix64`] seeded by `seed`, so the same prompt set,
//! settings and seed give every policy the same random stream. A row stops
//! at EOS: the model's `eos_token_id`, plus the end-of-turn token its chat
//! template uses (`<|im_end|>`, `<|eot_id|>`, `<|end|>`, `</s>`).

use std::time::Instant;

use anyhow::Context;
use burn::tensor::backend::Backend;

use super::generations::GenerationRow;
use crate::data::probe::PromptItem;
use crate::model::chat_prompt::{prompt_ids, stop_ids};
use crate::model::generate::{GenerateConfig, generate};
use crate::model::load::llama::LoadedLlama;
use crate::util::hooks::Hooks;
use crate::util::rng::SplitMix64;

/// Sampling settings of one evaluation generation run.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// New tokens per response at most.
    pub max_new_tokens: usize,
    /// Softmax temperature (0 = greedy).
    pub temperature: f64,
    /// Nucleus mass in (0, 1].
    pub top_p: f64,
    /// Prompts per forward batch.
    pub batch_size: usize,
    /// Longest prompt in tokens (template included); longer ones lose
    /// tokens from the left.
    pub max_prompt_tokens: usize,
    /// Seed of the sampling streams.
    pub seed: u64,
}

/// Counters of one run (for the log; timings never go into outputs).
#[derive(Debug, Clone, Copy, Default)]
pub struct GenerateStats {
    /// Prompts whose tokens were cut from the left.
    pub prompts_truncated: usize,
    /// Tokens generated (EOS included).
    pub new_tokens: usize,
    /// Responses that stopped at EOS.
    pub stopped_at_eos: usize,
    /// Wall-clock seconds of the generation loop.
    pub seconds: f64,
}

/// Generates one response per prompt, in prompt order.
///
/// # Errors
/// A bad setting, a template or tokenizer error, an interrupt.
pub fn generate_responses<B: Backend>(
    policy: &LoadedLlama<B>,
    prompts: &[PromptItem],
    cfg: &SamplingConfig,
    hooks: &dyn Hooks,
) -> anyhow::Result<(Vec<GenerationRow>, GenerateStats)> {
    anyhow::ensure!(
        cfg.top_p > 0.0 && cfg.top_p <= 1.0 && cfg.temperature >= 0.0,
        "need 0 < top_p ≤ 1 and temperature ≥ 0, got top_p {} and temperature {}",
        cfg.top_p,
        cfg.temperature
    );
    anyhow::ensure!(
        cfg.batch_size >= 1 && cfg.max_prompt_tokens >= 1,
        "batch_size and max_prompt_tokens must be ≥ 1"
    );
    let eos = stop_ids(policy);
    let pad = policy.specials.pad.or(policy.specials.eos).unwrap_or(0);
    let mut stats = GenerateStats::default();
    let mut seqs = Vec::with_capacity(prompts.len());
    for p in prompts {
        let mut ids = prompt_ids(policy, &p.prompt)?;
        anyhow::ensure!(!ids.is_empty(), "prompt `{}` has no tokens", p.id);
        if ids.len() > cfg.max_prompt_tokens {
            ids.drain(..ids.len() - cfg.max_prompt_tokens);
            stats.prompts_truncated += 1;
        }
        seqs.push(ids);
    }
    let mut streams = SplitMix64::new(cfg.seed);
    let mut rows = Vec::with_capacity(prompts.len());
    let start = Instant::now();
    // The policy's weights stay the same over the batches: pack them for
    // decoding once (`model::fast::with_packed_weights`).
    crate::model::fast::with_packed_weights(|| -> anyhow::Result<()> {
        for (k, chunk) in seqs.chunks(cfg.batch_size).enumerate() {
            let gcfg = GenerateConfig {
                max_new_tokens: cfg.max_new_tokens,
                temperature: cfg.temperature,
                top_p: cfg.top_p,
                seed: streams.next_u64(),
                eos: eos.clone(),
                pad,
            };
            let outs = generate(&policy.model, chunk, &gcfg)
                .with_context(|| format!("{}: generating batch {k}", policy.path.display()))?;
            for (j, out) in outs.into_iter().enumerate() {
                let item = &prompts[k * cfg.batch_size + j];
                stats.new_tokens += out.len();
                let body: &[u32] = match out.last() {
                    Some(t) if eos.contains(t) => {
                        stats.stopped_at_eos += 1;
                        &out[..out.len() - 1]
                    }
                    _ => &out,
                };
                let response = policy.tokenizer.decode(body, true).map_err(|e| {
                    anyhow::anyhow!("{}: decoding a response: {e}", policy.path.display())
                })?;
                rows.push(GenerationRow {
                    prompt_id: item.id.clone(),
                    category: item.category.clone(),
                    prompt: item.prompt.clone(),
                    response,
                    tokens: body.len() as u32,
                });
            }
            hooks.check()?;
            hooks.progress("generate", rows.len() as u64, prompts.len() as u64);
        }
        Ok(())
    })?;
    stats.seconds = start.elapsed().as_secs_f64();
    Ok((rows, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::load::llama::load_hf_dir;
    use crate::util::hooks::Quiet;
    use burn::backend::Flex;

    fn tiny() -> LoadedLlama<Flex> {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/tiny_llama/plain");
        load_hf_dir::<Flex>(&dir, &Default::default()).unwrap()
    }

    fn prompts() -> Vec<PromptItem> {
        [
            "w5 w9 w3",
            "w7",
            "w11 w4 w28 w6 w19 w22 w14",
            "w30 w30",
            "w8 w16",
        ]
        .iter()
        .enumerate()
        .map(|(i, p)| PromptItem {
            id: format!("p{i}"),
            set: "prompts".into(),
            prompt: p.to_string(),
            category: if i % 2 == 0 { "helpful" } else { "harmless" }.into(),
        })
        .collect()
    }

    fn cfg(temperature: f64, batch_size: usize, seed: u64) -> SamplingConfig {
        SamplingConfig {
            max_new_tokens: 6,
            temperature,
            top_p: 0.95,
            batch_size,
            max_prompt_tokens: 64,
            seed,
        }
    }

    #[test]
    fn greedy_batches_equal_one_prompt_at_a_time() {
        let m = tiny();
        let q = Quiet::new(0, "gen");
        let (one, _) = generate_responses(&m, &prompts(), &cfg(0.0, 1, 1), &q).unwrap();
        let (three, st) = generate_responses(&m, &prompts(), &cfg(0.0, 3, 1), &q).unwrap();
        assert_eq!(one, three, "left padding must not change greedy outputs");
        assert_eq!(one.len(), 5);
        for (r, p) in one.iter().zip(prompts()) {
            assert_eq!(
                (&r.prompt_id, &r.category, &r.prompt),
                (&p.id, &p.category, &p.prompt)
            );
            assert!(r.tokens as usize <= 6);
        }
        assert!(st.new_tokens > 0);
    }

    #[test]
    fn sampling_is_fixed_by_the_seed() {
        let m = tiny();
        let q = Quiet::new(0, "gen");
        let a = generate_responses(&m, &prompts(), &cfg(1.0, 2, 7), &q)
            .unwrap()
            .0;
        let b = generate_responses(&m, &prompts(), &cfg(1.0, 2, 7), &q)
            .unwrap()
            .0;
        let c = generate_responses(&m, &prompts(), &cfg(1.0, 2, 8), &q)
            .unwrap()
            .0;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn long_prompts_are_cut_from_the_left_and_bad_settings_refused() {
        let m = tiny();
        let q = Quiet::new(0, "gen");
        let mut c = cfg(0.0, 2, 1);
        c.max_prompt_tokens = 4;
        let (_, st) = generate_responses(&m, &prompts(), &c, &q).unwrap();
        // Every templated prompt ("Human: … Assistant:") is longer than 4 tokens.
        assert_eq!(st.prompts_truncated, 5);
        c.top_p = 0.0;
        assert!(generate_responses(&m, &prompts(), &c, &q).is_err());
    }
}
