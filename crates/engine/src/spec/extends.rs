//! Loading a pipeline file and the chain of files it `extends:`, merged.
//!
//! Rules (ARCHITECTURE.md, "Life of a stage run"): maps deep-merge; lists and every `source:` map are
//! replaced whole; `null` deletes a key or a stage; cycles and missing files
//! are spec errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::SpecError;
use super::node::{Node, Value};
use super::parse::parse_str;

/// Largest pipeline file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Reads `file`, follows `extends:` and returns the merged tree.
pub fn load(file: &Path) -> Result<Node, SpecError> {
    let mut chain = Vec::new();
    load_chain(file, &mut chain)
}

fn load_chain(file: &Path, chain: &mut Vec<PathBuf>) -> Result<Node, SpecError> {
    let canon = std::fs::canonicalize(file)
        .map_err(|e| SpecError::file(file, format!("cannot read pipeline file: {e}")))?;
    if let Some(i) = chain.iter().position(|p| *p == canon) {
        let mut cycle: Vec<String> = chain[i..].iter().map(|p| p.display().to_string()).collect();
        cycle.push(canon.display().to_string());
        return Err(SpecError::file(
            file,
            format!("extends cycle: {}", cycle.join(" -> ")),
        ));
    }
    chain.push(canon);
    let meta =
        std::fs::metadata(file).map_err(|e| SpecError::file(file, format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(SpecError::file(
            file,
            format!(
                "file is {} bytes, over the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::file(file, format!("cannot read as UTF-8 text: {e}")))?;
    // Editors on Windows save UTF-8 with a byte-order mark; it is not part of
    // the first key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut root = parse_str(text, &Arc::new(file.to_path_buf()))?;
    if !matches!(root.value, Value::Map(_)) {
        return Err(SpecError::at(
            &root.mark,
            "",
            format!(
                "expected a map at the top level, found {}",
                root.type_name()
            ),
        ));
    }
    let Some(ext) = take(&mut root, "extends") else {
        return Ok(root);
    };
    let Some(rel) = ext.as_str() else {
        return Err(SpecError::at(
            &ext.mark,
            "extends",
            format!("expected a file path, found {}", ext.type_name()),
        ));
    };
    let base_path = file.parent().unwrap_or(Path::new(".")).join(rel);
    if !base_path.is_file() {
        return Err(SpecError::at(
            &ext.mark,
            "extends",
            format!("file `{}` not found", base_path.display()),
        ));
    }
    let mut base = load_chain(&base_path, chain)?;
    merge(&mut base, root);
    Ok(base)
}

fn take(node: &mut Node, key: &str) -> Option<Node> {
    if let Value::Map(entries) = &mut node.value {
        let i = entries.iter().position(|(k, _)| k == key)?;
        return Some(entries.remove(i).1);
    }
    None
}

/// Merges `over` into `base` with the `extends:` rules.
pub fn merge(base: &mut Node, over: Node) {
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            // Keys by position, and deletions applied once at the end: a scan
            // per key made merging a large map quadratic (issue 25, item 9).
            let mut at: std::collections::HashMap<String, usize> = b
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
            let mut removed = vec![false; b.len()];
            for (k, v) in o {
                match (at.get(&k).copied(), v.is_null()) {
                    (Some(i), true) => {
                        removed[i] = true;
                        at.remove(&k);
                    }
                    (None, true) => {}
                    (Some(i), false) if k != "source" => merge(&mut b[i].1, v),
                    (Some(i), false) => b[i].1 = v,
                    (None, false) => {
                        at.insert(k.clone(), b.len());
                        b.push((k, v));
                        removed.push(false);
                    }
                }
            }
            if removed.contains(&true) {
                let mut i = 0;
                b.retain(|_| {
                    i += 1;
                    !removed[i - 1]
                });
            }
        }
        (_, value) => {
            base.value = value;
            base.mark = over.mark;
            if over.key_mark.is_some() {
                base.key_mark = over.key_mark;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node::Scalar;

    fn p(s: &str) -> Node {
        parse_str(s, &Arc::new(PathBuf::from("t.yaml"))).unwrap()
    }

    #[test]
    fn maps_merge_deeply_lists_and_sources_are_replaced() {
        let mut base = p("a: {x: 1, y: 2}\nl: [1, 2]\ns: {source: {path: a, sha256: abc}}\n");
        merge(&mut base, p("a: {y: 3}\nl: [9]\ns: {source: {url: u}}\n"));
        assert_eq!(
            base.at_path(&["a", "x"]).unwrap().value,
            Value::Scalar(Scalar::Int(1))
        );
        assert_eq!(
            base.at_path(&["a", "y"]).unwrap().value,
            Value::Scalar(Scalar::Int(3))
        );
        assert_eq!(
            base.at_path(&["l"]).unwrap().to_json(),
            serde_json::json!([9])
        );
        assert_eq!(
            base.at_path(&["s", "source"]).unwrap().to_json(),
            serde_json::json!({"url": "u"})
        );
    }

    #[test]
    fn null_deletes_a_key_or_a_stage() {
        let mut base = p("stages: {a: {kind: cmd}, b: {kind: cmd}}\n");
        merge(&mut base, p("stages: {a: null}\n"));
        assert!(base.at_path(&["stages", "a"]).is_none());
        assert!(base.at_path(&["stages", "b"]).is_some());
    }

    #[test]
    fn overriding_value_takes_the_child_mark() {
        let mut base = p("a: 1\n");
        let over = parse_str("\n\na: 2\n", &Arc::new(PathBuf::from("child.yaml"))).unwrap();
        merge(&mut base, over);
        let a = base.get("a").unwrap();
        assert_eq!(a.mark.file.as_path(), Path::new("child.yaml"));
        assert_eq!(a.mark.line, 3);
    }

    #[test]
    fn extends_cycle_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "extends: b.yaml\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "extends: a.yaml\n").unwrap();
        let e = load(&dir.path().join("a.yaml")).unwrap_err();
        assert!(e.message.contains("extends cycle"), "{e}");
        assert!(e.message.contains("a.yaml -> "), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_stripped_here_and_in_the_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "\u{feff}params: { x: 1 }\n").unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "\u{feff}extends: b.yaml\nname: n\n",
        )
        .unwrap();
        let root = load(&dir.path().join("a.yaml")).unwrap();
        assert_eq!(root.get("name").and_then(Node::as_str), Some("n"));
        assert!(root.at_path(&["params", "x"]).is_some());
        assert!(root.get("\u{feff}name").is_none());
    }

    #[test]
    fn missing_base_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "extends: nope.yaml\n").unwrap();
        let e = load(&dir.path().join("a.yaml")).unwrap_err();
        assert_eq!(e.path, "extends");
        assert!(e.to_string().contains("a.yaml:1:"), "{e}");
    }
}
