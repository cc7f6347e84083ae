//! Export of a trained Llama or BERT as Hugging Face files: `model.safetensors`
//! with HF tensor names (`[out, in]` f32) and `config.json`, and LoRA adapters in
//! PEFT's layout (`adapter_model.safetensors` + `adapter_config.json`), so
//! transformers and PEFT can load what we train.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::bert::{Bert, BertConfig};
use super::config::LlamaConfig;
use super::llama::Llama;
use super::lora::{LoraConfig, LoraLinear};
use super::readback::{ReadbackError, to_vec_f32};

/// An error writing an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// safetensors refused the tensors.
    #[error("{path}: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What safetensors said.
        message: String,
    },
    /// A weight could not be read back from the device (the error names the tensor).
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// A named f32 tensor ready to write.
struct Named {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// `t` on the host as HF expects it (`[out, in]` when `transpose`); a tensor that cannot be
/// read back is an error naming it, never an empty weight in the file.
fn host<B: Backend, const D: usize>(
    name: String,
    t: Tensor<B, D>,
    transpose: bool,
) -> Result<Named, ReadbackError> {
    let t = t.detach();
    let (shape, values): (Vec<usize>, Vec<f32>) = if transpose && D == 2 {
        let dims = t.dims();
        let v = to_vec_f32(t, &name)?;
        let (r, c) = (dims[0], dims[1]);
        let mut out = vec![0.0; v.len()];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = v[i * c + j];
            }
        }
        (vec![c, r], out)
    } else {
        let dims = t.dims().to_vec();
        (dims, to_vec_f32(t, &name)?)
    };
    Ok(Named {
        name,
        shape,
        bytes: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
    })
}

fn write(path: &Path, tensors: &[Named]) -> Result<(), ExportError> {
    let err = |message: String| ExportError::Safetensors {
        path: path.to_path_buf(),
        message,
    };
    let views = tensors
        .iter()
        .map(|t| {
            TensorView::new(Dtype::F32, t.shape.clone(), &t.bytes).map(|v| (t.name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    safetensors::tensor::serialize_to_file(views, None, path).map_err(|e| err(e.to_string()))
}

/// Writes an HF `config.json`: the canonical JSON text without its final
/// newline, byte for byte what this project has always written (a newline
/// would change the digest of every exported model directory).
fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), ExportError> {
    let text = crate::util::io::json::canonical_text(v).map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(path, text.trim_end()).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `dir/model.safetensors` and `dir/config.json`; LoRA adapters are
/// merged into the weights first.
pub fn export_hf<B: Backend>(
    model: Llama<B>,
    cfg: &LlamaConfig,
    dir: &Path,
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let model = model.merge_lora();
    let mut out = vec![host(
        "model.embed_tokens.weight".into(),
        model.model.embed_tokens.weight.val(),
        false,
    )?];
    for (i, l) in model.model.layers.iter().enumerate() {
        let p = format!("model.layers.{i}");
        let a = &l.self_attn;
        for (n, lin) in [
            ("q_proj", &a.q_proj),
            ("k_proj", &a.k_proj),
            ("v_proj", &a.v_proj),
            ("o_proj", &a.o_proj),
        ] {
            out.push(host(
                format!("{p}.self_attn.{n}.weight"),
                lin.base.weight.val(),
                true,
            )?);
        }
        for (n, lin) in [
            ("gate_proj", &l.mlp.gate_proj),
            ("up_proj", &l.mlp.up_proj),
            ("down_proj", &l.mlp.down_proj),
        ] {
            out.push(host(format!("{p}.mlp.{n}.weight"), lin.weight.val(), true)?);
        }
        out.push(host(
            format!("{p}.input_layernorm.weight"),
            l.input_layernorm.gamma.val(),
            false,
        )?);
        out.push(host(
            format!("{p}.post_attention_layernorm.weight"),
            l.post_attention_layernorm.gamma.val(),
            false,
        )?);
    }
    out.push(host(
        "model.norm.weight".into(),
        model.model.norm.gamma.val(),
        false,
    )?);
    if let Some(h) = &model.lm_head {
        out.push(host("lm_head.weight".into(), h.weight.val(), true)?);
    }
    write(&dir.join("model.safetensors"), &out)?;
    write_json(&dir.join("config.json"), &cfg.to_hf_json())
}

/// Writes `dir/model.safetensors` with HF `BertModel` names (no `bert.`
/// prefix, no pooler) and `dir/config.json` (`model_type: bert`), the layout
/// [`super::bert::load_bert`] reads.
pub fn export_bert<B: Backend>(
    model: &Bert<B>,
    cfg: &BertConfig,
    dir: &Path,
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    let e = &model.embeddings;
    for (n, emb) in [
        ("word_embeddings", &e.word_embeddings),
        ("position_embeddings", &e.position_embeddings),
        ("token_type_embeddings", &e.token_type_embeddings),
    ] {
        out.push(host(
            format!("embeddings.{n}.weight"),
            emb.weight.val(),
            false,
        )?);
    }
    let norm = |out: &mut Vec<Named>,
                name: String,
                ln: &burn::nn::LayerNorm<B>|
     -> Result<(), ReadbackError> {
        out.push(host(format!("{name}.weight"), ln.gamma.val(), false)?);
        if let Some(b) = &ln.beta {
            out.push(host(format!("{name}.bias"), b.val(), false)?);
        }
        Ok(())
    };
    norm(&mut out, "embeddings.LayerNorm".into(), &e.layer_norm)?;
    for (i, l) in model.layers.iter().enumerate() {
        let p = format!("encoder.layer.{i}");
        for (n, lin) in [
            ("attention.self.query", &l.query),
            ("attention.self.key", &l.key),
            ("attention.self.value", &l.value),
            ("attention.output.dense", &l.attn_output),
            ("intermediate.dense", &l.intermediate),
            ("output.dense", &l.output),
        ] {
            push_linear(&mut out, &format!("{p}.{n}"), lin)?;
        }
        norm(
            &mut out,
            format!("{p}.attention.output.LayerNorm"),
            &l.attn_norm,
        )?;
        norm(&mut out, format!("{p}.output.LayerNorm"), &l.output_norm)?;
    }
    write(&dir.join("model.safetensors"), &out)?;
    // default: never taken; a struct of numbers and strings always serialises.
    let mut config = serde_json::to_value(cfg).unwrap_or_default();
    if let Some(o) = config.as_object_mut() {
        o.insert("model_type".into(), "bert".into());
        o.insert("architectures".into(), serde_json::json!(["BertModel"]));
        o.insert("torch_dtype".into(), "float32".into());
    }
    write_json(&dir.join("config.json"), &config)
}

/// Writes the LoRA adapters as PEFT does: `adapter_model.safetensors` with
/// `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` `[r, in]`
/// and `lora_B.weight` `[out, r]`, plus `adapter_config.json`.
pub fn export_peft<B: Backend>(
    model: &Llama<B>,
    lora: LoraConfig,
    base: &str,
    dir: &Path,
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, l) in model.model.layers.iter().enumerate() {
        let a = &l.self_attn;
        let projs: [(&str, &LoraLinear<B>); 4] = [
            ("q_proj", &a.q_proj),
            ("k_proj", &a.k_proj),
            ("v_proj", &a.v_proj),
            ("o_proj", &a.o_proj),
        ];
        for (n, lin) in projs {
            if let Some(ad) = &lin.lora {
                let p = format!("base_model.model.model.layers.{i}.self_attn.{n}");
                // Ours: x·A·B with A [in, r], B [r, out]; PEFT: B(A(x)) with
                // lora_A.weight [r, in], lora_B.weight [out, r].
                out.push(host(format!("{p}.lora_A.weight"), ad.a.val(), true)?);
                out.push(host(format!("{p}.lora_B.weight"), ad.b.val(), true)?);
            }
        }
    }
    write(&dir.join("adapter_model.safetensors"), &out)?;
    write_json(
        &dir.join("adapter_config.json"),
        &serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base,
            "r": lora.rank,
            "lora_alpha": lora.alpha,
            "lora_dropout": 0.0,
            "bias": "none",
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
            "fan_in_fan_out": false,
            "inference_mode": true,
        }),
    )
}

/// Writes `Linear` layers as HF tensors `<name>.weight` (`[out, in]`) and
/// `<name>.bias` to one safetensors file (a reward head, an adversary).
///
/// # Errors
/// A weight cannot be read back, or the file cannot be written.
pub fn write_linears<B: Backend>(
    path: &Path,
    layers: &[(&str, &burn::nn::Linear<B>)],
) -> Result<(), ExportError> {
    let mut named = Vec::new();
    for (name, l) in layers {
        push_linear(&mut named, name, l)?;
    }
    write(path, &named)
}

/// `<name>.weight` (HF `[out, in]`) and `<name>.bias` of a `Linear`.
fn push_linear<B: Backend>(
    out: &mut Vec<Named>,
    name: &str,
    l: &burn::nn::Linear<B>,
) -> Result<(), ReadbackError> {
    out.push(host(format!("{name}.weight"), l.weight.val(), true)?);
    if let Some(b) = &l.bias {
        out.push(host(format!("{name}.bias"), b.val(), false)?);
    }
    Ok(())
}
