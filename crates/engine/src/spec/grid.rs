//! Which expansions of a matrix stage match a (partial) point, found in time
//! proportional to the number of matches rather than the number of
//! expansions: a consumer zipped with a 10,000-expansion producer no longer
//! scans every producer expansion for each of its own (issue 9).
//!
//! Expansions are the cartesian product of the axes in key order (see
//! [`super::matrix::expand`]), so a point is a choice of one value index per
//! axis and its position in the expansion list follows from those indices.
//! Each axis keeps a hash index from a value's probe keys to its indices;
//! the hits of every probe are confirmed with [`value_eq`], so matching
//! agrees exactly with [`super::matrix::matches`].

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;

use super::matrix::{Point, format_value, value_eq};

/// A matrix stage's axes, indexed for matching.
#[derive(Debug, Clone, Default)]
pub struct Grid {
    /// Axis keys in expansion order (sorted).
    keys: Vec<String>,
    /// Each axis's values, in list order.
    values: Vec<Vec<Json>>,
    /// Per axis: probe key → indices of the values carrying it.
    index: Vec<HashMap<String, Vec<usize>>>,
}

/// The keys under which a value is indexed and looked up: its name text
/// (`value_eq` compares a string with a non-string by that text, and equal
/// strings or booleans share it) and, for numbers, the number itself
/// (`value_eq` compares numbers by value: `1` = `1.0`).
fn probes(v: &Json) -> Vec<String> {
    let mut out = vec![format!("t:{}", format_value(v))];
    if let Json::Number(n) = v
        && let Some(f) = n.as_f64()
    {
        // -0.0 == 0.0, so both get 0.0's bits.
        let f = if f == 0.0 { 0.0 } else { f };
        out.push(format!("n:{:016x}", f.to_bits()));
    }
    out
}

/// The first value equal (by [`value_eq`]) to an earlier one, as
/// `(earlier, later)` indices; linear in the number of values.
pub fn first_duplicate(values: &[Json]) -> Option<(usize, usize)> {
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, v) in values.iter().enumerate() {
        let keys = probes(v);
        let earlier = keys
            .iter()
            .filter_map(|k| seen.get(k))
            .flatten()
            .copied()
            .filter(|&j| value_eq(v, &values[j]))
            .min();
        if let Some(j) = earlier {
            return Some((j, i));
        }
        for k in keys {
            seen.entry(k).or_default().push(i);
        }
    }
    None
}

impl Grid {
    /// Indexes the axes (as [`super::matrix::expand`] takes them).
    pub fn new(axes: &BTreeMap<String, Vec<Json>>) -> Grid {
        let mut g = Grid::default();
        for (k, vals) in axes {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, v) in vals.iter().enumerate() {
                for p in probes(v) {
                    let e = index.entry(p).or_default();
                    if e.last() != Some(&i) {
                        e.push(i);
                    }
                }
            }
            g.keys.push(k.clone());
            g.values.push(vals.clone());
            g.index.push(index);
        }
        g
    }

    /// Positions (in the expansion list) of the points agreeing with every
    /// value of `partial`, ascending. A key that is not an axis matches
    /// nothing; an empty `partial` matches every point.
    pub fn matching(&self, partial: &Point) -> Vec<usize> {
        if partial.keys().any(|k| !self.keys.contains(k)) {
            return Vec::new();
        }
        // Candidate value indices per axis, ascending.
        let mut choices: Vec<Vec<usize>> = Vec::with_capacity(self.keys.len());
        for (axis, key) in self.keys.iter().enumerate() {
            let all = self.values[axis].len();
            let c: Vec<usize> = match partial.get(key) {
                None => (0..all).collect(),
                Some(w) => {
                    let mut c: Vec<usize> = probes(w)
                        .iter()
                        .filter_map(|p| self.index[axis].get(p))
                        .flatten()
                        .copied()
                        .filter(|&i| value_eq(&self.values[axis][i], w))
                        .collect();
                    c.sort_unstable();
                    c.dedup();
                    c
                }
            };
            if c.is_empty() {
                return Vec::new();
            }
            choices.push(c);
        }
        // Strides: the first axis varies slowest.
        let mut strides = vec![1usize; self.keys.len()];
        for a in (0..self.keys.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * self.values[a + 1].len();
        }
        // An odometer over the choices, last axis fastest: ascending positions.
        let mut out = Vec::with_capacity(choices.iter().map(Vec::len).product());
        let mut at = vec![0usize; choices.len()];
        loop {
            out.push(
                at.iter()
                    .enumerate()
                    .map(|(a, &j)| choices[a][j] * strides[a])
                    .sum(),
            );
            let mut a = choices.len();
            loop {
                if a == 0 {
                    return out;
                }
                a -= 1;
                at[a] += 1;
                if at[a] < choices[a].len() {
                    break;
                }
                at[a] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::matrix::{expand, matches};
    use serde_json::json;

    fn axes(spec: &[(&str, Vec<Json>)]) -> BTreeMap<String, Vec<Json>> {
        spec.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// The indexed answer equals a scan of every point with `matches`.
    fn agrees(a: &BTreeMap<String, Vec<Json>>, partial: &Point) {
        let pts = expand(a).unwrap();
        let scan: Vec<usize> = (0..pts.len())
            .filter(|&i| matches(&pts[i], partial))
            .collect();
        assert_eq!(Grid::new(a).matching(partial), scan, "{partial:?}");
    }

    fn point(spec: &[(&str, Json)]) -> Point {
        spec.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn matching_agrees_with_a_full_scan() {
        let a = axes(&[
            ("a", vec![json!(1), json!(2.5), json!("x"), json!(true)]),
            ("b", vec![json!(0.0), json!("1"), json!(1e-5)]),
            ("c", vec![json!("p"), json!("q")]),
        ]);
        let wanted = [
            json!(1),
            json!(1.0),
            json!("1"),
            json!("1.0"),
            json!(2.5),
            json!("2.5"),
            json!("x"),
            json!(true),
            json!("true"),
            json!(0),
            json!(-0.0),
            json!(0.00001),
            json!("1e-5"),
            json!("p"),
            json!("nope"),
            json!(null),
        ];
        agrees(&a, &Point::new());
        for k in ["a", "b", "c"] {
            for w in &wanted {
                agrees(&a, &point(&[(k, w.clone())]));
                for w2 in &wanted {
                    for k2 in ["a", "b", "c"].iter().filter(|k2| **k2 != k) {
                        agrees(&a, &point(&[(k, w.clone()), (k2, w2.clone())]));
                    }
                }
            }
        }
        agrees(&a, &point(&[("zz", json!(1))]));
        agrees(
            &a,
            &point(&[("a", json!("x")), ("b", json!("1")), ("c", json!("q"))]),
        );
    }

    #[test]
    fn duplicates_are_found_as_a_pairwise_scan_finds_them() {
        let scan = |vals: &[Json]| {
            (0..vals.len()).find_map(|i| {
                (0..i)
                    .find(|&j| value_eq(&vals[i], &vals[j]))
                    .map(|j| (j, i))
            })
        };
        let cases = [
            vec![json!(1), json!(2), json!(3)],
            vec![json!(1), json!("a"), json!(1.0)],
            vec![json!("1"), json!(2), json!(1)],
            vec![json!(1), json!("1.0"), json!(1.0)],
            vec![json!(0.0), json!(-0.0)],
            vec![json!(true), json!("true")],
            vec![json!("x"), json!("y"), json!("x")],
            (0..10_000).map(|i| json!(i)).collect(),
        ];
        for c in &cases {
            assert_eq!(first_duplicate(c), scan(c), "{c:?}");
        }
    }

    #[test]
    fn a_zipped_point_finds_its_one_expansion() {
        let a = axes(&[
            ("k", (0..9_999).map(|i| json!(i)).collect()),
            ("s", vec![json!("only")]),
        ]);
        let g = Grid::new(&a);
        assert_eq!(g.matching(&point(&[("k", json!(4321))])), vec![4321]);
        assert_eq!(
            g.matching(&point(&[("k", json!(4321.0)), ("s", json!("only"))])),
            vec![4321]
        );
        assert!(g.matching(&point(&[("k", json!(10_000))])).is_empty());
    }

    #[test]
    fn a_value_matching_two_distinct_values_finds_both() {
        // `1` and `"1.0"` are distinct values, yet `1.0` equals each of them.
        let a = axes(&[("k", vec![json!(1), json!("1.0"), json!(2)])]);
        assert_eq!(
            Grid::new(&a).matching(&point(&[("k", json!(1.0))])),
            vec![0, 1]
        );
    }
}
