//! The adversarial game seen from outside (issue 12, item 3): at the end of
//! every epoch, on the eval split, how much the rewards still depend on the
//! category — the category mean gap, KS, and MI over its permuted null — and
//! how well the in-training adversary reads the category there (its
//! cross-entropy against ln K, its balanced accuracy). A reader of
//! `curves.csv` sees whether the game converged, cycled or overshot.
//!
//! Nothing here touches the model or the training streams: the permutations
//! and the eval batches draw from their own seed stream (`diagnostics`), so
//! λ = 0 is still plain Bradley–Terry bit for bit.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::adversary::{Adversary, balanced_accuracy, cross_entropy};
use super::batches::ByCategory;
use super::config::AdversaryInput;
use super::moments::moment_features;
use crate::eval::stats::{
    MI_DEFAULT_BINS, binned_mutual_info, binned_mutual_info_permuted, ks_2samp,
};
use crate::model::readback::{scalar_f64, to_vec_f32};
use crate::util::rng::SplitMix64;

/// Label permutations behind the MI null of each epoch: enough for its mean
/// to be stable to a few 1e-3 nats, few enough to cost nothing per epoch.
pub const NULL_PERMUTATIONS: usize = 20;

/// Category dependence of one epoch's eval rewards (both sides of every pair).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dependence {
    /// Two categories: mean reward of the second minus the first (signed, so
    /// an overshoot shows as a change of sign); more: the largest minus the
    /// smallest category mean.
    pub mean_gap: f64,
    /// KS statistic (the largest over pairs of categories).
    pub ks: f64,
    /// MI (nats) between category and the reward in 50 equal-width bins (App. A.8).
    pub mi: f64,
    /// Mean MI of the same rewards with the categories permuted.
    pub mi_null: f64,
}

/// The adversary on the eval split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdversaryReading {
    /// Its cross-entropy (nats); chance is ln K.
    pub ce: f64,
    /// Its balanced accuracy; chance is 1/K.
    pub balanced_accuracy: f64,
}

/// Dependence of `chosen`/`rejected` eval rewards on `categories` (K of them).
/// `None` when a category has no eval pair.
pub fn dependence(
    chosen: &[f32],
    rejected: &[f32],
    categories: &[usize],
    k: usize,
    seed: u64,
) -> Option<Dependence> {
    let mut by: Vec<Vec<f64>> = vec![Vec::new(); k];
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for ((c, r), &cat) in chosen.iter().zip(rejected).zip(categories) {
        for v in [f64::from(*c), f64::from(*r)] {
            by.get_mut(cat)?.push(v);
            values.push(v);
            labels.push(cat);
        }
    }
    if by.iter().any(Vec::is_empty) {
        return None;
    }
    let means: Vec<f64> = by
        .iter()
        .map(|v| v.iter().sum::<f64>() / v.len() as f64)
        .collect();
    let mean_gap = if k == 2 {
        means[1] - means[0]
    } else {
        let hi = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lo = means.iter().copied().fold(f64::INFINITY, f64::min);
        hi - lo
    };
    let mut ks = 0.0f64;
    for i in 0..k {
        for j in i + 1..k {
            ks = ks.max(ks_2samp(&by[i], &by[j]).ok()?.statistic);
        }
    }
    let mi = binned_mutual_info(&labels, &values, MI_DEFAULT_BINS).ok()?;
    let null =
        binned_mutual_info_permuted(&labels, &values, MI_DEFAULT_BINS, NULL_PERMUTATIONS, seed)
            .ok()?;
    Some(Dependence {
        mean_gap,
        ks,
        mi,
        mi_null: null.mean,
    })
}

/// The adversary's cross-entropy and balanced accuracy on the eval split,
/// fed as in training: stratified eval batches of `m` pairs per category
/// (drawn from `seed`), as per-category moments or each pair's `(r_c, r_r)`;
/// averaged over the batches. `None` when no batch fits the eval split.
#[allow(clippy::too_many_arguments)]
pub fn adversary_reading<B: Backend>(
    adv: &Adversary<B>,
    input: AdversaryInput,
    chosen: &[f32],
    rejected: &[f32],
    categories: &[usize],
    k: usize,
    m: usize,
    eps: f64,
    seed: u64,
) -> anyhow::Result<Option<AdversaryReading>> {
    let device = B::Device::default();
    let t = |v: Vec<f32>| {
        let n = v.len();
        Tensor::<B, 1>::from_data(TensorData::new(v, [n]), &device)
    };
    let read = |x: Tensor<B, 2>, labels: &[usize]| -> anyhow::Result<(f64, f64)> {
        let logits = adv.forward(x);
        let host = to_vec_f32(logits.clone(), "the adversary's logits")?;
        let ba = balanced_accuracy(&host, k, labels);
        let ce = scalar_f64(
            cross_entropy(logits, labels),
            "the adversary's cross-entropy",
        )?;
        Ok((ce, ba))
    };
    // The same shapes as in training: stratified batches of K × m pairs
    // (a whole-split forward pass would be a shape the loop never runs).
    let groups = ByCategory::new(categories, k);
    let batches = groups.epoch(m, &mut SplitMix64::new(seed));
    if batches.is_empty() {
        return Ok(None);
    }
    let (mut ce, mut ba) = (0.0, 0.0);
    for b in &batches {
        let c = t(b.iter().map(|&i| chosen[i]).collect());
        let r = t(b.iter().map(|&i| rejected[i]).collect());
        let (x, y) = match input {
            AdversaryInput::Moments => {
                let labels: Vec<usize> = (0..k).collect();
                read(moment_features(c, r, k, m, eps), &labels)?
            }
            AdversaryInput::Scores => {
                let labels: Vec<usize> = (0..k * m).map(|j| j / m).collect();
                read(Tensor::stack(vec![c, r], 1), &labels)?
            }
        };
        ce += x;
        ba += y;
    }
    let n = batches.len() as f64;
    let (ce, ba) = (ce / n, ba / n);
    Ok(Some(AdversaryReading {
        ce,
        balanced_accuracy: ba,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn a_planted_gap_shows_and_a_shuffled_one_does_not() {
        // Category 1 scores 2 higher: gap +2, KS 1, MI well above its null.
        let cats: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let base: Vec<f32> = (0..200).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
        let shifted: Vec<f32> = base
            .iter()
            .zip(&cats)
            .map(|(x, c)| x + 2.0 * *c as f32)
            .collect();
        let d = dependence(&shifted, &shifted, &cats, 2, 1).unwrap();
        assert!((d.mean_gap - 2.0).abs() < 0.05, "{d:?}");
        assert_eq!(d.ks, 1.0);
        assert!(d.mi > 0.6 && d.mi_null < 0.2, "{d:?}");
        // The same rewards for both categories: no gap, KS 0.
        let flat: Vec<f32> = (0..200).map(|i| (i / 2) as f32).collect();
        let d = dependence(&flat, &flat, &cats, 2, 1).unwrap();
        assert!(d.mean_gap.abs() < 1e-9 && d.ks < 0.02, "{d:?}");
        // A category without eval pairs: nothing to say.
        assert!(dependence(&flat, &flat, &cats, 3, 1).is_none());
    }

    #[test]
    fn an_untrained_adversary_reads_near_chance() {
        let adv = Adversary::<Flex>::new(8, 16, 2, 3, &Default::default());
        let cats: Vec<usize> = (0..64).map(|i| i % 2).collect();
        let r: Vec<f32> = (0..64).map(|i| (i % 7) as f32).collect();
        let a = adversary_reading(&adv, AdversaryInput::Moments, &r, &r, &cats, 2, 8, 1e-6, 5)
            .unwrap()
            .unwrap();
        // Both categories have the same rewards, so the features are equal
        // and the adversary must give both the same class: BA 0.5.
        assert_eq!(a.balanced_accuracy, 0.5);
        assert!(a.ce.is_finite() && a.ce > 0.0);
        let adv2 = Adversary::<Flex>::new(2, 16, 2, 3, &Default::default());
        let s = adversary_reading(&adv2, AdversaryInput::Scores, &r, &r, &cats, 2, 8, 1e-6, 5)
            .unwrap()
            .unwrap();
        assert!(s.ce.is_finite());
        // Too few eval pairs for one stratified batch: no reading.
        assert!(
            adversary_reading(&adv, AdversaryInput::Moments, &r, &r, &cats, 2, 64, 1e-6, 5)
                .unwrap()
                .is_none()
        );
    }
}
