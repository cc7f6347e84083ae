//! Products of a few rows by a large weight matrix, as decoding makes them
//! (ARCHITECTURE.md, "Fused kernels"): each weight is read from memory once
//! for all rows, in column tiles spread over the threads, instead of once
//! per row (Burn's batched path) or packed into panels first (`gemm`'s
//! general path, which at 8 rows reads and writes the weights twice more
//! than it computes on them).
//!
//! The bits are `gemm` 0.19's for the same product, so nothing decoded
//! changes: `gemm` sums each output element in one chain of fused
//! multiply-adds over the inner dimension, cut into blocks of `kc` (the
//! first block's chain starts from zero; each later block's chain is added
//! to the running value); with one row it uses a single chain (`kc = k`).
//! Here every output element runs the same chain in the same order, whatever
//! the SIMD width, the tile or the thread, so the result is the same on
//! every thread count. The one path of `gemm` that sums differently, a
//! single row against a weight stored `[n, k]` (a dot product split across
//! SIMD lanes), is kept: its columns are split across threads and each
//! part is handed to `gemm` unchanged.

use rayon::prelude::*;

use super::kernels::SharedMut;

/// Most rows the kernels take (decoding batches are at most this wide).
pub(super) const MAX_ROWS: usize = 8;

/// Columns one task computes at most (rounded to whole tiles): its
/// accumulators, `m` rows of them, stay in L1.
const TASK_COLS: usize = 512;

/// How the weight `[k, n]` is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Layout {
    /// Row-major `[k, n]`: a row of the weight is contiguous.
    KN,
    /// The transpose of a row-major `[n, k]` (a tied LM head): a column is
    /// contiguous.
    NK,
}

/// `gemm`'s K-block for an `m`-row product with `n` columns and inner
/// dimension `k`, on the kernels `isa` names ([`crate::util::machine::gemm_isa`]);
/// `None` where the kernels are not ones `gemm` 0.19 runs with FMA.
pub(super) fn gemm_kc(m: usize, n: usize, k: usize, isa: &str) -> Option<usize> {
    if m == 1 {
        // One row: `gemm` takes its matrix-vector path, one chain over k.
        return Some(k);
    }
    // The f32 micro-kernels' register tile (gemm-f32 0.19: two vectors of
    // 8 lanes by 6 on AVX2, four of 16 by 6 on AVX-512).
    let (mr, nr) = match isa {
        "avx2+fma" => (16, 6),
        "avx512f" => (64, 6),
        _ => return None,
    };
    // gemm sees the product transposed (n rows of output by m columns).
    Some(gemm_common::cache::kernel_params(n, m, k, mr, nr, 4).kc)
}

/// Whether this CPU runs the kernels here (AVX2 and FMA).
pub(super) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `x·w` for `x` `[m, k]` (1 ≤ m ≤ [`MAX_ROWS`]) and `w` `[k, n]` stored as
/// `layout` says, summed in blocks of `kc` (see the module doc); returns
/// `[m, n]`. Parallel over column tiles. Callers check [`supported`].
pub(super) fn matmul(
    x: &[f32],
    (m, k, n): (usize, usize, usize),
    w: &[f32],
    layout: Layout,
    kc: usize,
) -> Vec<f32> {
    assert!((1..=MAX_ROWS).contains(&m) && x.len() == m * k && w.len() == k * n && kc > 0);
    let mut out = vec![0.0f32; m * n];
    let dst = SharedMut(out.as_mut_ptr());
    let tile = match layout {
        Layout::KN => 8 * kn_vectors(m),
        Layout::NK => NK_TILE,
    };
    // Two tasks per thread at least, so a thread that the OS preempts
    // leaves work for the other to take.
    let per_task = TASK_COLS
        .min(n.div_ceil(2 * rayon::current_num_threads()))
        .div_ceil(tile)
        * tile;
    // x transposed to `[k, 8]` (rows in lanes, zero-padded) for the NK kernel.
    let xt = (layout == Layout::NK).then(|| transpose_rows(x, k));
    (0..n.div_ceil(per_task)).into_par_iter().for_each(|t| {
        let cols = t * per_task..n.min((t + 1) * per_task);
        // SAFETY: the task writes only columns `cols` of each of the m rows
        // of `out`; the slices' lengths were checked above; the CPU has
        // AVX2 and FMA (the caller checked `supported`).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match &xt {
                None => kn_cols(x, m, k, w, n, kc, cols, dst),
                Some(xt) => nk_cols(xt, m, k, w, n, kc, cols, dst),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!(
            "narrow kernels run only where `supported` holds ({cols:?}, {:?})",
            (&xt, dst.0)
        )
    });
    out
}

/// `x` (at most [`MAX_ROWS`] rows of `k`) as `[k, 8]`, rows in lanes,
/// missing rows zero.
pub(super) fn transpose_rows(x: &[f32], k: usize) -> Vec<f32> {
    let mut xt = vec![0.0f32; k * MAX_ROWS];
    for (i, row) in x.chunks_exact(k).enumerate() {
        for (kk, v) in row.iter().enumerate() {
            xt[kk * MAX_ROWS + i] = *v;
        }
    }
    xt
}

/// The K blocks `[start, end)` of `gemm`'s order.
pub(super) fn blocks(k: usize, kc: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).step_by(kc).map(move |s| (s, k.min(s + kc)))
}

/// Weight rows of one NK tile (eight output columns).
const NK_TILE: usize = 8;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Columns `cols` of `x·w`, `w` row-major `[k, n]`. Per K block the
/// chains run in a buffer of `m × cols` accumulators (in L1): eight weight
/// rows at a time, each tile (up to four rows by [`kn_vectors`] vectors of
/// 8 columns, at least eight independent chains) is loaded into registers,
/// advanced over those rows and stored back, so the weight is read row
/// segment by row segment, in order. Columns past the last whole tile run
/// in tiles one vector wide, then one element at a time.
///
/// # Safety
/// AVX2 and FMA; `dst` holds `m·n` values and no one else writes columns
/// `cols` meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn kn_cols(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    kc: usize,
    cols: std::ops::Range<usize>,
    dst: SharedMut,
) {
    let c = kn_vectors(m);
    let wide = (cols.end - cols.start) / (8 * c) * (8 * c);
    let width = wide + (cols.end - cols.start - wide) / 8 * 8;
    let mut acc = vec![0.0f32; m * width];
    // Rows in groups of at most four, as even as can be.
    let groups = m.div_ceil(4);
    for (bi, (k0, k1)) in blocks(k, kc).enumerate() {
        acc.fill(0.0);
        for s0 in (k0..k1).step_by(KN_STEP) {
            let ks = s0..k1.min(s0 + KN_STEP);
            let mut a = 0;
            while a < width {
                let vectors = if a < wide { c } else { 1 };
                let mut r = 0;
                for g in 0..groups {
                    let rows = (m - r) / (groups - g);
                    let t = Tile {
                        r,
                        j: cols.start + a,
                        a,
                        width,
                        ks: ks.clone(),
                    };
                    // SAFETY: rows r..r+rows, the tile's columns and
                    // weight rows lie inside x, w and acc (`matmul`'s checks).
                    unsafe {
                        match (rows, vectors) {
                            (1, 8) => kn_tile::<1, 8>(x, k, w, n, &t, &mut acc),
                            (2, 4) => kn_tile::<2, 4>(x, k, w, n, &t, &mut acc),
                            (3, 2) => kn_tile::<3, 2>(x, k, w, n, &t, &mut acc),
                            (4, 2) => kn_tile::<4, 2>(x, k, w, n, &t, &mut acc),
                            (2, 2) => kn_tile::<2, 2>(x, k, w, n, &t, &mut acc),
                            (1, _) => kn_tile::<1, 1>(x, k, w, n, &t, &mut acc),
                            (2, _) => kn_tile::<2, 1>(x, k, w, n, &t, &mut acc),
                            (3, _) => kn_tile::<3, 1>(x, k, w, n, &t, &mut acc),
                            _ => kn_tile::<4, 1>(x, k, w, n, &t, &mut acc),
                        }
                    }
                    r += rows;
                }
                a += 8 * vectors;
            }
        }
        for i in 0..m {
            for (c, a) in acc[i * width..(i + 1) * width].iter().enumerate() {
                let o = dst.at(i * n + cols.start + c);
                // SAFETY: element (i, cols.start + c) is this task's.
                unsafe { *o = if bi == 0 { *a } else { *o + *a } };
            }
        }
    }
    for j in cols.start + width..cols.end {
        for i in 0..m {
            let v = chain(k, kc, |kk| (x[i * k + kk], w[kk * n + j]));
            // SAFETY: element (i, j) is this task's.
            unsafe { *dst.at(i * n + j) = v };
        }
    }
}

/// Vectors of 8 columns in a KN tile for `m` rows: enough that a group of
/// rows keeps eight chains of fused multiply-adds in flight (the FMA units'
/// latency times their count) without running out of registers.
fn kn_vectors(m: usize) -> usize {
    match m {
        1 => 8,
        2 => 4,
        _ => 2,
    }
}

/// Weight rows a KN tile advances over between loads of its accumulators.
const KN_STEP: usize = 8;

/// Where one KN tile works: rows `r..r+R` of `x`, weight columns from `j`,
/// accumulator columns from `a` of rows `width` wide, weight rows `ks`.
struct Tile {
    r: usize,
    j: usize,
    a: usize,
    width: usize,
    ks: std::ops::Range<usize>,
}

/// One KN tile of `R` rows by `C` vectors (see [`Tile`]): its accumulators
/// from `acc`, advanced over the weight rows `ks` in order, and back.
///
/// # Safety
/// As [`kn_cols`], with the tile inside the operands.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn kn_tile<const R: usize, const C: usize>(
    x: &[f32],
    k: usize,
    w: &[f32],
    n: usize,
    t: &Tile,
    acc: &mut [f32],
) {
    let (xp, wp, ap) = (x.as_ptr(), w.as_ptr(), acc.as_mut_ptr());
    let at = |i: usize, h: usize| (t.r + i) * t.width + t.a + 8 * h;
    // SAFETY: the tile lies inside x, w and acc (the caller's contract).
    unsafe {
        let mut regs = [[_mm256_setzero_ps(); C]; R];
        for (i, a) in regs.iter_mut().enumerate() {
            for (h, v) in a.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(ap.add(at(i, h)));
            }
        }
        for kk in t.ks.clone() {
            let mut wv = [_mm256_setzero_ps(); C];
            for (h, v) in wv.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(wp.add(kk * n + t.j + 8 * h));
            }
            for (i, a) in regs.iter_mut().enumerate() {
                let xb = _mm256_set1_ps(*xp.add((t.r + i) * k + kk));
                for (v, w) in a.iter_mut().zip(&wv) {
                    *v = _mm256_fmadd_ps(*w, xb, *v);
                }
            }
        }
        for (i, a) in regs.iter().enumerate() {
            for (h, v) in a.iter().enumerate() {
                _mm256_storeu_ps(ap.add(at(i, h)), *v);
            }
        }
    }
}

/// Columns `cols` of `x·w`, `w` stored as the transpose of a row-major
/// `[n, k]`: per tile of 8 columns (8 contiguous weight rows), eight
/// accumulators whose lanes are `x`'s rows (`xt`, `[k, 8]`). Columns past
/// the last whole tile run the same chain one element at a time.
///
/// # Safety
/// As [`kn_cols`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn nk_cols(
    xt: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    kc: usize,
    cols: std::ops::Range<usize>,
    dst: SharedMut,
) {
    let (xp, wp) = (xt.as_ptr(), w.as_ptr());
    let mut j = cols.start;
    while j + NK_TILE <= cols.end {
        let mut total = [_mm256_setzero_ps(); NK_TILE];
        for (bi, (k0, k1)) in blocks(k, kc).enumerate() {
            let mut acc = [_mm256_setzero_ps(); NK_TILE];
            for kk in k0..k1 {
                // SAFETY: kk < k, weight rows j..j+8 < n.
                unsafe {
                    let xv = _mm256_loadu_ps(xp.add(kk * MAX_ROWS));
                    for (c, a) in acc.iter_mut().enumerate() {
                        let wb = _mm256_set1_ps(*wp.add((j + c) * k + kk));
                        *a = _mm256_fmadd_ps(xv, wb, *a);
                    }
                }
            }
            for (t, a) in total.iter_mut().zip(acc) {
                *t = if bi == 0 { a } else { _mm256_add_ps(*t, a) };
            }
        }
        let mut lanes = [[0.0f32; MAX_ROWS]; NK_TILE];
        for (l, t) in lanes.iter_mut().zip(total) {
            // SAFETY: `l` holds 8 values.
            unsafe { _mm256_storeu_ps(l.as_mut_ptr(), t) };
        }
        for i in 0..m {
            for (c, l) in lanes.iter().enumerate() {
                // SAFETY: element (i, j + c) is this task's.
                unsafe { *dst.at(i * n + j + c) = l[i] };
            }
        }
        j += NK_TILE;
    }
    for j in j..cols.end {
        for i in 0..m {
            let v = chain(k, kc, |kk| (xt[kk * MAX_ROWS + i], w[j * k + kk]));
            // SAFETY: element (i, j) is this task's.
            unsafe { *dst.at(i * n + j) = v };
        }
    }
}

/// One output element in `gemm`'s order: a fused chain per K block from
/// zero, blocks added in turn; `pair(kk)` gives the two factors at `kk`.
pub(super) fn chain(k: usize, kc: usize, pair: impl Fn(usize) -> (f32, f32)) -> f32 {
    let mut total = 0.0f32;
    for (bi, (k0, k1)) in blocks(k, kc).enumerate() {
        let mut acc = 0.0f32;
        for kk in k0..k1 {
            let (a, b) = pair(kk);
            acc = a.mul_add(b, acc);
        }
        total = if bi == 0 { acc } else { total + acc };
    }
    total
}

/// A single row against a weight stored [`Layout::NK`]: `gemm`'s own
/// matrix-vector product (a dot product split across SIMD lanes), with the
/// columns split across threads. Each output element's sum does not depend
/// on the split, so the bits are those of one `gemm` call.
pub(super) fn row_by_nk(x: &[f32], k: usize, w: &[f32], n: usize) -> Vec<f32> {
    assert!(x.len() == k && w.len() == k * n);
    let mut out = vec![0.0f32; n];
    // More than 256 columns per call: `gemm`'s small-product path (which
    // sums differently) takes products of at most 16×16 outputs.
    let per_task = 1024usize.max(n.div_ceil(4 * rayon::current_num_threads()));
    out.par_chunks_mut(per_task).enumerate().for_each(|(t, o)| {
        let j = t * per_task;
        let cols = o.len();
        // SAFETY: o holds `cols` outputs; w rows j..j+cols of length k
        // and x of length k are in bounds (asserted above).
        unsafe {
            gemm::gemm(
                1,
                cols,
                k,
                o.as_mut_ptr(),
                1,
                n as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                w.as_ptr().add(j * k),
                k as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
    out
}
