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
//! output element over each K block, blocks added in order. Up to eight
//! rows go in one group; wider products (evaluation batches of up to
//! [`MAX_ROWS`] prompts) go in groups of at most six rows, each tile of
//! two panels read from memory once and from cache by the other groups.

use rayon::prelude::*;

use super::kernels::SharedMut;
use super::narrow::{self, Layout};

/// Columns of one panel (one AVX2 vector of f32).
const PANEL: usize = 8;

/// Most rows [`matmul`] takes.
pub(super) const MAX_ROWS: usize = 32;

/// Rows a group of a product wider than `narrow`'s eight takes at most.
const WIDE_GROUP: usize = 6;

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

/// Rows of `x` that a tile takes together: output rows `r0..r0 + rows`
/// (at most eight), their values as `[k, 8]` ([`narrow::transpose_rows`]).
struct Group {
    /// The group's first row of `x` (and of the output).
    r0: usize,
    /// Its rows, 1 to 8.
    rows: usize,
    /// Its rows' values, `[k, 8]`, missing rows zero.
    xt: Vec<f32>,
}

/// `x`'s `m` rows in groups, and the panels a tile advances: one group of
/// up to eight rows, else groups of at most [`WIDE_GROUP`] rows, as even as
/// can be, two panels a tile.
fn groups(x: &[f32], m: usize, k: usize) -> (Vec<Group>, usize) {
    let group = |r0: usize, rows: usize| Group {
        r0,
        rows,
        xt: narrow::transpose_rows(&x[r0 * k..(r0 + rows) * k], k),
    };
    if m <= narrow::MAX_ROWS {
        return (vec![group(0, m)], tile_panels(m));
    }
    let count = m.div_ceil(WIDE_GROUP);
    let mut r0 = 0;
    let mut out = Vec::with_capacity(count);
    for g in 0..count {
        let rows = (m - r0) / (count - g);
        out.push(group(r0, rows));
        r0 += rows;
    }
    (out, 2)
}

/// `x·w` for `x` `[m, k]` (1 ≤ m ≤ [`MAX_ROWS`]) and the packed `w`,
/// summed in blocks of `kc`; returns `[m, n]`. Parallel over runs of
/// panels. Callers check `narrow::supported`.
pub(super) fn matmul(x: &[f32], m: usize, w: &Packed, kc: usize) -> Vec<f32> {
    let (k, n) = (w.k, w.n);
    assert!((1..=MAX_ROWS).contains(&m) && x.len() == m * k && kc > 0);
    let mut out = vec![0.0f32; m * n];
    let dst = SharedMut(out.as_mut_ptr());
    let (groups, c) = groups(x, m, k);
    let panels = n / PANEL;
    // Two tasks per thread at least, in whole tiles.
    let per_task = panels
        .div_ceil(2 * rayon::current_num_threads())
        .div_ceil(c)
        .max(1)
        * c;
    let tasks = panels.div_ceil(per_task);
    (0..tasks + 1).into_par_iter().for_each(|t| {
        if t == tasks {
            for g in &groups {
                tail(g, w, kc, dst);
            }
            return;
        }
        let run = t * per_task..panels.min((t + 1) * per_task);
        // SAFETY: the task writes only the columns of panels `run`; the
        // CPU has AVX2 and FMA (the caller checked).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            panels_of(&groups, c, w, kc, run, dst)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "packed kernels run only on x86_64 ({run:?}, {c}, {:?})",
            dst.0
        )
    });
    out
}

/// The last `n % 8` columns of group `g`'s rows, one chain per element.
fn tail(g: &Group, w: &Packed, kc: usize, dst: SharedMut) {
    let (k, n) = (w.k, w.n);
    let start = n / PANEL * PANEL;
    let width = n - start;
    let base = &w.data[start * k..];
    for c in 0..width {
        for i in 0..g.rows {
            let v = narrow::chain(k, kc, |kk| {
                (g.xt[kk * narrow::MAX_ROWS + i], base[kk * width + c])
            });
            // SAFETY: element (r0 + i, start + c) is this task's.
            unsafe { *dst.at((g.r0 + i) * n + start + c) = v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Panels `run` of `x·w`, in tiles of `c` panels, each tile for every
/// group in turn (the later groups read its panels from cache).
///
/// # Safety
/// AVX2 and FMA; `dst` holds `m·n` values and no one else writes these
/// panels' columns meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panels_of(
    groups: &[Group],
    c: usize,
    w: &Packed,
    kc: usize,
    run: std::ops::Range<usize>,
    dst: SharedMut,
) {
    let mut p = run.start;
    while p < run.end {
        let take = c.min(run.end - p);
        for g in groups {
            let (xt, r0) = (g.xt.as_slice(), g.r0);
            // SAFETY: panels p..p+take lie in w (run ⊆ 0..n/8); a group's
            // rows are at most 8 and end by m.
            unsafe {
                match (g.rows, take) {
                    (1, 8) => tile::<1, 8>(xt, r0, w, kc, p, dst),
                    (2, 4) => tile::<2, 4>(xt, r0, w, kc, p, dst),
                    (3, 4) => tile::<3, 4>(xt, r0, w, kc, p, dst),
                    (4, 2) => tile::<4, 2>(xt, r0, w, kc, p, dst),
                    (5, 2) => tile::<5, 2>(xt, r0, w, kc, p, dst),
                    (6, 2) => tile::<6, 2>(xt, r0, w, kc, p, dst),
                    (7, _) => tile::<7, 1>(xt, r0, w, kc, p, dst),
                    (8, _) => tile::<8, 1>(xt, r0, w, kc, p, dst),
                    (rows, _) => {
                        for q in p..p + take {
                            match rows {
                                1 => tile::<1, 1>(xt, r0, w, kc, q, dst),
                                2 => tile::<2, 1>(xt, r0, w, kc, q, dst),
                                3 => tile::<3, 1>(xt, r0, w, kc, q, dst),
                                4 => tile::<4, 1>(xt, r0, w, kc, q, dst),
                                5 => tile::<5, 1>(xt, r0, w, kc, q, dst),
                                _ => tile::<6, 1>(xt, r0, w, kc, q, dst),
                            }
                        }
                    }
                }
            }
        }
        p += take;
    }
}

/// `R` rows (output rows `r0..r0+R`, values in `xt`) by panels `p..p+C`:
/// per K block, `R·C` accumulators in registers advanced over the block's
/// weight rows, then stored (first block) or added to the output.
///
/// # Safety
/// As [`panels_of`], with the panels inside `w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile<const R: usize, const C: usize>(
    xt: &[f32],
    r0: usize,
    w: &Packed,
    kc: usize,
    p: usize,
    dst: SharedMut,
) {
    let (k, n) = (w.k, w.n);
    let (xp, wp) = (xt.as_ptr(), w.data.as_ptr());
    // SAFETY: panel q's values are w.data[q·k·8 .. (q+1)·k·8] and q < n/8;
    // xt holds k·8 values; outputs (rows r0 + i < m, columns of panels
    // p..p+C).
    unsafe {
        for (k0, k1) in narrow::blocks(k, kc) {
            let mut acc = [[_mm256_setzero_ps(); C]; R];
            for kk in k0..k1 {
                let mut wv = [_mm256_setzero_ps(); C];
                for (h, v) in wv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(wp.add(((p + h) * k + kk) * PANEL));
                }
                for (i, a) in acc.iter_mut().enumerate() {
                    let xb = _mm256_set1_ps(*xp.add(kk * narrow::MAX_ROWS + i));
                    for (v, w) in a.iter_mut().zip(&wv) {
                        *v = _mm256_fmadd_ps(*w, xb, *v);
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                for (h, v) in a.iter().enumerate() {
                    let o = dst.at((r0 + i) * n + (p + h) * PANEL);
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
