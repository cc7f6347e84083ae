//! One bench row measured and turned into the JSON line the compare script
//! reads: a model row with its cost per token, the GEMM row, the memory
//! bandwidth row, or the CPU's identity.

use std::path::Path;

use burn::tensor::backend::Backend;
use serde_json::{Value, json};

use super::error::BenchError;
use super::gemm::time_gemm;
use super::membw;
use super::row::{Row, run_row};
use super::timing::{Timing, peak_rss_kb, threads};
use super::weights::Weights;
use crate::model::config::LlamaConfig;
use crate::model::cost::llama_gemm_shapes;
use crate::util::machine::{CpuId, cache_sizes};

/// The rows that are not models: the machine's limits and identity.
pub const LIMIT_ROWS: [&str; 3] = ["gemm", "membw", "cpu"];

/// Tokens per call of the no-grad forward row (8 × 192), whose products
/// the GEMM row times beside the squares.
const FORWARD_TOKENS: usize = 8 * 192;

/// Bytes of each buffer of the bandwidth row: far past any L3 cache.
const MEMBW_BYTES: usize = 256 << 20;

/// The GEMM row's shapes: the squares 2048 and 4096 and the products of
/// one SmolLM2 no-grad forward of the bench (from `configs`' SmolLM2
/// configuration, so only its shapes, no weights, are needed).
pub fn default_gemm_shapes(configs: &Path) -> Result<Vec<[usize; 3]>, BenchError> {
    let path = configs.join("smollm2-135m.json");
    let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let cfg = LlamaConfig::from_hf_json(&text, &path.display().to_string()).map_err(|e| {
        BenchError::Config {
            path: path.clone(),
            message: e.to_string(),
        }
    })?;
    let mut shapes = vec![[2048; 3], [4096; 3]];
    shapes.extend(llama_gemm_shapes(&cfg, FORWARD_TOKENS));
    Ok(shapes)
}

/// Measures the row `name` on backend `B` and returns its JSON line:
/// `{"row", "tokens", "secs", "tok_s", "flops_per_token", "bytes_per_token",
/// "rss_kb", "threads"}` for a model row; `{"row": "gemm", "shapes": [{m, k,
/// n, secs, gflops}]}`; `{"row": "membw", "bandwidth": [{threads, huge_pages,
/// read_gbs, copy_gbs}]}` (one thread, then all; allocator pages, then huge); `{"row": "cpu", model_name, family,
/// model, stepping, isa, l1d_bytes, l2_bytes}`.
pub fn measure<B: Backend>(
    name: &str,
    weights: &Weights,
    gemm_shapes: &[[usize; 3]],
    timing: &Timing,
) -> Result<Value, BenchError> {
    let n_threads = threads();
    let mut out = match name {
        "gemm" => {
            let shapes: Vec<_> = gemm_shapes
                .iter()
                .map(|&s| time_gemm::<B>(s, timing))
                .collect();
            json!({ "row": "gemm", "shapes": shapes })
        }
        "membw" => {
            let mut sides = Vec::new();
            for huge in [false, true] {
                sides.push(membw::measure(MEMBW_BYTES, 1, huge, timing));
                if n_threads > 1 {
                    sides.push(membw::measure(MEMBW_BYTES, n_threads, huge, timing));
                }
            }
            json!({ "row": "membw", "bandwidth": sides })
        }
        "cpu" => {
            let (l1d, l2) = cache_sizes();
            let mut v = serde_json::to_value(CpuId::read()).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("row".into(), json!("cpu"));
                m.insert("l1d_bytes".into(), json!(l1d));
                m.insert("l2_bytes".into(), json!(l2));
            }
            v
        }
        model => {
            let row: Row = model.parse()?;
            let r = run_row::<B>(row, weights, timing)?;
            let mut v = json!({
                "row": row.name(),
                "tokens": r.tokens,
                "secs": r.secs,
                "tok_s": r.tokens as f64 / r.secs,
            });
            if let Value::Object(m) = &mut v {
                if let Some(f) = r.flops_per_token {
                    m.insert("flops_per_token".into(), json!(f));
                }
                if let Some(b) = r.bytes_per_token {
                    m.insert("bytes_per_token".into(), json!(b));
                }
            }
            v
        }
    };
    if let Value::Object(m) = &mut out {
        m.insert("rss_kb".into(), json!(peak_rss_kb()));
        m.insert("threads".into(), json!(n_threads));
    }
    Ok(out)
}
