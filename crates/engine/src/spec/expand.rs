//! Expanding one matrix point of a declared stage into a [`Stage`]: its
//! `with`, deps, outputs, metrics and resources resolved and checked, its
//! inputs wired ([`super::inputs`]), and the kind's own checks run.

use std::collections::HashMap;
use std::path::{Component, Path};

use serde_json::Value as Json;

use super::declare::Decl;
use super::error::{SpecError, join};
use super::inputs::resolve_inputs;
use super::interp::{StageScope, resolve, resolve_command};
use super::matrix::{self, Point};
use super::node::{Node, Value};
use super::pipeline::{Stage, StageKind};
use crate::kind::Roots;

pub(super) fn expand_stage(
    d: &Decl,
    point: &Point,
    params: &serde_json::Map<String, Json>,
    by_name: &HashMap<&str, &Decl>,
    dir: &Path,
    roots: &Roots,
) -> Result<Stage, SpecError> {
    let path = join("stages", d.name);
    let name = matrix::expansion_name(d.name, point);
    let mut scope = StageScope {
        params,
        matrix: point,
    };
    let with = match d.node.get("with") {
        None => Json::Object(Default::default()),
        Some(w) => match resolve(w, &join(&path, "with"), &mut scope)? {
            Json::Null => Json::Object(Default::default()),
            v @ Json::Object(_) => v,
            _ => {
                return Err(SpecError::at(
                    &w.mark,
                    join(&path, "with"),
                    format!("expected a map, found {}", w.type_name()),
                ));
            }
        },
    };
    let deps = str_list(d.node.get("deps"), &join(&path, "deps"), &mut scope)?;
    for (dep, mark) in &deps {
        if !dir.join(dep).exists() {
            return Err(SpecError::at(
                mark,
                join(&path, "deps"),
                format!(
                    "dep `{dep}` not found (looked in {})",
                    dir.join(dep).display()
                ),
            ));
        }
        if is_filesystem_root(&dir.join(dep)) {
            return Err(SpecError::at(
                mark,
                join(&path, "deps"),
                format!(
                    "dep `{dep}` is the filesystem root `/`; deps name the files and \
                     directories the stage reads"
                ),
            ));
        }
    }
    let dep_marks = deps.iter().map(|(_, m)| m.clone()).collect();
    let deps: Vec<String> = deps.into_iter().map(|(d, _)| d).collect();
    let (kind, outputs, metrics, key_deps) = match &d.kind {
        StageKind::Cmd { .. } => {
            let run_node = d.node.get("run").ok_or_else(|| {
                SpecError::at(
                    d.node.pos(),
                    &path,
                    "missing key `run` (required for kind: cmd)",
                )
            })?;
            let run = match resolve_command(run_node, &join(&path, "run"), &mut scope)? {
                Json::String(s) if !s.trim().is_empty() => s,
                _ => {
                    return Err(SpecError::at(
                        &run_node.mark,
                        join(&path, "run"),
                        "expected a non-empty command string",
                    ));
                }
            };
            let outs_node = d.node.get("outputs");
            let outputs = str_list(outs_node, &join(&path, "outputs"), &mut scope)?;
            let metrics = match d.node.get("metrics") {
                None => None,
                Some(m) => match resolve(m, &join(&path, "metrics"), &mut scope)? {
                    Json::String(s) => Some((s, m.mark.clone())),
                    _ => {
                        return Err(SpecError::at(
                            &m.mark,
                            join(&path, "metrics"),
                            "expected an output file name",
                        ));
                    }
                },
            };
            if outputs.is_empty() {
                return Err(SpecError::at(
                    d.node.pos(),
                    join(&path, "outputs"),
                    "a cmd stage declares at least one output",
                ));
            }
            let mut normal: Vec<String> = Vec::new();
            for (o, mark) in &outputs {
                check_out_path(o).map_err(|m| SpecError::at(mark, join(&path, "outputs"), m))?;
                let n = normalize(o);
                if let Some(other) = normal.iter().find(|p| overlaps(p, &n)) {
                    return Err(SpecError::at(
                        mark,
                        join(&path, "outputs"),
                        format!("output `{o}` overlaps output `{other}`"),
                    ));
                }
                normal.push(n);
            }
            let metrics = match metrics {
                None => None,
                Some((m, mark)) => Some(
                    check_metrics(&m, &normal)
                        .map_err(|msg| SpecError::at(&mark, join(&path, "metrics"), msg))?,
                ),
            };
            let outputs = normal;
            (StageKind::Cmd { run }, outputs, metrics, Vec::new())
        }
        StageKind::Builtin(k) => {
            let with_path = join(&path, "with");
            let located = |e: crate::kind::WithError| {
                let parts: Vec<&str> = e.path.split('.').filter(|s| !s.is_empty()).collect();
                let mut node = d.node.get("with").unwrap_or(d.node);
                for p in &parts {
                    match node.at_path(&[p]) {
                        Some(n) => node = n,
                        None => break,
                    }
                }
                SpecError::at(&node.mark, join(&with_path, &e.path), e.message)
            };
            k.check(&with).map_err(located)?;
            let key_deps = k.key_deps(&with, roots).map_err(located)?;
            (
                d.kind.clone(),
                k.outputs().iter().map(|s| s.to_string()).collect(),
                k.metrics().map(str::to_string),
                key_deps,
            )
        }
    };
    let inputs = resolve_inputs(d, point, &mut scope, by_name)?;
    let resources = match d.node.get("resources") {
        None => Default::default(),
        Some(n) => super::resources::parse_resources(n, &join(&path, "resources"), &mut scope)?,
    };
    Ok(Stage {
        name,
        base: d.name.to_string(),
        point: point.clone(),
        kind,
        with,
        inputs,
        deps,
        outputs,
        metrics,
        key_deps,
        mark: d.node.pos().clone(),
        dep_marks,
        resources,
    })
}

fn str_list(
    node: Option<&Node>,
    path: &str,
    scope: &mut StageScope,
) -> Result<Vec<(String, super::node::Mark)>, SpecError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let Value::Seq(items) = &node.value else {
        return Err(SpecError::at(
            &node.mark,
            path,
            format!("expected a list of paths, found {}", node.type_name()),
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = join(path, &i.to_string());
        match resolve(item, &ipath, scope)? {
            Json::String(s) => out.push((s, item.mark.clone())),
            _ => {
                return Err(SpecError::at(
                    &item.mark,
                    ipath,
                    format!("expected a path string, found {}", item.type_name()),
                ));
            }
        }
    }
    Ok(out)
}

/// Checks an output path: relative, normal, and inside `$OUT`.
pub(super) fn check_out_path(p: &str) -> Result<(), String> {
    let path = Path::new(p);
    if p.is_empty() {
        return Err("empty output path".into());
    }
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(format!("output `{p}` escapes $OUT through `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "output `{p}` is absolute; outputs are relative to $OUT"
                ));
            }
        }
    }
    Ok(())
}

/// `./a//b` → `a/b`.
fn normalize(p: &str) -> String {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks that a metrics file is one of the (normalised) outputs or lies
/// inside one (an output directory); gives its normalised path.
pub(super) fn check_metrics(m: &str, outputs: &[String]) -> Result<String, String> {
    check_out_path(m).map_err(|e| format!("metrics file: {e}"))?;
    let n = normalize(m);
    if outputs
        .iter()
        .any(|o| n == *o || n.starts_with(&format!("{o}/")))
    {
        return Ok(n);
    }
    Err(format!(
        "metrics file `{m}` is not one of this stage's outputs ({}); list it in `outputs:` \
         or name a file inside a declared output directory",
        outputs.join(", ")
    ))
}

/// Whether `p` resolves to `/` (`/`, `//`, `/./`, `/..`, a link to `/`).
pub(super) fn is_filesystem_root(p: &Path) -> bool {
    std::fs::canonicalize(p).is_ok_and(|c| c.parent().is_none())
}

/// Whether two normalised output paths are equal or one contains the other.
fn overlaps(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}
