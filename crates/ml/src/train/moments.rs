//! Per-category moment features of a stratified batch's rewards (App. A.6):
//! for each category, the mean, variance, skewness and excess kurtosis of
//! its chosen rewards and of its rejected rewards — population moments, with
//! ε added to the variance where it divides — as an `[K, 8]` tensor that
//! gradients flow through.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Number of features per category: 4 moments × {chosen, rejected}.
pub const N_FEATURES: usize = 8;

/// `[K, 4]`: mean, variance, skewness, excess kurtosis of each row of `x`.
pub fn row_moments<B: Backend>(x: Tensor<B, 2>, eps: f64) -> Tensor<B, 2> {
    let mean = x.clone().mean_dim(1); // [K, 1]
    let c = x - mean.clone();
    let var = c.clone().powi_scalar(2).mean_dim(1);
    let m3 = c.clone().powi_scalar(3).mean_dim(1);
    let m4 = c.powi_scalar(4).mean_dim(1);
    let v = var.clone().add_scalar(eps);
    let skew = m3 / v.clone().powf_scalar(1.5);
    let kurt = (m4 / v.powi_scalar(2)).sub_scalar(3.0);
    Tensor::cat(vec![mean, var, skew, kurt], 1)
}

/// `[K, 8]` features of a batch laid out `[c0 × m, c1 × m, …]`: chosen
/// moments then rejected moments.
pub fn moment_features<B: Backend>(
    chosen: Tensor<B, 1>,
    rejected: Tensor<B, 1>,
    k: usize,
    m: usize,
    eps: f64,
) -> Tensor<B, 2> {
    let c = row_moments(chosen.reshape([k, m]), eps);
    let r = row_moments(rejected.reshape([k, m]), eps);
    Tensor::cat(vec![c, r], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    /// Population moments in f64 (scipy.stats `skew`/`kurtosis` with
    /// `bias=True`, `fisher=True`, plus ε on the variance).
    fn reference(x: &[f64], eps: f64) -> [f64; 4] {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let m = |p: i32| x.iter().map(|v| (v - mean).powi(p)).sum::<f64>() / n;
        let var = m(2);
        [
            mean,
            var,
            m(3) / (var + eps).powf(1.5),
            m(4) / (var + eps).powi(2) - 3.0,
        ]
    }

    #[test]
    fn matches_population_moments_per_category() {
        let chosen = [0.3, -1.2, 2.5, 0.7, 4.0, 4.1, 3.9, 9.0];
        let rejected = [1.0, 1.0, 1.0, 1.0, -2.0, 0.5, 0.25, -0.75];
        let d = Default::default();
        let t = |v: &[f64]| {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::<Flex, 1>::from_data(TensorData::new(v, [8]), &d)
        };
        let eps = 1e-6;
        let f = moment_features(t(&chosen), t(&rejected), 2, 4, eps);
        assert_eq!(f.dims(), [2, N_FEATURES]);
        let got = f.into_data().to_vec::<f32>().unwrap();
        for k in 0..2 {
            let want_c = reference(&chosen[k * 4..k * 4 + 4], eps);
            let want_r = reference(&rejected[k * 4..k * 4 + 4], eps);
            for j in 0..4 {
                let (g, w) = (f64::from(got[k * 8 + j]), want_c[j]);
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "c{k}.{j}: {g} vs {w}"
                );
                let (g, w) = (f64::from(got[k * 8 + 4 + j]), want_r[j]);
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "r{k}.{j}: {g} vs {w}"
                );
            }
        }
        // A constant category: variance 0, and ε keeps skew/kurtosis finite.
        assert!(got[4..8].iter().all(|x| x.is_finite()));
        assert_eq!(got[5], 0.0);
    }
}
