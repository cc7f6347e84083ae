//! End-to-end checks of the PPO pieces on a tiny random Llama: rollout
//! log-probs equal teacher-forced ones, the reference (adapters off) equals
//! the base model, PPO raises a known reward, and the KL controller moves β
//! toward its target.

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};

use super::config::PpoConfig;
use super::logprobs::{
    Layout, adapters_off, decomposed_logprobs, policy_terms, reference_terms, slot_logprobs,
};
use super::reward::TokenCount;
use super::rollout::{Prompt, RolloutConfig, rollout};
use super::step::{PpoInput, init_policy, train_ppo};
use crate::model::batch::Batch;
use crate::model::llama::Llama;
use crate::model::readback::{ReadbackError, to_vec_f32};

fn host<B: burn::tensor::backend::Backend, const D: usize>(
    t: burn::tensor::Tensor<B, D>,
) -> Result<Vec<f32>, ReadbackError> {
    to_vec_f32(t, "a test tensor")
}
use crate::model::load::RandomSource;
use crate::model::load::llama::build_llama;
use crate::util::hooks::Quiet;

type AD = Autodiff<Flex>;

fn base(seed: u64) -> Llama<AD> {
    let cfg = crate::model::llama::tests::tiny_config();
    build_llama::<AD>(
        &cfg,
        &mut RandomSource::new(seed, 0.3),
        None,
        &Default::default(),
    )
    .unwrap()
}

fn prompts(n: usize) -> Vec<Prompt> {
    (0..n)
        .map(|i| Prompt {
            id: i.to_string(),
            text: format!("p{i}"),
            category: if i % 2 == 0 { "a" } else { "b" }.into(),
            ids: vec![
                1,
                5 + (i % 7) as u32,
                12 + (i % 5) as u32,
                20 + (i % 3) as u32,
            ],
        })
        .collect()
}

#[test]
fn rollout_logprobs_equal_teacher_forced_and_adapters_off_is_the_base_model() {
    let hooks = Quiet::new(7, "ppo");
    let cfg = PpoConfig::default();
    let mut pv = init_policy(base(3), &cfg, &hooks);
    // Move the adapters away from zero so "adapters off" is a real switch.
    let mut opt = AdamConfig::new().init::<AD, _>();
    let batch = Batch::pad(&[vec![1, 5, 6, 7, 8, 9], vec![1, 11, 12, 13]], 0, false);
    for _ in 0..3 {
        let loss = pv.policy.causal_lm_loss(&batch);
        let g = GradientsParams::from_grads(loss.backward(), &pv);
        pv = opt.step(5e-2, pv, g);
    }
    let infer = pv.valid();
    let ps: Vec<Vec<u32>> = prompts(4).into_iter().map(|p| p.ids).collect();
    let rc = RolloutConfig {
        max_new_tokens: 12,
        temperature: 0.7,
        top_p: 0.9,
        eos: vec![2],
        pad: 0,
    };
    let r = rollout(&infer.policy, &ps, &rc, 11).unwrap();
    let p: Vec<&[u32]> = ps.iter().map(Vec::as_slice).collect();
    let rs: Vec<&[u32]> = r.tokens.iter().map(Vec::as_slice).collect();
    let layout = Layout::new(&p, &rs, 0);
    let (lp, _, _) = policy_terms(&infer, &layout, 0.7);
    let forced = layout.gather(&host(lp).unwrap());
    let mut worst = 0.0f64;
    for (a, b) in forced.iter().zip(&r.logprobs) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            worst = worst.max((x - y).abs());
        }
    }
    eprintln!("max |rollout − teacher-forced log-prob| = {worst:.3e}");
    assert!(
        worst <= 1e-4,
        "rollout vs teacher-forced log-probs differ by {worst}"
    );
    // Adapters off = the base model built from the same weights.
    let (rlp, _) = reference_terms(&adapters_off(&infer.policy), &layout, 0.7);
    let plain = base(3).valid();
    let (blp, _) = slot_logprobs(plain.forward(&layout.batch, None), &layout, 0.7);
    let (rlp, blp) = (
        layout.gather(&host(rlp).unwrap()),
        layout.gather(&host(blp).unwrap()),
    );
    let (mut same, mut moved) = (0.0f64, 0.0f64);
    for ((a, b), c) in rlp
        .iter()
        .flatten()
        .zip(blp.iter().flatten())
        .zip(forced.iter().flatten())
    {
        same = same.max((a - b).abs());
        moved = moved.max((a - c).abs());
    }
    eprintln!("max |adapters off − base| = {same:.3e}, max |policy − reference| = {moved:.3e}");
    assert!(
        same <= 1e-6,
        "reference differs from the base model by {same}"
    );
    assert!(
        moved > 1e-3,
        "the adapters did not change the policy ({moved})"
    );
}

fn run(seed: u64, cfg: &PpoConfig) -> super::step::PpoOutput<AD> {
    let hooks = Quiet::new(seed, "ppo");
    let pv = init_policy(base(seed), cfg, &hooks);
    let ps = prompts(16);
    let reward = TokenCount { token: 9 };
    train_ppo(
        pv,
        &PpoInput {
            prompts: &ps,
            eos: vec![2],
            pad: 0,
            reward: &reward,
            cfg,
            hooks: &hooks,
        },
    )
    .unwrap()
}

fn small() -> PpoConfig {
    PpoConfig {
        steps: 16,
        batch_size: 16,
        mini_batch_size: 8,
        lr: 1e-2,
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: 8,
        ..PpoConfig::default()
    }
}

/// Ground truth: +1 per occurrence of token 9. The mean reward of the last
/// five steps beats the first five, for each of three seeds.
#[test]
fn ppo_raises_a_known_reward_in_three_of_three_seeds() {
    for seed in [1, 2, 3] {
        let out = run(seed, &small());
        let s: Vec<f64> = out.curves.iter().map(|r| r.score).collect();
        let first = s[..5].iter().sum::<f64>() / 5.0;
        let last = s[s.len() - 5..].iter().sum::<f64>() / 5.0;
        eprintln!("seed {seed}: mean reward of steps 1-5 {first:.3}, of the last 5 {last:.3}");
        assert!(
            last > first,
            "seed {seed}: reward {first:.3} → {last:.3} ({s:?})"
        );
        assert!(
            out.curves
                .iter()
                .all(|r| r.policy_loss.is_finite() && r.value_loss.is_finite())
        );
    }
}

/// The adaptive controller with horizon 100: β rises while the KL is above
/// its target and falls while it is below, by the formula.
#[test]
fn kl_controller_moves_beta_toward_the_target() {
    let cfg = PpoConfig {
        kl_horizon: 100.0,
        kl_target: 0.5,
        steps: 10,
        ..small()
    };
    let out = run(4, &cfg);
    let rows = &out.curves;
    assert_eq!(rows[0].beta, cfg.init_kl_coef);
    let mut moved = 0.0f64;
    for (i, r) in rows.iter().enumerate() {
        let next = rows.get(i + 1).map_or(out.final_beta, |n| n.beta);
        let err = (r.kl / cfg.kl_target - 1.0).clamp(-0.2, 0.2);
        let want = r.beta * (1.0 + err * cfg.batch_size as f64 / cfg.kl_horizon);
        assert!(
            (next - want).abs() < 1e-12,
            "step {}: β {next} vs {want}",
            r.step
        );
        if r.kl > cfg.kl_target {
            assert!(next > r.beta);
        } else if r.kl < cfg.kl_target {
            assert!(next < r.beta);
        }
        moved = moved.max((next / r.beta - 1.0).abs());
    }
    assert!(moved >= 0.01, "β never moved by 1 % in a step: {rows:?}");
    let trace: Vec<String> = rows
        .iter()
        .map(|r| format!("kl {:.3} β {:.5}", r.kl, r.beta))
        .collect();
    eprintln!(
        "target {}: {} → β {:.5}",
        cfg.kl_target,
        trace.join(", "),
        out.final_beta
    );
    // Both sides of the target are visited: KL starts at 0 (policy = reference).
    assert!(rows[0].kl.abs() < 1e-4, "first-step KL {}", rows[0].kl);
}

#[test]
fn curiosity_adds_a_logged_bonus_and_reruns_are_identical() {
    let cfg = PpoConfig {
        steps: 3,
        curiosity: Some(super::config::CuriosityConfig {
            hidden: 32,
            ..Default::default()
        }),
        ..small()
    };
    let a = run(5, &cfg);
    let b = run(5, &cfg);
    assert_eq!(a.curves, b.curves, "a rerun differs");
    assert!(
        a.curves
            .iter()
            .all(|r| r.intrinsic > 0.0 && r.rnd_loss > 0.0)
    );
    let plain = run(
        5,
        &PpoConfig {
            curiosity: None,
            ..cfg.clone()
        },
    );
    assert!(plain.curves.iter().all(|r| r.intrinsic == 0.0));
    // Same seeds: the first step's rollouts (and so scores) are the same.
    assert_eq!(plain.curves[0].score, a.curves[0].score);
}

#[test]
fn fused_slot_logprobs_and_their_gradient_match_burn_ops() {
    use burn::tensor::{Tensor, TensorData};
    // Vocabulary 300 (not a multiple of the sums' eight lanes), ragged rows.
    let v = 300u32;
    let layout = Layout::new(
        &[&[1, 7, 250], &[1, 299]],
        &[&[3, 4, 5, 6], &[0, 298, 17]],
        0,
    );
    let [b, l] = [layout.rows(), layout.width + 1];
    let mut r = crate::util::rng::SplitMix64::new(11);
    // Peaked rows: logits in [-8, 8).
    let vals: Vec<f32> = (0..b * l * v as usize)
        .map(|_| (r.next_f64() * 16.0 - 8.0) as f32)
        .collect();
    // The loss masks the slots outside responses, as PPO's does.
    let weights: Vec<f32> = layout
        .mask()
        .iter()
        .enumerate()
        .map(|(i, m)| m * (1.0 + i as f32 / 7.0))
        .collect();
    let run = |fused: bool| {
        let x = Tensor::<AD, 3>::from_data(
            TensorData::new(vals.clone(), [b, l, v as usize]),
            &Default::default(),
        )
        .require_grad();
        let (lp, ent) = if fused {
            slot_logprobs(x.clone(), &layout, 0.7)
        } else {
            decomposed_logprobs(x.clone(), &layout, 0.7)
        };
        assert!(!ent.is_require_grad(), "entropies carry no gradient");
        let w = Tensor::<AD, 2>::from_data(
            TensorData::new(weights.clone(), [b, l - 1]),
            &Default::default(),
        );
        let g = (lp.clone() * w).sum().backward();
        [
            host(lp).unwrap(),
            host(ent).unwrap(),
            host(x.grad(&g).unwrap()).unwrap(),
        ]
    };
    let (fused, burn) = (run(true), run(false));
    for (what, (f, b)) in ["log-probs", "entropies", "logit gradient"]
        .iter()
        .zip(fused.iter().zip(&burn))
    {
        let d = crate::util::testing::max_diff(f, b);
        assert!(d < 1e-5, "{what}: max difference {d}");
    }
    // The fused path is taken (its bits differ from Burn's somewhere).
    assert_ne!(fused, burn);
    // Plain Flex computes the tracked path's forward bits.
    let plain = Tensor::<Flex, 3>::from_data(
        TensorData::new(vals.clone(), [b, l, v as usize]),
        &Default::default(),
    );
    let (lp, ent) = slot_logprobs(plain, &layout, 0.7);
    assert_eq!(host(lp).unwrap(), fused[0]);
    assert_eq!(host(ent).unwrap(), fused[1]);
}

/// The LM head at the response slots only ([`super::logprobs::response_logprobs`])
/// gives the bits of the full pass at every response slot, forward and
/// backward, at SmolLM2's width (576: two of `gemm`'s K blocks) and a
/// vocabulary over 512 (several K blocks in the backward product), with
/// ragged prompts and responses; the slots outside responses are zero.
#[test]
fn response_slot_logprobs_are_the_full_pass_bits() {
    use burn::tensor::{Tensor, TensorData};
    let cfg = crate::model::config::LlamaConfig {
        vocab_size: 1100,
        hidden_size: 576,
        intermediate_size: 96,
        num_hidden_layers: 1,
        num_attention_heads: 9,
        num_key_value_heads: 3,
        head_dim: 64,
        ..crate::model::llama::tests::tiny_config()
    };
    let base = build_llama::<AD>(
        &cfg,
        &mut RandomSource::new(5, 0.05),
        None,
        &Default::default(),
    )
    .unwrap();
    let pv = init_policy(base, &PpoConfig::default(), &Quiet::new(3, "ppo"));
    let mut r = crate::util::rng::SplitMix64::new(9);
    let mut ids = |n: usize| -> Vec<u32> { (0..n).map(|_| 3 + r.below(1090) as u32).collect() };
    let (ps, rs) = ([ids(30), ids(47), ids(12)], [ids(9), ids(2), ids(31)]);
    let p: Vec<&[u32]> = ps.iter().map(Vec::as_slice).collect();
    let q: Vec<&[u32]> = rs.iter().map(Vec::as_slice).collect();
    let layout = Layout::new(&p, &q, 0);
    let (b, w) = (layout.rows(), layout.width);
    let mask = layout.mask();
    let weights: Vec<f32> = mask
        .iter()
        .enumerate()
        .map(|(i, m)| m * (1.0 + i as f32 / 13.0))
        .collect();
    // The loss of the update: a masked sum of log-probs and values.
    let run = |full: bool| {
        let (lp, v, ent) = if full {
            let (logits, values) = pv.forward(&layout.batch);
            let (lp, ent) = slot_logprobs(logits, &layout, 0.7);
            (lp, values.narrow(1, 0, w), ent)
        } else {
            policy_terms(&pv, &layout, 0.7)
        };
        let wt = Tensor::<AD, 2>::from_data(
            TensorData::new(weights.clone(), [b, w]),
            &Default::default(),
        );
        let g = ((lp.clone() + v) * wt).sum().backward();
        let lora = |l: &crate::model::lora::LoraLinear<AD>| {
            let a = l.lora.as_ref().unwrap();
            [
                host(a.a.val().grad(&g).unwrap()).unwrap(),
                host(a.b.val().grad(&g).unwrap()).unwrap(),
            ]
        };
        let attn = &pv.policy.model.layers[0].self_attn;
        let grads = [lora(&attn.q_proj), lora(&attn.v_proj)].concat();
        (host(lp).unwrap(), host(ent).unwrap(), grads)
    };
    let (full, slots) = (run(true), run(false));
    let at = |x: &[f32]| layout.gather(x);
    assert_eq!(at(&slots.0), at(&full.0), "log-probs at the response slots");
    assert_eq!(at(&slots.1), at(&full.1), "entropies at the response slots");
    for (x, m) in slots.0.iter().chain(&slots.1).zip(mask.iter().chain(&mask)) {
        assert!(*m == 1.0 || *x == 0.0, "a slot outside responses is {x}");
    }
    assert!(full.2.iter().flatten().any(|&g| g != 0.0));
    assert_eq!(slots.2, full.2, "the adapters' gradients");
    // The reference (plain Flex, adapters off) likewise.
    let infer = pv.valid();
    let reference = adapters_off(&infer.policy);
    let (lp, _) = reference_terms(&reference, &layout, 0.7);
    let hidden = reference.forward_hidden(&layout.batch, None);
    let (want, _) = slot_logprobs(reference.logits(hidden), &layout, 0.7);
    assert_eq!(at(&host(lp).unwrap()), at(&host(want).unwrap()));
}

/// The paired evaluation on the known reward: the same prompts before and
/// after, a gain that the paired t-test finds (p < 0.05) in each of three
/// seeds, and common random numbers — an untrained policy evaluated twice
/// with the same plan gives identical scores, so the difference is 0 and
/// not sampling noise.
#[test]
fn paired_evaluation_finds_the_gain_and_pairs_its_draws() {
    use super::paired_eval::EvalPlan;
    use crate::eval::stats::paired_t_test;
    let cfg = PpoConfig {
        eval_prompts: 16,
        ..small()
    };
    for seed in [1, 2, 3] {
        let out = run(seed, &cfg);
        let e = out.eval.expect("eval_prompts > 0 gives an evaluation");
        assert_eq!((e.before.len(), e.after.len()), (16, 16));
        let t = paired_t_test(&e.before, &e.after, 0.95).unwrap();
        eprintln!(
            "seed {seed}: paired gain {:+.3} ± {:.3}, p {:?}",
            t.diff.mean,
            t.diff.se.unwrap(),
            t.pvalue
        );
        assert!(t.diff.mean > 0.0 && t.pvalue.unwrap() < 0.05, "{t:?}");
    }
    let hooks = Quiet::new(5, "ppo");
    let pv = init_policy(base(5), &cfg, &hooks);
    let ps = prompts(16);
    let plan = EvalPlan::new(12, ps.len(), &hooks).unwrap();
    assert!(EvalPlan::new(17, ps.len(), &hooks).is_err());
    let rcfg = RolloutConfig {
        max_new_tokens: 8,
        temperature: 1.0,
        top_p: 1.0,
        eos: vec![2],
        pad: 0,
    };
    let reward = TokenCount { token: 9 };
    let infer = pv.valid();
    let a = plan
        .scores(&infer.policy, &ps, &rcfg, &reward, &hooks, "a")
        .unwrap();
    let b = plan
        .scores(&infer.policy, &ps, &rcfg, &reward, &hooks, "b")
        .unwrap();
    assert_eq!(a, b);
    assert!(run(1, &small()).eval.is_none());
}
