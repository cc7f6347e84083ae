//! Wiring a stage's `inputs:` to the expansions they select, and checking
//! them against the kind's input slots.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::declare::Decl;
use super::error::{SpecError, join};
use super::interp::{StageScope, resolve_str};
use super::matrix::{self, Point};
use super::node::{Node, Value};
use super::pipeline::{InputRef, StageKind};
use super::validate::{entries, valid_name};
use crate::kind::Kind;

/// The base names a stage's inputs refer to, over all its matrix points
/// (for cycle detection). A selector that does not resolve is left out
/// here; expansion reports it with its location.
pub(super) fn input_bases(d: &Decl, params: &serde_json::Map<String, Json>) -> Vec<String> {
    let Some(Value::Map(entries)) = d.node.get("inputs").map(|n| &n.value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (_, v) in entries {
        let items: Vec<&Node> = match &v.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![v],
        };
        for item in items {
            let Some(text) = item.as_str() else { continue };
            let points: Vec<&Point> = if text.contains("${") {
                d.points.iter().collect()
            } else {
                vec![&EMPTY]
            };
            for point in points {
                let mut scope = StageScope {
                    params,
                    matrix: point,
                };
                let Ok(Json::String(t)) = resolve_str(text, &item.mark, "", &mut scope) else {
                    continue;
                };
                if let Ok(sel) = matrix::parse_selector(&t)
                    && !out.contains(&sel.base)
                {
                    out.push(sel.base);
                }
            }
        }
    }
    out
}

static EMPTY: Point = Point::new();

/// One expansion's `inputs:`: each entry a selector (`rm`,
/// `rm[lambda_adv=0.2]`, `ppo_${matrix.policy}`: references resolve in the
/// stage's scope), or a list of selectors for a slot that takes several
/// stages, their expansions concatenated in list order.
pub(super) fn resolve_inputs(
    d: &Decl,
    point: &Point,
    scope: &mut StageScope,
    by_name: &HashMap<&str, &Decl>,
) -> Result<BTreeMap<String, InputRef>, SpecError> {
    let path = join(&join("stages", d.name), "inputs");
    let mut out = BTreeMap::new();
    if let Some(n) = d.node.get("inputs") {
        for (slot, v) in entries(n, &path)? {
            let spath = join(&path, slot);
            if !valid_name(slot) {
                return Err(SpecError::at(
                    &v.mark,
                    &spath,
                    format!("bad input name `{slot}`: names match [A-Za-z_][A-Za-z0-9_]*"),
                ));
            }
            let r = match &v.value {
                Value::Seq(items) => {
                    if items.is_empty() {
                        return Err(SpecError::at(
                            &v.mark,
                            &spath,
                            "empty list: name at least one stage",
                        ));
                    }
                    let mut names: Vec<String> = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let ipath = join(&spath, &i.to_string());
                        let r = one_selector(item, &ipath, point, scope, by_name)?;
                        for name in r.stages() {
                            if names.iter().any(|n| n == name) {
                                return Err(SpecError::at(
                                    &item.mark,
                                    &ipath,
                                    format!("`{name}` is already in this list"),
                                ));
                            }
                            names.push(name.to_string());
                        }
                    }
                    InputRef::Many(names)
                }
                _ => one_selector(v, &spath, point, scope, by_name)?,
            };
            out.insert(slot.clone(), r);
        }
    }
    if let StageKind::Builtin(k) = &d.kind {
        check_slots(*k, &mut out, d.node, &path)?;
    }
    Ok(out)
}

/// The expansions one selector string names, for the consumer at `point`.
fn one_selector(
    v: &Node,
    path: &str,
    point: &Point,
    scope: &mut StageScope,
    by_name: &HashMap<&str, &Decl>,
) -> Result<InputRef, SpecError> {
    let raw = v.as_str().ok_or_else(|| {
        SpecError::at(
            &v.mark,
            path,
            format!(
                "expected a stage name or a list of them, found {}",
                v.type_name()
            ),
        )
    })?;
    let text = match resolve_str(raw, &v.mark, path, scope)? {
        Json::String(t) => t,
        other => {
            return Err(SpecError::at(
                &v.mark,
                path,
                format!("`{raw}` resolves to {other}, not a stage name"),
            ));
        }
    };
    let sel = matrix::parse_selector(&text).map_err(|m| SpecError::at(&v.mark, path, m))?;
    let producer = by_name.get(sel.base.as_str()).ok_or_else(|| {
        SpecError::at(
            &v.mark,
            path,
            format!("input stage `{}` does not exist", sel.base),
        )
    })?;
    select(producer, &sel, point).map_err(|m| SpecError::at(&v.mark, path, m))
}

fn select(producer: &Decl, sel: &matrix::Selector, consumer: &Point) -> Result<InputRef, String> {
    let names = |pts: Vec<&Point>| {
        pts.into_iter()
            .map(|p| matrix::expansion_name(producer.name, p))
            .collect::<Vec<_>>()
    };
    if producer.axes.is_empty() {
        if sel.point.is_some() {
            return Err(format!(
                "stage `{}` has no matrix to select from",
                producer.name
            ));
        }
        return Ok(InputRef::One(producer.name.to_string()));
    }
    let wanted: Point = match &sel.point {
        Some(p) => {
            if let Some(k) = p.keys().find(|k| !producer.axes.contains_key(*k)) {
                return Err(format!("stage `{}` has no matrix key `{k}`", producer.name));
            }
            // The keys the selector names are fixed; the other keys both
            // stages share are zipped (`rm[lambda_adv=0.0]` from a consumer
            // with a `seed` axis is the baseline of the same seed).
            let mut w = p.clone();
            for (k, v) in consumer {
                if producer.axes.contains_key(k) && !w.contains_key(k) {
                    w.insert(k.clone(), v.clone());
                }
            }
            w
        }
        None if sel.star => Point::new(),
        // Zipped: the consumer's values of the keys both stages share.
        None => consumer
            .iter()
            .filter(|(k, _)| producer.axes.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let hits: Vec<&Point> = producer
        .grid
        .matching(&wanted)
        .into_iter()
        .filter_map(|i| producer.points.get(i))
        .collect();
    if hits.is_empty() {
        const SHOWN: usize = 20;
        let mut all = names(producer.points.iter().take(SHOWN).collect()).join(", ");
        if producer.points.len() > SHOWN {
            all.push_str(&format!(", … ({} more)", producer.points.len() - SHOWN));
        }
        return Err(format!(
            "no expansion of `{}` matches {}; expansions: {all}",
            producer.name,
            matrix::expansion_name("", &wanted)
        ));
    }
    if wanted.len() == producer.axes.len() && hits.len() == 1 {
        return Ok(InputRef::One(matrix::expansion_name(
            producer.name,
            hits[0],
        )));
    }
    Ok(InputRef::Many(names(hits)))
}

fn check_slots(
    k: &dyn Kind,
    inputs: &mut BTreeMap<String, InputRef>,
    node: &Node,
    path: &str,
) -> Result<(), SpecError> {
    for (slot, r) in inputs.iter_mut() {
        let mark = node
            .at_path(&["inputs", slot])
            .map(|n| n.mark.clone())
            .unwrap_or_else(|| node.mark.clone());
        let exact = k.slots().iter().find(|s| s.name == slot);
        let Some(decl) = exact.or_else(|| k.slots().iter().find(|s| s.name == "*")) else {
            let known: Vec<&str> = k.slots().iter().map(|s| s.name).collect();
            return Err(SpecError::at(
                &mark,
                join(path, slot),
                format!(
                    "kind `{}` has no input `{slot}` (inputs: {})",
                    k.name(),
                    known.join(", ")
                ),
            ));
        };
        match (&*r, decl.fan_in) {
            (InputRef::One(s), true) => *r = InputRef::Many(vec![s.clone()]),
            // A list of one stage for a one-stage slot is that stage.
            (InputRef::Many(v), false) if v.len() == 1 => *r = InputRef::One(v[0].clone()),
            (InputRef::Many(v), false) => {
                return Err(SpecError::at(
                    &mark,
                    join(path, slot),
                    format!(
                        "input `{slot}` takes one stage, but this names {} expansions; pick one, e.g. `{}`",
                        v.len(),
                        v[0]
                    ),
                ));
            }
            _ => {}
        }
    }
    for s in k.slots().iter().filter(|s| s.required) {
        if !inputs.contains_key(s.name) {
            return Err(SpecError::at(
                node.pos(),
                path,
                format!("kind `{}` needs input `{}` ({})", k.name(), s.name, s.doc),
            ));
        }
    }
    Ok(())
}
