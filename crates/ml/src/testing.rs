//! Tiny random models and their tokenizer for fast tests: this crate's own
//! unit tests and, through the `testing` feature, the stage kinds' tests
//! (`repro-kinds` asks for it as a dev-dependency). Never the product.

use std::path::Path;

use burn::backend::Flex;
use burn::tensor::backend::Backend;

use crate::model::bert::{BertConfig, build_bert};
use crate::model::config::LlamaConfig;
use crate::model::encoder::{Arch, Encoder, EncoderConfig, LoadedEncoder};
use crate::model::load::RandomSource;
use crate::model::load::llama::build_llama;

/// A word-level tokenizer over a small vocabulary with BERT-style
/// `[CLS] … [SEP]` post-processing, written as tokenizer.json.
pub fn tiny_tokenizer(dir: &Path) -> std::path::PathBuf {
    let words = [
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "human",
        ":",
        "assistant",
        "a",
        "b",
        "c",
        "d",
        "e",
        "yes",
        "no",
    ];
    let vocab: serde_json::Map<String, serde_json::Value> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), serde_json::json!(i)))
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0},
        "padding": null,
        "added_tokens": [
            {"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}
            }
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    let p = dir.join("tokenizer.json");
    std::fs::write(&p, json.to_string()).unwrap();
    p
}

/// A 2-layer Llama (width 16, 4 query and 2 key-value heads) over 40 tokens,
/// with tied embeddings.
pub fn tiny_config() -> LlamaConfig {
    LlamaConfig {
        vocab_size: 40,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 4,
        rms_norm_eps: 1e-5,
        rope_theta: 10000.0,
        rope_scaling: None,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
        bos_token_id: Some(1),
        eos_token_id: Some(2),
        pad_token_id: Some(0),
    }
}

/// A 3-layer BERT over the 13 words of `data::tokenize`'s tiny tokenizer.
pub fn tiny_bert_config() -> BertConfig {
    BertConfig {
        vocab_size: 13,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        max_position_embeddings: 64,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    }
}

/// A random encoder of either architecture and its configuration.
pub fn random_encoder<B: Backend>(
    arch: Arch,
    seed: u64,
    device: &B::Device,
) -> (Encoder<B>, EncoderConfig) {
    let mut src = RandomSource::new(seed, 0.3);
    match arch {
        Arch::Bert => {
            let c = tiny_bert_config();
            let m = build_bert(&c, &mut src, "", device).unwrap();
            (Encoder::Bert(m), EncoderConfig::Bert(c))
        }
        Arch::Llama => {
            let c = tiny_config();
            let m = build_llama(&c, &mut src, None, device).unwrap();
            (Encoder::Llama(m), EncoderConfig::Llama(c))
        }
    }
}

/// A random encoder with the tiny tokenizer (written under `dir`).
pub fn tiny_loaded(arch: Arch, seed: u64, dir: &Path) -> LoadedEncoder<Flex> {
    let p = tiny_tokenizer(dir);
    let tokenizer = crate::data::tokenize::load_tokenizer(&p).unwrap();
    let (encoder, config) = random_encoder::<Flex>(arch, seed, &Default::default());
    LoadedEncoder {
        hidden: encoder.hidden_size(),
        encoder,
        config,
        tokenizer,
        tokenizer_config: None,
        arch,
        pad_id: 0,
    }
}

/// Writes a random 2-layer MPNet (width 16, 4 heads) over the 13 words of
/// `data::tokenize`'s tiny tokenizer into `dir`, as an HF directory.
pub fn write_tiny_mpnet(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    tiny_tokenizer(dir);
    let config = serde_json::json!({
        "model_type": "mpnet", "vocab_size": 13, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 40,
        "layer_norm_eps": 1e-5, "hidden_act": "gelu", "relative_attention_num_buckets": 32,
        "pad_token_id": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![13, 16]),
        ("embeddings.position_embeddings.weight".into(), vec![40, 16]),
        ("embeddings.LayerNorm.weight".into(), vec![16]),
        ("embeddings.LayerNorm.bias".into(), vec![16]),
        ("encoder.relative_attention_bias.weight".into(), vec![32, 4]),
    ];
    for l in 0..2 {
        let p = format!("encoder.layer.{l}");
        for w in ["q", "k", "v", "o"] {
            shapes.push((format!("{p}.attention.attn.{w}.weight"), vec![16, 16]));
            shapes.push((format!("{p}.attention.attn.{w}.bias"), vec![16]));
        }
        for n in ["attention.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}.{n}.weight"), vec![16]));
            shapes.push((format!("{p}.{n}.bias"), vec![16]));
        }
        shapes.push((format!("{p}.intermediate.dense.weight"), vec![32, 16]));
        shapes.push((format!("{p}.intermediate.dense.bias"), vec![32]));
        shapes.push((format!("{p}.output.dense.weight"), vec![16, 32]));
        shapes.push((format!("{p}.output.dense.bias"), vec![16]));
    }
    let mut rng = crate::util::rng::SplitMix64::new(11);
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = shapes
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let ones = name.ends_with("LayerNorm.weight");
            let values = (0..n)
                .map(|_| {
                    if ones {
                        1.0f32
                    } else {
                        (rng.normal() * 0.5) as f32
                    }
                })
                .collect();
            (name, shape, values)
        })
        .collect();
    write_f32_tensors(&dir.join("model.safetensors"), &tensors);
}

/// Writes `(name, shape, values)` tensors as one f32 safetensors file.
pub fn write_f32_tensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.2.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.1.clone(), b)
                .unwrap();
            (t.0.clone(), v)
        })
        .collect();
    safetensors::tensor::serialize_to_file(views, None, path).unwrap();
}

/// Writes a features file from `(name, rows, cols, values)`.
pub fn write_features(path: &Path, tensors: &[(&str, usize, usize, Vec<f32>)]) {
    let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(name, rows, cols, values)| (name.to_string(), vec![*rows, *cols], values.clone()))
        .collect();
    write_f32_tensors(path, &tensors);
}
