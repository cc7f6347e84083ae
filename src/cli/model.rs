//! `repro model …`: inspection commands for checking a model (a GGUF file or
//! a Hugging Face directory) before a long run. Every command prints JSON.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend as BurnBackend;
use serde_json::json;

use crate::model::batch::Batch;
use crate::model::bert::load_bert;
use crate::model::chat::{ChatTemplateError, Message, render};
use crate::model::generate::{GenerateConfig, generate};
use crate::model::load::LoadError;
use crate::model::load::gguf::{GgufFile, MetaValue};
use crate::model::load::gguf_tokenizer::tokenizer_from_gguf;
use crate::model::load::llama::load_llama;
use crate::model::load::quant::type_name;
use crate::model::readback::{ReadbackError, to_vec_f32};
use std::io::Write;

use crate::backend::{Backend, NotCompiledIn};

/// An error of a `repro model` command.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Loading the model failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The chat template failed.
    #[error(transparent)]
    Chat(#[from] ChatTemplateError),
    /// Tokenizing failed.
    #[error("{path}: tokenizing: {message}")]
    Tokenize {
        /// The model.
        path: PathBuf,
        /// What the tokenizer said.
        message: String,
    },
    /// The backend is not compiled into this binary.
    #[error(transparent)]
    Backend(#[from] NotCompiledIn),
    /// `--chat` on a model without a chat template.
    #[error("{0}: the model has no chat template")]
    NoChatTemplate(PathBuf),
    /// `embed` on a model that is not a sentence embedder.
    #[error("{0}: not a BERT sentence-embedding directory (config.json model_type must be `bert`)")]
    NotEmbedder(PathBuf),
    /// A command-line value out of range.
    #[error("{0}")]
    Usage(String),
    /// The model's output could not be read back from the device.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// The `repro model` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModelCommand {
    /// Architecture, sizes, dtypes and tokenizer of MODEL.
    Info {
        /// A GGUF file or a Hugging Face directory.
        model: PathBuf,
    },
    /// Token ids of TEXT (JSON list).
    Tokenize {
        /// A GGUF file or a Hugging Face directory.
        model: PathBuf,
        /// The text.
        text: String,
    },
    /// Next-token logits at the last position (JSON list of {id, token, logit}).
    Logits {
        /// A GGUF file or a Hugging Face Llama directory.
        model: PathBuf,
        /// The prompt.
        #[arg(long)]
        prompt: String,
        /// How many of the highest logits to print.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Continue a prompt (temperature 0 is greedy).
    Generate {
        /// A GGUF file or a Hugging Face Llama directory.
        model: PathBuf,
        /// The prompt (the user turn with --chat).
        #[arg(long)]
        prompt: String,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 64)]
        max_new_tokens: usize,
        /// Sampling temperature; 0 is greedy.
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        /// Nucleus mass in (0, 1].
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        /// Sampling seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Wrap the prompt in the model's chat template as a user turn.
        #[arg(long)]
        chat: bool,
    },
    /// Sentence embeddings of each TEXT (JSON list of vectors).
    Embed {
        /// A sentence-transformers BERT directory.
        model: PathBuf,
        /// The sentences.
        #[arg(required = true)]
        texts: Vec<String>,
    },
}

/// Runs one `repro model` command on `backend` (the global `--backend`),
/// printing its JSON to stdout.
pub fn run(cmd: ModelCommand, backend: Backend) -> Result<(), ModelError> {
    let v = match cmd {
        ModelCommand::Info { model } => info(&model)?,
        ModelCommand::Tokenize { model, text } => tokenize(&model, &text)?,
        ModelCommand::Logits { .. }
        | ModelCommand::Generate { .. }
        | ModelCommand::Embed { .. } => dispatch(backend, &cmd)?,
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        // default: never taken; a `serde_json::Value` always serialises.
        serde_json::to_string_pretty(&v).unwrap_or_default()
    );
    Ok(())
}

fn dispatch(backend: Backend, cmd: &ModelCommand) -> Result<serde_json::Value, ModelError> {
    crate::on_backend!(backend, compute(cmd))
}

fn tok_err(path: &Path, e: impl ToString) -> ModelError {
    ModelError::Tokenize {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn compute<B: BurnBackend>(cmd: &ModelCommand) -> Result<serde_json::Value, ModelError> {
    let device = B::Device::default();
    match cmd {
        ModelCommand::Logits {
            model, prompt, top, ..
        } => {
            let m = load_llama::<B>(model, &device)?;
            let ids = m
                .tokenizer
                .encode(prompt.as_str(), true)
                .map_err(|e| tok_err(model, e))?
                .get_ids()
                .to_vec();
            if ids.is_empty() {
                return Err(ModelError::Usage("the prompt has no tokens".to_string()));
            }
            let logits = m.model.forward(&Batch::pad(&[ids], 0, false), None);
            let [_, s, v] = logits.dims();
            let last = to_vec_f32(
                logits.narrow(1, s - 1, 1).reshape([v]),
                "the last position's logits",
            )?;
            let mut order: Vec<usize> = (0..last.len()).collect();
            order.sort_by(|&a, &b| last[b].total_cmp(&last[a]).then(a.cmp(&b)));
            Ok(json!(order
                .iter()
                .take(*top)
                .map(|&i| json!({"id": i, "token": m.tokenizer.id_to_token(i as u32), "logit": last[i]}))
                .collect::<Vec<_>>()))
        }
        ModelCommand::Generate {
            model,
            prompt,
            max_new_tokens,
            temperature,
            top_p,
            seed,
            chat,
            ..
        } => {
            if !(*top_p > 0.0 && *top_p <= 1.0) || *temperature < 0.0 {
                return Err(ModelError::Usage(format!(
                    "need 0 < top_p <= 1 and temperature >= 0, got {top_p}, {temperature}"
                )));
            }
            let m = load_llama::<B>(model, &device)?;
            let text = if *chat {
                let t = m
                    .chat_template
                    .as_deref()
                    .ok_or_else(|| ModelError::NoChatTemplate(model.clone()))?;
                let tok = |id: Option<u32>| {
                    id.and_then(|i| m.tokenizer.id_to_token(i))
                        // default: a model without that special token renders it as
                        // empty text, as an unset `bos_token` does in transformers.
                        .unwrap_or_default()
                };
                render(
                    t,
                    &[Message {
                        role: "user".into(),
                        content: prompt.clone(),
                    }],
                    true,
                    &tok(m.specials.bos),
                    &tok(m.specials.eos),
                )?
            } else {
                prompt.clone()
            };
            let ids = m
                .tokenizer
                .encode(text.as_str(), true)
                .map_err(|e| tok_err(model, e))?
                .get_ids()
                .to_vec();
            let mut eos: Vec<u32> = m.specials.eos.into_iter().collect();
            if *chat && let Some(id) = m.tokenizer.token_to_id("<|im_end|>") {
                eos.push(id);
            }
            let cfg = GenerateConfig {
                max_new_tokens: *max_new_tokens,
                temperature: *temperature,
                top_p: *top_p,
                seed: *seed,
                eos,
                pad: m.specials.pad.or(m.specials.eos).unwrap_or(0),
            };
            let out = generate(&m.model, std::slice::from_ref(&ids), &cfg)?
                .into_iter()
                .next()
                // default: never taken; one prompt gives one row.
                .unwrap_or_default();
            let completion = m
                .tokenizer
                .decode(&out, true)
                .map_err(|e| tok_err(model, e))?;
            Ok(json!({"prompt": text, "prompt_ids": ids, "ids": out, "completion": completion}))
        }
        ModelCommand::Embed { model, texts, .. } => {
            if !crate::model::encoder::is_bert_dir(model) {
                return Err(ModelError::NotEmbedder(model.clone()));
            }
            let m = load_bert::<B>(model, &device)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            Ok(json!(m.embed(&refs)?))
        }
        ModelCommand::Info { .. } | ModelCommand::Tokenize { .. } => Ok(json!(null)),
    }
}

fn tokenize(model: &Path, text: &str) -> Result<serde_json::Value, ModelError> {
    let tok = if model.is_dir() {
        let p = model.join("tokenizer.json");
        let mut t = tokenizers::Tokenizer::from_file(&p).map_err(|e| tok_err(&p, e))?;
        t.with_padding(None);
        t.with_truncation(None).map_err(|e| tok_err(&p, e))?;
        t
    } else {
        let f = GgufFile::open(model).map_err(LoadError::from)?;
        tokenizer_from_gguf(&f).map_err(LoadError::from)?.0
    };
    let enc = tok.encode(text, true).map_err(|e| tok_err(model, e))?;
    Ok(json!(enc.get_ids()))
}

fn info(model: &Path) -> Result<serde_json::Value, ModelError> {
    if model.is_dir() {
        let p = model.join("config.json");
        let text = std::fs::read_to_string(&p).map_err(|source| LoadError::Io {
            path: p.clone(),
            source,
        })?;
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| LoadError::Tokenizer {
                path: p.clone(),
                message: e.to_string(),
            })?;
        let mut src = crate::model::load::safetensors::SafetensorsSource::open_dir(model)?;
        let names: Vec<String> = src.names().map(str::to_string).collect();
        let mut params = 0usize;
        for n in &names {
            use crate::model::load::WeightSource;
            if let Some(t) = src.get(n)? {
                params += t.data.len();
            }
        }
        return Ok(
            json!({"format": "huggingface", "path": model, "config": config, "tensors": names.len(), "parameters": params}),
        );
    }
    let f = GgufFile::open(model).map_err(LoadError::from)?;
    let mut types = std::collections::BTreeMap::<String, usize>::new();
    for t in &f.tensors {
        *types.entry(type_name(t.ty)).or_default() += 1;
    }
    let params: u64 = f.tensors.iter().map(|t| t.n_elements()).sum();
    let config = crate::model::config::LlamaConfig::from_gguf(&f).map_err(LoadError::from)?;
    let meta: serde_json::Map<String, serde_json::Value> = f
        .metadata
        .iter()
        .filter(|(_, v)| !matches!(v, MetaValue::Array(_)))
        .map(|(k, v)| {
            let j = match v {
                MetaValue::String(s) => json!(s),
                MetaValue::Bool(b) => json!(b),
                other => other.as_f64().map_or(json!(null), |x| json!(x)),
            };
            (k.clone(), j)
        })
        .collect();
    let (tok, specials) = tokenizer_from_gguf(&f).map_err(LoadError::from)?;
    Ok(json!({
        "format": "gguf",
        "path": model,
        "version": f.version,
        "config": config.to_hf_json(),
        "tensors": f.tensors.len(),
        "parameters": params,
        "tensor_types": types,
        "tokenizer": {"vocab_size": tok.get_vocab_size(true), "special": specials},
        "metadata": meta,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tiny_llama")
            .join(name)
    }

    #[test]
    fn tokenize_info_and_logits_on_a_tiny_hf_directory() {
        assert_eq!(
            tokenize(&tiny("plain"), "w1 w5 w3").unwrap(),
            json!([1, 5, 3])
        );
        let i = info(&tiny("llama3")).unwrap();
        assert_eq!(i["format"], "huggingface");
        assert_eq!(i["config"]["rope_scaling"]["rope_type"], "llama3");
        // hidden 16, 2 heads × 8, 1 kv head, inner 24, vocab 32, 2 layers, tied:
        // per layer q 256 + k 128 + v 128 + o 256 + mlp 3·384 + norms 32; embed 512; norm 16.
        assert_eq!(
            i["parameters"],
            2 * (256 + 128 + 128 + 256 + 3 * 384 + 32) + 512 + 16
        );
        let cmd = ModelCommand::Logits {
            model: tiny("plain"),
            prompt: "w1 w5".into(),
            top: 3,
        };
        let v = dispatch(Backend::Flex, &cmd).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[0]["logit"].as_f64().unwrap() >= rows[1]["logit"].as_f64().unwrap());
        let e = dispatch(
            Backend::Flex,
            &ModelCommand::Embed {
                model: tiny("plain"),
                texts: vec!["x".into()],
            },
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::NotEmbedder(_)), "{e}");
    }
}
