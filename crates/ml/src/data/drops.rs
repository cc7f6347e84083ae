//! Counting every row a stage drops or skips, by reason, with a few example ids.

use std::collections::BTreeMap;

use serde::Serialize;

/// How a stage treats rows it cannot parse.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnBadRows {
    /// Stop at the first bad row with an error naming file, line and field.
    #[default]
    Error,
    /// Skip bad rows and count them (by field and reason) in `metrics.json`.
    Skip,
}

/// How many examples of each drop reason are kept.
pub const EXAMPLES_PER_REASON: usize = 5;

/// Count and examples for one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// Rows dropped for this reason.
    pub count: usize,
    /// The first few ids or `file:line` locations.
    pub examples: Vec<String>,
}

/// Dropped rows by reason (and, where it applies, by category).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    /// reason → count and examples.
    pub reasons: BTreeMap<String, ReasonCount>,
    /// category → reason → count (empty where rows have no category yet).
    pub by_category: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Drops {
    /// Records one dropped row.
    pub fn add(&mut self, reason: &str, example: impl Into<String>) {
        let r = self.reasons.entry(reason.to_string()).or_default();
        r.count += 1;
        if r.examples.len() < EXAMPLES_PER_REASON {
            r.examples.push(example.into());
        }
    }

    /// Records one dropped row of `category`.
    pub fn add_in(&mut self, category: &str, reason: &str, example: impl Into<String>) {
        self.add(reason, example);
        *self
            .by_category
            .entry(category.to_string())
            .or_default()
            .entry(reason.to_string())
            .or_default() += 1;
    }

    /// Count for one reason.
    pub fn count(&self, reason: &str) -> usize {
        self.reasons.get(reason).map_or(0, |r| r.count)
    }

    /// Total rows dropped.
    pub fn total(&self) -> usize {
        self.reasons.values().map(|r| r.count).sum()
    }

    /// Adds every count of `other` into `self`.
    pub fn merge(&mut self, other: &Drops) {
        for (k, v) in &other.reasons {
            let r = self.reasons.entry(k.clone()).or_default();
            r.count += v.count;
            for e in &v.examples {
                if r.examples.len() < EXAMPLES_PER_REASON {
                    r.examples.push(e.clone());
                }
            }
        }
        for (c, m) in &other.by_category {
            let t = self.by_category.entry(c.clone()).or_default();
            for (k, n) in m {
                *t.entry(k.clone()).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keep_every_row_but_examples_are_capped() {
        let mut d = Drops::default();
        for i in 0..7 {
            d.add_in("helpful", "duplicate", format!("x:{i}"));
        }
        d.add("empty", "y:1");
        assert_eq!(d.count("duplicate"), 7);
        assert_eq!(d.total(), 8);
        assert_eq!(d.reasons["duplicate"].examples.len(), EXAMPLES_PER_REASON);
        assert_eq!(d.by_category["helpful"]["duplicate"], 7);
        let mut e = Drops::default();
        e.merge(&d);
        e.merge(&d);
        assert_eq!(e.total(), 16);
    }
}
