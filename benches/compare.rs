//! One row of the Burn ↔ PyTorch comparison (issues 11 and 24), measured in
//! its own process: `cargo bench --bench compare -- ROW` prints one JSON line
//! (`repro::bench::measure`: tok/s and FLOPs or bytes per token for a model
//! row; GFLOP/s per shape for `gemm`; GB/s for `membw`; the CPU for `cpu`).
//! `benches/compare_torch.py` measures the same row on PyTorch, and
//! `scripts/bench-compare.py` alternates the two and prints the table.
//! `repro bench ROW` runs the same rows from the binary.
//!
//! `cargo bench --bench compare -- export DIR` writes SmolLM2 dequantised
//! from the project's GGUF as a Hugging Face directory (f32 safetensors,
//! config.json, tokenizer.json), which both sides then load.
//!
//! Environment: `REPRO_MODELS` (required), `BENCH_BACKEND` (`flex`, the
//! default; `tch` or `cuda` where built with that cargo feature: `make
//! bench-tch` builds `tch`), `BENCH_BASELINE=1` (Burn's own
//! ops: the fused kernels and the allocator setting off), `BENCH_LLAMA_DIR` (the exported
//! directory; without it SmolLM2 comes from the GGUF), `BENCH_ITERS`
//! (timed iterations, default 3), `BENCH_WARMUP` (default 1).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use burn::backend::Flex;
use repro::backend::Backend as Which;
use repro::bench::weights::SMOLLM2_GGUF;
use repro::bench::{Timing, Weights};
use repro::model::load::llama::load_gguf;

/// Dequantises the project's SmolLM2 GGUF into an HF directory.
fn export(models: &Path, dir: &Path) -> anyhow::Result<()> {
    let lm = load_gguf::<Flex>(&models.join(SMOLLM2_GGUF), &Default::default())?;
    repro::model::export::export_hf(lm.model, &lm.config, dir)?;
    lm.tokenizer
        .save(dir.join("tokenizer.json"), false)
        .map_err(|e| anyhow!(e))?;
    Ok(())
}

/// `measure` on backend `B`, as the `anyhow` result `on_backend!` wants.
fn run_on<B: burn::tensor::backend::Backend>(
    row: &str,
    weights: &Weights,
    shapes: &[[usize; 3]],
) -> anyhow::Result<serde_json::Value> {
    Ok(repro::bench::measure::<B>(
        row,
        weights,
        shapes,
        &Timing::from_env(),
    )?)
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
    // GEMM shapes after the row: `gemm 2048,2048,2048 …`; none: the defaults.
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join(repro::bench::weights::CONFIGS);
    let shapes = if row == "gemm" {
        let given: Option<Vec<[usize; 3]>> = args[1..].iter().map(|s| parse_shape(s)).collect();
        match given {
            Some(s) if !s.is_empty() => s,
            Some(_) => match repro::bench::default_gemm_shapes(&configs) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("compare gemm: {e}");
                    std::process::exit(2);
                }
            },
            None => {
                eprintln!("compare gemm: shapes are M,K,N");
                std::process::exit(2);
            }
        }
    } else {
        Vec::new()
    };
    let weights = Weights::Real {
        models,
        llama_dir: std::env::var_os("BENCH_LLAMA_DIR").map(PathBuf::from),
    };
    match repro::on_backend!(which, run_on(row, &weights, &shapes)) {
        Ok(mut v) => {
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("backend".into(), which.name().into());
                #[cfg(feature = "tch")]
                if which == Which::Tch {
                    m.insert("threads".into(), tch::get_num_threads().into());
                }
            }
            println!("{v}");
        }
        Err(e) => {
            eprintln!("compare {row}: {e:#}");
            std::process::exit(1);
        }
    }
}

/// `M,K,N` → `[M, K, N]`.
fn parse_shape(s: &str) -> Option<[usize; 3]> {
    let d: Vec<usize> = s
        .split(',')
        .map(|x| x.trim().parse().ok())
        .collect::<Option<_>>()?;
    d.try_into().ok()
}
