//! `--set KEY=VALUE` overrides, applied to the merged tree before validation.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::SpecError;
use super::node::{Node, Value};
use super::parse::parse_str;

/// One parsed `--set`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key path (`params.lr`, `stages.rm.with.lr`).
    pub path: Vec<String>,
    /// The value, parsed as YAML.
    pub value: Node,
}

/// Parses `KEY=VALUE`; the value is YAML (`0.5` is a float, `[1, 2]` a list).
pub fn parse_override(text: &str) -> Result<Override, SpecError> {
    let file = Arc::new(PathBuf::from(format!("--set {text}")));
    let Some((key, value)) = text.split_once('=') else {
        return Err(SpecError::file(&*file, "expected KEY=VALUE"));
    };
    let path: Vec<String> = key.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(SpecError::file(&*file, format!("bad key `{key}`")));
    }
    let value = parse_str(value, &file).map_err(|e| SpecError::file(&*file, e.message))?;
    let value = if value.value == Value::Map(vec![]) && value.mark.line == 1 && text.ends_with('=')
    {
        Node::new(Value::Scalar(super::node::Scalar::Null), value.mark)
    } else {
        value
    };
    Ok(Override { path, value })
}

/// Applies an override: `params.X` must be a declared param, `stages.S…` an
/// existing stage.
pub fn apply(root: &mut Node, o: &Override) -> Result<(), SpecError> {
    let file = PathBuf::from(format!("--set {}", o.path.join(".")));
    let err = |m: String| SpecError::file(&file, m);
    match o.path.first().map(String::as_str) {
        Some("params") => {
            let Some(name) = o.path.get(1) else {
                return Err(err("expected params.NAME".into()));
            };
            if root.get("params").and_then(|p| p.get(name)).is_none() {
                return Err(err(format!(
                    "no param `{name}` is declared under `params:`"
                )));
            }
        }
        Some("stages") => {
            let Some(name) = o.path.get(1) else {
                return Err(err("expected stages.NAME.KEY".into()));
            };
            if root.get("stages").and_then(|p| p.get(name)).is_none() {
                return Err(err(format!("no stage `{name}`")));
            }
            if o.path.len() < 3 {
                return Err(err("expected stages.NAME.KEY".into()));
            }
        }
        _ => return Err(err("only params.NAME and stages.NAME.KEY can be set".into())),
    }
    let mut node = root;
    for (i, part) in o.path.iter().enumerate() {
        let mark = node.mark.clone();
        let Value::Map(entries) = &mut node.value else {
            return Err(err(format!("`{}` is not a map", o.path[..i].join("."))));
        };
        let idx = match entries.iter().position(|(k, _)| k == part) {
            Some(idx) => idx,
            None => {
                entries.push((part.clone(), Node::new(Value::Map(vec![]), mark)));
                entries.len() - 1
            }
        };
        if i + 1 == o.path.len() {
            entries[idx].1 = o.value.clone();
            return Ok(());
        }
        node = &mut entries[idx].1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::Scalar;

    fn p(s: &str) -> Node {
        parse_str(s, &Arc::new(PathBuf::from("t.yaml"))).unwrap()
    }

    #[test]
    fn values_are_parsed_as_yaml() {
        let o = parse_override("params.lr=0.5").unwrap();
        assert_eq!(o.value.value, Value::Scalar(Scalar::Float(0.5)));
        let o = parse_override("params.l=[1, 2]").unwrap();
        assert_eq!(o.value.to_json(), serde_json::json!([1, 2]));
        assert!(parse_override("params.lr").is_err());
    }

    #[test]
    fn sets_a_declared_param_and_creates_with_keys() {
        let mut root = p("params: {lr: 1}\nstages: {a: {kind: cmd}}\n");
        apply(&mut root, &parse_override("params.lr=2").unwrap()).unwrap();
        apply(&mut root, &parse_override("stages.a.with.k=x").unwrap()).unwrap();
        assert_eq!(root.to_json()["params"]["lr"], 2);
        assert_eq!(root.to_json()["stages"]["a"]["with"]["k"], "x");
    }

    #[test]
    fn unknown_param_or_stage_is_refused() {
        let mut root = p("params: {lr: 1}\nstages: {a: {kind: cmd}}\n");
        let e = apply(&mut root, &parse_override("params.nope=2").unwrap()).unwrap_err();
        assert!(e.message.contains("no param `nope`"), "{e}");
        let e = apply(&mut root, &parse_override("stages.b.with.k=1").unwrap()).unwrap_err();
        assert!(e.message.contains("no stage `b`"), "{e}");
    }
}
