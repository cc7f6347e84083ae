//! End-to-end tests of `train.reward_model` through its glue: ground truth
//! on planted features (the fair trainer lowers category dependence), and
//! the backbone path on a tiny BERT (fine-tuning learns, probes are scored,
//! the saved model loads). The library parts have their own unit tests in
//! `crate::train`.

mod ground_truth {
    use crate::eval::scores::{Side, read_scores};
    use crate::eval::stats::{ks_2samp, roc_auc_binary};
    use crate::kind::Kind;
    use crate::stages::harness::TestStage;
    use crate::stages::train_reward_model::TrainRewardModel;
    use crate::train::ground_truth::*;
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
    fn one_category_trains_plain_bt_and_refuses_an_adversary() {
        // A harmless-only safety RM (App. B.1): K = 1 at λ = 0 learns the
        // preferences; with λ > 0 there is nothing to be fair across.
        let run = |lambda: f64| {
            let t = TestStage::new(
                "rm",
                json!({"lambda_adv": lambda, "trainable": "head", "epochs": 4, "lr": 0.02, "batch_size": 32}),
            );
            write_planted(&t.upstream("data"), &t.upstream("features"), 400, &[0.5], 7);
            let bb = t.upstream("backbone").join("model");
            std::fs::create_dir_all(&bb).unwrap();
            std::fs::write(bb.join("config.json"), "{}").unwrap();
            let ctx = t.ctx();
            TrainRewardModel.run(&ctx).map(|()| (ctx.out.clone(), t))
        };
        // The TestStage owns the directory: keep it alive while reading.
        let (out, _t) = run(0.0).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(m["categories"], json!(["cat0"]));
        assert!(m["eval_accuracy"].as_f64().unwrap() > 0.75, "{m}");
        assert!(out.join("model/head.safetensors").is_file());
        let Err(e) = run(0.2) else {
            panic!("λ = 0.2 on one category trained")
        };
        let text = format!("{e:#}");
        assert!(
            text.contains("lambda_adv") && text.contains("one category"),
            "{text}"
        );
    }

    #[test]
    fn a_validation_split_is_held_out_and_read_and_the_defaults_are_unchanged() {
        let plain = train(0.0, json!({}));
        assert!(plain.metrics.get("validation").is_none());
        assert!(plain.metrics.get("eval_reading").is_none());
        let v = train(0.0, json!({"validation_fraction": 0.25}));
        let val = &v.metrics["validation"];
        // 400 training pairs per category, a quarter of each held out.
        assert_eq!(val["n"], 200, "{val}");
        // 300 trainable pairs per category, 16 per batch: 18 batches an
        // epoch (12 left out per category), where 400 gave 25.
        assert_eq!(plain.metrics["steps"], 4 * 25);
        assert_eq!(v.metrics["steps"], 4 * 18, "{}", v.metrics);
        assert_eq!(v.metrics["batch"]["left_out_per_epoch"], 2 * 12);
        for block in [val, &v.metrics["eval_reading"]] {
            for key in ["accuracy", "ks", "mi", "mi_null", "audit_auc", "mean_gap"] {
                assert!(block[key].is_number(), "{key}: {block}");
            }
            // The planted offset is there for a plain BT model to pick up.
            assert!(block["ks"].as_f64().unwrap() > 0.3, "{block}");
        }
        assert_ne!(
            plain.scores, v.scores,
            "fewer training pairs, another model"
        );
        // λ warm-up and adversary steps change a fair run.
        let fair = train(0.5, json!({}));
        for extra in [
            json!({"lambda_warmup": "linear"}),
            json!({"adversary_steps": 3}),
        ] {
            assert_ne!(train(0.5, extra.clone()).scores, fair.scores, "{extra}");
        }
    }

    /// `extra` with `seed` set, if given.
    fn with_seed(extra: Value, seed: Option<u64>) -> Value {
        let mut m = extra.as_object().cloned().unwrap_or_default();
        if let Some(s) = seed {
            m.insert("seed".into(), json!(s));
        }
        Value::Object(m)
    }

    #[test]
    fn lambda_zero_is_plain_bt_bit_for_bit_whatever_the_adversary() {
        // Per seed: `with.seed` moves every stream, and λ = 0 stays plain BT
        // under each of them.
        let mut per_seed = Vec::new();
        for seed in [None, Some(1u64), Some(2)] {
            let s = |extra: Value| with_seed(extra, seed);
            let a = train(0.0, s(json!({})));
            let b = train(
                0.0,
                s(json!({"adversary_input": "scores", "adversary_hidden": 7,
                         "adversary_steps": 5, "lambda_warmup": "linear"})),
            );
            assert_eq!(
                a.scores, b.scores,
                "seed {seed:?}: λ = 0 must not depend on the adversary"
            );
            let again = train(0.0, s(json!({})));
            assert_eq!(
                a.scores, again.scores,
                "seed {seed:?}: reruns are bit-identical"
            );
            let fair = train(0.2, s(json!({})));
            assert_ne!(a.scores, fair.scores, "seed {seed:?}: λ > 0 changes the RM");
            assert_eq!(a.metrics["batch"]["per_category"], 16);
            per_seed.push(a.scores);
        }
        assert_ne!(per_seed[0], per_seed[1], "with.seed replaces params.seed");
        assert_ne!(per_seed[1], per_seed[2], "seeds give different runs");
    }
}

mod backbone {
    use crate::data::probe::{StereoItem, write_stereo};
    use crate::data::token_table::{TokenRow, write_tokens};
    use crate::data::tokenize::Encoded;
    use crate::eval::scores::read_scores;
    use crate::eval::stereotype::read_items;
    use crate::kind::Kind;
    use crate::model::encoder::{Arch, load_encoder};
    use crate::stages::harness::TestStage;
    use crate::stages::train_reward_model::TrainRewardModel;
    use crate::util::testing::max_diff;
    use repro_ml::testing::tiny_loaded;
    use serde_json::{Value, json};

    fn enc(ids: Vec<u32>) -> Encoded {
        Encoded {
            response_start: 1,
            full_len: ids.len(),
            ids,
            truncated: false,
            response_truncated: false,
        }
    }

    /// Chosen responses end in token 5, rejected in token 6: learnable.
    fn rows(n: usize, salt: u32) -> Vec<TokenRow> {
        (0..n as u32)
            .map(|i| {
                let body = |last: u32| {
                    let mut v = vec![1];
                    v.extend((0..1 + (i + salt) % 4).map(|j| 7 + (i + j) % 5));
                    v.extend([last, 2]);
                    v
                };
                TokenRow {
                    id: format!("p{salt}-{i}"),
                    category: format!("c{}", i % 2),
                    source: "s".into(),
                    chosen: enc(body(5)),
                    rejected: enc(body(6)),
                }
            })
            .collect()
    }

    /// A tiny BERT backbone, learnable pairs and one CrowS-Pairs item as `t`'s inputs.
    fn fixture(t: &TestStage) {
        let tok = t.upstream("tok");
        tiny_loaded(Arch::Bert, 3, &tok)
            .save_encoder(&t.upstream("backbone").join("model"))
            .unwrap();
        let data = t.upstream("data");
        write_tokens(&data.join("train.parquet"), &rows(32, 0)).unwrap();
        write_tokens(&data.join("eval.parquet"), &rows(12, 1)).unwrap();
        let item = StereoItem {
            id: "cp-1".into(),
            set: "crows-pairs".into(),
            subset: "crows-pairs".into(),
            bias_type: "age".into(),
            stereotype: "a b".into(),
            anti_stereotype: "a c".into(),
            direction: "stereo".into(),
            ..Default::default()
        };
        write_stereo(&t.upstream("crows_pairs").join("probes.parquet"), &[item]).unwrap();
    }

    fn train(with: Value) -> (TestStage, anyhow::Result<()>) {
        let t = TestStage::new("rm", with);
        fixture(&t);
        let r = TrainRewardModel.run(&t.ctx());
        (t, r)
    }

    fn scores(t: &TestStage) -> Vec<f64> {
        read_scores(&t.ctx().out.join("scores.parquet"))
            .unwrap()
            .iter()
            .map(|r| r.reward)
            .collect()
    }

    #[test]
    fn fine_tunes_the_backbone_and_scores_eval_and_probes() {
        let (t, r) = train(json!({"trainable": "all", "epochs": 3, "lr": 0.01, "batch_size": 8}));
        r.unwrap();
        let out = t.ctx().out;
        let m: Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert!(m["eval_accuracy"].as_f64().unwrap() > 0.9, "{m}");
        assert_eq!(
            read_items(&out.join("stereotype_scores.parquet"))
                .unwrap()
                .len(),
            1
        );
        // The saved backbone loads back, with the head beside it.
        load_encoder::<burn::backend::Flex>(&out.join("model"), &Default::default()).unwrap();
        assert!(out.join("model/head.safetensors").is_file());
        assert_eq!(scores(&t).len(), 24);
    }

    #[test]
    fn lambda_zero_ignores_the_adversary_in_partial_fine_tuning() {
        let w = |extra: Value| {
            let mut v =
                json!({"trainable": {"last_layers": 1}, "epochs": 2, "lr": 0.01, "batch_size": 8});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let (a, ra) = train(w(json!({})));
        ra.unwrap();
        let (b, rb) = train(w(json!({"adversary_input": "scores"})));
        rb.unwrap();
        assert_eq!(scores(&a), scores(&b));
        let (c, rc) = train(w(json!({"lambda_adv": 0.5, "ce_cap": false})));
        rc.unwrap();
        assert_ne!(scores(&a), scores(&c));
        let (_, e) = train(json!({"trainable": "lora", "batch_size": 8}));
        assert!(e.unwrap_err().to_string().contains("Llama"));
    }

    /// Runs `model.hidden_states` (`upper_layers`) on `t`'s backbone, data
    /// and probes, and connects it as `t`'s `hidden` input instead of the
    /// probes.
    fn cache_hidden(t: &TestStage, upper_layers: usize) {
        let root = t.upstream("hidden_run");
        let inputs: Vec<(&str, std::path::PathBuf)> = ["backbone", "data", "crows_pairs"]
            .iter()
            .map(|s| (*s, t.upstream(s)))
            .collect();
        let out = crate::stages::harness::run_kind(
            &crate::stages::model_hidden_states::ModelHiddenStates,
            &root,
            "h",
            json!({"upper_layers": upper_layers, "batch_size": 5}),
            &inputs,
            None,
        )
        .unwrap();
        let dir = t.upstream("hidden");
        for f in ["hidden.safetensors", "probes.parquet", "metrics.json"] {
            std::fs::copy(out.join(f), dir.join(f)).unwrap();
        }
    }

    fn with_hidden(with: Value, upper_layers: usize) -> (TestStage, anyhow::Result<()>) {
        let t = TestStage::new("rm", with);
        fixture(&t);
        cache_hidden(&t, upper_layers);
        let mut ctx = t.ctx();
        for slot in ["crows_pairs", "hidden_run", "tok"] {
            ctx.inputs.remove(slot);
        }
        let r = TrainRewardModel.run(&ctx);
        (t, r)
    }

    #[test]
    fn cached_lower_states_train_the_same_model_as_recomputing_them() {
        let with = json!({
            "trainable": {"last_layers": 1}, "epochs": 2, "lr": 0.01, "batch_size": 8,
            "lambda_adv": 0.5, "ce_cap": false,
        });
        let (a, ra) = train(with.clone());
        ra.unwrap();
        let (b, rb) = with_hidden(with.clone(), 1);
        rb.unwrap();
        // Same seeds, same batches, the same layers on the same states: the
        // eval and probe rewards agree up to float reordering.
        let d = max_diff(&scores(&a), &scores(&b));
        assert!(d < 1e-5, "eval rewards differ by {d}");
        let probes = |t: &TestStage| -> Vec<f64> {
            read_items(&t.ctx().out.join("stereotype_scores.parquet"))
                .unwrap()
                .iter()
                .flat_map(|i| [i.more, i.less])
                .collect()
        };
        assert_eq!(probes(&b).len(), 2);
        let d = max_diff(&probes(&a), &probes(&b));
        assert!(d < 1e-5, "probe rewards differ by {d}");
        // The saved model is the whole backbone: it loads, and the trained
        // top layer differs from the pretrained one.
        let out = b.ctx().out.join("model");
        let tuned = load_encoder::<burn::backend::Flex>(&out, &Default::default()).unwrap();
        let orig = load_encoder::<burn::backend::Flex>(
            &b.upstream("backbone").join("model"),
            &Default::default(),
        )
        .unwrap();
        let seqs = vec![vec![1u32, 7, 8, 5, 2]];
        let pooled = |e: &crate::model::encoder::LoadedEncoder<burn::backend::Flex>| -> Vec<f32> {
            e.encoder
                .pooled(&e.batch(&seqs))
                .into_data()
                .to_vec()
                .unwrap()
        };
        assert_ne!(pooled(&tuned), pooled(&orig));
        let m: Value =
            serde_json::from_slice(&std::fs::read(b.ctx().out.join("metrics.json")).unwrap())
                .unwrap();
        assert!(m["eval_accuracy"].as_f64().unwrap() > 0.6, "{m}");
    }

    #[test]
    fn hidden_states_must_match_the_trained_layers() {
        let (_, r) = with_hidden(json!({"trainable": {"last_layers": 1}, "batch_size": 8}), 2);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("set its upper_layers to 1"), "{e}");
        let (_, r) = with_hidden(json!({"trainable": "head", "batch_size": 8}), 1);
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("input `hidden` is for trainable: {last_layers: k}"),
            "{e}"
        );
    }
}
