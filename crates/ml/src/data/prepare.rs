//! Merging preference tables, dropping bad and duplicate pairs, balancing
//! categories and splitting train/eval grouped by prompt (App. A.4).
//!
//! Order of operations, each drop counted per category:
//! 1. merge inputs in name order, ids prefixed `<input>/`;
//! 2. drop pairs whose chosen and rejected are the same text (after trimming):
//!    they carry no preference;
//! 3. drop exact duplicate (prompt, chosen, rejected) triples, keeping the first
//!    ("to avoid information leakage", App. A.4); a duplicate whose first copy
//!    has another category is counted under its own reason;
//! 4. balance: downsample every category to the size of the smallest, seeded;
//! 5. split train/eval, stratified by category and grouped by prompt: all pairs
//!    with the same prompt text land on the same side, so no prompt is in both.
//!    A prompt shared by several categories goes with its first pair's category.

use std::collections::{BTreeMap, HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::drops::Drops;
use super::pair::PreferencePair;
use crate::util::rng::SplitMix64 as Rng;

/// Drop reason: chosen equals rejected.
pub const SAME_RESPONSE: &str = "chosen == rejected";
/// Drop reason: an exact duplicate triple of the same category.
pub const DUPLICATE: &str = "duplicate (prompt, chosen, rejected)";
/// Drop reason: an exact duplicate triple of another category.
pub const DUPLICATE_OTHER: &str = "duplicate (prompt, chosen, rejected) of another category";
/// Drop reason: downsampled by balancing.
pub const BALANCE: &str = "balance: downsampled to the smallest category";

/// Options of the preparation (`data.prepare`'s `with:`; the bounds are
/// declared here and checked by `util::schema`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PrepareOptions {
    /// Drop exact duplicate (prompt, chosen, rejected) triples, keeping the first.
    pub dedupe: bool,
    /// Downsample every category to the smallest (seeded), or keep all.
    pub balance_by: BalanceBy,
    /// Share of each category held out for eval; whole prompt groups move together.
    #[schemars(range(min = 0), extend("exclusiveMaximum" = 1))]
    pub eval_fraction: f64,
}

/// Balancing mode.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BalanceBy {
    /// Downsample every category to the smallest.
    Category,
    /// No balancing.
    None,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            dedupe: true,
            balance_by: BalanceBy::Category,
            eval_fraction: 0.1,
        }
    }
}

/// What preparation produced.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Training pairs.
    pub train: Vec<PreferencePair>,
    /// Held-out pairs.
    pub eval: Vec<PreferencePair>,
    /// Every dropped pair, by reason and category.
    pub dropped: Drops,
    /// Pairs per category after merging, before any drop.
    pub merged: BTreeMap<String, usize>,
    /// Per-category size after balancing (None if not balanced).
    pub balanced_to: Option<usize>,
}

fn triple_key(p: &PreferencePair) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    for s in [&p.prompt, &p.chosen, &p.rejected] {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    *h.finalize().as_bytes()
}

fn counts(pairs: &[PreferencePair]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in pairs {
        *m.entry(p.category.clone()).or_default() += 1;
    }
    m
}

/// Runs steps 1–5 on named inputs; `balance_seed` and `split_seed` are separate streams.
pub fn prepare(
    inputs: Vec<(String, Vec<PreferencePair>)>,
    opts: &PrepareOptions,
    balance_seed: u64,
    split_seed: u64,
) -> Prepared {
    let mut out = Prepared::default();
    let mut rows: Vec<PreferencePair> = Vec::new();
    for (name, pairs) in inputs {
        rows.extend(pairs.into_iter().map(|mut p| {
            p.id = format!("{name}/{}", p.id);
            p
        }));
    }
    out.merged = counts(&rows);
    let mut seen: HashMap<[u8; 32], String> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for p in rows {
        if p.chosen.trim() == p.rejected.trim() {
            out.dropped.add_in(&p.category, SAME_RESPONSE, &p.id);
            continue;
        }
        if opts.dedupe {
            match seen.get(&triple_key(&p)) {
                Some(c) if *c == p.category => {
                    out.dropped.add_in(&p.category, DUPLICATE, &p.id);
                    continue;
                }
                Some(_) => {
                    out.dropped.add_in(&p.category, DUPLICATE_OTHER, &p.id);
                    continue;
                }
                None => {
                    seen.insert(triple_key(&p), p.category.clone());
                }
            }
        }
        kept.push(p);
    }
    if opts.balance_by == BalanceBy::Category && !kept.is_empty() {
        kept = balance(kept, balance_seed, &mut out);
    }
    split(kept, opts.eval_fraction, split_seed, &mut out);
    out
}

fn balance(rows: Vec<PreferencePair>, seed: u64, out: &mut Prepared) -> Vec<PreferencePair> {
    let sizes = counts(&rows);
    let n = sizes.values().copied().min().unwrap_or(0);
    out.balanced_to = Some(n);
    let mut rng = Rng::new(seed);
    let mut keep = vec![true; rows.len()];
    // Categories in sorted order, each with its own shuffle from one stream.
    for cat in sizes.keys() {
        let mut idx: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].category == *cat)
            .collect();
        rng.shuffle(&mut idx);
        for &i in &idx[n..] {
            keep[i] = false;
        }
    }
    let mut kept = Vec::with_capacity(n * sizes.len());
    for (p, k) in rows.into_iter().zip(keep) {
        if k {
            kept.push(p);
        } else {
            out.dropped.add_in(&p.category, BALANCE, &p.id);
        }
    }
    kept
}

fn split(rows: Vec<PreferencePair>, fraction: f64, seed: u64, out: &mut Prepared) {
    // Prompt groups in order of first appearance; a group's category is its first pair's.
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, p) in rows.iter().enumerate() {
        let g = *group_of.entry(p.prompt.as_str()).or_insert_with(|| {
            groups.push((p.category.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    let mut by_cat: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (g, (c, _)) in groups.iter().enumerate() {
        by_cat.entry(c.as_str()).or_default().push(g);
    }
    let mut rng = Rng::new(seed);
    let mut in_eval = vec![false; rows.len()];
    for gs in by_cat.values_mut() {
        let total: usize = gs.iter().map(|&g| groups[g].1.len()).sum();
        let target = (fraction * total as f64).round() as usize;
        rng.shuffle(gs);
        let mut taken = 0;
        for &g in gs.iter() {
            if taken >= target {
                break;
            }
            taken += groups[g].1.len();
            for &i in &groups[g].1 {
                in_eval[i] = true;
            }
        }
    }
    for (p, e) in rows.into_iter().zip(in_eval) {
        if e {
            out.eval.push(p)
        } else {
            out.train.push(p)
        }
    }
}

/// Prompts present in both splits (always empty; checked by tests and metrics).
pub fn shared_prompts(p: &Prepared) -> usize {
    let train: HashSet<&str> = p.train.iter().map(|x| x.prompt.as_str()).collect();
    p.eval
        .iter()
        .map(|x| x.prompt.as_str())
        .collect::<HashSet<_>>()
        .intersection(&train)
        .count()
}

/// Pairs per category of a split.
pub fn split_counts(pairs: &[PreferencePair]) -> BTreeMap<String, usize> {
    counts(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::{SyntheticOptions, generate};

    fn pair(id: &str, prompt: &str, c: &str, r: &str, cat: &str) -> PreferencePair {
        PreferencePair {
            id: id.into(),
            prompt: prompt.into(),
            chosen: c.into(),
            rejected: r.into(),
            category: cat.into(),
            source: "t".into(),
        }
    }

    #[test]
    fn drops_same_responses_and_duplicates_with_reasons_per_category() {
        let a = vec![
            pair("1", "p", "x", "y", "helpful"),
            pair("2", "p", "x", "y", "helpful"),
            pair("3", "q", "z ", " z", "helpful"),
        ];
        let b = vec![
            pair("1", "p", "x", "y", "harmless"),
            pair("2", "r", "u", "v", "harmless"),
        ];
        let opts = PrepareOptions {
            balance_by: BalanceBy::None,
            eval_fraction: 0.0,
            ..Default::default()
        };
        let out = prepare(vec![("a".into(), a), ("b".into(), b)], &opts, 1, 2);
        assert_eq!(
            out.train.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            vec!["a/1", "b/2"]
        );
        assert_eq!(out.dropped.count(DUPLICATE), 1);
        assert_eq!(out.dropped.count(DUPLICATE_OTHER), 1);
        assert_eq!(out.dropped.count(SAME_RESPONSE), 1);
        assert_eq!(out.dropped.by_category["helpful"][SAME_RESPONSE], 1);
        assert_eq!(out.dropped.by_category["harmless"][DUPLICATE_OTHER], 1);
        assert_eq!(out.merged["helpful"], 3);
    }

    #[test]
    fn balances_to_the_smallest_category_and_splits_by_prompt() {
        let o = SyntheticOptions {
            categories: 3,
            pairs_per_category: 400,
            ..Default::default()
        };
        let (mut pairs, _) = generate(&o, 3).unwrap();
        // Make cat2 the smallest: keep 250 of its 400 pairs.
        let mut n2 = 0;
        pairs.retain(|p| {
            p.category != "cat2" || {
                n2 += 1;
                n2 <= 250
            }
        });
        let opts = PrepareOptions {
            eval_fraction: 0.2,
            ..Default::default()
        };
        let out = prepare(vec![("s".into(), pairs.clone())], &opts, 11, 12);
        assert_eq!(out.balanced_to, Some(250));
        let mut all = split_counts(&out.train);
        for (k, v) in split_counts(&out.eval) {
            *all.entry(k).or_default() += v;
        }
        assert!(all.values().all(|&v| v == 250), "{all:?}");
        assert_eq!(out.dropped.count(BALANCE), 2 * 150);
        assert_eq!(shared_prompts(&out), 0);
        for (cat, n) in split_counts(&out.eval) {
            // Target 50 per category; a prompt group may overshoot by its size - 1.
            assert!((50..60).contains(&n), "{cat}: {n}");
        }
        // Seeded: same seeds, same result; another split seed, another split.
        let again = prepare(vec![("s".into(), pairs.clone())], &opts, 11, 12);
        assert_eq!(again.eval, out.eval);
        let other = prepare(vec![("s".into(), pairs)], &opts, 11, 13);
        assert_ne!(other.eval, out.eval);
    }

    #[test]
    fn a_prompt_shared_across_categories_stays_on_one_side() {
        let mut v = Vec::new();
        for i in 0..200 {
            let prompt = format!("p{}", i / 2);
            v.push(pair(
                &i.to_string(),
                &prompt,
                &format!("c{i}"),
                &format!("r{i}"),
                if i % 2 == 0 { "a" } else { "b" },
            ));
        }
        let opts = PrepareOptions {
            eval_fraction: 0.5,
            ..Default::default()
        };
        let out = prepare(vec![("x".into(), v)], &opts, 1, 2);
        assert_eq!(shared_prompts(&out), 0);
        assert!(!out.eval.is_empty() && !out.train.is_empty());
    }
}
