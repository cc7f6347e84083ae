//! Pure statistics for the evaluation stages (ARCHITECTURE.md, "Where the paper lives" `eval/stats`): each
//! a function on slices that returns a typed error for bad input, checked
//! against scipy, sklearn or statsmodels by the fixtures in
//! `tests/fixtures/stats/`. This file only declares and re-exports.

mod auc;
mod balanced_accuracy;
mod bias_rate;
mod bootstrap;
mod diversity;
mod error;
mod kolmogorov;
mod ks;
mod ks_exact;
mod mcnemar;
mod mutual_info;
mod paired;
mod parity;
mod parity_bootstrap;
mod semdiv_bootstrap;
mod smirnov;
mod special;
mod summary;
mod wasserstein;

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
pub use error::StatsError;
pub use ks::{KS_MAX_EXACT_N, KsMethod, KsResult, ks_2samp};
pub use mcnemar::{McNemarMethod, McNemarResult, mcnemar, mcnemar_counts, mcnemar_skip_ties};
pub use mutual_info::{
    MI_DEFAULT_BINS, PermutedMi, binned_mutual_info, binned_mutual_info_permuted, equal_width_bins,
    mutual_info_score,
};
pub use paired::{PairedDiff, SeedVerdict, VERDICT_SE, Verdict, paired_difference, verdict};
pub use parity::{ParityGap, parity_gap, relative_drop};
pub use parity_bootstrap::{GroupRewards, ParityBootstrap, StratifiedConfig, parity_bootstrap};
pub use semdiv_bootstrap::{SemDivConfig, SemDivDiff, semdiv_paired_bootstrap};
pub use summary::{MeanSd, mean_sd};
pub use wasserstein::{
    W1_DEFAULT_PERMUTATIONS, W1Test, wasserstein1, wasserstein1_permutation_test,
    wasserstein1_standardised,
};
