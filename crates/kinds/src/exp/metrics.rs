//! The headline metrics of a lockfile as comparison columns: one column per
//! stage (less its `seed` matrix axis) and numeric metric, holding one value
//! per seed. A matrix stage with a `seed` axis gives mean ± sd across seeds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::eval::stats::mean_sd;
use crate::store::Lockfile;

/// The matrix axis whose points are seeds of one configuration.
pub const SEED_AXIS: &str = "seed";

/// A metric's values by seed (`""` for a stage without a seed axis).
pub type Seeds = BTreeMap<String, f64>;

/// Column name (`stage:metric`, `rm[lambda_adv=0.2]:auc`) → values.
pub type Columns = BTreeMap<String, Seeds>;

/// `rm[lambda_adv=0.2,seed=1]` → (`rm[lambda_adv=0.2]`, `Some("1")`); the
/// base name of a stage without a seed axis is itself.
pub fn split_seed(stage: &str) -> (String, Option<String>) {
    let Some((base, inner)) = stage
        .split_once('[')
        .and_then(|(b, rest)| rest.strip_suffix(']').map(|i| (b, i)))
    else {
        return (stage.to_string(), None);
    };
    let mut seed = None;
    let rest: Vec<&str> = inner
        .split(',')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k.trim() == SEED_AXIS => {
                seed = Some(v.trim().to_string());
                false
            }
            _ => true,
        })
        .collect();
    let label = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}[{}]", rest.join(","))
    };
    (label, seed)
}

/// The base name of a stage (`rm[…]` → `rm`).
pub fn base_of(stage: &str) -> &str {
    stage.split_once('[').map_or(stage, |(b, _)| b)
}

/// Numeric leaves of a metrics JSON as dotted paths (`loss.eval`); arrays,
/// strings and booleans are left out.
fn leaves(prefix: &str, v: &Json, out: &mut Vec<(String, f64)>) {
    match v {
        Json::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((prefix.to_string(), x));
            }
        }
        Json::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        _ => {}
    }
}

/// The metric columns of `lock`, of the stages whose base name is in
/// `stages` (every stage with metrics when empty).
pub fn of_lock(lock: &Lockfile, stages: &[String]) -> Columns {
    let mut cols = Columns::new();
    for (name, entry) in &lock.stages {
        if !stages.is_empty() && !stages.iter().any(|s| s == base_of(name)) {
            continue;
        }
        let (label, seed) = split_seed(name);
        let mut found = Vec::new();
        leaves("", &entry.metrics, &mut found);
        for (metric, x) in found {
            let col = if metric.is_empty() {
                label.clone()
            } else {
                format!("{label}:{metric}")
            };
            cols.entry(col)
                .or_default()
                // default: a stage without a seed axis keeps its one value under the empty seed.
                .insert(seed.clone().unwrap_or_default(), x);
        }
    }
    cols
}

/// One cell: a value, or mean ± sd over `n` seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The value, or the mean across seeds.
    pub mean: f64,
    /// Sample sd across seeds (ddof 1); `None` for a single value.
    pub sd: Option<f64>,
    /// Number of seeds (1 for a single value).
    pub n: usize,
}

impl Summary {
    /// The summary of one column's values.
    pub fn of(seeds: &Seeds) -> Option<Summary> {
        let xs: Vec<f64> = seeds.values().copied().collect();
        match xs.len() {
            0 => None,
            1 => Some(Summary {
                mean: xs[0],
                sd: None,
                n: 1,
            }),
            n => match mean_sd(&xs) {
                Ok(m) => Some(Summary {
                    mean: m.mean,
                    sd: Some(m.sd),
                    n,
                }),
                // A non-finite value: shown as its mean, without an sd.
                Err(_) => Some(Summary {
                    mean: xs.iter().sum::<f64>() / n as f64,
                    sd: None,
                    n,
                }),
            },
        }
    }

    /// `0.512` or `0.512 ± 0.010`, with four significant digits.
    pub fn text(&self) -> String {
        match self.sd {
            Some(sd) => format!("{} ± {}", num(self.mean), num(sd)),
            None => num(self.mean),
        }
    }
}

/// A number with four significant digits, integers as integers.
pub fn num(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    // The exponent of the value as rounded to four digits (0.09999999 is 0.1000).
    let mag: i32 = format!("{x:.3e}")
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if !(-4..6).contains(&mag) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LockEntry;
    use serde_json::json;

    #[test]
    fn the_seed_axis_is_split_off_and_the_rest_kept() {
        assert_eq!(split_seed("rm"), ("rm".into(), None));
        assert_eq!(
            split_seed("rm[lambda_adv=0.2,seed=1]"),
            ("rm[lambda_adv=0.2]".into(), Some("1".into()))
        );
        assert_eq!(split_seed("rm[seed=3]"), ("rm".into(), Some("3".into())));
        assert_eq!(split_seed("rm[k=2]"), ("rm[k=2]".into(), None));
    }

    #[test]
    fn seeded_stages_give_mean_and_sd() {
        let entry = |m: Json| LockEntry {
            kind: "cmd".into(),
            code_version: 1,
            key: "k".into(),
            params: Default::default(),
            inputs: Default::default(),
            deps: Default::default(),
            backend: None,
            numerics: None,
            outputs: Default::default(),
            metrics: m,
        };
        let mut lock = Lockfile::default();
        for (s, x) in [(1, 1.0), (2, 2.0), (3, 3.0)] {
            lock.stages.insert(
                format!("score[seed={s}]"),
                entry(json!({"acc": x, "name": "x", "d": {"e": 4}})),
            );
        }
        lock.stages.insert("other".into(), entry(json!({"z": 1})));
        let cols = of_lock(&lock, &["score".into()]);
        assert_eq!(cols.keys().collect::<Vec<_>>(), ["score:acc", "score:d.e"]);
        let s = Summary::of(&cols["score:acc"]).unwrap();
        assert_eq!((s.mean, s.sd, s.n), (2.0, Some(1.0), 3));
        assert_eq!(s.text(), "2 ± 1");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(12.5), "12.50");
        assert_eq!(num(-0.09999999), "-0.1000");
    }
}
