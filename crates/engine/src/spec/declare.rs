//! Declaring a stage (ARCHITECTURE.md, "The life of a stage run"): its
//! name, kind and matrix axes checked and its matrix points enumerated,
//! before any stage is expanded.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::error::{SpecError, join};
use super::grid::{self, Grid};
use super::interp::{StageScope, resolve};
use super::limits::MAX_NAME_BYTES;
use super::matrix::{self, Point};
use super::node::{Node, Value};
use super::pipeline::StageKind;
use super::validate::{STAGE_KEYS, check_keys, entries, valid_name};
use crate::kind::Registry;
use crate::util::visible::{is_invisible, visible};

/// A stage as declared, before expansion.
pub(super) struct Decl<'a> {
    pub(super) name: &'a str,
    pub(super) node: &'a Node,
    pub(super) kind: StageKind,
    pub(super) axes: BTreeMap<String, Vec<Json>>,
    pub(super) points: Vec<Point>,
    /// `axes` indexed, to find the expansions a selector matches.
    pub(super) grid: Grid,
}

pub(super) fn declare<'a>(
    name: &'a str,
    node: &'a Node,
    params: &serde_json::Map<String, Json>,
    kinds: Registry,
) -> Result<Decl<'a>, SpecError> {
    let path = join("stages", name);
    if !valid_name(name) {
        return Err(SpecError::at(
            node.pos(),
            &path,
            format!(
                "bad stage name `{}`: names match [A-Za-z_][A-Za-z0-9_]*",
                visible(name)
            ),
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
        match kinds.find(kind_name) {
            Some(k) => StageKind::Builtin(k),
            None => {
                let mut known = kinds.names();
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
                    format!(
                        "bad matrix key `{}`: names match [A-Za-z_][A-Za-z0-9_]*",
                        visible(k)
                    ),
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
                    format!("duplicate matrix value {}", visible(&values[i].to_string())),
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
pub(super) fn bad_matrix_value(x: &Json) -> Option<String> {
    // Control characters are checked first: an ESC sequence holds `[`, and a
    // NUL is reserved too, but "control character" is the reason a user can
    // act on. The value is always shown escaped, never raw (issue 25, item 11).
    match x {
        Json::Array(_) | Json::Object(_) | Json::Null => {
            return Some("matrix values are scalars".to_string());
        }
        Json::String(s) if s.chars().any(char::is_control) => {
            return Some(format!(
                "matrix value `{}` contains a control character (NUL, ESC, newline, tab, …); \
                 matrix values are single-line text",
                visible(s)
            ));
        }
        // Refused rather than only shown escaped: a value becomes part of an
        // expansion name (`a[x=…]`) that a user reads in `status` and types as a
        // target, and two names that differ only by an invisible character look
        // the same and cannot be typed.
        Json::String(s) if s.chars().any(is_invisible) => {
            let c = s.chars().find(|c| is_invisible(*c)).unwrap_or('?');
            return Some(format!(
                "matrix value `{}` contains an invisible character (U+{:04X}); \
                 matrix values are visible text",
                visible(s),
                c as u32
            ));
        }
        Json::String(s) if s.is_empty() || s.contains(matrix::RESERVED) => {
            return Some(format!(
                "matrix value `{}` is empty or contains one of [ ] , = /",
                visible(s)
            ));
        }
        _ => {}
    }
    let n = matrix::format_value(x).len();
    (n > MAX_NAME_BYTES).then(|| {
        format!("matrix value is {n} bytes long; matrix values are at most {MAX_NAME_BYTES} bytes")
    })
}
