//! From the merged YAML tree to a [`Pipeline`]: keys, names, kinds, params,
//! matrix expansion, inputs, deps and outputs are all checked here, before
//! anything runs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use serde_json::Value as Json;

use super::error::{SpecError, join};
use super::grid::{self, Grid};
use super::interp::{ParamResolver, StageScope, resolve};
use super::limits::MAX_NAME_BYTES;
use super::matrix::{self, Point};
use super::node::{Node, Value};
use super::pipeline::{InputRef, Pipeline, Stage, StageKind};
use crate::kind::{Kind, Roots};
use crate::stages::registry;

const TOP_KEYS: &[&str] = &[
    "name",
    "params",
    "stages",
    "description",
    "executor",
    "remote",
];
const STAGE_KEYS: &[&str] = &[
    "kind",
    "inputs",
    "with",
    "matrix",
    "run",
    "deps",
    "outputs",
    "metrics",
    "desc",
    "resources",
];

/// Whether `s` matches `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn entries<'a>(node: &'a Node, path: &str) -> Result<&'a [(String, Node)], SpecError> {
    match &node.value {
        Value::Map(e) => Ok(e),
        Value::Scalar(super::node::Scalar::Null) => Ok(&[]),
        _ => Err(SpecError::at(
            &node.mark,
            path,
            format!("expected a map, found {}", node.type_name()),
        )),
    }
}

fn check_keys(node: &Node, path: &str, allowed: &[&str]) -> Result<(), SpecError> {
    for (k, v) in entries(node, path)? {
        if !allowed.contains(&k.as_str()) {
            return Err(SpecError::at(
                v.pos(),
                join(path, k),
                format!(
                    "unknown key `{k}` (expected one of: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A stage as declared, before expansion.
struct Decl<'a> {
    name: &'a str,
    node: &'a Node,
    kind: StageKind,
    axes: BTreeMap<String, Vec<Json>>,
    points: Vec<Point>,
    /// `axes` indexed, to find the expansions a selector matches.
    grid: Grid,
}

/// Validates the merged tree of `file`.
pub fn validate(root: &Node, file: &Path, roots: &Roots) -> Result<Pipeline, SpecError> {
    check_keys(root, "", TOP_KEYS)?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into());
    let name = match root.get("name") {
        None => stem.clone(),
        Some(n) => n
            .as_str()
            .ok_or_else(|| {
                SpecError::at(
                    &n.mark,
                    "name",
                    format!("expected a string, found {}", n.type_name()),
                )
            })?
            .to_string(),
    };
    let params = match root.get("params") {
        None => serde_json::Map::new(),
        Some(p) => ParamResolver::new(entries(p, "params")?).resolve_all()?,
    };
    let seed = match params.get("seed") {
        None => 0,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(0),
        Some(_) => {
            let mark = root
                .at_path(&["params", "seed"])
                .map(|n| n.mark.clone())
                .unwrap_or_else(|| root.mark.clone());
            return Err(SpecError::at(
                &mark,
                "params.seed",
                "expected a non-negative integer",
            ));
        }
    };
    let executor = match root.get("executor") {
        None => Default::default(),
        Some(n) => super::resources::parse_executor(
            n,
            &mut StageScope {
                params: &params,
                matrix: &BTreeMap::new(),
            },
        )?,
    };
    let stages_node = root
        .get("stages")
        .ok_or_else(|| SpecError::at(&root.mark, "stages", "missing key `stages`"))?;
    let mut decls = Vec::new();
    for (sname, snode) in entries(stages_node, "stages")? {
        decls.push(declare(sname, snode, &params)?);
    }
    if decls.is_empty() {
        return Err(SpecError::at(
            &stages_node.mark,
            "stages",
            "no stages declared",
        ));
    }
    let order = super::cycle::base_order(
        &decls
            .iter()
            .map(|d| (d.name, input_bases(d.node)))
            .collect::<Vec<_>>(),
    )
    .map_err(|cycle| {
        let first = decls
            .iter()
            .find(|d| d.name == cycle[0])
            .map(|d| d.node.pos().clone())
            .unwrap_or_else(|| root.mark.clone());
        SpecError::at(
            &first,
            join("stages", &cycle[0]),
            format!("cycle: {}", cycle.join(" -> ")),
        )
    })?;
    let by_name: HashMap<&str, &Decl> = decls.iter().map(|d| (d.name, d)).collect();
    let mut stages = Vec::new();
    for i in order {
        let d = &decls[i];
        for point in &d.points {
            let mut s = expand_stage(d, point, &params, &by_name, &dir, roots)?;
            s.resources = executor.resources.merged(&s.resources);
            stages.push(s);
        }
    }
    let index = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let remote = super::remote::parse(root, &dir)?;
    Ok(Pipeline {
        name,
        remote,
        file: file.to_path_buf(),
        dir,
        stem,
        params,
        seed,
        stages,
        index,
        roots: roots.clone(),
        executor,
    })
}

/// The base names a stage's inputs refer to (for cycle detection).
fn input_bases(node: &Node) -> Vec<String> {
    match node.get("inputs").map(|n| &n.value) {
        Some(Value::Map(e)) => e
            .iter()
            .filter_map(|(_, v)| v.as_str())
            .filter_map(|s| matrix::parse_selector(s).ok())
            .map(|s| s.base)
            .collect(),
        _ => Vec::new(),
    }
}

fn declare<'a>(
    name: &'a str,
    node: &'a Node,
    params: &serde_json::Map<String, Json>,
) -> Result<Decl<'a>, SpecError> {
    let path = join("stages", name);
    if !valid_name(name) {
        return Err(SpecError::at(
            node.pos(),
            &path,
            format!("bad stage name `{name}`: names match [A-Za-z_][A-Za-z0-9_]*"),
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(SpecError::at(
            node.pos(),
            &path,
            format!(
                "stage name is {} bytes long; names are at most {MAX_NAME_BYTES} bytes \
                 (they become directory names)",
                name.len()
            ),
        ));
    }
    if !matches!(node.value, Value::Map(_)) {
        return Err(SpecError::at(
            node.pos(),
            &path,
            format!("expected a map, found {}", node.type_name()),
        ));
    }
    check_keys(node, &path, STAGE_KEYS)?;
    let kind_node = node
        .get("kind")
        .ok_or_else(|| SpecError::at(node.pos(), &path, "missing key `kind`"))?;
    let kind_name = kind_node.as_str().ok_or_else(|| {
        SpecError::at(
            &kind_node.mark,
            join(&path, "kind"),
            format!("expected a string, found {}", kind_node.type_name()),
        )
    })?;
    let kind = if kind_name == "cmd" {
        StageKind::Cmd { run: String::new() }
    } else {
        match registry::find(kind_name) {
            Some(k) => StageKind::Builtin(k),
            None => {
                let mut known: Vec<&str> = registry::builtin().iter().map(|k| k.name()).collect();
                known.insert(0, "cmd");
                return Err(SpecError::at(
                    &kind_node.mark,
                    join(&path, "kind"),
                    format!(
                        "unknown stage kind `{kind_name}` (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
    };
    if let StageKind::Builtin(_) = kind {
        for key in ["run", "outputs", "metrics"] {
            if let Some(n) = node.get(key) {
                return Err(SpecError::at(
                    &n.mark,
                    join(&path, key),
                    format!("`{key}` is only for `kind: cmd`; built-in kinds have fixed outputs"),
                ));
            }
        }
    }
    let mut axes = BTreeMap::new();
    if let Some(m) = node.get("matrix") {
        let mpath = join(&path, "matrix");
        let scope_matrix = BTreeMap::new();
        for (k, v) in entries(m, &mpath)? {
            let kpath = join(&mpath, k);
            if !valid_name(k) {
                return Err(SpecError::at(
                    &v.mark,
                    &kpath,
                    format!("bad matrix key `{k}`: names match [A-Za-z_][A-Za-z0-9_]*"),
                ));
            }
            if k.len() > MAX_NAME_BYTES {
                return Err(SpecError::at(
                    v.pos(),
                    &kpath,
                    format!(
                        "matrix key is {} bytes long; keys are at most {MAX_NAME_BYTES} bytes",
                        k.len()
                    ),
                ));
            }
            let values = resolve(
                v,
                &kpath,
                &mut StageScope {
                    params,
                    matrix: &scope_matrix,
                },
            )?;
            let Json::Array(values) = values else {
                return Err(SpecError::at(&v.mark, &kpath, "expected a list of values"));
            };
            if values.is_empty() {
                return Err(SpecError::at(
                    &v.mark,
                    &kpath,
                    "expected a non-empty list of values",
                ));
            }
            for (i, x) in values.iter().enumerate() {
                // A literal list points at the value itself.
                let xmark = match &v.value {
                    Value::Seq(items) => items.get(i).map_or(&v.mark, |n| &n.mark),
                    _ => &v.mark,
                };
                if let Some(msg) = bad_matrix_value(x) {
                    return Err(SpecError::at(xmark, join(&kpath, &i.to_string()), msg));
                }
            }
            if let Some((_, i)) = grid::first_duplicate(&values) {
                return Err(SpecError::at(
                    &v.mark,
                    &kpath,
                    format!("duplicate matrix value {}", values[i]),
                ));
            }
            axes.insert(k.clone(), values);
        }
        if axes.is_empty() {
            return Err(SpecError::at(
                &m.mark,
                &mpath,
                "expected at least one matrix key",
            ));
        }
    }
    let points = matrix::expand(&axes).ok_or_else(|| {
        SpecError::at(
            &node.mark,
            join(&path, "matrix"),
            format!("more than {} expansions", matrix::MAX_EXPANSIONS),
        )
    })?;
    if let Some(m) = node.get("matrix") {
        // The longest expansion name takes the longest value of every axis.
        // `name[` + `k=v` per axis, comma-separated + `]`.
        let longest = name.len()
            + 1
            + axes
                .iter()
                .map(|(k, vs)| {
                    k.len()
                        + 2
                        + vs.iter()
                            .map(|v| matrix::format_value(v).len())
                            .max()
                            .unwrap_or(0)
                })
                .sum::<usize>();
        if longest > MAX_NAME_BYTES {
            return Err(SpecError::at(
                m.pos(),
                join(&path, "matrix"),
                format!(
                    "the longest expansion name would be {longest} bytes; names \
                     `{name}[key=value,…]` are at most {MAX_NAME_BYTES} bytes"
                ),
            ));
        }
    }
    let grid = Grid::new(&axes);
    Ok(Decl {
        name,
        node,
        kind,
        axes,
        points,
        grid,
    })
}

/// Why a matrix value cannot be used, if it cannot: values are scalars that
/// print as short, single-line text without the characters that delimit
/// expansion names (they are pasted into names, paths and commands).
fn bad_matrix_value(x: &Json) -> Option<String> {
    match x {
        Json::Array(_) | Json::Object(_) | Json::Null => {
            return Some("matrix values are scalars".to_string());
        }
        Json::String(s) if s.is_empty() || s.contains(matrix::RESERVED) => {
            return Some(format!(
                "matrix value `{s}` is empty or contains one of [ ] , = /"
            ));
        }
        Json::String(s) if s.chars().any(char::is_control) => {
            return Some(format!(
                "matrix value {x} contains a control character (newline, tab, …); \
                 matrix values are single-line text"
            ));
        }
        _ => {}
    }
    let n = matrix::format_value(x).len();
    (n > MAX_NAME_BYTES).then(|| {
        format!("matrix value is {n} bytes long; matrix values are at most {MAX_NAME_BYTES} bytes")
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
fn check_out_path(p: &str) -> Result<(), String> {
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
fn check_metrics(m: &str, outputs: &[String]) -> Result<String, String> {
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
fn is_filesystem_root(p: &Path) -> bool {
    std::fs::canonicalize(p).is_ok_and(|c| c.parent().is_none())
}

/// Whether two normalised output paths are equal or one contains the other.
fn overlaps(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

fn expand_stage(
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
            let run = match resolve(run_node, &join(&path, "run"), &mut scope)? {
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
    let inputs = resolve_inputs(d, point, by_name)?;
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

fn resolve_inputs(
    d: &Decl,
    point: &Point,
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
            let text = v.as_str().ok_or_else(|| {
                SpecError::at(
                    &v.mark,
                    &spath,
                    format!("expected a stage name, found {}", v.type_name()),
                )
            })?;
            let sel =
                matrix::parse_selector(text).map_err(|m| SpecError::at(&v.mark, &spath, m))?;
            let producer = by_name.get(sel.base.as_str()).ok_or_else(|| {
                SpecError::at(
                    &v.mark,
                    &spath,
                    format!("input stage `{}` does not exist", sel.base),
                )
            })?;
            let r = select(producer, &sel, point).map_err(|m| SpecError::at(&v.mark, &spath, m))?;
            out.insert(slot.clone(), r);
        }
    }
    if let StageKind::Builtin(k) = &d.kind {
        check_slots(*k, &mut out, d.node, &path)?;
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert!(valid_name("rm_fair2"));
        assert!(valid_name("_x"));
        assert!(!valid_name("2x"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
        assert!(!valid_name("a.b"));
    }

    #[test]
    fn metrics_must_be_an_output_or_inside_one() {
        let outs = vec!["m.txt".to_string(), "dir".to_string()];
        assert_eq!(check_metrics("./m.txt", &outs).unwrap(), "m.txt");
        assert_eq!(
            check_metrics("dir/sub/x.json", &outs).unwrap(),
            "dir/sub/x.json"
        );
        let e = check_metrics("other.txt", &outs).unwrap_err();
        assert!(
            e.contains("`other.txt` is not one of this stage's outputs (m.txt, dir)"),
            "{e}"
        );
        assert!(check_metrics("dirx/a", &outs).is_err());
        assert!(check_metrics("../m.txt", &outs).is_err());
        assert!(check_metrics("/m.txt", &outs).is_err());
    }

    #[test]
    fn the_filesystem_root_is_recognised_in_every_spelling() {
        for p in ["/", "//", "/./", "/..", "/tmp/.."] {
            assert!(is_filesystem_root(Path::new(p)), "{p}");
        }
        assert!(!is_filesystem_root(Path::new("/tmp")));
        assert!(!is_filesystem_root(Path::new("/no/such/path")));
    }

    #[test]
    fn matrix_values_are_short_single_line_scalars() {
        use serde_json::json;
        assert!(bad_matrix_value(&json!("ok")).is_none());
        assert!(bad_matrix_value(&json!(0.25)).is_none());
        let e = bad_matrix_value(&json!("a\nb")).unwrap();
        assert!(e.contains("control character"), "{e}");
        assert!(bad_matrix_value(&json!("tab\there")).is_some());
        assert!(bad_matrix_value(&json!("x".repeat(MAX_NAME_BYTES))).is_none());
        let e = bad_matrix_value(&json!("x".repeat(MAX_NAME_BYTES + 1))).unwrap();
        assert!(e.contains("at most 200 bytes"), "{e}");
        assert!(bad_matrix_value(&json!(null)).is_some());
    }

    #[test]
    fn output_paths_stay_inside_out() {
        assert!(check_out_path("a/b.txt").is_ok());
        assert!(check_out_path("../x").is_err());
        assert!(check_out_path("a/../../x").is_err());
        assert!(check_out_path("/etc/passwd").is_err());
        assert!(check_out_path("").is_err());
    }
}
