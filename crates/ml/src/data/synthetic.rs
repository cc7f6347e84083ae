//! A seeded generator of preference pairs in K categories with a planted,
//! documented per-category reward offset: data where we know the bias a fair
//! reward model must remove.
//!
//! Every response is a bag of words: topic words of its category (so the
//! category can be read off the text, as in real data), and copies of the
//! quality marker `good`. Within a pair the chosen response has 1–2 more
//! `good` than the rejected one, so a Bradley–Terry model learns a positive
//! weight `w` on `good`. The plant: **every** response of category `c`, chosen
//! and rejected alike, carries `offset[c]` extra `good` on average
//! (`floor(offset)` copies plus one more with probability `fract(offset)`; both
//! responses of a pair get the same number, so within-pair differences are
//! exactly the quality difference).
//! The extra copies never change which response is preferred, but a model
//! with weight `w` on `good` scores category `c` higher by about `w·offset[c]`:
//! a category-dependent reward inflation that the preferences do not justify.
//! A fair RM should close the gap; `metrics.json` records the offsets and the
//! realised mean extra count per category.

use serde::{Deserialize, Serialize};

use super::pair::PreferencePair;
use crate::util::rng::SplitMix64 as Rng;

/// The quality marker.
pub const GOOD: &str = "good";

/// Parameters of the generator.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticOptions {
    /// Number of categories K (2 to 26); named `cat0` … `cat{K-1}`.
    pub categories: usize,
    /// Pairs per category (at most 1,000,000).
    pub pairs_per_category: usize,
    /// Distinct prompts per category (prompts repeat across pairs so splits
    /// grouped by prompt matter); 0 means `pairs_per_category / 2`, at least 1.
    pub prompts_per_category: usize,
    /// Planted offset per category, in extra `good` markers per response
    /// (≥ 0); empty means `[0, 1, …, K-1]`.
    pub offsets: Vec<f64>,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            categories: 2,
            pairs_per_category: 200,
            prompts_per_category: 0,
            offsets: Vec::new(),
        }
    }
}

/// Problems with [`SyntheticOptions`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticError {
    /// K outside 2..=26.
    #[error("categories: expected 2 to 26, found {0}")]
    Categories(usize),
    /// Too many or zero pairs.
    #[error("pairs_per_category: expected 1 to 1000000, found {0}")]
    Pairs(usize),
    /// Offsets of the wrong length or negative.
    #[error("offsets: expected {expected} values ≥ 0, found {found:?}")]
    Offsets {
        /// K.
        expected: usize,
        /// What was given.
        found: Vec<f64>,
    },
}

impl SyntheticOptions {
    /// Checks ranges; returns the offsets to use.
    pub fn resolve(&self) -> Result<Vec<f64>, SyntheticError> {
        if !(2..=26).contains(&self.categories) {
            return Err(SyntheticError::Categories(self.categories));
        }
        if !(1..=1_000_000).contains(&self.pairs_per_category) {
            return Err(SyntheticError::Pairs(self.pairs_per_category));
        }
        if self.offsets.is_empty() {
            return Ok((0..self.categories).map(|c| c as f64).collect());
        }
        if self.offsets.len() != self.categories
            || self
                .offsets
                .iter()
                .any(|o| !o.is_finite() || *o < 0.0 || *o > 100.0)
        {
            return Err(SyntheticError::Offsets {
                expected: self.categories,
                found: self.offsets.clone(),
            });
        }
        Ok(self.offsets.clone())
    }
}

/// Category name of index `c`.
pub fn category_name(c: usize) -> String {
    format!("cat{c}")
}

fn topic_word(c: usize, k: usize) -> String {
    let letter = (b'a' + c as u8) as char;
    format!("{letter}{letter}{k}")
}

fn response(rng: &mut Rng, c: usize, goods: usize) -> String {
    let n_topic = 4 + rng.index(5);
    let mut words: Vec<String> = (0..n_topic).map(|_| topic_word(c, rng.index(20))).collect();
    words.extend((0..goods).map(|_| GOOD.to_string()));
    rng.shuffle(&mut words);
    words.join(" ")
}

/// Generated pairs plus, per category, the realised mean extra `good` count.
pub fn generate(
    opts: &SyntheticOptions,
    seed: u64,
) -> Result<(Vec<PreferencePair>, Vec<f64>), SyntheticError> {
    let offsets = opts.resolve()?;
    let prompts = if opts.prompts_per_category == 0 {
        (opts.pairs_per_category / 2).max(1)
    } else {
        opts.prompts_per_category
    };
    let mut rng = Rng::new(seed);
    let mut pairs = Vec::with_capacity(opts.categories * opts.pairs_per_category);
    let mut realised = Vec::with_capacity(opts.categories);
    for (c, &off) in offsets.iter().enumerate() {
        let base = off.floor() as usize;
        let frac = off - off.floor();
        let mut extra_total = 0usize;
        for i in 0..opts.pairs_per_category {
            let j = rng.index(prompts);
            let prompt = format!(
                "Question {j} about {}: {} {}?",
                category_name(c),
                topic_word(c, j % 20),
                topic_word(c, (j * 7 + 3) % 20)
            );
            let rejected_goods = rng.index(3);
            let chosen_goods = rejected_goods + 1 + rng.index(2);
            let extra = base + usize::from(rng.next_f64() < frac);
            extra_total += extra;
            let chosen = response(&mut rng, c, chosen_goods + extra);
            let rejected = response(&mut rng, c, rejected_goods + extra);
            pairs.push(PreferencePair {
                id: format!("synthetic:{}:{i}", category_name(c)),
                prompt,
                chosen,
                rejected,
                category: category_name(c),
                source: "synthetic".into(),
            });
        }
        realised.push(extra_total as f64 / opts.pairs_per_category as f64);
    }
    Ok((pairs, realised))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goods(s: &str) -> usize {
        s.split(' ').filter(|w| *w == GOOD).count()
    }

    #[test]
    fn seeded_and_chosen_always_has_more_quality_markers() {
        let o = SyntheticOptions {
            categories: 3,
            pairs_per_category: 300,
            ..Default::default()
        };
        let (a, _) = generate(&o, 5).unwrap();
        let (b, _) = generate(&o, 5).unwrap();
        let (c, _) = generate(&o, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 900);
        // The offset is added equally to both sides, so it never flips a preference.
        assert!(
            a.iter()
                .all(|p| (1..=2).contains(&(goods(&p.chosen) - goods(&p.rejected))))
        );
        let prompts: std::collections::BTreeSet<_> = a.iter().map(|p| &p.prompt).collect();
        assert!(prompts.len() < a.len(), "prompts repeat");
    }

    #[test]
    fn planted_offset_shows_in_the_mean_marker_count_per_category() {
        let o = SyntheticOptions {
            categories: 2,
            pairs_per_category: 4000,
            offsets: vec![0.0, 2.5],
            ..Default::default()
        };
        let (pairs, realised) = generate(&o, 1).unwrap();
        let mean = |cat: &str| {
            let v: Vec<_> = pairs
                .iter()
                .filter(|p| p.category == cat)
                .flat_map(|p| [goods(&p.chosen), goods(&p.rejected)])
                .collect();
            v.iter().sum::<usize>() as f64 / v.len() as f64
        };
        let gap = mean("cat1") - mean("cat0");
        // Expected gap is the offset difference, 2.5; the standard error of a
        // Bernoulli(0.5) mean over 4,000 pairs is ≈ 0.008.
        assert!((gap - 2.5).abs() < 0.05, "gap {gap}");
        assert_eq!(realised[0], 0.0);
        assert!((realised[1] - 2.5).abs() < 0.05, "{realised:?}");
    }

    #[test]
    fn bad_options_are_rejected() {
        let o = SyntheticOptions {
            categories: 1,
            ..Default::default()
        };
        assert_eq!(generate(&o, 0).unwrap_err(), SyntheticError::Categories(1));
        let o = SyntheticOptions {
            offsets: vec![1.0],
            ..Default::default()
        };
        assert!(matches!(
            generate(&o, 0).unwrap_err(),
            SyntheticError::Offsets { .. }
        ));
    }
}
