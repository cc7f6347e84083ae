//! The `with` map of `train.reward_model`: hyper-parameters with the paper's
//! defaults (App. A.5–A.6) and the checks that run before anything trains.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::util::keyed::WithError;
use crate::util::schema::check_bounds;

/// Which parameters the RM step updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Trainable {
    /// Backbone and head.
    #[default]
    All,
    /// The head only, on frozen backbone features.
    Head,
    /// LoRA adapters (r 16, α 32 on q, k, v, o) and the head; Llama backbones.
    Lora,
    /// The last k backbone layers and the head; the rest frozen.
    LastLayers(usize),
}

/// What the in-training adversary sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdversaryInput {
    /// Per-category moments of the batch's chosen and rejected rewards
    /// (mean, variance, skewness, excess kurtosis; App. A.6).
    #[default]
    Moments,
    /// Each pair's two rewards `(r_A, r_B)` (§3).
    Scores,
}

/// How λ_adv reaches its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LambdaWarmup {
    /// λ from the first step (the paper's setting).
    #[default]
    None,
    /// λ·s/S at step s of the first epoch's S steps, λ after it.
    Linear,
}

/// Hyper-parameters of one reward-model run (`train.reward_model`'s `with:`);
/// its `Default` holds the paper's values (App. A.5) and is the kind's
/// defaults. The bounds are declared on the fields and checked by
/// [`TrainConfig::check`]; `repro kinds` prints them from the same schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Weight of the adversarial term; 0 = plain Bradley–Terry (the paper's main setting is
    /// 0.2).
    #[schemars(range(min = 0))]
    pub lambda_adv: f64,
    /// Passes over the training split (App. A.5: one).
    #[schemars(range(min = 1))]
    pub epochs: usize,
    /// AdamW learning rate of the RM.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub lr: f64,
    /// Pairs per batch = K categories × m, m ≥ 4 (19 categories: ≥ 76).
    #[schemars(range(min = 2 * MIN_PER_CATEGORY))]
    pub batch_size: usize,
    /// What the RM step updates; `head` needs a `features` input.
    pub trainable: Trainable,
    /// Hidden width of the reward head; 0 = linear (HF `score`).
    pub head_hidden: usize,
    /// AdamW weight decay of the RM.
    #[schemars(range(min = 0))]
    pub weight_decay: f64,
    /// Global gradient-norm clip of the RM; 0 = none.
    #[schemars(range(min = 0))]
    pub max_grad_norm: f64,
    /// Per-category moments of the batch's rewards (App. A.6) or each pair's (r_A, r_B) (§3).
    pub adversary_input: AdversaryInput,
    /// Hidden width of the adversary MLP.
    #[schemars(range(min = 1))]
    pub adversary_hidden: usize,
    /// Adam learning rate of the adversary.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub adversary_lr: f64,
    /// Cap the adversary CE at ln K in the RM loss (the −λ·CE term is otherwise unbounded).
    pub ce_cap: bool,
    /// Adversary updates per RM step (the paper: 1).
    #[schemars(range(min = 1))]
    pub adversary_steps: usize,
    /// none: λ from the first step (the paper); linear: λ·s/S over the first epoch's S steps.
    pub lambda_warmup: LambdaWarmup,
    /// Share of each category's training pairs held out (never trained on); > 0 adds a
    /// `validation` and an `eval_reading` block (BT, mean gap, KS, MI and its null, audit
    /// AUC) to metrics.json, for choosing settings off the eval split.
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 0.9))]
    pub validation_fraction: f64,
    /// ε added to the variance in skewness and kurtosis.
    #[schemars(range(min = 0))]
    pub moment_eps: f64,
    /// Steps averaged per row of curves.csv.
    #[schemars(range(min = 1))]
    pub log_every: usize,
    /// Longest probe sentence in tokens (backbone path; `model.features` has its own).
    #[schemars(range(min = 1))]
    pub probe_max_len: usize,
    /// Base seed of initialisation, batch order and adversary, replacing params.seed in
    /// `H(seed, stage base name, purpose)` (ARCHITECTURE.md, "Determinism"); a `seed` matrix
    /// axis sets it per expansion, so every λ of one seed shares initialisation and batch
    /// order.
    pub seed: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lambda_adv: 0.0,
            epochs: 1,
            lr: 1e-5,
            batch_size: 16,
            trainable: Trainable::All,
            head_hidden: 0,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            adversary_input: AdversaryInput::Moments,
            adversary_hidden: 32,
            adversary_lr: 1e-3,
            ce_cap: true,
            adversary_steps: 1,
            lambda_warmup: LambdaWarmup::None,
            validation_fraction: 0.0,
            moment_eps: 1e-6,
            log_every: 10,
            probe_max_len: 128,
            seed: None,
        }
    }
}

/// Fewest pairs per category in a batch: below 4 the kurtosis of a
/// category's rewards is not informative.
pub const MIN_PER_CATEGORY: usize = 4;

impl TrainConfig {
    /// Checks that need no data: the bounds the fields declare, then
    /// [`TrainConfig::check_relations`].
    ///
    /// # Errors
    /// The first out-of-range key.
    pub fn check(&self) -> Result<(), WithError> {
        check_bounds(self)?;
        self.check_relations()
    }

    /// What the fields' bounds cannot say (`trainable: {last_layers: 0}`);
    /// `train.reward_model` runs it after the engine has checked the bounds.
    ///
    /// # Errors
    /// The offending key.
    pub fn check_relations(&self) -> Result<(), WithError> {
        if self.trainable == Trainable::LastLayers(0) {
            return Err(WithError::new(
                "trainable.last_layers",
                "must be ≥ 1 (use `head` to freeze the whole backbone)",
            ));
        }
        Ok(())
    }

    /// Pairs per category `m` for `k` categories.
    ///
    /// # Errors
    /// No category; one category with `lambda_adv > 0`; `batch_size` not a
    /// multiple of K, or m < 4 (e.g. 19 PKU-SafeRLHF
    /// categories need `batch_size` ≥ 76).
    pub fn per_category(&self, k: usize) -> Result<usize, WithError> {
        if k == 0 {
            return Err(WithError::new("", "the training split has no category"));
        }
        if k == 1 && self.lambda_adv > 0.0 {
            // Nothing to be fair across: one category is plain BT (λ = 0),
            // e.g. a harmless-only safety RM (App. B.1).
            return Err(WithError::new(
                "lambda_adv",
                format!(
                    "the training split has one category, so there is nothing to be fair across; \
                     use lambda_adv: 0 (found {})",
                    self.lambda_adv
                ),
            ));
        }
        let m = self.batch_size / k;
        if !self.batch_size.is_multiple_of(k) || m < MIN_PER_CATEGORY {
            return Err(WithError::new(
                "batch_size",
                format!(
                    "batches are stratified, K = {k} categories × m pairs with m ≥ {MIN_PER_CATEGORY}: \
                     {} is not; use a multiple of {k} that is ≥ {}",
                    self.batch_size,
                    k * MIN_PER_CATEGORY
                ),
            ));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::keyed::parse_with;
    use serde_json::json;

    #[test]
    fn trainable_reads_names_and_last_layers() {
        let t = |v| parse_with::<TrainConfig>(&json!({ "trainable": v })).map(|c| c.trainable);
        assert_eq!(t(json!("head")).unwrap(), Trainable::Head);
        assert_eq!(t(json!("all")).unwrap(), Trainable::All);
        assert_eq!(
            t(json!({"last_layers": 2})).unwrap(),
            Trainable::LastLayers(2)
        );
        assert!(t(json!("everything")).is_err());
        let e = parse_with::<TrainConfig>(&json!({"lr": 1e-4, "lambda": 0.2})).unwrap_err();
        assert!(e.message.contains("unknown field `lambda`"), "{e}");
    }

    #[test]
    fn stratification_needs_m_of_at_least_four() {
        let c = TrainConfig::default();
        assert_eq!(c.per_category(2).unwrap(), 8);
        let e = c.per_category(19).unwrap_err();
        assert_eq!(e.path, "batch_size");
        assert!(e.message.contains("≥ 76"), "{e}");
        let c76 = TrainConfig {
            batch_size: 76,
            ..TrainConfig::default()
        };
        assert_eq!(c76.per_category(19).unwrap(), 4);
        assert_eq!(
            c.per_category(1).unwrap(),
            16,
            "one category at λ = 0: plain BT"
        );
        let fair = TrainConfig {
            lambda_adv: 0.2,
            ..TrainConfig::default()
        };
        assert_eq!(fair.per_category(1).unwrap_err().path, "lambda_adv");
        assert!(c.per_category(0).is_err());
        assert!(c.per_category(3).is_err(), "16 is not a multiple of 3");
    }

    #[test]
    fn checks_name_the_key() {
        let bad = |c: TrainConfig| c.check().unwrap_err().path;
        let d = TrainConfig::default;
        assert_eq!(
            bad(TrainConfig {
                lambda_adv: -0.1,
                ..d()
            }),
            "lambda_adv"
        );
        assert_eq!(
            bad(TrainConfig {
                lr: f64::NAN,
                ..d()
            }),
            "lr"
        );
        assert_eq!(bad(TrainConfig { epochs: 0, ..d() }), "epochs");
        assert_eq!(
            bad(TrainConfig {
                batch_size: 6,
                ..d()
            }),
            "batch_size"
        );
        assert_eq!(
            bad(TrainConfig {
                trainable: Trainable::LastLayers(0),
                ..d()
            }),
            "trainable.last_layers"
        );
        assert!(d().check().is_ok());
    }
}
