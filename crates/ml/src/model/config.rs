//! Llama-family hyper-parameters: read from a Hugging Face `config.json` or
//! GGUF metadata, resolved and checked once, written back as HF `config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::load::gguf::{GgufError, GgufFile};

/// An error in a model configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The JSON does not parse or lacks a field.
    #[error("{path}: {message}")]
    Json {
        /// The file.
        path: String,
        /// What serde said, with the key path.
        message: String,
    },
    /// A value out of range or inconsistent with another.
    #[error("{path}: `{field}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A `rope_scaling` type other than `llama3` or `default`.
    #[error("{path}: rope_scaling type `{ty}` is not supported (only `llama3` and `default`)")]
    RopeType {
        /// The file.
        path: String,
        /// The type found.
        ty: String,
    },
    /// A GGUF metadata problem.
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

/// Llama-3 frequency scaling (`rope_scaling` with `rope_type: llama3`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Llama3Scaling {
    /// Overall divisor of low frequencies (8 for Llama-3.x).
    pub factor: f64,
    /// Wavelengths longer than `original / low_freq_factor` are divided by `factor`.
    pub low_freq_factor: f64,
    /// Wavelengths shorter than `original / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// Context length the model was pre-trained with.
    pub original_max_position_embeddings: f64,
}

/// A resolved Llama configuration (names as in HF `LlamaConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); divides `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// Llama-3 frequency scaling, if any.
    pub rope_scaling: Option<Llama3Scaling>,
    /// Longest context.
    pub max_position_embeddings: usize,
    /// Whether the output projection is the token embedding.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence id.
    pub eos_token_id: Option<u32>,
    /// Padding id.
    pub pad_token_id: Option<u32>,
}

/// `config.json` as Hugging Face writes it (only the fields we use).
#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    rope_theta: f64,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default = "default_max_pos")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    bos_token_id: Option<serde_json::Value>,
    #[serde(default)]
    eos_token_id: Option<serde_json::Value>,
    #[serde(default)]
    pad_token_id: Option<serde_json::Value>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10000.0
}
fn default_max_pos() -> usize {
    2048
}

/// First id of a token-id field that may be a number or a list.
fn token_id(v: &Option<serde_json::Value>) -> Option<u32> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(|x| x as u32),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|x| x.as_u64()).map(|x| x as u32),
        _ => None,
    }
}

/// Resolves a `rope_scaling` JSON object.
pub fn parse_rope_scaling(
    v: &serde_json::Value,
    path: &str,
) -> Result<Option<Llama3Scaling>, ConfigError> {
    if v.is_null() {
        return Ok(None);
    }
    let ty = v
        .get("rope_type")
        .or_else(|| v.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("");
    match ty {
        "default" => Ok(None),
        "llama3" => {
            let num = |field: &'static str| {
                v.get(field)
                    .and_then(|x| x.as_f64())
                    .ok_or_else(|| ConfigError::Invalid {
                        path: path.to_string(),
                        field,
                        message: "missing or not a number in rope_scaling".to_string(),
                    })
            };
            let s = Llama3Scaling {
                factor: num("factor")?,
                low_freq_factor: num("low_freq_factor")?,
                high_freq_factor: num("high_freq_factor")?,
                original_max_position_embeddings: num("original_max_position_embeddings")?,
            };
            if s.factor <= 0.0
                || s.high_freq_factor <= s.low_freq_factor
                || s.original_max_position_embeddings <= 0.0
            {
                return Err(ConfigError::Invalid {
                    path: path.to_string(),
                    field: "rope_scaling",
                    message: format!("inconsistent llama3 scaling {s:?}"),
                });
            }
            Ok(Some(s))
        }
        other => Err(ConfigError::RopeType {
            path: path.to_string(),
            ty: other.to_string(),
        }),
    }
}

impl LlamaConfig {
    /// Reads an HF `config.json`.
    pub fn from_hf_file(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_hf_json(&text, &p)
    }

    /// Parses the text of an HF `config.json`; `path` is for messages.
    pub fn from_hf_json(text: &str, path: &str) -> Result<Self, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawConfig =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Json {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        if let Some(mt) = &raw.model_type
            && mt != "llama"
            && mt != "mistral"
        {
            return Err(ConfigError::Invalid {
                path: path.to_string(),
                field: "model_type",
                message: format!("`{mt}` is not a Llama-architecture model"),
            });
        }
        let rope_scaling = match &raw.rope_scaling {
            Some(v) => parse_rope_scaling(v, path)?,
            None => None,
        };
        let heads = raw.num_attention_heads;
        let cfg = LlamaConfig {
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: raw.num_key_value_heads.unwrap_or(heads),
            head_dim: raw
                .head_dim
                .unwrap_or(raw.hidden_size.checked_div(heads).unwrap_or(0)),
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta: raw.rope_theta,
            rope_scaling,
            max_position_embeddings: raw.max_position_embeddings,
            tie_word_embeddings: raw.tie_word_embeddings,
            bos_token_id: token_id(&raw.bos_token_id),
            eos_token_id: token_id(&raw.eos_token_id),
            pad_token_id: token_id(&raw.pad_token_id),
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Reads the `llama.*` metadata of a GGUF file.
    pub fn from_gguf(f: &GgufFile) -> Result<Self, ConfigError> {
        let arch = f.get_str("general.architecture")?.to_string();
        let k = |name: &str| format!("{arch}.{name}");
        let path = f.path.display().to_string();
        let us = |key: String| -> Result<usize, ConfigError> { Ok(f.get_u64(&key)? as usize) };
        let hidden = us(k("embedding_length"))?;
        let heads = us(k("attention.head_count"))?;
        let vocab = match f.get_u64(&k("vocab_size")) {
            Ok(v) => v as usize,
            Err(_) => f.get_strings("tokenizer.ggml.tokens")?.len(),
        };
        let head_dim = match f.get_u64(&k("attention.key_length")) {
            Ok(v) => v as usize,
            Err(_) => hidden / heads.max(1),
        };
        let opt_id = |key: &str| f.get(key).and_then(|v| v.as_u64()).map(|x| x as u32);
        let cfg = LlamaConfig {
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: us(k("feed_forward_length"))?,
            num_hidden_layers: us(k("block_count"))?,
            num_attention_heads: heads,
            num_key_value_heads: f
                .get_u64(&k("attention.head_count_kv"))
                .map_or(heads, |v| v as usize),
            head_dim,
            rms_norm_eps: f.get_f64(&k("attention.layer_norm_rms_epsilon"))?,
            rope_theta: f.get_f64(&k("rope.freq_base")).unwrap_or(10000.0),
            // Llama-3 GGUFs bake the scaling into a `rope_freqs.weight` tensor
            // instead; the loader applies it.
            rope_scaling: None,
            max_position_embeddings: us(k("context_length"))?,
            tie_word_embeddings: f.info("output.weight").is_none(),
            bos_token_id: opt_id("tokenizer.ggml.bos_token_id"),
            eos_token_id: opt_id("tokenizer.ggml.eos_token_id"),
            pad_token_id: opt_id("tokenizer.ggml.padding_token_id"),
        };
        cfg.validate(&path)?;
        Ok(cfg)
    }

    /// Checks sizes for consistency, and that none is absurd.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |field: &'static str, message: String| {
            Err(ConfigError::Invalid {
                path: path.to_string(),
                field,
                message,
            })
        };
        // Generous bounds (Llama-3-405B is 16384 wide, 126 layers, 128k vocab).
        for (field, v, max) in [
            ("vocab_size", self.vocab_size, 1 << 20),
            ("hidden_size", self.hidden_size, 1 << 16),
            ("intermediate_size", self.intermediate_size, 1 << 18),
            ("num_hidden_layers", self.num_hidden_layers, 1024),
            ("num_attention_heads", self.num_attention_heads, 1024),
            ("num_key_value_heads", self.num_key_value_heads, 1024),
            ("head_dim", self.head_dim, 1024),
        ] {
            if v == 0 || v > max {
                return bad(field, format!("{v} is outside 1..={max}"));
            }
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return bad(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_key_value_heads, self.num_attention_heads
                ),
            );
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(
                "head_dim",
                format!("{} is odd (RoPE rotates pairs)", self.head_dim),
            );
        }
        if self.rope_theta.is_nan()
            || self.rope_theta <= 0.0
            || self.rms_norm_eps.is_nan()
            || self.rms_norm_eps < 0.0
        {
            return bad(
                "rope_theta",
                format!(
                    "theta {} / eps {} out of range",
                    self.rope_theta, self.rms_norm_eps
                ),
            );
        }
        Ok(())
    }

    /// The configuration as HF `config.json` (a `LlamaForCausalLM`).
    pub fn to_hf_json(&self) -> serde_json::Value {
        let rope_scaling = self.rope_scaling.map(|s| {
            serde_json::json!({
                "rope_type": "llama3",
                "factor": s.factor,
                "low_freq_factor": s.low_freq_factor,
                "high_freq_factor": s.high_freq_factor,
                "original_max_position_embeddings": s.original_max_position_embeddings,
            })
        });
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "hidden_act": "silu",
            "attention_bias": false,
            "mlp_bias": false,
            "torch_dtype": "float32",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{"model_type":"llama","vocab_size":10,"hidden_size":8,"intermediate_size":16,
        "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1"#;

    #[test]
    fn unknown_rope_scaling_type_is_an_error() {
        let text = format!(r#"{BASE},"rope_scaling":{{"rope_type":"yarn","factor":4.0}}}}"#);
        let e = LlamaConfig::from_hf_json(&text, "c.json").unwrap_err();
        assert!(
            e.to_string()
                .contains("rope_scaling type `yarn` is not supported"),
            "{e}"
        );
    }

    #[test]
    fn llama3_scaling_round_trips_through_hf_json() {
        let text = format!(
            r#"{BASE},"rope_scaling":{{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
            "high_freq_factor":4.0,"original_max_position_embeddings":8192}}}}"#
        );
        let c = LlamaConfig::from_hf_json(&text, "c.json").unwrap();
        assert_eq!(c.rope_scaling.unwrap().factor, 8.0);
        assert_eq!(c.head_dim, 4);
        let back = LlamaConfig::from_hf_json(&c.to_hf_json().to_string(), "back").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn kv_heads_must_divide_heads() {
        let text = r#"{"vocab_size":10,"hidden_size":12,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":3,"num_key_value_heads":2}"#;
        let e = LlamaConfig::from_hf_json(text, "c.json").unwrap_err();
        assert!(e.to_string().contains("does not divide"), "{e}");
    }
}
