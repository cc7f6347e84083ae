//! Canonical JSON: sorted keys, no whitespace, shortest floats. Keys and
//! digests are blake3 over these bytes, so they must never depend on map
//! insertion order or formatting.

use serde_json::Value;

/// Canonical bytes of a JSON value.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Number(n) if n.is_f64() => {
            out.push_str(ryu::Buffer::new().format(n.as_f64().unwrap_or(f64::NAN)));
        }
        other => out.push_str(&other.to_string()),
    }
}

/// blake3 hex digest of the canonical form.
pub fn digest(v: &Value) -> String {
    blake3::hash(canonical(v).as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":0.5}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":0.5,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(canonical(&a), r#"{"a":{"x":0.5,"y":[1,2]},"b":1}"#);
        assert_eq!(digest(&a), digest(&b));
    }

    #[test]
    fn ints_and_floats_differ_and_floats_are_shortest() {
        assert_ne!(canonical(&json!(1)), canonical(&json!(1.0)));
        assert_eq!(canonical(&json!(0.1)), "0.1");
        assert_eq!(canonical(&json!(1.0)), "1.0");
        assert_eq!(canonical(&json!("a\"b")), r#""a\"b""#);
    }

    #[test]
    fn digest_is_stable_across_releases() {
        // Pinned: a change here silently invalidates every cached stage.
        assert_eq!(
            digest(&json!({"kind": "cmd", "with": {"n": 3}})),
            blake3::hash(br#"{"kind":"cmd","with":{"n":3}}"#)
                .to_hex()
                .to_string()
        );
    }
}
