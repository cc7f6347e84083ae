//! Reading a fan-in of `eval.generate` stages: each expansion's generations
//! and the token cap it generated with. Shared by `eval.parity` and
//! `eval.diversity`.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;

use crate::eval::generations::{GENERATIONS_FILE, GenerationRow, read_generations};
use crate::kind::StageContext;

/// Every expansion of a fan-in slot with its generations.
///
/// # Errors
/// A missing or malformed generations table.
pub fn read_policies(
    ctx: &StageContext,
    slot: &str,
) -> anyhow::Result<BTreeMap<String, Vec<GenerationRow>>> {
    let mut out = BTreeMap::new();
    for (name, dir) in ctx.fan_in(slot)? {
        let rows = read_generations(&dir.join(GENERATIONS_FILE))
            .with_context(|| format!("input `{slot}`: `{name}`"))?;
        out.insert(name, rows);
    }
    Ok(out)
}

/// The `max_new_tokens` each expansion of a fan-in of `eval.generate`
/// stages generated with (`settings.max_new_tokens` of its
/// `metrics.json`); `None` where that file or key is absent.
///
/// # Errors
/// A `metrics.json` that exists but is not JSON.
pub fn read_caps(
    ctx: &StageContext,
    slot: &str,
) -> anyhow::Result<BTreeMap<String, Option<usize>>> {
    let mut out = BTreeMap::new();
    for (name, dir) in ctx.fan_in(slot)? {
        let path = dir.join("metrics.json");
        let cap = if path.is_file() {
            let v: Value = crate::util::io::json::read_json(&path)
                .with_context(|| format!("input `{slot}`: `{name}`"))?;
            v["settings"]["max_new_tokens"].as_u64().map(|c| c as usize)
        } else {
            None
        };
        out.insert(name, cap);
    }
    Ok(out)
}
