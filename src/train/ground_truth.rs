//! Ground truth for the fair trainer on planted features (issue 5): every
//! response's features are `[q + μ_c, q + ε, noise…]` where q is its quality
//! (chosen responses are better on average), μ_c a per-category offset
//! shared by both sides of a pair (invisible to the BT loss, like the
//! `synthetic` source's marker words) and ε extra noise. Plain BT leans on
//! the precise but category-shifted first feature, so its rewards separate
//! the categories; the fair RM can move weight to the clean, noisier second
//! feature, at some cost in BT accuracy.

use std::path::Path;

use crate::data::token_table::{TokenRow, write_tokens};
use crate::data::tokenize::Encoded;
use crate::util::rng::SplitMix64;

/// Feature width.
pub const D: usize = 8;

/// Writes `train.parquet`/`eval.parquet` token tables (dummy ids) into
/// `data` and a matching `features.safetensors` into `features`, with
/// `per_cat` training and `per_cat / 2` eval pairs per category.
pub fn write_planted(data: &Path, features: &Path, per_cat: usize, offsets: &[f64], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let mut tensors = Vec::new();
    for (split, n) in [("train", per_cat), ("eval", per_cat / 2)] {
        let mut rows = Vec::new();
        let (mut chosen, mut rejected) = (Vec::new(), Vec::new());
        for (c, mu) in offsets.iter().enumerate() {
            for i in 0..n {
                let enc = |ids: Vec<u32>| Encoded {
                    response_start: 1,
                    full_len: ids.len(),
                    ids,
                    truncated: false,
                    response_truncated: false,
                };
                rows.push(TokenRow {
                    id: format!("{split}-{c}-{i}"),
                    category: format!("cat{c}"),
                    source: "planted".into(),
                    chosen: enc(vec![1, 2, 3]),
                    rejected: enc(vec![1, 4]),
                });
                for (side, mean) in [(&mut chosen, 0.75), (&mut rejected, -0.75)] {
                    let q = mean + rng.normal();
                    side.push((q + mu) as f32);
                    side.push((q + rng.normal()) as f32);
                    side.extend((2..D).map(|_| rng.normal() as f32));
                }
            }
        }
        write_tokens(&data.join(format!("{split}.parquet")), &rows).unwrap();
        let n = rows.len();
        tensors.push((format!("{split}.chosen"), n, chosen));
        tensors.push((format!("{split}.rejected"), n, rejected));
    }
    tensors.push(("probes.more".into(), 0, vec![]));
    tensors.push(("probes.less".into(), 0, vec![]));
    let named: Vec<(&str, usize, usize, Vec<f32>)> = tensors
        .iter()
        .map(|(n, r, v)| (n.as_str(), *r, D, v.clone()))
        .collect();
    super::features::tests::write(&features.join(super::features::FEATURES_FILE), &named);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::scores::{Side, read_scores};
    use crate::eval::stats::{ks_2samp, roc_auc_binary};
    use crate::report::test_ctx::TestStage;
    use crate::stages::kind::Kind;
    use crate::stages::train_reward_model::TrainRewardModel;
    use serde_json::{Value, json};

    struct Outcome {
        ks: f64,
        auc: f64,
        accuracy: f64,
        metrics: Value,
        scores: Vec<f64>,
    }

    fn train(lambda: f64, extra: Value) -> Outcome {
        let mut with = json!({
            "lambda_adv": lambda, "trainable": "head", "epochs": 4, "lr": 0.02,
            "batch_size": 32, "adversary_lr": 0.01, "log_every": 5,
        });
        for (k, v) in extra.as_object().unwrap() {
            with[k] = v.clone();
        }
        let t = TestStage::new("rm", with);
        let data = t.upstream("data");
        let feats = t.upstream("features");
        write_planted(&data, &feats, 400, &[0.0, 2.0], 7);
        let bb = t.upstream("backbone").join("model");
        std::fs::create_dir_all(&bb).unwrap();
        std::fs::write(bb.join("config.json"), "{}").unwrap();
        let ctx = t.ctx();
        TrainRewardModel.run(&ctx).unwrap();
        let rows = read_scores(&ctx.out.join("scores.parquet")).unwrap();
        let by = |c: &str| -> Vec<f64> {
            rows.iter()
                .filter(|r| r.category == c)
                .map(|r| r.reward)
                .collect()
        };
        let ks = ks_2samp(&by("cat0"), &by("cat1")).unwrap().statistic;
        let pos: Vec<bool> = rows.iter().map(|r| r.category == "cat1").collect();
        let all: Vec<f64> = rows.iter().map(|r| r.reward).collect();
        let auc = roc_auc_binary(&pos, &all).unwrap();
        let metrics: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        for f in [
            "curves.csv",
            "stereotype_scores.parquet",
            "model/head.safetensors",
            "model/rm.json",
            "model/config.json",
        ] {
            assert!(ctx.out.join(f).is_file(), "{f} missing");
        }
        assert!(rows.iter().any(|r| r.side == Side::Rejected));
        Outcome {
            ks,
            auc,
            accuracy: metrics["eval_accuracy"].as_f64().unwrap(),
            metrics,
            scores: all,
        }
    }

    #[test]
    fn baseline_separates_categories_and_the_fair_rm_cuts_it() {
        let base = train(0.0, json!({}));
        let fair = train(1.0, json!({}));
        eprintln!(
            "planted: baseline KS {:.3} AUC {:.3} acc {:.3}; fair(λ=1) KS {:.3} AUC {:.3} acc {:.3}; cap binds {}",
            base.ks,
            base.auc,
            base.accuracy,
            fair.ks,
            fair.auc,
            fair.accuracy,
            fair.metrics["adversary"]["cap_bind_fraction"]
        );
        assert!(
            base.ks > 0.3 && base.auc > 0.7,
            "baseline should separate: KS {} AUC {}",
            base.ks,
            base.auc
        );
        assert!(
            fair.ks < base.ks / 2.0,
            "fair KS {} vs baseline {}",
            fair.ks,
            base.ks
        );
        assert!(
            (fair.auc - 0.5).abs() < (base.auc - 0.5).abs() / 2.0,
            "fair AUC {}",
            fair.auc
        );
        assert!(
            base.accuracy > 0.75,
            "baseline learns preferences: {}",
            base.accuracy
        );
        assert!(
            fair.accuracy > 0.6,
            "fair keeps most of it: {}",
            fair.accuracy
        );
    }

    #[test]
    fn lambda_zero_is_plain_bt_bit_for_bit_whatever_the_adversary() {
        let a = train(0.0, json!({}));
        let b = train(
            0.0,
            json!({"adversary_input": "scores", "adversary_hidden": 7}),
        );
        assert_eq!(a.scores, b.scores, "λ = 0 must not depend on the adversary");
        let again = train(0.0, json!({}));
        assert_eq!(a.scores, again.scores, "reruns are bit-identical");
        let fair = train(0.2, json!({}));
        assert_ne!(a.scores, fair.scores, "λ > 0 changes the RM");
        assert_eq!(a.metrics["batch"]["per_category"], 16);
    }
}
