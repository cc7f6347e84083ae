//! A sentence-transformers directory (all-MiniLM-L6-v2's BERT,
//! all-mpnet-base-v2's MPNet; `modules.json`: Transformer → Pooling(mean) →
//! Normalize): its `config.json`, weights and tokenizer, and texts in,
//! sentence embeddings out, tokenized, padded and truncated as
//! sentence-transformers' `encode` does.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokenizers::Tokenizer;

use super::batch::Batch;
use super::config::ConfigError;
use super::load::LoadError;
use super::load::safetensors::SafetensorsSource;
use super::readback::to_vec_f32;
use crate::util::hooks::Hooks;

/// An encoder whose pooled hidden states are sentence embeddings.
pub trait SentenceEncoder {
    /// The backend it runs on.
    type Backend: Backend;

    /// Last hidden states `[b, s, hidden]` of a right-padded batch.
    fn hidden_states(&self, batch: &Batch) -> Tensor<Self::Backend, 3>;

    /// Sentence embeddings `[b, hidden]`: the mean over real tokens, L2
    /// normalised (sentence-transformers `Pooling` + `Normalize`).
    fn embed(&self, batch: &Batch) -> Tensor<Self::Backend, 2> {
        super::pool::mean_pool_l2(self.hidden_states(batch), batch)
    }
}

/// A loaded sentence embedder: an encoder `M` with its configuration `C`
/// and tokenizer.
pub struct SentenceEmbedder<M, C> {
    /// The encoder.
    pub model: M,
    /// Its configuration.
    pub config: C,
    /// Its tokenizer (`tokenizer.json`, padding and truncation off).
    pub tokenizer: Tokenizer,
    /// Longest input in tokens: `sentence_bert_config.json`'s
    /// `max_seq_length`, else as many as the position table takes (MPNet:
    /// at most 512).
    pub max_seq_length: usize,
    /// The id padding is written with.
    pub pad_id: u32,
    /// Where it came from.
    pub path: PathBuf,
}

impl<M: SentenceEncoder, C> SentenceEmbedder<M, C> {
    /// `model` and `config` loaded from `dir`, with `dir`'s tokenizer
    /// ([`open_tokenizer`]).
    pub(super) fn new(
        dir: &Path,
        model: M,
        config: C,
        max_seq_length: usize,
        pad_id: u32,
    ) -> Result<Self, LoadError> {
        Ok(Self {
            tokenizer: open_tokenizer(dir)?,
            model,
            config,
            max_seq_length,
            pad_id,
            path: dir.to_path_buf(),
        })
    }

    /// Token ids of `text` as sentence-transformers feeds them (`[CLS] …
    /// [SEP]`, `<s> … </s>`), truncated to `max_seq_length` keeping the
    /// final special token, as HF truncation does.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LoadError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| LoadError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > self.max_seq_length {
            let last = ids[ids.len() - 1];
            ids.truncate(self.max_seq_length - 1);
            ids.push(last);
        }
        Ok(ids)
    }

    /// Embeds `texts` in one batch padded to the longest, `[n][hidden]`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LoadError> {
        let seqs = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_ids(&seqs)
    }

    /// Embeds token sequences in one right-padded batch, `[n][hidden]`.
    fn embed_ids(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, LoadError> {
        let batch = Batch::pad(seqs, self.pad_id, false);
        let out = self.model.embed(&batch);
        let d = out.dims()[1];
        let flat = to_vec_f32(
            out,
            &format!("{}: the sentence embeddings", self.path.display()),
        )?; // [n, hidden]
        Ok(flat.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
    }

    /// Embeds many texts in batches of `batch_size` texts of similar length
    /// (sorted by token count, longest first, as sentence-transformers'
    /// `encode` does), returned in input order; progress and interrupts
    /// through `hooks`.
    pub fn embed_many(
        &self,
        texts: &[&str],
        batch_size: usize,
        hooks: &dyn Hooks,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let seqs = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(seqs[i].len()), i));
        let mut out = vec![Vec::new(); seqs.len()];
        let mut done = 0u64;
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
            for (&i, e) in chunk.iter().zip(self.embed_ids(&batch)?) {
                out[i] = e;
            }
            done += chunk.len() as u64;
            hooks.check()?;
            hooks.progress("embed", done, seqs.len() as u64);
        }
        Ok(out)
    }
}

/// An invalid `config.json` field.
pub(super) fn invalid(path: &Path, field: &'static str, message: String) -> LoadError {
    LoadError::Config(ConfigError::Invalid {
        path: path.display().to_string(),
        field,
        message,
    })
}

/// The `config.json` fields of every encoder here that its layers, BERT's
/// ([`super::bert::BertLayer`]), depend on.
#[derive(Deserialize)]
struct LayerFields {
    hidden_size: usize,
    num_attention_heads: usize,
    #[serde(default)]
    hidden_act: Option<String>,
}

/// `dir`'s `config.json` as `C`, if it describes layers BERT's can run
/// (exact GELU, heads that divide the width, as HF's default activation
/// `gelu` where unset) and, with `model_type`, if it names that model type.
pub(super) fn read_config<C: DeserializeOwned>(
    dir: &Path,
    model_type: Option<&str>,
) -> Result<C, LoadError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
        path: path.clone(),
        source,
    })?;
    let json = |message: String| {
        LoadError::Config(ConfigError::Json {
            path: path.display().to_string(),
            message,
        })
    };
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| json(e.to_string()))?;
    if let Some(want) = model_type {
        let found = raw.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
        if found != want {
            return Err(invalid(
                &path,
                "model_type",
                format!("expected `{want}`, found `{found}`"),
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    let config = serde_path_to_error::deserialize(de).map_err(|e| json(e.to_string()))?;
    let l: LayerFields = serde_json::from_value(raw).map_err(|e| json(e.to_string()))?;
    let (heads, hidden) = (l.num_attention_heads, l.hidden_size);
    let act = l.hidden_act.as_deref().unwrap_or("gelu");
    if act != "gelu" || heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(invalid(
            &path,
            "hidden_act",
            format!(
                "need hidden_act gelu and heads dividing hidden_size, found {act} / {heads} heads / {hidden} wide"
            ),
        ));
    }
    Ok(config)
}

/// `dir`'s `tokenizer.json` with padding and truncation off. The
/// checkpoints' own files pad to a fixed 128 and truncate at 128;
/// sentence-transformers overrides both per call (pad to the longest,
/// truncate at `max_seq_length`), and so does [`SentenceEmbedder`].
pub(super) fn open_tokenizer(dir: &Path) -> Result<Tokenizer, LoadError> {
    let path = dir.join("tokenizer.json");
    let err = |e: tokenizers::Error| LoadError::Tokenizer {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut tokenizer = Tokenizer::from_file(&path).map_err(err)?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(err)?;
    Ok(tokenizer)
}

/// The longest input in tokens: `max_seq_length` of `dir`'s
/// `sentence_bert_config.json` within `2..=longest` (what the position table
/// allows), else `default`.
pub(super) fn max_seq_length(
    dir: &Path,
    default: usize,
    longest: usize,
) -> Result<usize, LoadError> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(default);
    }
    let t = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
        path: path.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&t).map_err(|e| LoadError::Tokenizer {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(match v.get("max_seq_length").and_then(|x| x.as_u64()) {
        Some(n) => (n as usize).clamp(2, longest),
        None => default,
    })
}

/// `dir`'s weights, and `prefix` if their names carry it (`bert.`,
/// `mpnet.`: HF's `…Model` inside a task model), else the empty prefix.
pub(super) fn open_weights<'a>(
    dir: &Path,
    prefix: &'a str,
) -> Result<(SafetensorsSource, &'a str), LoadError> {
    let src = SafetensorsSource::open_dir(dir)?;
    let prefixed = src.names().any(|n| n.starts_with(prefix));
    Ok((src, if prefixed { prefix } else { "" }))
}
