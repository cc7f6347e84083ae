//! `repro bench ROW`: one bench row on the chosen backend, printed as the
//! JSON line `scripts/bench-compare.py` and `scripts/device-check.sh` read.

use std::path::PathBuf;

use super::error::CliError;
use crate::backend::Backend;
use crate::bench::{Timing, Weights, default_gemm_shapes, measure};

/// What `repro bench` was told besides the row.
pub struct Options {
    /// Seeded random weights (this seed) in place of `$REPRO_MODELS`.
    pub seeded: Option<u64>,
    /// The models' configurations (seeded weights, GEMM shapes).
    pub configs: PathBuf,
    /// SmolLM2 as an HF directory in place of the GGUF (else `$BENCH_LLAMA_DIR`).
    pub llama_dir: Option<PathBuf>,
    /// GEMM shapes `M,K,N`; empty: the defaults.
    pub shapes: Vec<String>,
}

/// Measures `row` on `backend` and prints its JSON line.
pub fn bench(row: &str, o: Options, backend: Backend) -> Result<(), CliError> {
    let weights = match o.seeded {
        Some(seed) => Weights::Seeded {
            configs: o.configs.clone(),
            seed,
        },
        None => Weights::Real {
            models: std::env::var_os("REPRO_MODELS")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    CliError::Usage(
                        "repro bench: set REPRO_MODELS (scripts/fetch-models.sh) or pass --seeded SEED"
                            .into(),
                    )
                })?,
            llama_dir: o
                .llama_dir
                .clone()
                .or_else(|| std::env::var_os("BENCH_LLAMA_DIR").map(PathBuf::from)),
        },
    };
    let shapes = if o.shapes.is_empty() {
        if row == "gemm" {
            default_gemm_shapes(&o.configs).map_err(|e| CliError::Failed(e.to_string()))?
        } else {
            Vec::new()
        }
    } else {
        o.shapes
            .iter()
            .map(|s| parse_shape(s))
            .collect::<Result<_, _>>()?
    };
    let timing = Timing::from_env();
    let mut v = crate::on_backend!(backend, run_on(row, &weights, &shapes, &timing))
        .map_err(|e| CliError::Failed(format!("bench {row}: {e:#}")))?;
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("backend".into(), backend.name().into());
    }
    println!("{v}");
    Ok(())
}

fn run_on<B: burn::tensor::backend::Backend>(
    row: &str,
    weights: &Weights,
    shapes: &[[usize; 3]],
    timing: &Timing,
) -> anyhow::Result<serde_json::Value> {
    Ok(measure::<B>(row, weights, shapes, timing)?)
}

/// `2048,2048,2048` → `[2048, 2048, 2048]`.
fn parse_shape(s: &str) -> Result<[usize; 3], CliError> {
    let dims: Vec<usize> = s
        .split(',')
        .map(|d| d.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::Usage(format!("--shape {s}: expected M,K,N, {e}")))?;
    <[usize; 3]>::try_from(dims).map_err(|d| {
        CliError::Usage(format!(
            "--shape {s}: expected three sizes M,K,N, found {}",
            d.len()
        ))
    })
}
