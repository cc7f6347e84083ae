//! Survival function of the two-sided one-sample Kolmogorov–Smirnov
//! statistic `D_n` for finite `n` (`scipy.stats.kstwo.sf`), which scipy's
//! `ks_2samp` uses as its asymptotic two-sample p-value with
//! `n = round(m n / (m + n))`.
//!
//! The branch structure is Simard & L'Ecuyer (2011), "Computing the
//! two-sided Kolmogorov–Smirnov distribution", J. Stat. Softw. 39(11), as
//! scipy's `scipy/stats/_ksstats.py` implements it: Ruben–Gambino closed
//! forms at the ends, Durbin's matrix (Marsaglia–Tsang–Wang), Pomeranz's
//! recursion, the Pelz–Good expansion, and `2 * smirnov` in the upper tail.

use super::smirnov::smirnov_sf;

const E128: i32 = 128;
const SQRT2PI: f64 = 2.506_628_274_631_000_7;
const LOG_2PI: f64 = 1.837_877_066_409_345_5;
const MIN_LOG: f64 = -708.0;
const PI2: f64 = std::f64::consts::PI * std::f64::consts::PI;

/// Stirling coefficients `B_{2j} / (2j (2j-1))` for j = 8 .. 1, as scipy's
/// `_STIRLING_COEFFS` (B the Bernoulli numbers).
const STIRLING: [f64; 8] = [
    -3617.0 / 122_400.0,
    7.0 / 1092.0,
    -691.0 / 360_360.0,
    1.0 / 1188.0,
    -1.0 / 1680.0,
    1.0 / 1260.0,
    -1.0 / 360.0,
    1.0 / 12.0,
];

fn ep128() -> f64 {
    2f64.powi(E128)
}

fn em128() -> f64 {
    2f64.powi(-E128)
}

/// `ln(n! / n^n)` by Stirling's series with `n ln n` removed up front.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let x = rn / n;
    let poly = STIRLING.iter().fold(0.0, |acc, c| acc * x + c);
    n.ln() / 2.0 - n + LOG_2PI / 2.0 + rn * poly
}

/// `P(D_n <= d)` by Durbin's matrix method, computed as Marsaglia, Tsang &
/// Wang (2003): the `k`-th diagonal entry of `H^n`, scaled by `n!/n^n`.
fn cdf_durbin(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;
    let mut hm = vec![0.0; m * m]; // row-major [m, m]
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }
    let mut pw = vec![0.0; m * m];
    for i in 0..m {
        pw[i * m + i] = 1.0;
    }
    let (mut nn, mut expnt, mut hexpnt) = (n, 0i32, 0i32);
    while nn > 0 {
        if nn % 2 == 1 {
            pw = matmul(&pw, &hm, m);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm, m);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > ep128() {
            for x in hm.iter_mut() {
                *x /= ep128();
            }
            hexpnt += E128;
        }
        nn /= 2;
    }
    let mut p = pw[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < em128() {
            p *= ep128();
            expnt -= E128;
        }
    }
    if expnt != 0 {
        p *= 2f64.powi(expnt);
    }
    p.clamp(0.0, 1.0)
}

/// Square matrix product, row-major `[m, m] x [m, m]`.
fn matmul(a: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for l in 0..m {
            let ail = a[i * m + l];
            if ail == 0.0 {
                continue;
            }
            for j in 0..m {
                c[i * m + j] += ail * b[l * m + j];
            }
        }
    }
    c
}

/// Window of row `i` of Pomeranz's recursion (scipy `_pomeranz_compute_j1j2`).
fn pomeranz_j1j2(i: i64, n: i64, ll: i64, ceilf: i64, roundf: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceilf - 1, ll + ceilf - 1)
    } else {
        let (ip1div2, ip1mod2) = ((i + 1) / 2, (i + 1) % 2);
        if ip1mod2 == 0 {
            if ip1div2 == n + 1 {
                (n - ll - ceilf - 1, n + ll + ceilf - 1)
            } else {
                (ip1div2 - 1 - ll - roundf - 1, ip1div2 + ll - 1 + ceilf - 1)
            }
        } else {
            (ip1div2 - 1 - ll - 1, ip1div2 + ll + roundf - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `P(D_n <= x)` by Pomeranz's (1974) recursion; `None` if an index leaves
/// its window (not expected).
fn cdf_pomeranz(n: u64, x: f64) -> Option<f64> {
    let ni = n as i64;
    let t = n as f64 * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceilf = i64::from(f > 0.0);
    let roundf = i64::from(f > 0.5);
    let npwrs = (2 * (ll + 1)) as usize;
    let nf = n as f64;
    let (g_n, two_g_n, one_m2g_n) = (g / nf, 2.0 * g / nf, (1.0 - 2.0 * g) / nf);
    let mut gpower = vec![1.0; npwrs];
    let mut twogpower = vec![1.0; npwrs];
    let mut onem2gpower = vec![1.0; npwrs];
    for m in 1..npwrs {
        gpower[m] = gpower[m - 1] * g_n / m as f64;
        twogpower[m] = twogpower[m - 1] * two_g_n / m as f64;
        onem2gpower[m] = onem2gpower[m - 1] * one_m2g_n / m as f64;
    }
    let mut v0 = vec![0.0; npwrs];
    let mut v1 = vec![0.0; npwrs];
    v1[0] = 1.0;
    let (mut v0s, mut v1s) = (0i64, 0i64);
    let mut expnt = 0i32;
    let (mut j1, mut _j2) = pomeranz_j1j2(0, ni, ll, ceilf, roundf);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut v0, &mut v1);
        std::mem::swap(&mut v0s, &mut v1s);
        v1.iter_mut().for_each(|x| *x = 0.0);
        let (nj1, nj2) = pomeranz_j1j2(i, ni, ll, ceilf, roundf);
        j1 = nj1;
        _j2 = nj2;
        let pwrs = if i == 1 || i == 2 * ni + 1 {
            &gpower
        } else if i % 2 == 1 {
            &twogpower
        } else {
            &onem2gpower
        };
        let ln2 = nj2 - k1 + 1;
        if ln2 > 0 {
            // numpy slicing truncates at the end of the row.
            let start = usize::try_from(k1 - v0s).ok()?;
            let end = (start + ln2 as usize).min(npwrs);
            let a = v0.get(start..end)?;
            let b = &pwrs[..(ln2 as usize).min(npwrs)];
            let conv_start = usize::try_from(nj1 - k1).ok()?;
            let conv_len = usize::try_from(nj2 - nj1 + 1).ok()?;
            for (out, idx) in v1.iter_mut().take(conv_len).zip(conv_start..) {
                // full convolution entry idx: sum_i a[i] b[idx - i]
                let mut s = 0.0;
                for (ia, av) in a.iter().enumerate() {
                    if idx >= ia && idx - ia < b.len() {
                        s += av * b[idx - ia];
                    }
                }
                *out = s;
            }
            let vmax = v1.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < vmax && vmax < em128() {
                v1.iter_mut().for_each(|x| *x *= ep128());
                expnt -= E128;
            }
            v1s = v0s + nj1 - k1;
        }
    }
    let mut ans = *v1.get(usize::try_from(ni - v1s).ok()?)?;
    for m in 1..=n {
        if ans.abs() > ep128() {
            ans *= em128();
            expnt += E128;
        }
        ans *= m as f64;
    }
    if expnt != 0 {
        ans *= 2f64.powi(expnt);
    }
    Some(ans.clamp(0.0, 1.0))
}

/// Pelz & Good (1976) approximation of `P(D_n <= x)`.
fn cdf_pelz_good(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -PI2 / 8.0 / z2;
    if qlog < MIN_LOG {
        return 0.0;
    }
    let q = qlog.exp();
    let pi4 = PI2 * PI2;
    let pi6 = pi4 * PI2;
    let k1a = -z2;
    let k1b = PI2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * PI2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = PI2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);
    let mut kk = [0.0f64; 4];
    let maxk = (16.0 * z / std::f64::consts::PI).ceil() as i64;
    for k in (1..=maxk).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf((8 * k) as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in kk.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let denom = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, d) in kk.iter_mut().zip(denom) {
        *acc = *acc * q * SQRT2PI / d;
    }
    let q = (-PI2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    for k in (1..=maxk).rev() {
        let kf = k as f64;
        let ks2 = kf * kf;
        let qp = q.powf(ks2);
        let kspi = std::f64::consts::PI * kf;
        k2extra += ks2 * qp;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
    }
    kk[2] += k2extra * PI2 * SQRT2PI / (-36.0 * z3);
    kk[3] += k3extra * PI2 * SQRT2PI / (216.0 * z6);
    kk.iter()
        .enumerate()
        .map(|(i, v)| v / nf.powf(i as f64 / 2.0))
        .sum()
}

/// `P(D_n >= x)` for the two-sided one-sample statistic with `n >= 1`
/// (scipy `kstwo.sf(x, n)`); NaN only if an internal recursion fails.
pub(crate) fn kstwo_sf(n: u64, x: f64) -> f64 {
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        // Ruben–Gambino: P(D_n <= x) = n!/n^n (2t - 1)^n for 1/2n <= x <= 1/n.
        if t <= 0.5 {
            return 1.0;
        }
        let prob = if n <= 140 {
            (1..=n)
                .map(|i| i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
                .product::<f64>()
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - prob).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let nxsq = t * x;
    if n <= 140 {
        if nxsq <= 0.754693 {
            return (1.0 - cdf_durbin(n, x)).clamp(0.0, 1.0);
        }
        if nxsq <= 4.0 {
            return cdf_pomeranz(n, x).map_or(f64::NAN, |p| (1.0 - p).clamp(0.0, 1.0));
        }
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    if nxsq >= 370.0 {
        return 0.0;
    }
    if nxsq >= 2.2 {
        return (2.0 * smirnov_sf(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        cdf_durbin(n, x)
    } else {
        cdf_pelz_good(n, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durbin_and_pomeranz_agree_where_both_apply() {
        for &(n, x) in &[(10u64, 0.2), (30, 0.15), (100, 0.08), (7, 0.3)] {
            let a = cdf_durbin(n, x);
            let b = cdf_pomeranz(n, x).unwrap();
            assert!((a - b).abs() < 1e-12, "n={n} x={x}: {a} vs {b}");
        }
    }

    #[test]
    fn pelz_good_approaches_durbin_for_large_n() {
        let (n, x) = (5000u64, 0.012);
        assert!((cdf_pelz_good(n, x) - cdf_durbin(n, x)).abs() < 1e-6);
    }

    #[test]
    fn ends_of_the_support() {
        assert_eq!(kstwo_sf(10, 0.04), 1.0);
        assert_eq!(kstwo_sf(10, 1.0), 0.0);
        // n = 1: D_1 = max(U, 1 - U), P(D_1 >= x) = 2 (1 - x) for x >= 1/2.
        assert!((kstwo_sf(1, 0.7) - 0.6).abs() < 1e-15);
    }
}
