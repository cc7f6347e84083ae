//! Matrix expansion and expansion names: `rm` with `matrix: {lambda_adv:
//! [0.0, 0.2]}` becomes `rm[lambda_adv=0.0]` and `rm[lambda_adv=0.2]`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::parse::resolve_plain;

/// One expansion: matrix key → value.
pub type Point = BTreeMap<String, Json>;

/// Most expansions one stage may have.
pub const MAX_EXPANSIONS: usize = 10_000;

/// The cartesian product of the axes, keys sorted, values in list order.
/// `None` if it would exceed [`MAX_EXPANSIONS`].
pub fn expand(axes: &BTreeMap<String, Vec<Json>>) -> Option<Vec<Point>> {
    let mut points = vec![Point::new()];
    for (k, values) in axes {
        if points.len().checked_mul(values.len())? > MAX_EXPANSIONS {
            return None;
        }
        let mut next = Vec::with_capacity(points.len() * values.len());
        for p in &points {
            for v in values {
                let mut q = p.clone();
                q.insert(k.clone(), v.clone());
                next.push(q);
            }
        }
        points = next;
    }
    Some(points)
}

/// A matrix value as it appears in names: floats in shortest round-trip
/// form (`0.2`, `1.0`, `1e-5`), strings bare.
pub fn format_value(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) if n.is_f64() => ryu::Buffer::new()
            .format(n.as_f64().unwrap_or(f64::NAN))
            .to_string(),
        other => other.to_string(),
    }
}

/// `base[k1=v1,k2=v2]`, or `base` for an empty point.
pub fn expansion_name(base: &str, point: &Point) -> String {
    if point.is_empty() {
        return base.to_string();
    }
    let parts: Vec<String> = point
        .iter()
        .map(|(k, v)| format!("{k}={}", format_value(v)))
        .collect();
    format!("{base}[{}]", parts.join(","))
}

/// Characters a string matrix value may not contain (they delimit names).
pub const RESERVED: &[char] = &['[', ']', ',', '=', '/', '\0'];

/// A stage reference: a base name and, optionally, a partial point.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// Stage base name.
    pub base: String,
    /// `None`: no brackets or `[*]`; otherwise the required values.
    pub point: Option<Point>,
    /// Written `[*]`: every expansion, never zipped.
    pub star: bool,
}

/// Parses `rm`, `rm[*]` or `rm[lambda_adv=0.2,seed=1]`.
pub fn parse_selector(s: &str) -> Result<Selector, String> {
    let Some(open) = s.find('[') else {
        return Ok(Selector {
            base: s.to_string(),
            point: None,
            star: false,
        });
    };
    let Some(inner) = s[open + 1..].strip_suffix(']') else {
        return Err(format!("`{s}`: expected `NAME[KEY=VALUE,...]`"));
    };
    let base = s[..open].to_string();
    if inner.trim() == "*" {
        return Ok(Selector {
            base,
            point: None,
            star: true,
        });
    }
    let mut point = Point::new();
    for part in inner.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(format!("`{s}`: expected KEY=VALUE, found `{part}`"));
        };
        point.insert(
            k.trim().to_string(),
            crate::spec::node::scalar_to_json(&resolve_plain(v.trim())),
        );
    }
    Ok(Selector {
        base,
        point: Some(point),
        star: false,
    })
}

/// Equality of matrix values, with numbers compared by value (`1` = `1.0`).
pub fn value_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::String(x), y) | (y, Json::String(x)) if !y.is_string() => *x == format_value(y),
        _ => a == b,
    }
}

/// Whether `point` agrees with every value of `partial`.
pub fn matches(point: &Point, partial: &Point) -> bool {
    partial
        .iter()
        .all(|(k, v)| point.get(k).is_some_and(|p| value_eq(p, v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_sort_keys_and_print_floats_shortest() {
        let mut p = Point::new();
        p.insert("lambda_adv".into(), json!(0.2));
        p.insert("b".into(), json!(1.0));
        p.insert("c".into(), json!("x"));
        assert_eq!(expansion_name("rm", &p), "rm[b=1.0,c=x,lambda_adv=0.2]");
        p.clear();
        p.insert("lr".into(), json!(1.0e-7));
        assert_eq!(expansion_name("rm", &p), "rm[lr=1e-7]");
    }

    #[test]
    fn expand_is_a_cartesian_product_in_order() {
        let mut axes = BTreeMap::new();
        axes.insert("a".to_string(), vec![json!(1), json!(2)]);
        axes.insert("b".to_string(), vec![json!("x"), json!("y"), json!("z")]);
        let pts = expand(&axes).unwrap();
        assert_eq!(pts.len(), 6);
        assert_eq!(expansion_name("s", &pts[0]), "s[a=1,b=x]");
        assert_eq!(expansion_name("s", &pts[5]), "s[a=2,b=z]");
    }

    #[test]
    fn huge_products_are_refused() {
        let mut axes = BTreeMap::new();
        for k in ["a", "b", "c"] {
            axes.insert(k.to_string(), (0..100).map(|i| json!(i)).collect());
        }
        assert!(expand(&axes).is_none());
    }

    #[test]
    fn selectors_parse_and_match_numerically() {
        let s = parse_selector("rm[lambda_adv=1]").unwrap();
        assert_eq!(s.base, "rm");
        let mut p = Point::new();
        p.insert("lambda_adv".into(), json!(1.0));
        assert!(matches(&p, s.point.as_ref().unwrap()));
        assert_eq!(parse_selector("rm[*]").unwrap().point, None);
        assert!(parse_selector("rm[x").is_err());
        assert!(parse_selector("rm[x]").is_err());
    }
}
