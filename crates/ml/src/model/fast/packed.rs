//! Decoding products on a weight repacked into column panels (ARCHITECTURE.md,
//! "Fused kernels"). A row-major weight `[k, n]` read a few columns at a
//! time (module `narrow`'s KN kernel) is a walk down `k` rows a few hundred
//! bytes each, `n·4` bytes apart: each segment is too short for the
//! hardware prefetchers to follow, so every weight row costs the latency of
//! memory. Repacked as `[k, 8]` panels, one after another, a task's columns
//! are one contiguous stretch of memory read front to back, and the register
//! tile keeps its accumulators over a whole K block.
//!
//! The sums are `narrow`'s (so `gemm`'s): one fused multiply-add chain per
//! output element over each K block, blocks added in order.

use rayon::prelude::*;

use super::kernels::SharedMut;
use super::narrow::{self, Layout, MAX_ROWS};

/// Columns of one panel (one AVX2 vector of f32).
const PANEL: usize = 8;

/// A weight `[k, n]` repacked for decoding: the first `n / 8 · 8` columns
/// as panels `[k, 8]` stored one after another, then the last `n % 8`
/// columns row-major `[k, n % 8]`.
pub(super) struct Packed {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Repacks `w` (`k·n` values), stored as `layout` says, in parallel
    /// over blocks of weight rows (KN) or of panels (NK).
    pub(super) fn new(w: &[f32], k: usize, n: usize, layout: Layout) -> Self {
        assert_eq!(w.len(), k * n);
        let panels = n / PANEL;
        let tail = n - panels * PANEL;
        let mut data = vec![0.0f32; k * n];
        let dst = SharedMut(data.as_mut_ptr());
        // Where element (kk, j) of the weight goes.
        let at = |kk: usize, j: usize| {
            if j < panels * PANEL {
                (j / PANEL * k + kk) * PANEL + j % PANEL
            } else {
                panels * PANEL * k + kk * tail + (j - panels * PANEL)
            }
        };
        match layout {
            Layout::KN => (0..k.div_ceil(64)).into_par_iter().for_each(|b| {
                for kk in b * 64..k.min(b * 64 + 64) {
                    for (j, v) in w[kk * n..(kk + 1) * n].iter().enumerate() {
                        // SAFETY: `at` is one-to-one onto 0..k·n; weight
                        // rows of block `b` are this task's alone.
                        unsafe { *dst.at(at(kk, j)) = *v };
                    }
                }
            }),
            Layout::NK => (0..n.div_ceil(PANEL)).into_par_iter().for_each(|p| {
                for j in p * PANEL..n.min(p * PANEL + PANEL) {
                    for (kk, v) in w[j * k..(j + 1) * k].iter().enumerate() {
                        // SAFETY: as above; columns of panel `p` are this
                        // task's alone.
                        unsafe { *dst.at(at(kk, j)) = *v };
                    }
                }
            }),
        }
        Self { k, n, data }
    }
}

/// Panels one tile advances together for `m` rows: at least eight
/// independent accumulator chains, at most twelve registers of them.
fn tile_panels(m: usize) -> usize {
    match m {
        1 => 8,
        2 | 3 => 4,
        4..=6 => 2,
        _ => 1,
    }
}

/// `x·w` for `x` `[m, k]` (1 ≤ m ≤ [`MAX_ROWS`]) and the packed `w`,
/// summed in blocks of `kc`; returns `[m, n]`. Parallel over runs of
/// panels. Callers check `narrow::supported`.
pub(super) fn matmul(x: &[f32], m: usize, w: &Packed, kc: usize) -> Vec<f32> {
    let (k, n) = (w.k, w.n);
    assert!((1..=MAX_ROWS).contains(&m) && x.len() == m * k && kc > 0);
    let mut out = vec![0.0f32; m * n];
    let dst = SharedMut(out.as_mut_ptr());
    // x as `[k, 8]`: a step's row values side by side.
    let xt = narrow::transpose_rows(x, k);
    let panels = n / PANEL;
    let c = tile_panels(m);
    // Two tasks per thread at least, in whole tiles.
    let per_task = panels
        .div_ceil(2 * rayon::current_num_threads())
        .div_ceil(c)
        .max(1)
        * c;
    let tasks = panels.div_ceil(per_task);
    (0..tasks + 1).into_par_iter().for_each(|t| {
        if t == tasks {
            tail(&xt, m, w, kc, dst);
            return;
        }
        let run = t * per_task..panels.min((t + 1) * per_task);
        // SAFETY: the task writes only the columns of panels `run`; the
        // CPU has AVX2 and FMA (the caller checked).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            panels_of(&xt, m, w, kc, run, dst)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("packed kernels run only on x86_64 ({run:?}, {:?})", dst.0)
    });
    out
}

/// The last `n % 8` columns, one chain per element.
fn tail(xt: &[f32], m: usize, w: &Packed, kc: usize, dst: SharedMut) {
    let (k, n) = (w.k, w.n);
    let start = n / PANEL * PANEL;
    let width = n - start;
    let base = &w.data[start * k..];
    for c in 0..width {
        for i in 0..m {
            let v = narrow::chain(k, kc, |kk| (xt[kk * MAX_ROWS + i], base[kk * width + c]));
            // SAFETY: element (i, start + c) is this task's.
            unsafe { *dst.at(i * n + start + c) = v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Panels `run` of `x·w`, in tiles of [`tile_panels`] panels.
///
/// # Safety
/// AVX2 and FMA; `dst` holds `m·n` values and no one else writes these
/// panels' columns meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panels_of(
    xt: &[f32],
    m: usize,
    w: &Packed,
    kc: usize,
    run: std::ops::Range<usize>,
    dst: SharedMut,
) {
    let c = tile_panels(m);
    let mut p = run.start;
    while p < run.end {
        let take = c.min(run.end - p);
        // SAFETY: panels p..p+take lie in w (run ⊆ 0..n/8); rows < m ≤ 8.
        unsafe {
            match (m, take) {
                (1, 8) => tile::<1, 8>(xt, w, kc, p, dst),
                (2, 4) => tile::<2, 4>(xt, w, kc, p, dst),
                (3, 4) => tile::<3, 4>(xt, w, kc, p, dst),
                (4, 2) => tile::<4, 2>(xt, w, kc, p, dst),
                (5, 2) => tile::<5, 2>(xt, w, kc, p, dst),
                (6, 2) => tile::<6, 2>(xt, w, kc, p, dst),
                (7, _) => tile::<7, 1>(xt, w, kc, p, dst),
                (8, _) => tile::<8, 1>(xt, w, kc, p, dst),
                _ => {
                    for q in p..p + take {
                        match m {
                            1 => tile::<1, 1>(xt, w, kc, q, dst),
                            2 => tile::<2, 1>(xt, w, kc, q, dst),
                            3 => tile::<3, 1>(xt, w, kc, q, dst),
                            4 => tile::<4, 1>(xt, w, kc, q, dst),
                            5 => tile::<5, 1>(xt, w, kc, q, dst),
                            _ => tile::<6, 1>(xt, w, kc, q, dst),
                        }
                    }
                }
            }
        }
        p += take;
    }
}

/// `R` rows by panels `p..p+C`: per K block, `R·C` accumulators in
/// registers advanced over the block's weight rows, then stored (first
/// block) or added to the output.
///
/// # Safety
/// As [`panels_of`], with the panels inside `w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const C: usize>(
    xt: &[f32],
    w: &Packed,
    kc: usize,
    p: usize,
    dst: SharedMut,
) {
    let (k, n) = (w.k, w.n);
    let (xp, wp) = (xt.as_ptr(), w.data.as_ptr());
    // SAFETY: panel q's values are w.data[q·k·8 .. (q+1)·k·8] and q < n/8;
    // xt holds k·8 values; outputs (i < R ≤ m, columns of panels p..p+C).
    unsafe {
        for (k0, k1) in narrow::blocks(k, kc) {
            let mut acc = [[_mm256_setzero_ps(); C]; R];
            for kk in k0..k1 {
                let mut wv = [_mm256_setzero_ps(); C];
                for (h, v) in wv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(wp.add(((p + h) * k + kk) * PANEL));
                }
                for (i, a) in acc.iter_mut().enumerate() {
                    let xb = _mm256_set1_ps(*xp.add(kk * MAX_ROWS + i));
                    for (v, w) in a.iter_mut().zip(&wv) {
                        *v = _mm256_fmadd_ps(*w, xb, *v);
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                for (h, v) in a.iter().enumerate() {
                    let o = dst.at(i * n + (p + h) * PANEL);
                    let v = if k0 == 0 {
                        *v
                    } else {
                        _mm256_add_ps(_mm256_loadu_ps(o), *v)
                    };
                    _mm256_storeu_ps(o, v);
                }
            }
        }
    }
}
