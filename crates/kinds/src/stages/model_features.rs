//! `model.features`: the frozen backbone's pooled features of every
//! transcript and probe sentence, computed once so that every reward model of
//! a sweep can train a head on them (see [`crate::model::encoder`] for the
//! pooling: BERT mean over real tokens, Llama last real token after the final
//! norm).
//!
//! # Probe template
//! Each probe sentence is scored as a response of the one transcript template
//! ([`crate::data::template::render`]) and tokenized exactly as `data.tokenize`
//! tokenizes transcripts ([`crate::data::tokenize::encode`], special tokens
//! included, prompt cut from the left, at most `max_len` tokens):
//! - CrowS-Pairs and StereoSet intrasentence: an empty prompt and the
//!   sentence as the response: `Human: \n\nAssistant: <sentence>`;
//! - StereoSet intersentence: the context as the prompt and the candidate
//!   sentence as the response: `Human: <context>\n\nAssistant: <sentence>`.
//!
//! The "more" sentence is CrowS-Pairs `sent_more` / StereoSet `stereotype`,
//! the "less" one `sent_less` / `anti-stereotype`.
//!
//! # Outputs
//! - `features.safetensors`: f32 tensors `train.chosen`, `train.rejected`,
//!   `eval.chosen`, `eval.rejected` (`[rows, hidden]`, rows in the token
//!   table's order) and `probes.more`, `probes.less` (`[items, hidden]`,
//!   `[0, hidden]` without probes);
//! - `probes.parquet`: one row per probe item, aligned with the `probes.*`
//!   rows: `item_id, dataset` (`crows_pairs` | `stereoset`), `bias_type`,
//!   `direction` (`stereo` | `antistereo`; StereoSet items are `stereo`);
//!   no rows without probes;
//! - `metrics.json`: rows per tensor, hidden size, tokens, batches, padding
//!   fraction, probe truncation. Timings and throughput go to the log only,
//!   so a rerun writes identical bytes (ARCHITECTURE.md, "The store").
//!
//! Sequences are sorted by length and batched (`batch_size`), all groups
//! together, on the plain (non-autodiff) backend; results go back to their
//! rows. The batches are fixed, so the output is too; another batching gives
//! the same values but may move the last bits (see `model.hidden_states`).

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::backend::Backend as BurnBackend;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::sequences::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_LEN, SLOTS, Sequences, load_and_gather};
use crate::data::probe_items::write_probe_rows;
use crate::kind::{KindInfo, StageContext};
use crate::model::embed::embed_all;
use crate::train::features::{FEATURE_TENSORS, write_features};

/// The `model.features` kind.
pub struct ModelFeatures;

/// `with:` of `model.features`; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
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
            batch_size: DEFAULT_BATCH_SIZE,
            max_len: DEFAULT_MAX_LEN,
        }
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "model.features",
    code_version: 1,
    summary: "frozen backbone → pooled features of every transcript and probe sentence (computed once, shared by a sweep)",
    slots: SLOTS,
    outputs: &["features.safetensors", "probes.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

impl crate::kind::TypedKind for ModelFeatures {
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
    let counts: Vec<usize> = groups.iter().map(Vec::len).collect();
    let all: Vec<Vec<u32>> = groups.into_iter().flatten().collect();
    let total = all.len();
    ctx.log(format!(
        "{} backbone, hidden {}, {total} sequences ({counts:?}), batch {}",
        enc.arch.name(),
        enc.hidden,
        w.batch_size
    ));
    let t0 = Instant::now();
    let (feats, stats) = embed_all(&enc, &all, w.batch_size, ctx)?;
    let secs = t0.elapsed().as_secs_f64();
    // Timings go to the log (and the engine's record), not to metrics.json:
    // outputs must be byte-identical on a rerun (ARCHITECTURE.md, "The store").
    ctx.log(format!(
        "embedded {total} sequences in {secs:.2} s ({:.1} sequences/s, {:.1} tokens/s); \
         stage total {:.2} s",
        total as f64 / secs.max(1e-9),
        stats.tokens as f64 / secs.max(1e-9),
        start.elapsed().as_secs_f64()
    ));
    let d = enc.hidden;
    write_features(&ctx.out.join("features.safetensors"), &feats, d, &counts)?;
    write_probe_rows(&ctx.out.join("probes.parquet"), &rows)?;
    let rows_by_tensor: BTreeMap<&str, usize> =
        FEATURE_TENSORS.iter().copied().zip(counts).collect();
    let m = json!({
        "architecture": enc.arch.name(),
        "hidden": d,
        "rows": rows_by_tensor,
        "probes": per_dataset,
        "probe_sequences_truncated": probe_truncated,
        "sequences": total,
        "tokens": stats.tokens,
        "batches": stats.batches,
        "batch_size": w.batch_size,
        "padding_fraction": if stats.slots == 0 { 0.0 } else { 1.0 - stats.tokens as f64 / stats.slots as f64 },
    });
    crate::util::io::json::write_json(&ctx.out.join("metrics.json"), &m)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::probe::{StereoItem, write_stereo};
    use crate::data::probe_items::read_probe_rows;
    use crate::data::token_table::read_ids;
    use crate::data::token_table::{TokenRow, write_tokens};
    use crate::data::tokenize::Encoded;
    use crate::kind::Kind;
    use crate::model::batch::Batch;
    use crate::model::encoder::load_encoder;
    use crate::model::encoder::{Arch, LoadedEncoder};
    use crate::stages::harness::{metrics, run_kind};
    use crate::util::testing::max_diff;
    use burn::backend::Flex;
    use repro_ml::testing::tiny_loaded;
    use std::path::PathBuf;

    fn enc(ids: Vec<u32>) -> Encoded {
        Encoded {
            response_start: 1,
            full_len: ids.len(),
            ids,
            truncated: false,
            response_truncated: false,
        }
    }

    /// `n` pairs of varied lengths (ids inside the tiny vocabulary).
    fn token_rows(n: usize, salt: u32) -> Vec<TokenRow> {
        (0..n as u32)
            .map(|i| {
                let body = |k: u32| -> Vec<u32> {
                    let len = 1 + (i * 7 + k + salt) % 9;
                    let mut v = vec![1];
                    v.extend((0..len).map(|j| 3 + (i + j + k) % 10));
                    v.push(2);
                    v
                };
                TokenRow {
                    id: format!("p{i}"),
                    category: "c".into(),
                    source: "s".into(),
                    chosen: enc(body(0)),
                    rejected: enc(body(3)),
                }
            })
            .collect()
    }

    fn stereo(set: &str, subset: &str, context: &str, more: &str, less: &str) -> StereoItem {
        StereoItem {
            id: format!("{set}-{subset}-{more}"),
            set: set.into(),
            subset: subset.into(),
            bias_type: "gender".into(),
            context: context.into(),
            stereotype: more.into(),
            anti_stereotype: less.into(),
            direction: if set == "crows-pairs" {
                "antistereo".into()
            } else {
                String::new()
            },
            ..Default::default()
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        backbone: PathBuf,
        data: PathBuf,
        crows: PathBuf,
        stereoset: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let backbone = root.join("bb");
        let tokdir = root.join("tok");
        std::fs::create_dir_all(&tokdir).unwrap();
        tiny_loaded(Arch::Bert, 11, &tokdir)
            .save_encoder(&backbone.join("model"))
            .unwrap();
        let data = root.join("data");
        std::fs::create_dir_all(&data).unwrap();
        write_tokens(&data.join("train.parquet"), &token_rows(11, 0)).unwrap();
        write_tokens(&data.join("eval.parquet"), &token_rows(5, 4)).unwrap();
        let crows = root.join("cp");
        std::fs::create_dir_all(&crows).unwrap();
        write_stereo(
            &crows.join("probes.parquet"),
            &[
                stereo("crows-pairs", "crows-pairs", "", "a b", "a c"),
                stereo("crows-pairs", "crows-pairs", "", "d e yes", "d e no"),
            ],
        )
        .unwrap();
        let stereoset = root.join("ss");
        std::fs::create_dir_all(&stereoset).unwrap();
        write_stereo(
            &stereoset.join("probes.parquet"),
            &[
                stereo("stereoset", "intrasentence", "a BLANK", "a b", "a c"),
                stereo("stereoset", "intersentence", "b c d", "yes", "no"),
            ],
        )
        .unwrap();
        Fixture {
            _dir: dir,
            root,
            backbone,
            data,
            crows,
            stereoset,
        }
    }

    fn pooled_alone(l: &LoadedEncoder<Flex>, ids: &[u32]) -> Vec<f32> {
        l.encoder
            .pooled(&Batch::pad(&[ids.to_vec()], 0, false))
            .into_data()
            .to_vec()
            .unwrap()
    }

    #[test]
    fn features_follow_row_order_and_probes_follow_the_template() {
        let f = fixture();
        let inputs = [
            ("backbone", f.backbone.clone()),
            ("data", f.data.clone()),
            ("crows_pairs", f.crows.clone()),
            ("stereoset", f.stereoset.clone()),
        ];
        let with = json!({"batch_size": 3});
        let out = run_kind(&ModelFeatures, &f.root, "feat", with.clone(), &inputs, None).unwrap();
        let feats =
            crate::train::features::read_features(&out.join("features.safetensors")).unwrap();
        let l = load_encoder::<Flex>(&f.backbone.join("model"), &Default::default()).unwrap();
        let d = l.hidden;
        for (split, n) in [("train", 11), ("eval", 5)] {
            for side in ["chosen", "rejected"] {
                let t = feats.tensor(&format!("{split}.{side}")).unwrap();
                assert_eq!(t.shape(), vec![n, d]);
                let ids = read_ids(
                    &f.data.join(format!("{split}.parquet")),
                    &format!("{side}_ids"),
                )
                .unwrap();
                for (i, s) in ids.iter().enumerate() {
                    let want = pooled_alone(&l, s);
                    let got = &t.data[i * d..(i + 1) * d];
                    assert!(max_diff(got, &want) < 1e-5, "{split}.{side} row {i}");
                }
            }
        }
        // Probes: CrowS-Pairs first, then StereoSet, in file order.
        let rows = read_probe_rows(&out.join("probes.parquet")).unwrap();
        let ds: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.dataset.as_str(), r.direction.as_str()))
            .collect();
        assert_eq!(
            ds,
            [
                ("crows_pairs", "antistereo"),
                ("crows_pairs", "antistereo"),
                ("stereoset", "stereo"),
                ("stereoset", "stereo")
            ]
        );
        assert_eq!(rows[3].item_id, "stereoset-intersentence-yes");
        // The template, token by token ([CLS]=1 human=3 :=4 assistant=5 [SEP]=2).
        let expected: [(&[u32], &[u32]); 4] = [
            (&[1, 3, 4, 5, 4, 6, 7, 2], &[1, 3, 4, 5, 4, 6, 8, 2]),
            (
                &[1, 3, 4, 5, 4, 9, 10, 11, 2],
                &[1, 3, 4, 5, 4, 9, 10, 12, 2],
            ),
            (&[1, 3, 4, 5, 4, 6, 7, 2], &[1, 3, 4, 5, 4, 6, 8, 2]),
            (
                &[1, 3, 4, 7, 8, 9, 5, 4, 11, 2],
                &[1, 3, 4, 7, 8, 9, 5, 4, 12, 2],
            ),
        ];
        let (more, less) = (&feats.probes_more, &feats.probes_less);
        assert_eq!((more.shape(), less.shape()), (vec![4, d], vec![4, d]));
        for (k, (m, s)) in expected.iter().enumerate() {
            let got = &more.data[k * d..(k + 1) * d];
            assert!(max_diff(got, &pooled_alone(&l, m)) < 1e-5, "more {k}");
            let got = &less.data[k * d..(k + 1) * d];
            assert!(max_diff(got, &pooled_alone(&l, s)) < 1e-5, "less {k}");
        }
        let m = metrics(&out).unwrap();
        assert_eq!(m["sequences"], 2 * 11 + 2 * 5 + 2 * 4);
        assert_eq!(m["rows"]["train.chosen"], 11);
        assert_eq!(m["hidden"], d);
        // A rerun writes the same bytes.
        let again = run_kind(&ModelFeatures, &f.root, "feat2", with, &inputs, None).unwrap();
        for file in ["features.safetensors", "probes.parquet", "metrics.json"] {
            assert_eq!(
                std::fs::read(out.join(file)).unwrap(),
                std::fs::read(again.join(file)).unwrap(),
                "{file}"
            );
        }
    }

    #[test]
    fn without_probes_the_probe_outputs_are_empty_and_bad_ids_are_refused() {
        let f = fixture();
        let inputs = [("backbone", f.backbone.clone()), ("data", f.data.clone())];
        let out = run_kind(&ModelFeatures, &f.root, "f", json!({}), &inputs, None).unwrap();
        let feats =
            crate::train::features::read_features(&out.join("features.safetensors")).unwrap();
        assert_eq!(feats.probes_more.shape(), vec![0, 16]);
        assert_eq!(feats.probes_less.shape(), vec![0, 16]);
        assert!(
            read_probe_rows(&out.join("probes.parquet"))
                .unwrap()
                .is_empty()
        );
        // Ids from a bigger vocabulary: an error, not a panic.
        let mut rows = token_rows(3, 0);
        rows[2].rejected.ids[1] = 500;
        write_tokens(&f.data.join("eval.parquet"), &rows).unwrap();
        let e = run_kind(&ModelFeatures, &f.root, "g", json!({}), &inputs, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("eval.parquet rejected_ids row 3: token id 500"),
            "{e}"
        );
        assert!(
            ModelFeatures
                .check(&json!({"batch_size": 0}))
                .unwrap_err()
                .path
                == "batch_size"
        );
    }
}
