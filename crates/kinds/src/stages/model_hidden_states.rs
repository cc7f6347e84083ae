//! `model.hidden_states`: the frozen lower layers' hidden states of every
//! transcript and probe sentence (the same sequences as `model.features`),
//! computed once so that every reward model fine-tuning the last
//! `upper_layers` layers (`trainable: {last_layers: k}`, `k = upper_layers`)
//! runs only those layers and the head (ARCHITECTURE.md, "Training paths").
//!
//! # Outputs
//! - `hidden.safetensors` ([`crate::train::hidden`]): per group, the real
//!   tokens' states after the embeddings and the first `n_layers −
//!   upper_layers` layers, f32, without padding, and each sequence's length;
//! - `probes.parquet`: as `model.features`;
//! - `metrics.json`: rows and tokens per group, layers, hidden size, batches,
//!   padding fraction, probe truncation (timings go to the log only).
//!
//! Sequences are sorted by length and batched, each group on its own. Padding
//! is masked, so a sequence's states are the same values in any batch, but
//! not always the same bits: the batch's padded length decides where the
//! fixed-order sums over keys split into lanes and a tail. MiniLM's last
//! layer run on these states gave pooled features that differ in the last
//! bits from `model.features`' (which batches all groups together; issue
//! 24's closing note): each stage's bytes are fixed, but the one is not the
//! other's lower half.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::backend::Backend as BurnBackend;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::sequences::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_LEN, SLOTS, Sequences, load_and_gather};
use crate::data::probe_items::write_probe_rows;
use crate::kind::{KindInfo, StageContext, WithError};
use crate::model::embed::lower_all;
use crate::train::hidden::{FEATURE_TENSORS, HIDDEN_FILE, HiddenStates, Ragged, write_hidden};

/// The `model.hidden_states` kind.
pub struct ModelHiddenStates;

/// `with:` of `model.hidden_states`; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Layers left on top, to be fine-tuned (trainable: {last_layers: k} with the same k); the
    /// states are taken below them; fewer than the backbone's layers (with 0 every layer is
    /// frozen: use model.features).
    #[schemars(range(min = 1))]
    upper_layers: usize,
    /// Sequences per forward pass (sorted by length).
    #[schemars(range(min = 1, max = 4096))]
    batch_size: usize,
    /// Tokens per probe sentence, special tokens included (token tables are already
    /// truncated).
    #[schemars(range(min = 8, max = 1_048_576))]
    max_len: usize,
}

impl Default for With {
    fn default() -> Self {
        With {
            upper_layers: 1,
            batch_size: DEFAULT_BATCH_SIZE,
            max_len: DEFAULT_MAX_LEN,
        }
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "model.hidden_states",
    code_version: 1,
    summary: "frozen lower layers → hidden states of every transcript and probe sentence (computed once; the RMs fine-tune the layers above)",
    slots: SLOTS,
    outputs: &[HIDDEN_FILE, "probes.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

impl crate::kind::TypedKind for ModelHiddenStates {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        crate::on_backend!(ctx.backend, run_on(ctx, &w, &Default::default()))
    }
}

fn run_on<B: BurnBackend>(ctx: &StageContext, w: &With, device: &B::Device) -> anyhow::Result<()> {
    let start = Instant::now();
    let (
        enc,
        Sequences {
            groups,
            rows,
            per_dataset,
            probe_truncated,
        },
    ) = load_and_gather::<B>(ctx, device, w.max_len)?;
    let n_layers = enc.encoder.n_layers();
    if w.upper_layers >= n_layers {
        return Err(WithError::new(
            "upper_layers",
            format!(
                "the backbone has {n_layers} layers; at most {} can be left on top of cached states",
                n_layers.saturating_sub(1)
            ),
        )
        .into());
    }
    let lower = n_layers - w.upper_layers;
    let d = enc.hidden;
    let counts: Vec<usize> = groups.iter().map(Vec::len).collect();
    ctx.log(format!(
        "{} backbone, hidden {d}, {n_layers} layers: states after layer {lower} of {} sequences ({counts:?}), batch {}",
        enc.arch.name(),
        counts.iter().sum::<usize>(),
        w.batch_size
    ));
    let t0 = Instant::now();
    let mut out = Vec::with_capacity(groups.len());
    let mut stats = Vec::with_capacity(groups.len());
    for seqs in &groups {
        let mut r = Ragged::zeros(seqs.iter().map(Vec::len).collect(), d);
        let s = lower_all(&enc, seqs, lower, w.batch_size, ctx, |i, states| {
            r.set(i, states);
        })?;
        out.push(r);
        stats.push(s);
    }
    let secs = t0.elapsed().as_secs_f64();
    let tokens: usize = stats.iter().map(|s| s.tokens).sum();
    let slots: usize = stats.iter().map(|s| s.slots).sum();
    ctx.log(format!(
        "ran {lower} layers over {tokens} tokens in {secs:.2} s ({:.1} tokens/s); stage total {:.2} s",
        tokens as f64 / secs.max(1e-9),
        start.elapsed().as_secs_f64()
    ));
    let h = HiddenStates {
        groups: out,
        architecture: enc.arch.name().to_string(),
        n_layers,
        lower_layers: lower,
    };
    write_hidden(&ctx.out.join(HIDDEN_FILE), &h)?;
    write_probe_rows(&ctx.out.join("probes.parquet"), &rows)?;
    let per_group = |f: &dyn Fn(&Ragged) -> usize| -> BTreeMap<&str, usize> {
        FEATURE_TENSORS
            .iter()
            .copied()
            .zip(h.groups.iter().map(f))
            .collect()
    };
    let m = json!({
        "architecture": h.architecture,
        "hidden": d,
        "n_layers": n_layers,
        "lower_layers": lower,
        "upper_layers": w.upper_layers,
        "rows": per_group(&Ragged::rows),
        "tokens_per_group": per_group(&Ragged::tokens),
        "probes": per_dataset,
        "probe_sequences_truncated": probe_truncated,
        "tokens": tokens,
        "batches": stats.iter().map(|s| s.batches).sum::<usize>(),
        "batch_size": w.batch_size,
        "padding_fraction": if slots == 0 { 0.0 } else { 1.0 - tokens as f64 / slots as f64 },
    });
    crate::util::io::json::write_json(&ctx.out.join("metrics.json"), &m)?;
    Ok(())
}
