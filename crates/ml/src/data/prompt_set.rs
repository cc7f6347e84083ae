//! Prompt sets drawn from preference tables (App. B.1: 100 helpful and 100
//! harmless prompts for the parity gap), and seeded subsampling of prompt lists.

use std::collections::{BTreeMap, HashSet};

use super::pair::PreferencePair;
use super::probe::PromptItem;
use crate::util::rng::SplitMix64 as Rng;

/// Problems drawing a prompt set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptSetError {
    /// A category has fewer distinct prompts than asked for.
    #[error("category `{category}` has {available} distinct prompts, {wanted} asked for")]
    TooFew {
        /// The category.
        category: String,
        /// Distinct prompts there.
        available: usize,
        /// `per_category`.
        wanted: usize,
    },
    /// A requested category is absent.
    #[error("category `{0}` is not in the table (have: {1:?})")]
    Missing(String, Vec<String>),
}

/// Draws `per_category` distinct prompts from each category (all categories,
/// or `only`), seeded; within a category the output keeps table order.
pub fn draw(
    pairs: &[PreferencePair],
    per_category: usize,
    only: Option<&[String]>,
    seed: u64,
) -> Result<Vec<PromptItem>, PromptSetError> {
    let mut by_cat: BTreeMap<&str, Vec<&PreferencePair>> = BTreeMap::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for p in pairs {
        if seen.insert((p.category.as_str(), p.prompt.as_str())) {
            by_cat.entry(p.category.as_str()).or_default().push(p);
        }
    }
    let cats: Vec<String> = match only {
        Some(list) => {
            for c in list {
                if !by_cat.contains_key(c.as_str()) {
                    return Err(PromptSetError::Missing(
                        c.clone(),
                        by_cat.keys().map(|k| k.to_string()).collect(),
                    ));
                }
            }
            list.to_vec()
        }
        None => by_cat.keys().map(|k| k.to_string()).collect(),
    };
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for c in cats {
        let v = &by_cat[c.as_str()];
        if v.len() < per_category {
            return Err(PromptSetError::TooFew {
                category: c,
                available: v.len(),
                wanted: per_category,
            });
        }
        let mut idx: Vec<usize> = (0..v.len()).collect();
        rng.shuffle(&mut idx);
        let mut take = idx[..per_category].to_vec();
        take.sort_unstable();
        out.extend(take.into_iter().map(|i| PromptItem {
            id: v[i].id.clone(),
            set: "prompts".into(),
            prompt: v[i].prompt.clone(),
            category: c.clone(),
        }));
    }
    Ok(out)
}

/// Keeps `n` items chosen at random (seeded), in their original order; all if `n` ≥ len.
pub fn subsample<T>(items: Vec<T>, n: usize, seed: u64) -> Vec<T> {
    if n >= items.len() {
        return items;
    }
    let mut idx: Vec<usize> = (0..items.len()).collect();
    Rng::new(seed).shuffle(&mut idx);
    let mut keep = vec![false; items.len()];
    for &i in &idx[..n] {
        keep[i] = true;
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(x, k)| k.then_some(x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize, cat: &str, prompt: &str) -> PreferencePair {
        PreferencePair {
            id: i.to_string(),
            prompt: prompt.into(),
            chosen: "c".into(),
            rejected: "r".into(),
            category: cat.into(),
            source: "s".into(),
        }
    }

    #[test]
    fn draws_distinct_prompts_per_category() {
        let mut v = Vec::new();
        for i in 0..60 {
            v.push(pair(i, "helpful", &format!("h{}", i / 2)));
            v.push(pair(100 + i, "harmless", &format!("a{i}")));
        }
        let got = draw(&v, 20, None, 9).unwrap();
        assert_eq!(got.len(), 40);
        let h: HashSet<_> = got
            .iter()
            .filter(|p| p.category == "helpful")
            .map(|p| &p.prompt)
            .collect();
        assert_eq!(h.len(), 20);
        assert_eq!(got, draw(&v, 20, None, 9).unwrap());
        assert_ne!(got, draw(&v, 20, None, 10).unwrap());
        let e = draw(&v, 31, None, 9).unwrap_err();
        assert_eq!(
            e,
            PromptSetError::TooFew {
                category: "helpful".into(),
                available: 30,
                wanted: 31
            }
        );
        assert!(matches!(
            draw(&v, 1, Some(&["x".into()]), 0),
            Err(PromptSetError::Missing(..))
        ));
        let s = subsample((0..10).collect(), 4, 1);
        assert_eq!(s.len(), 4);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }
}
