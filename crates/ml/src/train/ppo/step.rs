//! The PPO loop (TRL's legacy `PPOTrainer.step`, App. B). Each PPO step:
//!
//! 1. takes the next `batch_size` prompts (a seeded shuffle, reshuffled at
//!    each pass over the set);
//! 2. samples one response per prompt ([`super::rollout`]) in chunks of
//!    `mini_batch_size`, then runs the teacher-forced passes: the policy's
//!    old log-probs and values, the reference's log-probs (adapters off)
//!    and, with curiosity, its pooled response embedding ([`super::logprobs`]);
//! 3. scores the responses ([`super::reward::Reward`]) and adds the RND
//!    bonus, computed before the predictor's update ([`super::rnd`]);
//! 4. per-token rewards `−β·KL_t` plus the score at the last token, GAE,
//!    whitened advantages ([`super::gae`]);
//! 5. `ppo_epochs` passes over shuffled minibatches, one Adam step each, on
//!    the LoRA adapters and the value head ([`super::losses`]);
//! 6. updates β with the batch's mean sequence KL ([`super::kl`]).

use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;

use super::clip::clip_global_norm;
use super::config::PpoConfig;
use super::gae::{gae, token_rewards, whiten};
use super::kl::KlController;
use super::logprobs::{Layout, adapters_off, policy_terms, reference_terms};
use super::losses::{LossConfig, LossTargets, ppo_losses};
use super::paired_eval::{EvalPlan, PairedEval};
use super::record::{Sample, StepRow};
use super::reward::Reward;
use super::rnd::Rnd;
use super::rollout::{Prompt, RolloutConfig, chunk_seed, rollout};
use super::score_norm::ScoreScaler;
use crate::model::heads::{PolicyWithValue, ScalarHead};
use crate::model::llama::Llama;
use crate::model::readback::to_vec_f32;
use crate::train::init::linear;
use crate::util::hooks::Hooks;
use crate::util::rng::SplitMix64;

/// What a PPO run needs besides the model.
pub struct PpoInput<'a> {
    /// The training prompts (≥ 1).
    pub prompts: &'a [Prompt],
    /// Tokens that end a response.
    pub eos: Vec<u32>,
    /// Padding id.
    pub pad: u32,
    /// Scores responses.
    pub reward: &'a dyn Reward,
    /// Hyper-parameters.
    pub cfg: &'a PpoConfig,
    /// Seeds, interrupts, log, progress.
    pub hooks: &'a dyn Hooks,
}

/// What a PPO run produces.
pub struct PpoOutput<B: AutodiffBackend> {
    /// The trained policy (LoRA attached) and value head.
    pub model: PolicyWithValue<B>,
    /// One row per PPO step.
    pub curves: Vec<StepRow>,
    /// A few rollouts per step.
    pub samples: Vec<Sample>,
    /// β after the last update.
    pub final_beta: f64,
    /// The paired reward-gain evaluation (`eval_prompts` > 0).
    pub eval: Option<PairedEval>,
    /// Each step's phase timings (for benches and the log; never in the
    /// stage's metrics, so reruns stay byte-identical).
    pub timings: Vec<StepTimings>,
}

/// Wall-clock seconds of one PPO step's phases, and its new tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTimings {
    /// Generating the rollouts.
    pub rollout: f64,
    /// The old-policy and reference passes.
    pub passes: f64,
    /// Scoring the responses with the RM.
    pub scoring: f64,
    /// The PPO epochs over the minibatches.
    pub update: f64,
    /// Response tokens generated.
    pub new_tokens: usize,
}

/// The policy to train: `base` with fresh LoRA adapters (seed `lora`) and a
/// value head `Linear(hidden, 1)` with bias, PyTorch's default init (seed
/// `value_head`) — TRL's `ValueHead`, without its dropout (0.1), which would
/// make the old and new passes disagree for no gain at this scale.
pub fn init_policy<B: AutodiffBackend>(
    base: Llama<B>,
    cfg: &PpoConfig,
    hooks: &dyn Hooks,
) -> PolicyWithValue<B> {
    let device = base.model.embed_tokens.weight.device();
    let d = base.model.embed_tokens.weight.dims()[1];
    let policy = base.with_lora(cfg.lora, hooks.seed("lora"));
    let mut rng = SplitMix64::new(hooks.seed("value_head"));
    PolicyWithValue {
        policy,
        value: ScalarHead {
            score: linear(d, 1, &mut rng, &device),
        },
    }
}

/// Hands out prompt indices: a seeded permutation, renewed at each pass.
struct Order {
    rng: SplitMix64,
    queue: Vec<usize>,
    n: usize,
}

impl Order {
    fn take(&mut self, k: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            if self.queue.is_empty() {
                let mut p: Vec<usize> = (0..self.n).collect();
                self.rng.shuffle(&mut p);
                p.reverse();
                self.queue = p;
            }
            if let Some(i) = self.queue.pop() {
                out.push(i);
            }
        }
        out
    }
}

/// The rollouts of one step and their teacher-forced terms, row by row.
#[derive(Default)]
struct Batch {
    prompt: Vec<usize>,
    response: Vec<Vec<u32>>,
    old_logp: Vec<Vec<f64>>,
    values: Vec<Vec<f64>>,
    ref_logp: Vec<Vec<f64>>,
    pooled: Vec<f32>,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// Trains `model` ([`init_policy`]) with PPO.
///
/// # Errors
/// An interrupt, a non-finite score or loss, or a failing reward.
pub fn train_ppo<B: AutodiffBackend>(
    mut model: PolicyWithValue<B>,
    input: &PpoInput<'_>,
) -> anyhow::Result<PpoOutput<B>> {
    let cfg = input.cfg;
    let hooks = input.hooks;
    if input.prompts.is_empty() {
        bail!("no training prompts");
    }
    let device = model.policy.model.embed_tokens.weight.device();
    let d = model.policy.model.embed_tokens.weight.dims()[1];
    let mut opt = AdamConfig::new()
        .with_epsilon(cfg.adam_eps as f32)
        .init::<B, PolicyWithValue<B>>();
    let mut kl = if cfg.adaptive_kl {
        KlController::adaptive(cfg.init_kl_coef, cfg.kl_target, cfg.kl_horizon)
    } else {
        KlController::fixed(cfg.init_kl_coef)
    };
    let mut rnd = cfg
        .curiosity
        .map(|c| Rnd::<B>::new(d, c, hooks.seed("rnd"), &device));
    let mut order = Order {
        rng: SplitMix64::new(hooks.seed("order")),
        queue: Vec::new(),
        n: input.prompts.len(),
    };
    let mut minibatch_rng = SplitMix64::new(hooks.seed("minibatches"));
    let mut scaler = ScoreScaler::new(cfg.score_norm, cfg.score_clip);
    let sampling = hooks.seed("sampling");
    let rcfg = RolloutConfig {
        max_new_tokens: cfg.max_new_tokens,
        temperature: cfg.temperature,
        top_p: cfg.top_p,
        eos: input.eos.clone(),
        pad: input.pad,
    };
    let lcfg = LossConfig {
        cliprange: cfg.cliprange,
        cliprange_value: cfg.cliprange_value,
        vf_coef: cfg.vf_coef,
        ratio_threshold: cfg.ratio_threshold,
    };
    let t = cfg.temperature;
    let mb = cfg.mini_batch_size;
    // The paired evaluation's "before": the policy as initialised (LoRA B = 0).
    let plan = match cfg.eval_prompts {
        0 => None,
        n => Some(EvalPlan::new(n, input.prompts.len(), hooks)?),
    };
    let before = match &plan {
        Some(plan) => {
            let policy = &model.valid().policy;
            plan.scores(
                policy,
                input.prompts,
                &rcfg,
                input.reward,
                hooks,
                "before training",
            )?
        }
        None => Vec::new(),
    };
    let (mut curves, mut samples, mut timings) = (Vec::new(), Vec::new(), Vec::new());
    for step in 1..=cfg.steps {
        hooks.check()?;
        hooks.progress("ppo steps", step as u64 - 1, cfg.steps as u64);
        // (1–2) Rollouts and teacher-forced terms, with the current weights.
        let infer = model.valid();
        let reference = adapters_off(&infer.policy);
        let mut b = Batch::default();
        // Phase timings go to the log only (never to metrics: reruns stay byte-identical).
        let (mut t_gen, mut t_fwd) = (0.0f64, 0.0f64);
        for (c, chunk) in order.take(cfg.batch_size).chunks(mb).enumerate() {
            hooks.check()?;
            let ids: Vec<Vec<u32>> = chunk
                .iter()
                .map(|&i| input.prompts[i].ids.clone())
                .collect();
            let clock = Instant::now();
            let r = rollout(&infer.policy, &ids, &rcfg, chunk_seed(sampling, step, c))
                .context("sampling the rollouts")?;
            t_gen += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            let ps: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
            let rs: Vec<&[u32]> = r.tokens.iter().map(Vec::as_slice).collect();
            let layout = Layout::new(&ps, &rs, input.pad);
            let (lp, v, _) = policy_terms(&infer, &layout, t);
            b.old_logp
                .extend(layout.gather(&to_vec_f32(lp, "the rollout log-probs")?));
            b.values
                .extend(layout.gather(&to_vec_f32(v, "the rollout values")?));
            let (rlp, pooled) = reference_terms(&reference, &layout, t);
            b.ref_logp
                .extend(layout.gather(&to_vec_f32(rlp, "the reference log-probs")?));
            if rnd.is_some() {
                b.pooled
                    .extend(to_vec_f32(pooled, "the pooled hidden states")?);
            }
            b.prompt.extend_from_slice(chunk);
            b.response.extend(r.tokens);
            t_fwd += clock.elapsed().as_secs_f64();
        }
        let clock = Instant::now();
        let n = b.prompt.len();
        // (3) Scores and the curiosity bonus.
        let texts: Vec<&str> = b
            .prompt
            .iter()
            .map(|&i| input.prompts[i].text.as_str())
            .collect();
        let scores = input
            .reward
            .score(&texts, &b.response)
            .context("scoring rollouts")?;
        if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
            bail!("step {step}: the reward is not finite ({bad})");
        }
        let (intrinsic, rnd_loss) = match rnd.as_mut() {
            Some(r) => {
                let (bonus, x) = r.bonus(&b.pooled, n)?;
                r.update(x, n)?;
                (bonus.intrinsic, bonus.loss)
            }
            None => (vec![0.0; n], 0.0),
        };
        let scaled = scaler.apply(&scores);
        let t_score = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        // (4) Rewards (from the scaled scores), GAE, whitening.
        let beta = kl.beta;
        let (mut advs, mut rets, mut kls) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (r, k) = token_rewards(
                &b.old_logp[i],
                &b.ref_logp[i],
                beta,
                scaled[i] + intrinsic[i],
            );
            let (a, ret) = gae(&r, &b.values[i], cfg.gamma, cfg.lam);
            advs.push(a);
            rets.push(ret);
            kls.push(k);
        }
        whiten(&mut advs);
        // (5) PPO epochs over shuffled minibatches.
        let (mut pl, mut vl, mut ent, mut cf, mut ak) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..cfg.ppo_epochs {
            let mut perm: Vec<usize> = (0..n).collect();
            minibatch_rng.shuffle(&mut perm);
            for rows in perm.chunks(mb) {
                hooks.check()?;
                let ps: Vec<&[u32]> = rows
                    .iter()
                    .map(|&i| input.prompts[b.prompt[i]].ids.as_slice())
                    .collect();
                let rs: Vec<&[u32]> = rows.iter().map(|&i| b.response[i].as_slice()).collect();
                let layout = Layout::new(&ps, &rs, input.pad);
                let pick = |x: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
                    rows.iter().map(|&i| x[i].clone()).collect()
                };
                let targets = LossTargets {
                    old_logp: layout.tensor(layout.scatter(&pick(&b.old_logp)), &device),
                    old_values: layout.tensor(layout.scatter(&pick(&b.values)), &device),
                    advantages: layout.tensor(layout.scatter(&pick(&advs)), &device),
                    returns: layout.tensor(layout.scatter(&pick(&rets)), &device),
                    mask: layout.tensor(layout.mask(), &device),
                };
                let (lp, vpred, entropy) = policy_terms(&model, &layout, t);
                let mask = layout.mask();
                let e = to_vec_f32(entropy, "the entropy")?;
                let tokens: f32 = mask.iter().sum();
                ent.push(f64::from(
                    e.iter().zip(&mask).map(|(a, m)| a * m).sum::<f32>() / tokens.max(1.0),
                ));
                let l = ppo_losses(lp, vpred, &targets, &lcfg)
                    .with_context(|| format!("step {step}: the PPO losses"))?;
                if !(l.policy.is_finite() && l.value.is_finite()) {
                    bail!(
                        "step {step}: non-finite loss (policy {}, value {})",
                        l.policy,
                        l.value
                    );
                }
                pl.push(l.policy);
                vl.push(l.value);
                cf.push(l.clipfrac);
                ak.push(l.approx_kl);
                if l.skipped {
                    hooks.log(&format!(
                        "step {step}: minibatch skipped, mean ratio {:.3} > {}",
                        l.mean_ratio, cfg.ratio_threshold
                    ));
                    continue;
                }
                let mut grads = GradientsParams::from_grads(l.loss.backward(), &model);
                clip_global_norm(&model, &mut grads, cfg.max_grad_norm)
                    .with_context(|| format!("step {step}: clipping the gradients"))?;
                model = opt.step(cfg.lr, model, grads);
            }
        }
        let t_update = clock.elapsed().as_secs_f64();
        let tokens: usize = b.response.iter().map(Vec::len).sum();
        hooks.log(&format!(
            "step {step} time: rollout {t_gen:.2}s ({:.1} new tokens/s), old+ref passes {t_fwd:.2}s, scoring {t_score:.2}s, update {t_update:.2}s",
            tokens as f64 / t_gen.max(1e-9)
        ));
        timings.push(StepTimings {
            rollout: t_gen,
            passes: t_fwd,
            scoring: t_score,
            update: t_update,
            new_tokens: tokens,
        });
        // (6) β from the batch's mean sequence KL.
        let mean_kl = mean(&kls);
        kl.update(mean_kl, n);
        let row = StepRow {
            step,
            score: mean(&scores),
            intrinsic: mean(&intrinsic),
            kl: mean_kl,
            beta,
            policy_loss: mean(&pl),
            value_loss: mean(&vl),
            entropy: mean(&ent),
            clipfrac: mean(&cf),
            approx_kl: mean(&ak),
            response_len: mean(
                &b.response
                    .iter()
                    .map(|r| r.len() as f64)
                    .collect::<Vec<_>>(),
            ),
            rnd_loss,
        };
        hooks.log(&format!(
            "step {step}/{}: score {:.4} intrinsic {:.4} kl {:.4} beta {:.6} pg {:.4} vf {:.4} entropy {:.3} len {:.1}",
            cfg.steps, row.score, row.intrinsic, row.kl, row.beta, row.policy_loss, row.value_loss, row.entropy, row.response_len
        ));
        for i in 0..n.min(cfg.samples_per_step) {
            let p = &input.prompts[b.prompt[i]];
            samples.push(Sample {
                step,
                prompt_id: p.id.clone(),
                category: p.category.clone(),
                prompt: p.text.clone(),
                response: input
                    .reward
                    .text(&b.response[i])
                    .with_context(|| format!("step {step}: sample {i} for samples.jsonl"))?,
                reward: scores[i],
                intrinsic: intrinsic[i],
            });
        }
        curves.push(row);
    }
    hooks.progress("ppo steps", cfg.steps as u64, cfg.steps as u64);
    let eval = match &plan {
        Some(plan) => {
            let policy = &model.valid().policy;
            let after = plan.scores(
                policy,
                input.prompts,
                &rcfg,
                input.reward,
                hooks,
                "after training",
            )?;
            Some(plan.paired(input.prompts, before, after))
        }
        None => None,
    };
    Ok(PpoOutput {
        model,
        curves,
        samples,
        final_beta: kl.beta,
        eval,
        timings,
    })
}
