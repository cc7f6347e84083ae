//! The table of built-in kinds, looked up by name.

use crate::kind::Kind;

/// Every built-in kind, in the order `repro kinds` lists them.
///
/// To add a kind: write `src/stages/<name>.rs` implementing [`Kind`] and add
/// it here.
pub fn builtin() -> Vec<&'static dyn Kind> {
    vec![
        &super::data_preferences::DataPreferences,
        &super::data_prepare::DataPrepare,
        &super::data_tokenize::DataTokenize,
        &super::data_probes::DataProbes,
        &super::model_pretrained::ModelPretrained,
        &super::model_features::ModelFeatures,
        &super::eval_reward_distribution::EvalRewardDistribution,
        &super::eval_stereotype::EvalStereotype,
        &super::train_reward_model::TrainRewardModel,
        &super::eval_category_audit::EvalCategoryAudit,
        // Post-PPO evaluations (issue 13, §4.1 and App. B).
        &super::eval_generate::EvalGenerate,
        &super::eval_parity::EvalParity,
        &super::eval_diversity::EvalDiversity,
        &super::report_paper::ReportPaper,
    ]
}

/// The built-in kind called `name`, if any.
pub fn find(name: &str) -> Option<&'static dyn Kind> {
    builtin().into_iter().find(|k| k.name() == name)
}
