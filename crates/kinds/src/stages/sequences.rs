//! What `model.features` and `model.hidden_states` share: their inputs, their
//! batching keys, and the sequences they run through the backbone — every
//! transcript of the `data` input's train and eval splits, then the probe
//! sentences of the `crows_pairs` / `stereoset` inputs under the transcript
//! template (see [`super::model_features`], "Probe template").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::backend::Backend as BurnBackend;

use crate::data::probe_items::{ProbeRow, probe_items};
use crate::data::token_table::read_ids;
use crate::data::tokenize::encode;
use crate::kind::{Slot, StageContext};
use crate::model::embed::check_seqs;
use crate::model::encoder::{LoadedEncoder, load_encoder};

/// Default `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Default `max_len`.
pub const DEFAULT_MAX_LEN: usize = 128;

/// The inputs of both kinds.
pub const SLOTS: &[Slot] = &[
    Slot {
        name: "backbone",
        required: true,
        fan_in: false,
        doc: "a model.pretrained stage (model/: model.safetensors, config.json, tokenizer.json)",
    },
    Slot {
        name: "data",
        required: true,
        fan_in: false,
        doc: "a data.tokenize stage (train.parquet, eval.parquet) tokenized with the backbone's tokenizer",
    },
    Slot {
        name: "crows_pairs",
        required: false,
        fan_in: false,
        doc: "a data.probes stage of CrowS-Pairs (probes.parquet)",
    },
    Slot {
        name: "stereoset",
        required: false,
        fan_in: false,
        doc: "a data.probes stage of StereoSet (probes.parquet)",
    },
];

/// The sequences, grouped as [`crate::train::features::FEATURE_TENSORS`].
pub struct Sequences {
    /// Token ids per group: train chosen, rejected, eval chosen, rejected,
    /// probes more, less.
    pub groups: Vec<Vec<Vec<u32>>>,
    /// One row per probe item, aligned with the probe groups.
    pub rows: Vec<ProbeRow>,
    /// Probe items per connected probe input.
    pub per_dataset: BTreeMap<&'static str, usize>,
    /// Probe sentences cut to `max_len`.
    pub probe_truncated: usize,
}

/// The model directory inside a `model.pretrained` output (or the input itself).
fn model_dir(input: &Path) -> PathBuf {
    let nested = input.join("model");
    if nested.join("config.json").is_file() {
        nested
    } else {
        input.to_path_buf()
    }
}

/// Loads input `backbone` and [`gather`]s the sequences with its tokenizer.
///
/// # Errors
/// An unloadable backbone, or what [`gather`] refuses.
pub fn load_and_gather<B: BurnBackend>(
    ctx: &StageContext,
    device: &B::Device,
    max_len: usize,
) -> anyhow::Result<(LoadedEncoder<B>, Sequences)> {
    let dir = model_dir(ctx.input("backbone")?);
    let enc = load_encoder::<B>(&dir, device)
        .with_context(|| format!("loading the backbone from {}", dir.display()))?;
    let seqs = gather(ctx, &enc, &dir.join("tokenizer.json"), max_len)?;
    Ok((enc, seqs))
}

/// Reads the token tables of input `data` and tokenizes the connected probes
/// (at most `max_len` tokens each), checking every sequence against `enc`.
///
/// # Errors
/// A missing table, a malformed probe table, or ids the backbone cannot take.
pub fn gather<B: BurnBackend>(
    ctx: &StageContext,
    enc: &LoadedEncoder<B>,
    tok_path: &Path,
    max_len: usize,
) -> anyhow::Result<Sequences> {
    let data = ctx.input("data")?;
    let mut groups: Vec<Vec<Vec<u32>>> = Vec::with_capacity(6);
    for split in ["train", "eval"] {
        let f = data.join(format!("{split}.parquet"));
        anyhow::ensure!(
            f.is_file(),
            "input `data` has no {split}.parquet (expected a data.tokenize stage) in {}",
            data.display()
        );
        for side in ["chosen", "rejected"] {
            let ids = read_ids(&f, &format!("{side}_ids"))?;
            check_seqs(&ids, &enc.config, &format!("{split}.parquet {side}_ids"))?;
            groups.push(ids);
        }
    }
    let mut rows = Vec::new();
    let (mut more, mut less) = (Vec::new(), Vec::new());
    let mut probe_truncated = 0usize;
    let mut per_dataset = BTreeMap::new();
    for slot in ["crows_pairs", "stereoset"] {
        if !ctx.inputs.contains_key(slot) {
            continue;
        }
        let items = probe_items(slot, ctx.input(slot)?)?;
        per_dataset.insert(slot, items.len());
        for (row, prompt, m, l) in items {
            let em = encode(&enc.tokenizer, &prompt, &m, max_len, tok_path)?;
            let el = encode(&enc.tokenizer, &prompt, &l, max_len, tok_path)?;
            probe_truncated += usize::from(em.truncated || em.response_truncated);
            probe_truncated += usize::from(el.truncated || el.response_truncated);
            more.push(em.ids);
            less.push(el.ids);
            rows.push(row);
        }
    }
    check_seqs(&more, &enc.config, "probes (more)")?;
    check_seqs(&less, &enc.config, "probes (less)")?;
    groups.push(more);
    groups.push(less);
    Ok(Sequences {
        groups,
        rows,
        per_dataset,
        probe_truncated,
    })
}
