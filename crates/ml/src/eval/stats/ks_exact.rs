//! Exact two-sided p-value of the two-sample Kolmogorov–Smirnov statistic,
//! by counting lattice paths, as `scipy.stats.ks_2samp(method='exact')`.
//!
//! The statistic `D = h / lcm(m, n)` is an integer `h` on the lattice of
//! both ECDFs. `P(D >= h/lcm)` is the share of the `C(m+n, n)` monotone
//! paths from `(0,0)` to `(m,n)` that touch `|x/m - y/n| >= h/lcm`.
//! Equal sizes: the closed form of Gnedenko–Korolyuk, summed as a Horner
//! scheme (scipy `_compute_prob_outside_square`). Unequal sizes: Hodges'
//! "inside method" run on `1 - p` directly with per-column normalisation
//! (Viehmann 2021, arXiv:2102.08037; scipy `_compute_outer_prob_inside_method`).

/// `P(D_{n,n} >= h/n)` for two samples of equal size `n`, `1 <= h <= n`.
pub(crate) fn prob_outside_square(n: u64, h: u64) -> f64 {
    // P = 2 * A0 * (1 - A1 * (1 - A2 * (1 - ...))), A_k the ratio
    // C(2n, n - k h) / C(2n, n - (k-1) h) written as h simple factors.
    let mut p = 0.0;
    let mut k = n / h;
    loop {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n as f64 - (k * h) as f64 - j as f64) * p1
                / (n as f64 + (k * h) as f64 + j as f64 + 1.0);
        }
        p = p1 * (1.0 - p);
        if k == 0 {
            break;
        }
        k -= 1;
    }
    2.0 * p
}

/// `P(D_{m,n} >= h g / (m n))` for sizes `m`, `n` with `g = gcd(m, n)`,
/// `1 <= h <= lcm(m, n)`; `None` if the recursion leaves its window (it
/// should not; the caller then falls back to the asymptotic p-value).
pub(crate) fn prob_outside_lattice(m: u64, n: u64, g: u64, h: u64) -> Option<f64> {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = m / g;
    let ng = n / g;
    // Column x of the lattice keeps only rows `minj..maxj` (the band
    // |n x - m y| < h g); A[j - minj] holds P(path to (x, j) has already
    // left the band), normalised by C(x + j, j).
    let mut minj: u64 = 0;
    let mut maxj: u64 = h.div_ceil(mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a];
    for v in a.iter_mut().take(maxj as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let lastminj = minj;
        let lastlen = curlen;
        // floor((ng i - h) / mg) + 1, clamped to 0..=n; the numerator may be
        // negative, so use signed floor division.
        let num = ng as i128 * i as i128 - h as i128;
        let fl = num.div_euclid(mg as i128) + 1;
        minj = fl.clamp(0, n as i128) as u64;
        maxj = (ng * i + h).div_ceil(mg).min(n + 1);
        if maxj <= minj {
            return Some(1.0);
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let prev = *a.get((jj + minj - lastminj) as usize)?;
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            *a.get_mut(jj as usize)? = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = start + (lastlen - curlen) as usize;
            for v in a.get_mut(start..end)? {
                *v = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1) as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: enumerate every split of m + n sorted distinct points.
    fn brute(m: usize, n: usize, h_num: i64) -> f64 {
        // Paths: choose which of the m+n steps are x-steps.
        let total = m + n;
        let mut hit = 0u64;
        let mut all = 0u64;
        for mask in 0u32..(1u32 << total) {
            if mask.count_ones() as usize != m {
                continue;
            }
            all += 1;
            let (mut x, mut y) = (0i64, 0i64);
            let mut out = false;
            for s in 0..total {
                if mask & (1 << s) != 0 {
                    x += 1
                } else {
                    y += 1
                }
                if (n as i64 * x - m as i64 * y).abs() >= h_num {
                    out = true;
                }
            }
            if out {
                hit += 1;
            }
        }
        hit as f64 / all as f64
    }

    #[test]
    fn lattice_and_square_agree_with_brute_force() {
        for &(m, n) in &[(3usize, 5usize), (4, 6), (6, 6), (2, 7)] {
            let g = gcd(m as u64, n as u64);
            let lcm = m as u64 / g * n as u64;
            for h in 1..=lcm {
                let want = brute(m, n, (h * g) as i64);
                let got = if m == n {
                    prob_outside_square(m as u64, h)
                } else {
                    prob_outside_lattice(m as u64, n as u64, g, h).unwrap()
                };
                assert!(
                    (got - want).abs() < 1e-12,
                    "m={m} n={n} h={h}: {got} vs {want}"
                );
            }
        }
    }

    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
}
