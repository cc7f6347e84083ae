//! A kind's field table, derived from its typed `with` struct's JSON Schema
//! (`schemars`): names in declaration order, types in words with the bounds
//! the engine checks, doc comments, defaults, and which keys are required.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::contract::Field;
use crate::util::schema::{admits_null, bounds_words, is_required, resolve, types_of};

/// The field table of `T`, in the order its fields are declared.
pub fn fields_of<T: JsonSchema + Serialize + Default>() -> Vec<Field> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let defs = root.get("$defs").and_then(Value::as_object);
    let Some(props) = root.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut names = declared_order(&T::default());
    names.retain(|n| props.contains_key(n));
    names.extend(
        props
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    names
        .into_iter()
        .map(|name| {
            let p = &props[&name];
            Field {
                ty: words(defs, p, 0),
                required: is_required(defs, p),
                doc: one_line(p.get("description").and_then(Value::as_str).unwrap_or("")),
                default: p.get("default").cloned().unwrap_or(Value::Null),
                name,
            }
        })
        .collect()
}

/// A doc comment's lines joined into one.
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The keys of `t` as serde writes them: the struct's declaration order.
fn declared_order<T: Serialize>(t: &T) -> Vec<String> {
    /// The top-level keys of a JSON object, in order.
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        m.next_value::<IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::to_string(t)
        .ok()
        .and_then(|s| serde_json::from_str::<Keys>(&s).ok())
        .map(|k| k.0)
        // default: a struct that does not serialize as a map has no order to
        // keep; the schema's (alphabetical) order is used.
        .unwrap_or_default()
}

/// A schema in words: `int in [1, 10]`, `list of string`, `"a" | "b"`,
/// `{path, url}` for a named struct (its keys)… (`depth` stops runaway
/// recursion through `$ref`s).
fn words(defs: Option<&Map<String, Value>>, schema: &Value, depth: usize) -> String {
    if depth > 4 {
        return "map".into();
    }
    let named = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"));
    let s = resolve(defs, schema);
    if let Some(alts) = ["anyOf", "oneOf"]
        .iter()
        .find_map(|k| s.get(*k).and_then(Value::as_array))
    {
        let parts: Vec<String> = alts
            .iter()
            .filter(|a| types_of(resolve(defs, a)) != ["null"])
            .map(|a| words(defs, a, depth + 1))
            .collect();
        return parts.join(" | ");
    }
    if let Some(c) = s.get("const") {
        return c.to_string();
    }
    if let Some(vals) = s.get("enum").and_then(Value::as_array) {
        return vals
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let ty = types_of(s).into_iter().find(|t| *t != "null").unwrap_or("");
    let base = match ty {
        "integer" => "int".to_string(),
        "number" => "float".to_string(),
        "boolean" => "bool".to_string(),
        "string" => "string".to_string(),
        "array" => {
            let item = s
                .get("items")
                .map_or("any".into(), |i| words(defs, i, depth + 1));
            match s.get("minItems").and_then(Value::as_u64) {
                Some(n) if n > 0 => format!("list of {item}, at least {n}"),
                _ => format!("list of {item}"),
            }
        }
        "object" => match (s.get("additionalProperties"), named) {
            (Some(v), None) if v.is_object() => {
                format!("map of {}", words(defs, v, depth + 1))
            }
            (_, Some(name)) => match s.get("properties").and_then(Value::as_object) {
                Some(props) => format!(
                    "{{{}}}",
                    props.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                None => name_words(name),
            },
            _ => object_words(defs, s, depth),
        },
        _ => named.map_or("any".into(), name_words),
    };
    match bounds_words(s) {
        Some(b) => format!("{base} {b}"),
        None => base,
    }
}

/// An inline object (an enum variant's map): `{key: words}`.
fn object_words(defs: Option<&Map<String, Value>>, s: &Value, depth: usize) -> String {
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return "map".into();
    };
    let inner: Vec<String> = props
        .iter()
        .map(|(k, v)| {
            let opt = if admits_null(defs, v) { "?" } else { "" };
            format!("{k}{opt}: {}", words(defs, v, depth + 1))
        })
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// A type's Rust name in words: `FieldMap` → `field map`.
fn name_words(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    /// Which way.
    #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        /// The first.
        #[default]
        Fast,
        /// The second.
        SlowOne,
    }

    /// A nested map.
    #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct FieldMap {
        /// A key.
        key: Option<String>,
    }

    /// The with map.
    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct With {
        /// Longest input
        /// in tokens.
        #[schemars(range(min = 8, max = 1024))]
        max_len: usize,
        /// The mode.
        #[schemars(required)]
        mode: Option<Mode>,
        /// Level.
        #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
        level: f64,
        /// Names.
        #[schemars(length(min = 1))]
        names: Vec<String>,
        /// Per label.
        rel: BTreeMap<String, f64>,
        /// Fields.
        fields: Option<FieldMap>,
        /// A count.
        #[schemars(range(min = 1))]
        n: Option<u32>,
    }

    impl Default for With {
        fn default() -> Self {
            With {
                max_len: 16,
                mode: None,
                level: 0.5,
                names: vec!["a".into()],
                rel: BTreeMap::new(),
                fields: None,
                n: None,
            }
        }
    }

    #[test]
    fn the_table_follows_the_struct() {
        let f = fields_of::<With>();
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["max_len", "mode", "level", "names", "rel", "fields", "n"]
        );
        let ty: Vec<&str> = f.iter().map(|f| f.ty.as_str()).collect();
        assert_eq!(
            ty,
            [
                "int in [8, 1024]",
                "\"fast\" | \"slow-one\"",
                "float in (0, 1)",
                "list of string, at least 1",
                "map of float",
                "{key}",
                "int ≥ 1",
            ]
        );
        let required: Vec<bool> = f.iter().map(|f| f.required).collect();
        assert_eq!(required, [false, true, false, false, false, false, false]);
        assert_eq!(f[0].doc, "Longest input in tokens.");
        assert_eq!(f[0].default, serde_json::json!(16));
        assert_eq!(f[1].default, Value::Null);
    }
}
