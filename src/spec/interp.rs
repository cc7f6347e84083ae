//! `${params.x}` and `${matrix.k}` references.
//!
//! A string that is exactly one reference takes the referenced value with its
//! type; a reference inside a longer string is interpolated as text. `$${`
//! is a literal `${`. Other `${NAME}` forms (shell variables) are left alone.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::error::{SpecError, join};
use super::node::{Mark, Node, Value, scalar_to_json};

/// Resolves one reference name (`params.lr`, `matrix.k`) to a value.
pub trait Lookup {
    /// The value of `name`, or an error at `mark`/`path`.
    fn lookup(&mut self, name: &str, mark: &Mark, path: &str) -> Result<Json, SpecError>;
}

/// Resolves every reference inside `node`, giving plain JSON.
pub fn resolve(node: &Node, path: &str, look: &mut dyn Lookup) -> Result<Json, SpecError> {
    Ok(match &node.value {
        Value::Scalar(super::node::Scalar::Str(s)) => resolve_str(s, &node.mark, path, look)?,
        Value::Scalar(s) => scalar_to_json(s),
        Value::Seq(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| resolve(n, &join(path, &i.to_string()), look))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, n)| Ok((k.clone(), resolve(n, &join(path, k), look)?)))
                .collect::<Result<_, SpecError>>()?,
        ),
    })
}

/// A reference found in a string.
enum Piece<'a> {
    Text(std::borrow::Cow<'a, str>),
    Ref(&'a str),
}

fn is_ref_name(name: &str) -> bool {
    name == "params"
        || name == "matrix"
        || name.starts_with("params.")
        || name.starts_with("matrix.")
}

fn split(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut text = String::new();
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            text.push_str(&rest[..i - 1]);
            text.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        text.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) if is_ref_name(after[..j].trim()) => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text).into()));
                }
                out.push(Piece::Ref(after[..j].trim()));
                rest = &after[j + 1..];
            }
            None if after.starts_with("params") || after.starts_with("matrix") => {
                return Err(format!(
                    "unterminated reference `${{{after}`: expected a closing `}}`"
                ));
            }
            _ => {
                text.push_str("${");
                rest = after;
            }
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(text.into()));
    }
    Ok(out)
}

/// Resolves the references in one string.
pub fn resolve_str(
    s: &str,
    mark: &Mark,
    path: &str,
    look: &mut dyn Lookup,
) -> Result<Json, SpecError> {
    let pieces = split(s).map_err(|m| SpecError::at(mark, path, m))?;
    if let [Piece::Ref(name)] = pieces.as_slice() {
        return look.lookup(name, mark, path);
    }
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(name) => match look.lookup(name, mark, path)? {
                Json::String(v) => out.push_str(&v),
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(Json::String(out))
}

/// Walks a dotted path into a JSON value.
fn index<'a>(mut v: &'a Json, parts: &[&str]) -> Option<&'a Json> {
    for p in parts {
        v = match v {
            Json::Object(m) => m.get(*p)?,
            Json::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Resolves the `params:` map, params referring to params, cycles refused.
pub struct ParamResolver<'a> {
    nodes: &'a [(String, Node)],
    done: HashMap<String, Json>,
    visiting: Vec<String>,
}

impl<'a> ParamResolver<'a> {
    /// A resolver over the declared params.
    pub fn new(nodes: &'a [(String, Node)]) -> Self {
        ParamResolver {
            nodes,
            done: HashMap::new(),
            visiting: Vec::new(),
        }
    }

    /// Every param, resolved.
    pub fn resolve_all(mut self) -> Result<serde_json::Map<String, Json>, SpecError> {
        let mut out = serde_json::Map::new();
        for (name, node) in self.nodes {
            let v = self.param(name, &node.mark, &join("params", name))?;
            out.insert(name.clone(), v);
        }
        Ok(out)
    }

    fn param(&mut self, name: &str, mark: &Mark, path: &str) -> Result<Json, SpecError> {
        if let Some(v) = self.done.get(name) {
            return Ok(v.clone());
        }
        let Some((_, node)) = self.nodes.iter().find(|(k, _)| k == name) else {
            return Err(SpecError::at(
                mark,
                path,
                format!("unknown param `{name}` in `${{params.{name}}}`"),
            ));
        };
        if let Some(i) = self.visiting.iter().position(|v| v == name) {
            let mut cycle: Vec<String> = self.visiting[i..].to_vec();
            cycle.push(name.to_string());
            return Err(SpecError::at(
                mark,
                path,
                format!(
                    "params refer to each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
            ));
        }
        self.visiting.push(name.to_string());
        let v = resolve(node, &join("params", name), self)?;
        self.visiting.pop();
        self.done.insert(name.to_string(), v.clone());
        Ok(v)
    }
}

impl Lookup for ParamResolver<'_> {
    fn lookup(&mut self, name: &str, mark: &Mark, path: &str) -> Result<Json, SpecError> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["params", first, rest @ ..] => {
                let v = self.param(first, mark, path)?;
                index(&v, rest).cloned().ok_or_else(|| {
                    SpecError::at(
                        mark,
                        path,
                        format!("`${{{name}}}`: param `{first}` has no `{}`", rest.join(".")),
                    )
                })
            }
            ["matrix", ..] => Err(SpecError::at(
                mark,
                path,
                format!("`${{{name}}}`: matrix values cannot be used in params"),
            )),
            _ => Err(SpecError::at(
                mark,
                path,
                format!("bad reference `${{{name}}}` (expected params.NAME or matrix.KEY)"),
            )),
        }
    }
}

/// Lookup for stage fields: resolved params and this expansion's matrix values.
pub struct StageScope<'a> {
    /// Resolved params.
    pub params: &'a serde_json::Map<String, Json>,
    /// This expansion's matrix values (empty without a matrix).
    pub matrix: &'a BTreeMap<String, Json>,
}

impl Lookup for StageScope<'_> {
    fn lookup(&mut self, name: &str, mark: &Mark, path: &str) -> Result<Json, SpecError> {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["params", first, rest @ ..] => {
                let v = self.params.get(*first).ok_or_else(|| {
                    SpecError::at(
                        mark,
                        path,
                        format!("unknown param `{first}` in `${{{name}}}`"),
                    )
                })?;
                index(v, rest).cloned().ok_or_else(|| {
                    SpecError::at(
                        mark,
                        path,
                        format!("`${{{name}}}`: param `{first}` has no `{}`", rest.join(".")),
                    )
                })
            }
            ["matrix", key] => self.matrix.get(*key).cloned().ok_or_else(|| {
                SpecError::at(
                    mark,
                    path,
                    format!("`${{{name}}}`: this stage has no matrix key `{key}`"),
                )
            }),
            _ => Err(SpecError::at(
                mark,
                path,
                format!("bad reference `${{{name}}}` (expected params.NAME or matrix.KEY)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse::parse_str;
    use serde_json::json;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn params(s: &str) -> Result<serde_json::Map<String, Json>, SpecError> {
        let n = parse_str(s, &Arc::new(PathBuf::from("t.yaml"))).unwrap();
        let Value::Map(entries) = n.value else {
            panic!()
        };
        ParamResolver::new(&entries).resolve_all()
    }

    #[test]
    fn exact_reference_keeps_the_type_text_interpolates() {
        let p = params("a: 3\nb: '${params.a}'\nc: 'n=${params.a}'\nd: [1, 2]\ne: '${params.d}'\n")
            .unwrap();
        assert_eq!(p["b"], json!(3));
        assert_eq!(p["c"], json!("n=3"));
        assert_eq!(p["e"], json!([1, 2]));
    }

    #[test]
    fn param_cycles_are_errors_with_their_path() {
        let e = params("a: '${params.b}'\nb: '${params.a}'\n").unwrap_err();
        assert!(e.message.contains("a -> b -> a"), "{e}");
    }

    #[test]
    fn unknown_reference_is_an_error_with_location() {
        let e = params("a: 1\nb: 'x ${params.zz}'\n").unwrap_err();
        assert!(e.message.contains("unknown param `zz`"), "{e}");
        assert_eq!(e.mark.unwrap().line, 2);
        assert_eq!(e.path, "params.b");
    }

    #[test]
    fn shell_variables_and_escapes_pass_through() {
        let p = params("a: 1\nb: 'echo ${OUT} $${params.a} ${params.a}'\n").unwrap();
        assert_eq!(p["b"], json!("echo ${OUT} ${params.a} 1"));
    }

    #[test]
    fn matrix_values_resolve_in_stage_scope() {
        let pm = serde_json::Map::new();
        let mut m = BTreeMap::new();
        m.insert("lam".to_string(), json!(0.2));
        let mut scope = StageScope {
            params: &pm,
            matrix: &m,
        };
        let mark = Mark {
            file: Arc::new(PathBuf::from("t")),
            line: 1,
            col: 1,
        };
        assert_eq!(
            resolve_str("${matrix.lam}", &mark, "", &mut scope).unwrap(),
            json!(0.2)
        );
        assert!(resolve_str("${matrix.nope}", &mark, "", &mut scope).is_err());
    }
}
