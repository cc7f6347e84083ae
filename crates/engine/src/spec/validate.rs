//! From the merged YAML tree to a [`Pipeline`]: keys, names, kinds, params,
//! matrix expansion, inputs, deps and outputs are all checked here, before
//! anything runs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::declare::{Decl, declare};
use super::error::{SpecError, join};
use super::expand::expand_stage;
use super::inputs::input_bases;
use super::interp::{ParamResolver, StageScope};
use super::node::{Node, Value};
use super::pipeline::Pipeline;
use crate::kind::{Registry, Roots};

const TOP_KEYS: &[&str] = &[
    "name",
    "params",
    "stages",
    "description",
    "executor",
    "remote",
];
pub(super) const STAGE_KEYS: &[&str] = &[
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

pub(super) fn entries<'a>(node: &'a Node, path: &str) -> Result<&'a [(String, Node)], SpecError> {
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

pub(super) fn check_keys(node: &Node, path: &str, allowed: &[&str]) -> Result<(), SpecError> {
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

/// Validates the merged tree of `file`; a `kind:` other than `cmd` must name
/// one of `kinds`.
pub fn validate(
    root: &Node,
    file: &Path,
    roots: &Roots,
    kinds: Registry,
) -> Result<Pipeline, SpecError> {
    check_keys(root, "", TOP_KEYS)?;
    // default: a bare file name's directory is empty, turned into `.` just below.
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
        decls.push(declare(sname, snode, &params, kinds)?);
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
            .map(|d| (d.name, input_bases(d, &params)))
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
            super::wiring::check_inputs(&s, &stages, d.node)?;
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

#[cfg(test)]
mod tests {
    use super::super::declare::bad_matrix_value;
    use super::super::expand::{check_metrics, check_out_path, is_filesystem_root};
    use super::super::limits::MAX_NAME_BYTES;
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
