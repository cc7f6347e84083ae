//! Pure statistics for the evaluation stages (ARCHITECTURE.md, "Where the paper lives" `eval/stats`): each
//! a function on slices that returns a typed error for bad input, checked
//! against scipy, sklearn or statsmodels by the fixtures in
//! `tests/fixtures/stats/`. This file only declares and re-exports.

mod auc;
mod balanced_accuracy;
mod bias_rate;
mod bootstrap;
mod diversity;
mod effect;
mod error;
mod holm;
mod kolmogorov;
mod ks;
mod ks_exact;
mod mcnemar;
mod mutual_info;
mod paired;
mod paired_t;
mod parity;
mod parity_bootstrap;
mod power;
mod relative;
mod semdiv_bootstrap;
mod smirnov;
mod special;
mod standardise;
mod student_t;
mod summary;
mod wasserstein;
mod welch;
mod z_power;

#[cfg(test)]
mod fixture;

pub use crate::util::rng::SplitMix64;
pub use auc::{roc_auc_binary, roc_auc_ovr_macro};
pub use balanced_accuracy::balanced_accuracy;
pub use bias_rate::{BiasRate, bias_rate, stereotype_outcomes};
pub use bootstrap::{
    BOOTSTRAP_DEFAULT_RESAMPLES, BootstrapConfig, BootstrapResult, paired_bootstrap,
    paired_bootstrap_mean_diff,
};
pub use diversity::semantic_diversity;
pub use effect::{
    ALPHA, Finding, SeedEffect, TARGET_POWER, finding, seed_effect, smaller_than_paper,
};
pub use error::StatsError;
pub use holm::holm;
pub use ks::{KS_MAX_EXACT_N, KsMethod, KsResult, ks_2samp};
pub use mcnemar::{McNemarMethod, McNemarResult, mcnemar, mcnemar_counts, mcnemar_skip_ties};
pub use mutual_info::{
    MI_DEFAULT_BINS, PermutedMi, binned_mutual_info, binned_mutual_info_permuted, equal_width_bins,
    mutual_info_score,
};
pub use paired::{PairedDiff, SeedVerdict, VERDICT_SE, Verdict, paired_difference, verdict};
pub use paired_t::{PairedT, paired_t_test};
pub use parity::{ParityGap, parity_gap, relative_drop};
pub use parity_bootstrap::{
    BootChange, BootEstimate, GapChange, GroupRewards, PolicyGap, REL_DROP_BASELINE_NEAR_ZERO,
    REL_DROP_RESAMPLE_ZERO, StratifiedConfig, parity_joint_bootstrap,
};
pub use power::{MAX_SEEDS, paired_t_detectable, paired_t_power, paired_t_seeds_needed};
pub use relative::{RelativeChange, relative_change};
pub use semdiv_bootstrap::{SemDivConfig, SemDivDiff, semdiv_paired_bootstrap};
pub use standardise::{PooledScale, pooled_scale};
pub use student_t::{t_cdf, t_quantile, t_sf_two_sided};
pub use summary::{MeanSd, mean_sd};
pub use wasserstein::{
    W1_DEFAULT_PERMUTATIONS, W1Test, wasserstein1, wasserstein1_permutation_test,
    wasserstein1_standardised,
};
pub use welch::{WelchT, welch_t_test};
pub use z_power::{z_detectable, z_multiplier, z_sample_scale, z_test_power};
