//! Per-token rewards, generalised advantage estimation and whitening, on the
//! host in f64 over ragged rows (one row per rollout, one entry per response
//! token up to and including EOS — tokens after EOS never appear), as TRL's
//! legacy `compute_rewards` / `compute_advantages` / `masked_whiten` do over
//! masked tensors.

/// Per-token rewards `r_t = −β·(log π_t − log π_ref,t)`, with `score` added
/// at the last token. Returns the rewards and the sequence KL
/// `Σ_t (log π_t − log π_ref,t)`.
pub fn token_rewards(logp: &[f64], ref_logp: &[f64], beta: f64, score: f64) -> (Vec<f64>, f64) {
    let mut kl = 0.0;
    let mut r: Vec<f64> = logp
        .iter()
        .zip(ref_logp)
        .map(|(a, b)| {
            kl += a - b;
            -beta * (a - b)
        })
        .collect();
    if let Some(last) = r.last_mut() {
        *last += score;
    }
    (r, kl)
}

/// GAE over one row: `δ_t = r_t + γ·V_{t+1} − V_t`, `A_t = δ_t + γλ·A_{t+1}`,
/// `V_T = 0`. Returns `(advantages, returns = A + V)`.
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lam: f64) -> (Vec<f64>, Vec<f64>) {
    let n = rewards.len();
    let mut adv = vec![0.0; n];
    let mut last = 0.0;
    for t in (0..n).rev() {
        let next = if t + 1 < n { values[t + 1] } else { 0.0 };
        let delta = rewards[t] + gamma * next - values[t];
        last = delta + gamma * lam * last;
        adv[t] = last;
    }
    let ret = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, ret)
}

/// Whitens every entry of every row together: `(x − mean)/√(var + 1e-8)`
/// with the unbiased (Bessel-corrected) variance, mean not added back
/// (TRL `masked_whiten(x, mask, shift_mean=True)`). Fewer than 2 entries: unchanged.
pub fn whiten(rows: &mut [Vec<f64>]) {
    let n: usize = rows.iter().map(Vec::len).sum();
    if n < 2 {
        return;
    }
    let mean = rows.iter().flatten().sum::<f64>() / n as f64;
    let var = rows
        .iter()
        .flatten()
        .map(|x| (x - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let var = var * n as f64 / (n as f64 - 1.0);
    let scale = 1.0 / (var + 1e-8).sqrt();
    for x in rows.iter_mut().flatten() {
        *x = (*x - mean) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ppo::fixture::{fixture, ragged};

    #[test]
    fn gae_and_whitening_match_numpy_on_a_fixed_trajectory() {
        let f = fixture()["gae"].clone();
        let mask = ragged(&f["mask"], &f["mask"]);
        let logp = ragged(&f["logp"], &f["mask"]);
        let ref_logp = ragged(&f["ref_logp"], &f["mask"]);
        let values = ragged(&f["values"], &f["mask"]);
        let scores: Vec<f64> = serde_json::from_value(f["scores"].clone()).unwrap();
        let beta = f["beta"].as_f64().unwrap();
        let (gamma, lam) = (f["gamma"].as_f64().unwrap(), f["lam"].as_f64().unwrap());
        let want_r = ragged(&f["rewards"], &f["mask"]);
        let want_a = ragged(&f["advantages"], &f["mask"]);
        let want_ret = ragged(&f["returns"], &f["mask"]);
        let want_w = ragged(&f["whitened"], &f["mask"]);
        let want_kl: Vec<f64> = serde_json::from_value(f["kl"].clone()).unwrap();
        let mut advs = Vec::new();
        for i in 0..mask.len() {
            let (r, kl) = token_rewards(&logp[i], &ref_logp[i], beta, scores[i]);
            assert!((kl - want_kl[i]).abs() < 1e-12);
            close(&r, &want_r[i]);
            let (a, ret) = gae(&r, &values[i], gamma, lam);
            close(&a, &want_a[i]);
            close(&ret, &want_ret[i]);
            advs.push(a);
        }
        whiten(&mut advs);
        for (a, w) in advs.iter().zip(&want_w) {
            close(a, w);
        }
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
    }
}
