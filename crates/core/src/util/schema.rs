//! Bounds declared once, on the typed struct (ARCHITECTURE.md, "Adding a
//! kind"): a config's fields carry `#[schemars(range(...))]`,
//! `#[schemars(length(...))]` or an `exclusiveMinimum`/`exclusiveMaximum`
//! extension, and [`check_bounds`] / [`check_value`] enforce what the derived
//! JSON Schema says, naming the failing key. The same schema gives
//! `repro kinds` its field table, so the documented range is the checked one.

use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde_json::{Map, Value};

use super::keyed::WithError;

/// Checks `config` against the bounds its own schema declares. A float that
/// is not finite (NaN serializes as `null`) fails where the schema wants a
/// number.
pub fn check_bounds<T: JsonSchema + Serialize>(config: &T) -> Result<(), WithError> {
    let value = serde_json::to_value(config)
        .map_err(|e| WithError::new("", format!("cannot serialize the config: {e}")))?;
    check_value(&schemars::schema_for!(T), &value)
}

/// Checks a JSON value (a parsed `with:` map) against the bounds in `schema`:
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minItems`,
/// `maxItems` and `minLength`, through nested objects, maps, lists and
/// `$ref`s. Shapes and types are serde's business and are not re-checked.
pub fn check_value(schema: &Schema, value: &Value) -> Result<(), WithError> {
    let root = schema.as_value();
    let defs = root.get("$defs").and_then(Value::as_object);
    Walker { defs }.walk(root, value, "")
}

/// The schema a `$ref` (`#/$defs/Name`) points to, or `schema` itself.
pub fn resolve<'a>(defs: Option<&'a Map<String, Value>>, schema: &'a Value) -> &'a Value {
    let target = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| defs?.get(name));
    target.unwrap_or(schema)
}

/// The JSON types a schema names (`type`: a string or a list).
pub fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether `schema` accepts `null` (an `Option` field that may be left out).
pub fn admits_null(defs: Option<&Map<String, Value>>, schema: &Value) -> bool {
    let s = resolve(defs, schema);
    if types_of(s).contains(&"null") {
        return true;
    }
    ["anyOf", "oneOf"].iter().any(|k| {
        s.get(*k)
            .and_then(Value::as_array)
            .is_some_and(|alts| alts.iter().any(|a| admits_null(defs, a)))
    })
}

/// Whether a field must be given: its default is `null` but its schema does
/// not accept `null` (an `Option` marked `#[schemars(required)]`).
pub fn is_required(defs: Option<&Map<String, Value>>, schema: &Value) -> bool {
    schema.get("default").is_some_and(Value::is_null) && !admits_null(defs, schema)
}

/// The JSON Schema name of a value's type (`null`, `boolean`, `number`,
/// `string`, `array`, `object`), also for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The bounds of a number schema, in words: `≥ 1`, `in [8, 1048576]`,
/// `in (0, 1)`; `None` when it declares none.
pub fn bounds_words(schema: &Value) -> Option<String> {
    let lo = bound(schema, "minimum", "exclusiveMinimum");
    let hi = bound(schema, "maximum", "exclusiveMaximum");
    match (lo, hi) {
        (None, None) => None,
        (Some((l, ex)), None) => Some(format!("{} {}", if ex { ">" } else { "≥" }, num(l))),
        (None, Some((h, ex))) => Some(format!("{} {}", if ex { "<" } else { "≤" }, num(h))),
        (Some((l, lex)), Some((h, hex))) => Some(format!(
            "in {}{}, {}{}",
            if lex { "(" } else { "[" },
            num(l),
            num(h),
            if hex { ")" } else { "]" }
        )),
    }
}

/// A bound and whether it is exclusive; the exclusive one wins if both are given.
fn bound(schema: &Value, inclusive: &str, exclusive: &str) -> Option<(f64, bool)> {
    let get = |k: &str| schema.get(k).and_then(Value::as_f64);
    get(exclusive)
        .map(|v| (v, true))
        .or_else(|| get(inclusive).map(|v| (v, false)))
}

/// A bound as the user wrote it (`8`, not `8.0`).
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Walks a value beside its schema, collecting the root's `$defs`.
struct Walker<'a> {
    defs: Option<&'a Map<String, Value>>,
}

impl Walker<'_> {
    fn walk(&self, schema: &Value, value: &Value, path: &str) -> Result<(), WithError> {
        if value.is_null() && is_required(self.defs, schema) {
            return Err(WithError::new(path, "missing: this key is required"));
        }
        let schema = resolve(self.defs, schema);
        if let Some(alts) = ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array))
        {
            return self.walk_alternatives(alts, value, path);
        }
        match value {
            Value::Null => {
                let types = types_of(schema);
                let wants_number = types.iter().any(|t| *t == "number" || *t == "integer");
                if wants_number && !types.contains(&"null") {
                    return Err(WithError::new(path, "expected a finite number"));
                }
                Ok(())
            }
            Value::Number(n) => match n.as_f64() {
                Some(v) => check_number(schema, v, path),
                None => Ok(()),
            },
            Value::String(s) => {
                let min = schema.get("minLength").and_then(Value::as_u64);
                match min {
                    Some(1) if s.is_empty() => Err(WithError::new(path, "must not be empty")),
                    Some(m) if (s.chars().count() as u64) < m => Err(WithError::new(
                        path,
                        format!(
                            "expected at least {m} characters, found {}",
                            s.chars().count()
                        ),
                    )),
                    _ => Ok(()),
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if let Some(m) = schema
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .filter(|m| n < *m)
                {
                    return Err(WithError::new(
                        path,
                        format!("expected at least {m} entries, found {n}"),
                    ));
                }
                if let Some(m) = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .filter(|m| n > *m)
                {
                    return Err(WithError::new(
                        path,
                        format!("expected at most {m} entries, found {n}"),
                    ));
                }
                match schema.get("items") {
                    Some(item) if item.is_object() => {
                        for (i, v) in items.iter().enumerate() {
                            self.walk(item, v, &format!("{path}[{i}]"))?;
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let extra = schema.get("additionalProperties").filter(|s| s.is_object());
                for (k, v) in map {
                    let sub = props.and_then(|p| p.get(k)).or(extra);
                    if let Some(sub) = sub {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        self.walk(sub, v, &p)?;
                    }
                }
                Ok(())
            }
            Value::Bool(_) => Ok(()),
        }
    }

    /// An `Option` or an enum: the first alternative of the value's JSON type
    /// decides (`null` against `Option`'s null branch, an object against the
    /// struct), and a value no alternative claims is left to serde.
    fn walk_alternatives(
        &self,
        alts: &[Value],
        value: &Value,
        path: &str,
    ) -> Result<(), WithError> {
        let kind = type_name(value);
        let mut first_err = None;
        for alt in alts {
            let resolved = resolve(self.defs, alt);
            let types = types_of(resolved);
            let fits = types.is_empty()
                || types.contains(&kind)
                || (kind == "number" && types.contains(&"integer"));
            if !fits {
                continue;
            }
            match self.walk(alt, value, path) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Checks one number against the schema's bounds.
fn check_number(schema: &Value, v: f64, path: &str) -> Result<(), WithError> {
    let lo = bound(schema, "minimum", "exclusiveMinimum");
    let hi = bound(schema, "maximum", "exclusiveMaximum");
    let below = lo.is_some_and(|(l, ex)| if ex { v <= l } else { v < l });
    let above = hi.is_some_and(|(h, ex)| if ex { v >= h } else { v > h });
    if below || above {
        // default: unreachable, a value out of bounds means the schema has some.
        let words = bounds_words(schema).unwrap_or_default();
        return Err(WithError::new(
            path,
            format!("expected a value {words}, found {}", num(v)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        #[schemars(range(min = 1))]
        n: usize,
    }

    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields)]
    struct Config {
        #[schemars(range(min = 8, max = 1024))]
        max_len: usize,
        #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
        level: f64,
        #[schemars(range(min = 1))]
        n: Option<usize>,
        #[schemars(length(min = 1))]
        categories: Vec<String>,
        inner: Option<Inner>,
        list: Vec<Inner>,
        #[schemars(required)]
        must: Option<String>,
    }

    impl Default for Config {
        fn default() -> Self {
            Config {
                max_len: 16,
                level: 0.5,
                n: None,
                categories: vec!["a".into()],
                inner: None,
                list: Vec::new(),
                must: None,
            }
        }
    }

    fn err(c: Config) -> (String, String) {
        let e = check_bounds(&c).unwrap_err();
        (e.path, e.message)
    }

    #[test]
    fn every_bound_is_checked_and_named() {
        let d = || Config {
            must: Some("x".into()),
            ..Config::default()
        };
        assert!(check_bounds(&d()).is_ok());
        assert_eq!(
            err(Config::default()),
            ("must".into(), "missing: this key is required".into())
        );
        let edge = Config {
            max_len: 1024,
            level: 0.999,
            n: Some(1),
            ..d()
        };
        assert!(check_bounds(&edge).is_ok());
        assert_eq!(
            err(Config { max_len: 7, ..d() }),
            (
                "max_len".into(),
                "expected a value in [8, 1024], found 7".into()
            )
        );
        assert_eq!(
            err(Config {
                max_len: 1025,
                ..d()
            })
            .0,
            "max_len"
        );
        assert_eq!(
            err(Config { level: 1.0, ..d() }),
            ("level".into(), "expected a value in (0, 1), found 1".into())
        );
        assert_eq!(err(Config { level: 0.0, ..d() }).0, "level");
        assert_eq!(
            err(Config {
                level: f64::NAN,
                ..d()
            }),
            ("level".into(), "expected a finite number".into())
        );
        assert_eq!(
            err(Config { n: Some(0), ..d() }),
            ("n".into(), "expected a value ≥ 1, found 0".into())
        );
        assert_eq!(
            err(Config {
                categories: vec![],
                ..d()
            })
            .0,
            "categories"
        );
        assert_eq!(
            err(Config {
                inner: Some(Inner { n: 0 }),
                ..d()
            })
            .0,
            "inner.n"
        );
        assert_eq!(
            err(Config {
                list: vec![Inner { n: 2 }, Inner { n: 0 }],
                ..d()
            })
            .0,
            "list[1].n"
        );
    }

    #[test]
    fn a_parsed_map_is_checked_the_same_way() {
        let schema = schemars::schema_for!(Config);
        assert!(check_value(&schema, &json!({"max_len": 8})).is_ok());
        let e = check_value(&schema, &json!({"inner": {"n": 0}})).unwrap_err();
        assert_eq!(e.path, "inner.n");
        assert!(check_value(&schema, &json!({"inner": null})).is_ok());
        let e = check_value(&schema, &json!({"must": null})).unwrap_err();
        assert_eq!(e.path, "must");
    }

    #[test]
    fn words_and_null_follow_the_schema() {
        let schema = schemars::schema_for!(Config);
        let root = schema.as_value();
        let defs = root.get("$defs").and_then(Value::as_object);
        let prop = |k: &str| &root["properties"][k];
        assert_eq!(
            bounds_words(prop("max_len")).as_deref(),
            Some("in [8, 1024]")
        );
        assert_eq!(bounds_words(prop("n")).as_deref(), Some("≥ 1"));
        assert_eq!(bounds_words(prop("categories")), None);
        assert!(admits_null(defs, prop("n")));
        assert!(admits_null(defs, prop("inner")));
        assert!(!admits_null(defs, prop("must")));
        assert!(!admits_null(defs, prop("max_len")));
        assert!(is_required(defs, prop("must")));
        assert!(!is_required(defs, prop("n")));
        assert!(!is_required(defs, prop("max_len")));
    }
}
