//! A YAML document as a tree whose every node remembers its file, line and
//! column, so errors found long after parsing still point at the source.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a node came from: a file (or `--set`) and a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Source file, or a pseudo-name such as `--set`.
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A scalar as YAML 1.2's core schema resolves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A float (including `.inf`, `.nan`).
    Float(f64),
    /// Anything else, and every quoted scalar.
    Str(String),
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in file order (keys are unique).
    Map(Vec<(String, Node)>),
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub mark: Mark,
    /// Where its key starts, for a map entry (errors about a whole entry
    /// point at its name).
    pub key_mark: Option<Mark>,
}

impl Node {
    /// A new node.
    pub fn new(value: Value, mark: Mark) -> Self {
        Node {
            value,
            mark,
            key_mark: None,
        }
    }

    /// The position of the entry: its key's when it has one.
    pub fn pos(&self) -> &Mark {
        self.key_mark.as_ref().unwrap_or(&self.mark)
    }

    /// The entry `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The mutable entry `key` of a mapping node.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is a `null` scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(Scalar::Null))
    }

    /// The string of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// A short name for the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(Scalar::Null) => "null",
            Value::Scalar(Scalar::Bool(_)) => "a boolean",
            Value::Scalar(Scalar::Int(_)) => "an integer",
            Value::Scalar(Scalar::Float(_)) => "a float",
            Value::Scalar(Scalar::Str(_)) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// Converts to JSON (NaN and infinities become strings: JSON has none).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar(s) => scalar_to_json(s),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The node at a dotted path below this one (`stages.rm.with`), if any.
    pub fn at_path(&self, path: &[&str]) -> Option<&Node> {
        let mut node = self;
        for part in path {
            node = match &node.value {
                Value::Map(_) => node.get(part)?,
                Value::Seq(items) => items.get(part.parse::<usize>().ok()?)?,
                Value::Scalar(_) => return None,
            };
        }
        Some(node)
    }
}

/// JSON for one scalar.
pub fn scalar_to_json(s: &Scalar) -> serde_json::Value {
    match s {
        Scalar::Null => serde_json::Value::Null,
        Scalar::Bool(b) => serde_json::Value::Bool(*b),
        Scalar::Int(i) => serde_json::Value::from(*i),
        Scalar::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(f.to_string())),
        Scalar::Str(s) => serde_json::Value::String(s.clone()),
    }
}

/// Converts JSON back into a node (used for values that `--set` computed).
pub fn from_json(v: &serde_json::Value, mark: &Mark) -> Node {
    let value = match v {
        serde_json::Value::Null => Value::Scalar(Scalar::Null),
        serde_json::Value::Bool(b) => Value::Scalar(Scalar::Bool(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Scalar(Scalar::Int(i)),
            None => Value::Scalar(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
        },
        serde_json::Value::String(s) => Value::Scalar(Scalar::Str(s.clone())),
        serde_json::Value::Array(a) => Value::Seq(a.iter().map(|x| from_json(x, mark)).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, x)| (k.clone(), from_json(x, mark)))
                .collect(),
        ),
    };
    Node::new(value, mark.clone())
}
