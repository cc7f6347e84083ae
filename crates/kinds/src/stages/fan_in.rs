//! Reading a fan-in of `eval.generate` stages: each expansion's generations
//! and the token cap it generated with. Shared by `eval.parity` and
//! `eval.diversity`.

use std::collections::BTreeMap;
use std::path::Path;

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
    per_expansion(ctx, slot, |dir| {
        read_generations(&dir.join(GENERATIONS_FILE)).map_err(Into::into)
    })
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
    per_expansion(ctx, slot, |dir| {
        let path = dir.join("metrics.json");
        if !path.is_file() {
            return Ok(None);
        }
        let v: Value = crate::util::io::json::read_json(&path)?;
        Ok(v["settings"]["max_new_tokens"].as_u64().map(|c| c as usize))
    })
}

/// `read` applied to every expansion's directory of a fan-in slot, an error
/// naming the slot and the expansion.
fn per_expansion<T>(
    ctx: &StageContext,
    slot: &str,
    read: impl Fn(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<BTreeMap<String, T>> {
    ctx.fan_in(slot)?
        .into_iter()
        .map(|(name, dir)| {
            let value = read(&dir).with_context(|| format!("input `{slot}`: `{name}`"))?;
            Ok((name, value))
        })
        .collect()
}
