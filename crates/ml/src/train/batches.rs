//! Stratified batches (App. A.6): every batch holds m pairs of each of the K
//! categories, laid out category by category (`[c0 × m, c1 × m, …]`), so
//! per-category moments of a batch are rows of a `[K, m]` reshape. Each
//! epoch reshuffles every category from the order stream; a category's pairs
//! beyond the smallest category's whole batches are left out of that epoch
//! (a different subset each epoch) and counted.

use crate::util::rng::SplitMix64;

/// Row indices of the training pairs, grouped by category index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByCategory {
    /// `rows[k]`: rows of category k, ascending.
    pub rows: Vec<Vec<usize>>,
}

impl ByCategory {
    /// Groups `categories[i]` (category index of row i) into K groups.
    pub fn new(categories: &[usize], k: usize) -> Self {
        let mut rows = vec![Vec::new(); k];
        for (i, &c) in categories.iter().enumerate() {
            if let Some(g) = rows.get_mut(c) {
                g.push(i);
            }
        }
        ByCategory { rows }
    }

    /// Whole batches per epoch with m pairs per category.
    pub fn batches_per_epoch(&self, m: usize) -> usize {
        self.rows
            .iter()
            .map(|r| r.len() / m.max(1))
            .min()
            .unwrap_or(0)
    }

    /// Pairs left out of each epoch.
    pub fn left_out(&self, m: usize) -> usize {
        let used = self.batches_per_epoch(m) * m * self.rows.len();
        self.rows.iter().map(Vec::len).sum::<usize>() - used
    }

    /// One epoch's batches, each `K × m` rows in category order.
    pub fn epoch(&self, m: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
        let n = self.batches_per_epoch(m);
        let shuffled: Vec<Vec<usize>> = self
            .rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                rng.shuffle(&mut r);
                r
            })
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        order
            .into_iter()
            .map(|b| {
                shuffled
                    .iter()
                    .flat_map(|r| r[b * m..(b + 1) * m].iter().copied())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_is_stratified_and_no_pair_repeats_within_an_epoch() {
        let cats: Vec<usize> = (0..103).map(|i| i % 3).collect(); // 35, 34, 34
        let g = ByCategory::new(&cats, 3);
        assert_eq!(g.batches_per_epoch(4), 8);
        assert_eq!(g.left_out(4), 103 - 96);
        let mut rng = SplitMix64::new(9);
        let e1 = g.epoch(4, &mut rng);
        assert_eq!(e1.len(), 8);
        let mut seen = std::collections::BTreeSet::new();
        for b in &e1 {
            assert_eq!(b.len(), 12);
            for (j, &row) in b.iter().enumerate() {
                assert_eq!(cats[row], j / 4, "category-major layout");
                assert!(seen.insert(row), "row {row} twice in one epoch");
            }
        }
        let e2 = g.epoch(4, &mut rng);
        assert_ne!(e1, e2, "each epoch reshuffles");
        let again = g.epoch(4, &mut SplitMix64::new(9));
        assert_eq!(e1, again, "the order stream alone fixes the batches");
    }

    #[test]
    fn a_category_too_small_for_one_batch_gives_none() {
        let g = ByCategory::new(&[0, 0, 0, 0, 1, 1], 2);
        assert_eq!(g.batches_per_epoch(4), 0);
        assert!(g.epoch(4, &mut SplitMix64::new(1)).is_empty());
    }
}
