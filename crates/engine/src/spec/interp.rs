//! `${params.x}` and `${matrix.k}` references.
//!
//! A string that is exactly one reference takes the referenced value with its
//! type; a reference inside a longer string is interpolated as text. `$${`
//! is a literal `${`. Other `${NAME}` forms (shell variables) are left alone.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::error::{SpecError, join};
use super::limits::{MAX_PARAM_DEPTH, MAX_VALUE_BYTES};
use super::node::{Mark, Node, Value, scalar_to_json};
use super::quote::{RAW_SUFFIX, shell_word};

/// Resolves one reference name (`params.lr`, `matrix.k`) to a value.
pub trait Lookup {
    /// The value of `name`, or an error at `mark`/`path`.
    fn lookup(&mut self, name: &str, mark: &Mark, path: &str) -> Result<Json, SpecError>;
}

/// Resolves every reference inside `node`, giving plain JSON. A value whose
/// text would pass [`MAX_VALUE_BYTES`] is an error at `node`.
pub fn resolve(node: &Node, path: &str, look: &mut dyn Lookup) -> Result<Json, SpecError> {
    resolve_sized(node, path, look).map(|(v, _)| v)
}

/// [`resolve`], also giving the value's [`text_len`].
fn resolve_sized(
    node: &Node,
    path: &str,
    look: &mut dyn Lookup,
) -> Result<(Json, usize), SpecError> {
    Ok(match &node.value {
        Value::Scalar(super::node::Scalar::Str(s)) => {
            let v = resolve_str(s, &node.mark, path, look)?;
            let n = text_len(&v);
            if n > MAX_VALUE_BYTES {
                return Err(too_long(&node.mark, path, n, None));
            }
            (v, n)
        }
        Value::Scalar(s) => {
            let v = scalar_to_json(s);
            let n = text_len(&v);
            (v, n)
        }
        Value::Seq(items) => {
            let mut total = 2;
            let mut out = Vec::with_capacity(items.len());
            for (i, n) in items.iter().enumerate() {
                let (v, len) = resolve_sized(n, &join(path, &i.to_string()), look)?;
                total += len + usize::from(i > 0);
                if total > MAX_VALUE_BYTES {
                    return Err(too_long(&node.mark, path, total, None));
                }
                out.push(v);
            }
            (Json::Array(out), total)
        }
        Value::Map(entries) => {
            let mut total = 2;
            let mut out = serde_json::Map::new();
            for (i, (k, n)) in entries.iter().enumerate() {
                let (v, len) = resolve_sized(n, &join(path, k), look)?;
                total += k.len() + 3 + len + usize::from(i > 0);
                if total > MAX_VALUE_BYTES {
                    return Err(too_long(&node.mark, path, total, None));
                }
                out.insert(k.clone(), v);
            }
            (Json::Object(out), total)
        }
    })
}

/// The length of a value's JSON text, in bytes, without building it (string
/// escapes are not counted, so this is a lower bound; exact otherwise).
pub fn text_len(v: &Json) -> usize {
    match v {
        Json::Null => 4,
        Json::Bool(b) => 4 + usize::from(!*b),
        Json::Number(n) => n.to_string().len(),
        Json::String(s) => s.len() + 2,
        Json::Array(a) => 2 + a.len().saturating_sub(1) + a.iter().map(text_len).sum::<usize>(),
        Json::Object(o) => {
            2 + o.len().saturating_sub(1)
                + o.iter()
                    .map(|(k, x)| k.len() + 3 + text_len(x))
                    .sum::<usize>()
        }
    }
}

/// "this value would be N bytes, over the limit" at `mark`/`path`.
fn too_long(mark: &Mark, path: &str, n: usize, by: Option<&str>) -> SpecError {
    let via = by
        .map(|name| format!(" after substituting `${{{name}}}`"))
        // default: no substitution involved: the message has no suffix.
        .unwrap_or_default();
    SpecError::at(
        mark,
        path,
        format!(
            "value would be at least {n} bytes long{via}; one interpolated value may be at most \
             {MAX_VALUE_BYTES} bytes (1 MiB)"
        ),
    )
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
            Some(j) if is_ref_name(after[..j].trim().trim_end_matches(RAW_SUFFIX)) => {
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
    resolve_str_as(s, mark, path, look, false)
}

/// Resolves a `cmd` stage's `run:` (a string, or an error at `path`): every
/// substituted value is one shell word (`spec/quote.rs`) unless its
/// reference ends in `:raw`.
pub fn resolve_command(node: &Node, path: &str, look: &mut dyn Lookup) -> Result<Json, SpecError> {
    match &node.value {
        Value::Scalar(super::node::Scalar::Str(s)) => {
            resolve_str_as(s, &node.mark, path, look, true)
        }
        _ => resolve(node, path, look),
    }
}

/// [`resolve_str`]; with `shell`, values are pasted as shell words.
fn resolve_str_as(
    s: &str,
    mark: &Mark,
    path: &str,
    look: &mut dyn Lookup,
    shell: bool,
) -> Result<Json, SpecError> {
    let pieces = split(s).map_err(|m| SpecError::at(mark, path, m))?;
    if !shell && let [Piece::Ref(name)] = pieces.as_slice() {
        let name = name.strip_suffix(RAW_SUFFIX).unwrap_or(name).trim();
        return look.lookup(name, mark, path);
    }
    // Every length is checked before the text grows, so an over-long value
    // is refused without ever being built.
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => {
                if out.len() + t.len() > MAX_VALUE_BYTES {
                    return Err(too_long(mark, path, out.len() + t.len(), None));
                }
                out.push_str(&t);
            }
            Piece::Ref(name) => {
                let (name, raw) = match name.strip_suffix(RAW_SUFFIX) {
                    Some(n) => (n.trim(), true),
                    None => (name, false),
                };
                let v = look.lookup(name, mark, path)?;
                let v = match v {
                    Json::String(t) if shell && !raw => Json::String(shell_word(&t).into_owned()),
                    Json::String(t) => Json::String(t),
                    other if shell && !raw => {
                        Json::String(shell_word(&other.to_string()).into_owned())
                    }
                    other => other,
                };
                let add = match &v {
                    Json::String(s) => s.len(),
                    other => text_len(other),
                };
                if out.len() + add > MAX_VALUE_BYTES {
                    return Err(too_long(mark, path, out.len() + add, Some(name)));
                }
                match v {
                    Json::String(v) => out.push_str(&v),
                    other => {
                        let text = other.to_string();
                        if out.len() + text.len() > MAX_VALUE_BYTES {
                            return Err(too_long(mark, path, out.len() + text.len(), Some(name)));
                        }
                        out.push_str(&text);
                    }
                }
            }
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
    /// Name → position in `nodes` (a scan per lookup made 80,000 params quadratic).
    by_name: HashMap<&'a str, usize>,
    done: HashMap<String, Json>,
    visiting: Vec<String>,
}

impl<'a> ParamResolver<'a> {
    /// A resolver over the declared params.
    pub fn new(nodes: &'a [(String, Node)]) -> Self {
        ParamResolver {
            nodes,
            by_name: nodes
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.as_str(), i))
                .collect(),
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
        let nodes = self.nodes;
        let Some((_, node)) = self.by_name.get(name).map(|&i| &nodes[i]) else {
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
        if self.visiting.len() >= MAX_PARAM_DEPTH {
            return Err(SpecError::at(
                mark,
                path,
                format!(
                    "params refer to params more than {MAX_PARAM_DEPTH} levels deep (at `{name}`)"
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

    /// `p0` is `len` bytes; each `pK` is `${params.pK-1}` twice.
    fn doubling(len: usize, levels: usize) -> String {
        let mut y = format!("p0: '{}'\n", "x".repeat(len));
        for k in 1..=levels {
            y.push_str(&format!(
                "p{k}: '${{params.p{}}}${{params.p{}}}'\n",
                k - 1,
                k - 1
            ));
        }
        y
    }

    #[test]
    fn doubling_params_stop_at_the_first_value_over_the_limit() {
        // 1536 * 2^9 = 786_432 fits; 1536 * 2^10 = 1_572_864 does not.
        let e = params(&doubling(1536, 24)).unwrap_err();
        assert_eq!(e.path, "params.p10", "{e}");
        assert_eq!(e.mark.as_ref().unwrap().line, 11, "{e}");
        assert!(e.message.contains("1572864 bytes"), "{e}");
        assert!(e.message.contains(&MAX_VALUE_BYTES.to_string()), "{e}");
        let p = params(&doubling(1536, 9)).unwrap();
        assert_eq!(p["p9"].as_str().unwrap().len(), 1536 << 9);
    }

    #[test]
    fn lists_of_references_are_bounded_too() {
        let mut y = format!("a: '{}'\n", "x".repeat(400_000));
        y.push_str("b: ['${params.a}', '${params.a}']\nc: ['${params.b}', '${params.b}']\n");
        let e = params(&y).unwrap_err();
        assert_eq!(e.path, "params.c", "{e}");
        assert!(e.message.contains("at most 1048576 bytes"), "{e}");
    }

    #[test]
    fn non_string_values_count_as_their_json_text() {
        let v = json!({"ab": [1, true, null, "x"]});
        assert_eq!(text_len(&v), v.to_string().len());
    }

    #[test]
    fn very_long_param_chains_are_refused_not_overflowing_the_stack() {
        // Declared first-to-last, each referring to the next: resolving `p0`
        // walks the whole chain.
        let chain = |n: usize| {
            let mut y = String::new();
            for k in 0..n - 1 {
                y.push_str(&format!("p{k}: '${{params.p{}}}'\n", k + 1));
            }
            y.push_str(&format!("p{}: 1\n", n - 1));
            y
        };
        let e = params(&chain(5000)).unwrap_err();
        assert!(e.message.contains("levels deep"), "{e}");
        assert_eq!(params(&chain(200)).unwrap()["p0"], json!(1));
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
