//! Writes an experiment's overrides into its pipeline file, in place: each
//! key's scalar is replaced where the parser says it starts, so comments and
//! layout stay as they were. Refused (nothing written) for a key the file
//! does not write itself, a block scalar or a value that does not read
//! back as the override.

use std::path::Path;
use std::sync::Arc;

use crate::cli::error::CliError;
use crate::spec::node::{Node, Value};
use crate::spec::parse::parse_str;

fn refuse(file: &Path, key: &str, why: String) -> CliError {
    CliError::Usage(format!(
        "exp apply: cannot write `{key}` into {}: {why}; nothing was changed",
        file.display()
    ))
}

/// Byte offset of 1-based `line`, `col` (in characters) in `text`.
fn offset(text: &str, line: usize, col: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    Some(
        start
            + rest
                .char_indices()
                .nth(col - 1)
                .map_or(rest.len(), |(i, _)| i),
    )
}

/// The byte length of the scalar that starts at `text[at..]`.
fn scalar_len(text: &str, at: usize) -> usize {
    let s = &text[at..];
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, q @ ('"' | '\''))) => {
            let mut escaped = false;
            let mut it = chars.peekable();
            while let Some((i, c)) = it.next() {
                if q == '"' && c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                if c == q && !escaped {
                    if q == '\'' && it.peek().is_some_and(|(_, n)| *n == '\'') {
                        it.next();
                        continue;
                    }
                    return i + 1;
                }
                escaped = false;
            }
            s.len()
        }
        _ => {
            let end = s
                .find(['\n', ',', ']', '}'])
                .unwrap_or(s.len())
                .min(s.find(" #").unwrap_or(s.len()));
            s[..end].trim_end().len()
        }
    }
}

/// The pipeline text with every `KEY=VALUE` of `overrides` written in.
pub fn with_overrides(
    file: &Path,
    text: &str,
    overrides: &[(String, String)],
) -> Result<String, CliError> {
    let name = Arc::new(file.to_path_buf());
    let root = parse_str(text, &name)
        .map_err(|e| CliError::Usage(format!("{}: {}", file.display(), e.message)))?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (key, value) in overrides {
        let path: Vec<&str> = key.split('.').collect();
        let node: &Node = root.at_path(&path).ok_or_else(|| {
            refuse(
                file,
                key,
                "the file does not write it (a default, or written in an `extends:` base); write it there first".into(),
            )
        })?;
        if !matches!(node.value, Value::Scalar(_)) {
            return Err(refuse(
                file,
                key,
                format!("it is a {} there, not a plain value", node.type_name()),
            ));
        }
        if value.contains('\n') {
            return Err(refuse(file, key, "the value spans lines".into()));
        }
        let at = offset(text, node.mark.line, node.mark.col)
            .ok_or_else(|| refuse(file, key, "its position is outside the file".into()))?;
        if text[at..].starts_with(['|', '>']) {
            return Err(refuse(file, key, "it is a block scalar".into()));
        }
        let new = if value.is_empty() {
            "null".to_string()
        } else {
            value.clone()
        };
        edits.push((at, scalar_len(text, at), new));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (at, len, new) in &edits {
        out.replace_range(*at..at + len, new);
    }
    // Read it back: every key must now hold its override's value.
    let back = parse_str(&out, &name).map_err(|e| {
        CliError::Usage(format!(
            "exp apply: writing the overrides into {} would break it ({}); nothing was changed",
            file.display(),
            e.message
        ))
    })?;
    for (key, value) in overrides {
        let path: Vec<&str> = key.split('.').collect();
        let want = parse_str(value, &name).map(|n| n.to_json()).ok();
        let got = back.at_path(&path).map(Node::to_json);
        if want.is_none() || got != want {
            return Err(refuse(
                file,
                key,
                format!("`{value}` does not read back as written"),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, sets: &[(&str, &str)]) -> Result<String, CliError> {
        let sets: Vec<(String, String)> = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        with_overrides(Path::new("p.yaml"), text, &sets)
    }

    #[test]
    fn scalars_are_replaced_in_place_keeping_comments() {
        let text = "# top\nparams: { limit: 2312, lr: 0.1 }  # c\nstages:\n  a:\n    with:\n      k: \"x, y\"   # why\n";
        let out = edit(text, &[("params.limit", "1000"), ("stages.a.with.k", "z")]).unwrap();
        assert_eq!(
            out,
            "# top\nparams: { limit: 1000, lr: 0.1 }  # c\nstages:\n  a:\n    with:\n      k: z   # why\n"
        );
    }

    #[test]
    fn keys_the_file_does_not_write_are_refused() {
        let e = edit("params: { n: 1 }\n", &[("params.m", "2")]).unwrap_err();
        assert!(e.to_string().contains("does not write it"), "{e}");
        let e = edit("params:\n  n: [1, 2]\n", &[("params.n", "3")]).unwrap_err();
        assert!(e.to_string().contains("not a plain value"), "{e}");
    }
}
