//! Cross-stage checks before anything runs: each built-in kind is shown
//! the kinds and resolved `with` of the stages wired into its input slots
//! ([`crate::kind::Kind::check_inputs`]), so a wiring mistake (a prompt set
//! without categories fed to `train.ppo`) is a spec error (exit 2) naming
//! `stages.<name>.inputs.<slot>`, not a failure an hour into a run.

use std::collections::BTreeMap;

use super::SpecError;
use super::node::Node;
use super::pipeline::{Stage, StageKind};
use crate::kind::Upstream;

/// Runs `stage`'s kind check over its inputs; `done` holds the stages
/// expanded so far (every upstream stage, by topological order).
pub fn check_inputs(stage: &Stage, done: &[Stage], node: &Node) -> Result<(), SpecError> {
    let StageKind::Builtin(k) = &stage.kind else {
        return Ok(());
    };
    let mut inputs: BTreeMap<String, Vec<Upstream<'_>>> = BTreeMap::new();
    for (slot, r) in &stage.inputs {
        let ups = r
            .stages()
            .into_iter()
            .filter_map(|n| done.iter().find(|s| s.name == n))
            .map(|s| Upstream {
                name: &s.name,
                kind: s.kind.name(),
                with: &s.with,
            })
            .collect();
        inputs.insert(slot.clone(), ups);
    }
    k.check_inputs(&stage.with, &inputs).map_err(|e| {
        let mark = node
            .at_path(&["inputs", &e.path])
            .map(|n| n.mark.clone())
            .unwrap_or_else(|| node.pos().clone());
        SpecError::at(
            &mark,
            format!("stages.{}.inputs.{}", stage.base, e.path),
            e.message,
        )
    })
}
