//! The table of built-in kinds, which the CLI hands the engine as a
//! [`Registry`] (ARCHITECTURE.md, "Layers").

use crate::kind::{Kind, Registry};

/// Every built-in kind, in the order `repro kinds` lists them.
///
/// To add a kind: write `crates/kinds/src/stages/<name>.rs` implementing [`Kind`] and add
/// it here.
const KINDS: &[&dyn Kind] = &[
    &super::data_preferences::DataPreferences,
    &super::data_prepare::DataPrepare,
    &super::data_tokenize::DataTokenize,
    &super::data_probes::DataProbes,
    &super::model_pretrained::ModelPretrained,
    &super::model_features::ModelFeatures,
    &super::model_hidden_states::ModelHiddenStates,
    &super::eval_reward_distribution::EvalRewardDistribution,
    &super::eval_stereotype::EvalStereotype,
    &super::train_reward_model::TrainRewardModel,
    &super::train_ppo::TrainPpo,
    &super::eval_category_audit::EvalCategoryAudit,
    // Post-PPO evaluations (issue 13, §4.1 and App. B).
    &super::eval_generate::EvalGenerate,
    &super::eval_parity::EvalParity,
    &super::eval_diversity::EvalDiversity,
    &super::report_paper::ReportPaper,
    // The adversary study (issue 12, item 4).
    &super::report_adversary_study::ReportAdversaryStudy,
    // The PPO learning-curve study (issue 23).
    &super::report_ppo_study::ReportPpoStudy,
    // The experiments page (issue 26).
    &super::report_experiments::ReportExperiments,
];

/// The built-in kinds, as the engine is handed them.
pub fn builtin() -> Registry {
    Registry::new(KINDS)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::builtin;

    /// A Burn kind's key carries the model code's numerics version, the one
    /// `dag::key` wrote before kinds carried it (keys stay byte-identical).
    #[test]
    fn every_burn_kind_carries_the_model_numerics_version() {
        let burn: Vec<&str> = builtin()
            .kinds()
            .iter()
            .filter(|k| k.uses_backend())
            .map(|k| k.name())
            .collect();
        assert_eq!(
            burn,
            [
                "model.features",
                "model.hidden_states",
                "train.reward_model",
                "train.ppo",
                "eval.generate",
                "eval.parity",
                "eval.diversity",
            ]
        );
        for k in builtin().kinds() {
            if k.uses_backend() {
                assert_eq!(
                    k.numerics(),
                    Some(crate::model::NUMERICS_VERSION),
                    "{}",
                    k.name()
                );
            }
        }
    }

    #[test]
    fn kind_names_are_unique() {
        let names = builtin().names();
        let set: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(set.len(), names.len(), "{names:?}");
        assert!(builtin().find("train.ppo").is_some());
        assert!(builtin().find("cmd").is_none());
    }

    /// A kind writes each `with:` key once, on its typed struct: the table
    /// is derived from it, so every key has a documented type, a doc line and
    /// a default (or is required), and the defaults pass the kind's checks.
    #[test]
    fn every_kind_describes_its_with_once() {
        for k in builtin().kinds() {
            let defaults = k.defaults();
            let keys: BTreeSet<&str> = defaults
                .as_object()
                .unwrap_or_else(|| panic!("{}: defaults are not a map", k.name()))
                .keys()
                .map(String::as_str)
                .collect();
            let fields = k.fields();
            let names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                keys,
                names,
                "{}: schema table and defaults differ",
                k.name()
            );
            for f in &fields {
                assert!(
                    !f.doc.is_empty(),
                    "{}: `{}` has no doc comment",
                    k.name(),
                    f.name
                );
                assert!(
                    !f.ty.is_empty() && !f.ty.contains("any"),
                    "{}: `{}` has no type in words: {:?}",
                    k.name(),
                    f.name,
                    f.ty
                );
                assert_eq!(f.default, defaults[&f.name], "{}: {}", k.name(), f.name);
            }
            let required: Vec<&str> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.as_str())
                .collect();
            for name in &required {
                assert!(
                    defaults[name].is_null(),
                    "{}: required {name} has a default",
                    k.name()
                );
            }
            if required.is_empty() {
                // The defaults are a valid `with` (an empty one reads the same).
                k.check(&serde_json::json!({}))
                    .unwrap_or_else(|e| panic!("{}: defaults rejected: {e}", k.name()));
            } else {
                let e = k.check(&serde_json::json!({})).expect_err(k.name());
                assert!(required.contains(&e.path.as_str()), "{}: {e:?}", k.name());
            }
        }
    }
}
