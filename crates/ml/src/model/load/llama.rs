//! Builds a [`Llama`] from a GGUF file or a Hugging Face directory.
//!
//! GGUF tensor names map to HF names (`blk.N.attn_q.weight` ↔
//! `model.layers.N.self_attn.q_proj.weight`, as in llama.cpp's
//! `convert_hf_to_gguf.py`). That converter permutes the rows of Q and K for
//! interleaved RoPE (`LlamaModel.permute`); we undo it, since our RoPE is
//! rotate-half like HF's.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use tokenizers::Tokenizer;

use super::gguf::GgufFile;
use super::gguf_tokenizer::{SpecialTokens, tokenizer_from_gguf};
use super::safetensors::SafetensorsSource;
use super::{HostTensor, LoadError, WeightSource};
use crate::model::config::LlamaConfig;
use crate::model::llama::{DecoderLayer, Llama, LlamaModel, Mlp, build};
use crate::model::rope;

/// Undoes llama.cpp's Q/K row permutation: HF row `h·hd + j·hd/2 + i` is GGUF
/// row `h·hd + 2i + j`. `w` is `[n_head·hd, in]`.
pub fn unpermute_gguf_rows(w: &HostTensor, n_head: usize) -> HostTensor {
    let (out, cols) = (w.shape[0], w.shape[1]);
    let hd = out / n_head.max(1);
    let half = hd / 2;
    let mut data = vec![0.0; w.data.len()];
    for h in 0..n_head {
        for j in 0..2 {
            for i in 0..half {
                let dst = h * hd + j * half + i;
                let src = h * hd + 2 * i + j;
                data[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&w.data[src * cols..(src + 1) * cols]);
            }
        }
    }
    HostTensor {
        shape: w.shape.clone(),
        data,
    }
}

/// Tensors of a llama GGUF, served under HF names.
pub struct GgufSource {
    file: GgufFile,
    n_heads: usize,
    n_kv_heads: usize,
}

impl GgufSource {
    /// Wraps a parsed GGUF file.
    pub fn new(file: GgufFile, cfg: &LlamaConfig) -> Self {
        GgufSource {
            file,
            n_heads: cfg.num_attention_heads,
            n_kv_heads: cfg.num_key_value_heads,
        }
    }

    /// The GGUF name of an HF tensor name.
    pub fn gguf_name(hf: &str) -> Option<String> {
        let fixed = match hf {
            "model.embed_tokens.weight" => Some("token_embd.weight"),
            "model.norm.weight" => Some("output_norm.weight"),
            "lm_head.weight" => Some("output.weight"),
            _ => None,
        };
        if let Some(f) = fixed {
            return Some(f.to_string());
        }
        let rest = hf.strip_prefix("model.layers.")?;
        let (n, tail) = rest.split_once('.')?;
        let part = match tail {
            "self_attn.q_proj.weight" => "attn_q.weight",
            "self_attn.k_proj.weight" => "attn_k.weight",
            "self_attn.v_proj.weight" => "attn_v.weight",
            "self_attn.o_proj.weight" => "attn_output.weight",
            "mlp.gate_proj.weight" => "ffn_gate.weight",
            "mlp.up_proj.weight" => "ffn_up.weight",
            "mlp.down_proj.weight" => "ffn_down.weight",
            "input_layernorm.weight" => "attn_norm.weight",
            "post_attention_layernorm.weight" => "ffn_norm.weight",
            _ => return None,
        };
        Some(format!("blk.{n}.{part}"))
    }

    /// The parsed file.
    pub fn file(&self) -> &GgufFile {
        &self.file
    }
}

impl WeightSource for GgufSource {
    fn source_name(&self) -> String {
        self.file.path.display().to_string()
    }

    fn get(&mut self, name: &str) -> Result<Option<HostTensor>, LoadError> {
        let Some(g) = Self::gguf_name(name) else {
            return Ok(None);
        };
        if self.file.info(&g).is_none() {
            return Ok(None);
        }
        let (shape, data) = self.file.tensor_f32(&g)?;
        let t = HostTensor { shape, data };
        Ok(Some(
            if name.ends_with("q_proj.weight") && t.shape.len() == 2 {
                unpermute_gguf_rows(&t, self.n_heads)
            } else if name.ends_with("k_proj.weight") && t.shape.len() == 2 {
                unpermute_gguf_rows(&t, self.n_kv_heads)
            } else {
                t
            },
        ))
    }
}

/// Builds the model from HF-named tensors, checking every shape.
pub fn build_llama<B: Backend>(
    cfg: &LlamaConfig,
    src: &mut dyn WeightSource,
    freq_factors: Option<&[f32]>,
    device: &B::Device,
) -> Result<Llama<B>, LoadError> {
    let (h, v, i) = (cfg.hidden_size, cfg.vocab_size, cfg.intermediate_size);
    let qd = cfg.num_attention_heads * cfg.head_dim;
    let kvd = cfg.num_key_value_heads * cfg.head_dim;
    // Linear weights are [out, in] in the checkpoint and [in, out] in Burn.
    let mut lin = |name: String, out: usize, inp: usize| -> Result<_, LoadError> {
        Ok(src
            .require(&name, &[out, inp])?
            .transpose2()
            .into_tensor::<B, 2>(device))
    };
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        let q = lin(format!("{p}.self_attn.q_proj.weight"), qd, h)?;
        let k = lin(format!("{p}.self_attn.k_proj.weight"), kvd, h)?;
        let vv = lin(format!("{p}.self_attn.v_proj.weight"), kvd, h)?;
        let o = lin(format!("{p}.self_attn.o_proj.weight"), h, qd)?;
        let gate = lin(format!("{p}.mlp.gate_proj.weight"), i, h)?;
        let up = lin(format!("{p}.mlp.up_proj.weight"), i, h)?;
        let down = lin(format!("{p}.mlp.down_proj.weight"), h, i)?;
        layers.push((p, q, k, vv, o, gate, up, down));
    }
    let mut built = Vec::with_capacity(layers.len());
    for (p, q, k, vv, o, gate, up, down) in layers {
        let n1 = src
            .require(&format!("{p}.input_layernorm.weight"), &[h])?
            .into_tensor::<B, 1>(device);
        let n2 = src
            .require(&format!("{p}.post_attention_layernorm.weight"), &[h])?
            .into_tensor::<B, 1>(device);
        built.push(DecoderLayer {
            self_attn: build::attention(cfg, q, k, vv, o),
            mlp: Mlp {
                gate_proj: build::linear(gate),
                up_proj: build::linear(up),
                down_proj: build::linear(down),
            },
            input_layernorm: build::rms_norm(n1, cfg.rms_norm_eps),
            post_attention_layernorm: build::rms_norm(n2, cfg.rms_norm_eps),
        });
    }
    let embed = src
        .require("model.embed_tokens.weight", &[v, h])?
        .into_tensor::<B, 2>(device);
    let norm = src
        .require("model.norm.weight", &[h])?
        .into_tensor::<B, 1>(device);
    let lm_head = if cfg.tie_word_embeddings {
        None
    } else {
        Some(build::linear(
            src.require("lm_head.weight", &[v, h])?
                .transpose2()
                .into_tensor::<B, 2>(device),
        ))
    };
    Ok(Llama {
        model: LlamaModel {
            embed_tokens: build::embedding(embed),
            layers: built,
            norm: build::rms_norm(norm, cfg.rms_norm_eps),
        },
        lm_head,
        inv_freq: rope::inv_freq(cfg, freq_factors),
    })
}

/// A loaded causal LM with everything needed to use it.
pub struct LoadedLlama<B: Backend> {
    /// The model.
    pub model: Llama<B>,
    /// Its configuration.
    pub config: LlamaConfig,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Special token ids.
    pub specials: SpecialTokens,
    /// The Jinja chat template, if the model ships one.
    pub chat_template: Option<String>,
    /// Where it came from.
    pub path: PathBuf,
}

/// Loads a GGUF file.
pub fn load_gguf<B: Backend>(path: &Path, device: &B::Device) -> Result<LoadedLlama<B>, LoadError> {
    let file = GgufFile::open(path)?;
    let config = LlamaConfig::from_gguf(&file)?;
    let (tokenizer, specials) = tokenizer_from_gguf(&file)?;
    let chat_template = file
        .get("tokenizer.chat_template")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let freq = match file.info("rope_freqs.weight") {
        Some(_) => Some(file.tensor_f32("rope_freqs.weight")?.1),
        None => None,
    };
    let mut src = GgufSource::new(file, &config);
    let model = build_llama(&config, &mut src, freq.as_deref(), device)?;
    Ok(LoadedLlama {
        model,
        config,
        tokenizer,
        specials,
        chat_template,
        path: path.to_path_buf(),
    })
}

/// Loads a Hugging Face directory (`config.json`, `model.safetensors` or a
/// sharded index, `tokenizer.json`, optional `tokenizer_config.json`).
pub fn load_hf_dir<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<LoadedLlama<B>, LoadError> {
    let config = LlamaConfig::from_hf_file(&dir.join("config.json"))?;
    let tok_path = dir.join("tokenizer.json");
    let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| LoadError::Tokenizer {
        path: tok_path.clone(),
        message: e.to_string(),
    })?;
    let mut chat_template = None;
    let tc = dir.join("tokenizer_config.json");
    if tc.is_file() {
        let text = std::fs::read_to_string(&tc).map_err(|source| LoadError::Io {
            path: tc.clone(),
            source,
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| LoadError::Tokenizer {
                path: tc.clone(),
                message: e.to_string(),
            })?;
        chat_template = v
            .get("chat_template")
            .and_then(|t| t.as_str())
            .map(str::to_string);
    }
    let mut src = SafetensorsSource::open_dir(dir)?;
    let model = build_llama(&config, &mut src, None, device)?;
    let specials = SpecialTokens {
        bos: config.bos_token_id,
        eos: config.eos_token_id,
        pad: config.pad_token_id,
        unk: None,
    };
    Ok(LoadedLlama {
        model,
        config,
        tokenizer,
        specials,
        chat_template,
        path: dir.to_path_buf(),
    })
}

/// Loads a GGUF file or an HF directory, whichever `path` is.
pub fn load_llama<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<LoadedLlama<B>, LoadError> {
    if path.is_dir() {
        load_hf_dir(path, device)
    } else if path.is_file() {
        load_gguf(path, device)
    } else {
        Err(LoadError::Unrecognised {
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp: w.reshape(n_head, 2, hd/2, in).swapaxes(1, 2).reshape(out, in)
        let (n_head, hd, cols) = (3, 4, 2);
        let out = n_head * hd;
        let hf: Vec<f32> = (0..out * cols).map(|x| x as f32).collect();
        let mut permuted = vec![0.0; hf.len()];
        for h in 0..n_head {
            for a in 0..2 {
                for b in 0..hd / 2 {
                    // source index (h, a, b) → destination (h, b, a)
                    let src = h * hd + a * (hd / 2) + b;
                    let dst = h * hd + b * 2 + a;
                    for c in 0..cols {
                        permuted[dst * cols + c] = hf[src * cols + c];
                    }
                }
            }
        }
        let back = unpermute_gguf_rows(
            &HostTensor {
                shape: vec![out, cols],
                data: permuted.clone(),
            },
            n_head,
        );
        assert_eq!(back.data, hf);
        assert_ne!(permuted, hf);
    }

    fn max_diff_vs_reference(dir: &str, strip_scaling: bool) -> f32 {
        use crate::model::batch::Batch;
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/tiny_llama")
            .join(dir);
        let device = Default::default();
        let mut loaded = load_hf_dir::<burn::backend::Flex>(&dir, &device).unwrap();
        if strip_scaling {
            let mut cfg = loaded.config.clone();
            assert!(cfg.rope_scaling.is_some());
            cfg.rope_scaling = None;
            let mut src = SafetensorsSource::open_dir(&dir).unwrap();
            loaded.model = build_llama(&cfg, &mut src, None, &device).unwrap();
        }
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
                .unwrap();
        let mut worst = 0.0f32;
        for (seq, want) in r["seqs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(r["logits"].as_array().unwrap())
        {
            let ids: Vec<u32> = seq
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let got: Vec<f32> = loaded
                .model
                .forward(&Batch::pad(&[ids], 0, false), None)
                .into_data()
                .to_vec()
                .unwrap();
            let want: Vec<f32> = want
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|row| {
                    row.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap() as f32)
                })
                .collect();
            assert_eq!(got.len(), want.len());
            worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(worst, f32::max);
        }
        worst
    }

    #[test]
    fn tiny_hf_llama_matches_reference_logits() {
        // f32, one file, untied head, rotate-half RoPE.
        let d = max_diff_vs_reference("plain", false);
        eprintln!("tiny llama plain: max |Δlogit| = {d:.3e}");
        assert!(d < 1e-4, "plain: max |Δlogit| {d}");
        // bf16, two shards, tied head, rope_scaling llama3.
        let d = max_diff_vs_reference("llama3", false);
        eprintln!("tiny llama llama3 (bf16, sharded): max |Δlogit| = {d:.3e}");
        assert!(d < 1e-4, "llama3: max |Δlogit| {d}");
        // Ignoring the scaling must be visible, or the test proves nothing.
        let d = max_diff_vs_reference("llama3", true);
        eprintln!("tiny llama llama3 with scaling ignored: max |Δlogit| = {d:.3e}");
        assert!(d > 1e-2, "llama3 without scaling: max |Δlogit| only {d}");
    }

    #[test]
    fn hf_names_map_to_gguf_names() {
        assert_eq!(
            GgufSource::gguf_name("model.layers.12.self_attn.o_proj.weight").unwrap(),
            "blk.12.attn_output.weight"
        );
        assert_eq!(
            GgufSource::gguf_name("model.embed_tokens.weight").unwrap(),
            "token_embd.weight"
        );
        assert!(GgufSource::gguf_name("model.layers.1.bogus").is_none());
    }
}
