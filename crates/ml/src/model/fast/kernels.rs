//! The fused kernels' arithmetic on contiguous f32 slices, shared by the
//! inference entry points ([`super`]) and the training ops ([`super::grad`]),
//! so a forward pass computes the same bits in both. Every sum runs in a
//! fixed order over fixed chunks, whatever the thread count
//! (ARCHITECTURE.md, "Fused kernels").

use rayon::prelude::*;

/// Rows per parallel chunk of the row-wise kernels; fixed, so that partial
/// sums across rows (the parameter gradients) do not depend on threads.
const ROWS: usize = 64;

/// A raw pointer that rayon tasks may share; every task writes a disjoint
/// part of the buffer behind it.
#[derive(Clone, Copy)]
pub(super) struct SharedMut(pub(super) *mut f32);
// SAFETY: tasks only write disjoint regions (see each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole wrapper).
    pub(super) fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// The shapes of one attention call: queries `[b, s, heads·hd]`, keys and
/// values `[b, t, kv_heads·hd]`, an additive bias `[b, 1 | heads, 1 | s, t]`:
/// one row of `t` per batch row, shared by every head and query, or one per
/// head, per query, or both.
#[derive(Clone, Copy, Debug)]
pub(super) struct AttnShape {
    /// Batch rows.
    pub b: usize,
    /// Queries per row.
    pub s: usize,
    /// Keys per row.
    pub t: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (`heads` is a multiple).
    pub kv_heads: usize,
    /// Width of one head.
    pub hd: usize,
    /// Whether the bias has a row per query.
    pub per_query: bool,
    /// Whether the bias has a block per (query) head.
    pub per_head: bool,
}

impl AttnShape {
    /// The shapes if they fit together, else `None`.
    pub(super) fn new(
        q: [usize; 3],
        k: [usize; 3],
        v: [usize; 3],
        bias: [usize; 4],
        heads: usize,
        kv_heads: usize,
    ) -> Option<Self> {
        let ([b, s, qd], [_, t, kd]) = (q, k);
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !qd.is_multiple_of(heads)
        {
            return None;
        }
        let hd = qd / heads;
        if kd != kv_heads * hd || k[0] != b || v != [b, t, kd] {
            return None;
        }
        let [bb, bh, bs, bt] = bias;
        if bb != b || bt != t || (bh != 1 && bh != heads) || (bs != 1 && bs != s) {
            return None;
        }
        Some(Self {
            b,
            s,
            t,
            heads,
            kv_heads,
            hd,
            per_query: bs != 1,
            per_head: bh != 1,
        })
    }

    /// Where the bias row of batch row `r`, head `h` and query `i` starts.
    fn bias_at(&self, r: usize, h: usize, i: usize) -> usize {
        let (hb, h) = if self.per_head {
            (self.heads, h)
        } else {
            (1, 0)
        };
        let (sb, i) = if self.per_query { (self.s, i) } else { (1, 0) };
        ((r * hb + h) * sb + i) * self.t
    }

    fn qd(&self) -> usize {
        self.heads * self.hd
    }

    fn kd(&self) -> usize {
        self.kv_heads * self.hd
    }

    fn scale(&self) -> f32 {
        1.0 / (self.hd as f32).sqrt()
    }

    /// Values of the softmax probabilities `[b, heads, s, t]`.
    pub(super) fn probs_len(&self) -> usize {
        self.b * self.heads * self.s * self.t
    }
}

/// `dst = (read ? dst : 0) + beta·lhs·rhs` for an `m×k` by `k×n` product,
/// each operand given by its pointer, row stride and column stride; one
/// thread (callers parallelise over heads).
///
/// # Safety
/// Every pointer with its strides must address valid `m×k`, `k×n` and
/// `m×n` blocks, and `dst` must not be written by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn mm(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, usize, usize),
    read: bool,
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
    beta: f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.2 as isize,
            dst.1 as isize,
            read,
            lhs.0,
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0,
            rhs.2 as isize,
            rhs.1 as isize,
            1.0,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Scaled dot-product attention (see [`super::attention`]), parallel over
/// (row, head). With `probs` (of [`AttnShape::probs_len`] values) the
/// softmax probabilities are kept there for the backward pass.
pub(super) fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    bias: &[f32],
    sh: &AttnShape,
    probs: Option<&mut [f32]>,
) -> Vec<f32> {
    let AttnShape {
        b, s, t, heads, hd, ..
    } = *sh;
    let (qd, kd, rep) = (sh.qd(), sh.kd(), heads / sh.kv_heads);
    let mut out = vec![0.0f32; b * s * qd];
    let dst = SharedMut(out.as_mut_ptr());
    let kept = probs.map(|p| SharedMut(p.as_mut_ptr()));
    (0..b * heads).into_par_iter().for_each_init(
        || vec![0.0f32; if kept.is_some() { 0 } else { s * t }],
        |scratch, task| {
            let (r, h) = (task / heads, task % heads);
            let g = h / rep;
            let scores: &mut [f32] = match kept {
                // SAFETY: block `task` of `probs` (s·t values) is this task's alone.
                Some(p) => unsafe { std::slice::from_raw_parts_mut(p.at(task * s * t), s * t) },
                None => scratch,
            };
            // SAFETY: q/k/v hold b·s·qd and b·t·kd values; the offsets and
            // strides below stay inside row r and head h (or kv head g).
            unsafe {
                mm(
                    (s, t, hd),
                    (scores.as_mut_ptr(), t, 1),
                    false,
                    (q.as_ptr().add(r * s * qd + h * hd), qd, 1),
                    (k.as_ptr().add(r * t * kd + g * hd), 1, kd),
                    sh.scale(),
                );
            }
            for i in 0..s {
                let at = sh.bias_at(r, h, i);
                softmax_row(&mut scores[i * t..(i + 1) * t], &bias[at..at + t]);
            }
            // SAFETY: the destination block (rows r·s.., columns h·hd..) is
            // this task's alone; `out` outlives the parallel loop.
            unsafe {
                mm(
                    (s, hd, t),
                    (dst.at(r * s * qd + h * hd), qd, 1),
                    false,
                    (scores.as_ptr(), t, 1),
                    (v.as_ptr().add(r * t * kd + g * hd), kd, 1),
                    1.0,
                );
            }
        },
    );
    out
}

/// Gradients of [`attention`] with respect to `q`, `k` and `v`, from the
/// kept probabilities and the output's gradient `dout` (the bias is a
/// constant mask). Parallel over (row, kv head): a task owns its kv head's
/// key and value gradients and adds its query heads' shares in order.
pub(super) fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    dout: &[f32],
    sh: &AttnShape,
) -> [Vec<f32>; 3] {
    let AttnShape {
        b,
        s,
        t,
        heads,
        kv_heads,
        hd,
        ..
    } = *sh;
    let (qd, kd, rep, scale) = (sh.qd(), sh.kd(), heads / kv_heads, sh.scale());
    let mut dq = vec![0.0f32; b * s * qd];
    let mut dk = vec![0.0f32; b * t * kd];
    let mut dv = vec![0.0f32; b * t * kd];
    let (pq, pk, pv) = (
        SharedMut(dq.as_mut_ptr()),
        SharedMut(dk.as_mut_ptr()),
        SharedMut(dv.as_mut_ptr()),
    );
    (0..b * kv_heads).into_par_iter().for_each_init(
        || vec![0.0f32; s * t],
        |ds, task| {
            let (r, g) = (task / kv_heads, task % kv_heads);
            let (kv_at, q_row) = (r * t * kd + g * hd, r * s * qd);
            for j in 0..rep {
                let h = g * rep + j;
                let p = &probs[(r * heads + h) * s * t..(r * heads + h + 1) * s * t];
                // Head h's columns of q and dO (and dQ): the same offset.
                let q_h = q_row + h * hd;
                // SAFETY: as in `attention`; the dk/dv blocks of (r, g) and
                // the dq block of (r, h) are written by this task only.
                unsafe {
                    // dV_g += Pᵀ·dO_h
                    mm(
                        (t, hd, s),
                        (pv.at(kv_at), kd, 1),
                        j > 0,
                        (p.as_ptr(), 1, t),
                        (dout.as_ptr().add(q_h), qd, 1),
                        1.0,
                    );
                    // dP = dO_h·V_gᵀ
                    mm(
                        (s, t, hd),
                        (ds.as_mut_ptr(), t, 1),
                        false,
                        (dout.as_ptr().add(q_h), qd, 1),
                        (v.as_ptr().add(kv_at), 1, kd),
                        1.0,
                    );
                }
                // dS = P ∘ (dP − Σ P∘dP), row by row.
                for (pr, dr) in p.chunks_exact(t).zip(ds.chunks_exact_mut(t)) {
                    let dot = fixed_dot(pr, dr);
                    for (d, &pp) in dr.iter_mut().zip(pr) {
                        *d = pp * (*d - dot);
                    }
                }
                // SAFETY: as above.
                unsafe {
                    // dQ_h = scale·dS·K_g
                    mm(
                        (s, hd, t),
                        (pq.at(q_h), qd, 1),
                        false,
                        (ds.as_ptr(), t, 1),
                        (k.as_ptr().add(kv_at), kd, 1),
                        scale,
                    );
                    // dK_g += scale·dSᵀ·Q_h
                    mm(
                        (t, hd, s),
                        (pk.at(kv_at), kd, 1),
                        j > 0,
                        (ds.as_ptr(), 1, t),
                        (q.as_ptr().add(q_h), qd, 1),
                        scale,
                    );
                }
            }
        },
    );
    [dq, dk, dv]
}

/// `row ← softmax(row + bias)`, sums in a fixed order.
fn softmax_row(row: &mut [f32], bias: &[f32]) {
    let mut max = f32::NEG_INFINITY;
    for (x, &m) in row.iter_mut().zip(bias) {
        *x += m;
        max = max.max(*x);
    }
    for x in row.iter_mut() {
        *x = exp_neg(*x - max);
    }
    let sum = fixed_sum(row, |v| v);
    let inv = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// `e^x` for `x ≤ 0` (0 below -87), within 2 ulp: Cephes' `expf` range
/// reduction and polynomial, branch-free so loops over it vectorise, and
/// the same bits on every CPU (no libm dispatch).
#[inline]
pub(super) fn exp_neg(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    let xc = x.max(-87.0);
    let n = (xc * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = xc - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4f32 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    if x < -87.0 { 0.0 } else { e * scale }
}

/// `erf(x)` to within 1.5e-7 (Abramowitz & Stegun 7.1.26, the form
/// PyTorch's vectorised CPU `erf` uses).
#[inline]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (0.327_591_1 * a + 1.0);
    let p =
        (((1.061_405_4f32 * t - 1.453_152) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6;
    let y = 1.0 - p * t * exp_neg(-a * a);
    y.copysign(x)
}

/// Elements per parallel chunk of the element-wise kernels.
const CHUNK: usize = 16 * 1024;

/// Exact (erf) GELU, `x·(1 + erf(x/√2))/2`, parallel over chunks.
pub(super) fn gelu(x: &[f32]) -> Vec<f32> {
    let mut out = x.to_vec();
    out.par_chunks_mut(CHUNK).for_each(|c| {
        for x in c {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
    out
}

/// The gradient of [`gelu`] at `x` for the output gradient `g`:
/// `g·(Φ(x) + x·φ(x))`.
pub(super) fn gelu_backward(x: &[f32], g: &[f32]) -> Vec<f32> {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let mut out = g.to_vec();
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| {
            for (o, &x) in o.iter_mut().zip(x) {
                let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
                let pdf = INV_SQRT_2PI * exp_neg(-0.5 * x * x);
                *o *= cdf + x * pdf;
            }
        });
    out
}

/// `σ(x) = 1/(1 + e^{−x})` through [`exp_neg`] on either side of 0.
#[inline]
fn sigmoid(x: f32) -> f32 {
    let e = exp_neg(-x.abs());
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// SwiGLU's gating `silu(gate)·up`, parallel over chunks.
pub(super) fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    let mut out = up.to_vec();
    out.par_chunks_mut(CHUNK)
        .zip(gate.par_chunks(CHUNK))
        .for_each(|(o, g)| {
            for (o, &g) in o.iter_mut().zip(g) {
                *o *= g * sigmoid(g);
            }
        });
    out
}

/// The gradients of [`swiglu`] for the output gradient `dout`: gate's
/// `dout·up·σ(g)·(1 + g·(1 − σ(g)))` and up's `dout·silu(g)`.
pub(super) fn swiglu_backward(gate: &[f32], up: &[f32], dout: &[f32]) -> [Vec<f32>; 2] {
    let mut dg = dout.to_vec();
    let mut du = dout.to_vec();
    dg.par_chunks_mut(CHUNK)
        .zip(du.par_chunks_mut(CHUNK))
        .zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)))
        .for_each(|((dg, du), (g, u))| {
            for (((dg, du), &g), &u) in dg.iter_mut().zip(du.iter_mut()).zip(g).zip(u) {
                let sg = sigmoid(g);
                *du *= g * sg;
                *dg *= u * sg * (1.0 + g * (1.0 - sg));
            }
        });
    [dg, du]
}

/// What a normalisation keeps for its backward pass: the normalised
/// values `[rows, d]` and each row's inverse scale (both empty when the
/// caller did not ask to keep them).
#[derive(Debug, Clone)]
pub(super) struct NormKept {
    /// `(z − mean)·inv` (LayerNorm) or `x·inv` (RMSNorm).
    pub normed: Vec<f32>,
    /// `1/√(var + eps)` or `1/√(mean(x²) + eps)` per row.
    pub inv: Vec<f32>,
}

impl NormKept {
    /// Zeroed buffers for `len` values in `rows` rows, or empty ones
    /// without `keep`.
    fn new(keep: bool, len: usize, rows: usize) -> Self {
        let (len, rows) = if keep { (len, rows) } else { (0, 0) };
        Self {
            normed: vec![0.0f32; len],
            inv: vec![0.0f32; rows],
        }
    }
}

/// Runs `f(row, out_row, kept_row)` over every row of `d` values of `out`,
/// in parallel over fixed chunks of [`ROWS`] rows; `kept_row` is the row's
/// normalised values and inverse scale when `kept` holds buffers.
fn each_row(
    out: &mut [f32],
    d: usize,
    kept: &mut NormKept,
    f: impl Fn(usize, &mut [f32], Option<(&mut [f32], &mut f32)>) + Sync,
) {
    let keep = !kept.inv.is_empty();
    let (pn, pi) = (
        SharedMut(kept.normed.as_mut_ptr()),
        SharedMut(kept.inv.as_mut_ptr()),
    );
    out.par_chunks_mut(d * ROWS)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, o) in chunk.chunks_mut(d).enumerate() {
                let row = c * ROWS + j;
                // SAFETY: row `row` of the kept buffers (d values, one
                // scale) is this task's alone, and they outlive the loop.
                let k = keep.then(|| unsafe {
                    (
                        std::slice::from_raw_parts_mut(pn.at(row * d), d),
                        &mut *pi.at(row),
                    )
                });
                f(row, o, k);
            }
        });
}

/// `LayerNorm(x + residual)` over rows of `d` values (see
/// [`super::add_layer_norm`]); with `keep`, also what the backward needs.
pub(super) fn add_layer_norm(
    x: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    keep: bool,
) -> (Vec<f32>, NormKept) {
    let d = gamma.len();
    let mut out = vec![0.0f32; x.len()];
    let mut kept = NormKept::new(keep, x.len(), x.len() / d);
    each_row(&mut out, d, &mut kept, |row, o, k| {
        let base = row * d;
        for ((o, &a), &r) in o
            .iter_mut()
            .zip(&x[base..base + d])
            .zip(&residual[base..base + d])
        {
            *o = a + r;
        }
        let mean = fixed_sum(o, |v| v) / d as f32;
        let var = fixed_sum(o, |v| (v - mean) * (v - mean)) / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        if let Some((n, i)) = k {
            *i = inv;
            for (n, &z) in n.iter_mut().zip(o.iter()) {
                *n = (z - mean) * inv;
            }
        }
        for ((o, &g), &b) in o.iter_mut().zip(gamma).zip(beta) {
            *o = (*o - mean) * inv * g + b;
        }
    });
    (out, kept)
}

/// RMSNorm over rows of `d` values, `x / √(mean(x²) + eps) · gamma` (see
/// [`super::rms_norm`]); with `keep`, also what the backward needs.
pub(super) fn rms_norm(x: &[f32], gamma: &[f32], eps: f32, keep: bool) -> (Vec<f32>, NormKept) {
    let d = gamma.len();
    let mut out = vec![0.0f32; x.len()];
    let mut kept = NormKept::new(keep, x.len(), x.len() / d);
    each_row(&mut out, d, &mut kept, |row, o, k| {
        let xr = &x[row * d..(row + 1) * d];
        let ms = fixed_sum(xr, |v| v * v) / d as f32;
        let rms = (ms + eps).sqrt();
        for ((o, &x), &g) in o.iter_mut().zip(xr).zip(gamma) {
            *o = (x / rms) * g;
        }
        if let Some((n, i)) = k {
            *i = 1.0 / rms;
            for (n, &x) in n.iter_mut().zip(xr) {
                *n = x / rms;
            }
        }
    });
    (out, kept)
}

/// Gradients of a normalisation from what it kept and the output gradient
/// `g`: the input's (`inv·(gγ − mean(gγ) − n·mean(gγ∘n))`, without the
/// `mean(gγ)` term for RMSNorm), gamma's (`Σ g∘n`) and beta's (`Σ g`).
/// Parameter gradients sum fixed chunks of rows, then the chunks in order.
pub(super) fn norm_backward(
    kept: &NormKept,
    gamma: &[f32],
    g: &[f32],
    centred: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let mut dx = vec![0.0f32; g.len()];
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(d * ROWS)
        .enumerate()
        .map(|(c, chunk)| {
            let (mut dgamma, mut dbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
            let mut gy = vec![0.0f32; d];
            for (j, dxr) in chunk.chunks_mut(d).enumerate() {
                let row = c * ROWS + j;
                let (gr, nr) = (
                    &g[row * d..(row + 1) * d],
                    &kept.normed[row * d..(row + 1) * d],
                );
                for (((y, &gv), &w), db) in gy.iter_mut().zip(gr).zip(gamma).zip(dbeta.iter_mut()) {
                    *y = gv * w;
                    *db += gv;
                }
                for ((dg, &gv), &n) in dgamma.iter_mut().zip(gr).zip(nr) {
                    *dg += gv * n;
                }
                let m1 = if centred {
                    fixed_sum(&gy, |v| v) / d as f32
                } else {
                    0.0
                };
                let m2 = fixed_dot(&gy, nr) / d as f32;
                let inv = kept.inv[row];
                for ((o, &y), &n) in dxr.iter_mut().zip(&gy).zip(nr) {
                    *o = inv * (y - m1 - n * m2);
                }
            }
            (dgamma, dbeta)
        })
        .collect();
    let (mut dgamma, mut dbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
    for (pg, pb) in &partials {
        for (a, &p) in dgamma.iter_mut().zip(pg) {
            *a += p;
        }
        for (a, &p) in dbeta.iter_mut().zip(pb) {
            *a += p;
        }
    }
    (dx, dgamma, dbeta)
}

/// Rotate-half RoPE on rows of `heads` heads of `hd` values (see
/// [`super::rope`]); `cos`/`sin` hold `hd` values per row. With `inverse`,
/// the transposed rotation, which is RoPE's gradient.
pub(super) fn rope(
    x: &[f32],
    cos: &[f32],
    sin: &[f32],
    hd: usize,
    w: usize,
    inverse: bool,
) -> Vec<f32> {
    let half = hd / 2;
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(w).enumerate().for_each(|(pos, o)| {
        let (c, sn) = (
            &cos[pos * hd..(pos + 1) * hd],
            &sin[pos * hd..(pos + 1) * hd],
        );
        for (xh, oh) in x[pos * w..(pos + 1) * w].chunks(hd).zip(o.chunks_mut(hd)) {
            for j in 0..hd {
                oh[j] = if inverse {
                    // d/dx_j of Σ_i g_i·(x_i c_i + rot(x)_i s_i)
                    let rot = if j < half {
                        xh[j + half] * sn[j + half]
                    } else {
                        -(xh[j - half] * sn[j - half])
                    };
                    xh[j] * c[j] + rot
                } else {
                    let rot = if j < half {
                        -xh[j + half]
                    } else {
                        xh[j - half]
                    };
                    xh[j] * c[j] + rot * sn[j]
                };
            }
        }
    });
    out
}

/// The shape of one token log-prob call: logits `[b, l, v]`, one slot per
/// position but the last (`w = l − 1`), slot `(r, i)` predicting the token
/// at position `i + 1` of row `r`.
#[derive(Clone, Copy, Debug)]
pub(super) struct TokenShape {
    /// Rows.
    pub b: usize,
    /// Positions per row.
    pub l: usize,
    /// Vocabulary.
    pub v: usize,
}

impl TokenShape {
    /// Slots per row, `l − 1`.
    pub(super) fn w(&self) -> usize {
        self.l - 1
    }

    /// The logits of slot `k` (flat `r·w + i`) in `x` `[b, l, v]`.
    fn row<'a>(&self, x: &'a [f32], k: usize) -> &'a [f32] {
        let (r, i) = (k / self.w(), k % self.w());
        &x[(r * self.l + i) * self.v..][..self.v]
    }
}

/// Per slot of `x` `[b, l, v]` at temperature `t`, with `z = x / t`: the
/// log-prob of the slot's target, `z[target] − lse`, the entropy
/// `lse − Σ softmax(z)·z`, and `lse = max z + ln Σ e^(z − max z)`, each
/// `[b·(l − 1)]`. One pass of `e^x` per slot; sums in [`fixed_sum`]'s order.
/// Parallel over slots.
pub(super) fn token_logprobs(x: &[f32], targets: &[u32], sh: &TokenShape, t: f32) -> [Vec<f32>; 3] {
    let per_slot: Vec<[f32; 3]> = (0..sh.b * sh.w())
        .into_par_iter()
        .map(|k| {
            let row = sh.row(x, k);
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) / t;
            let (sum, dot) = fixed_sum_dot(row, |v| {
                let z = v / t;
                let e = exp_neg(z - max);
                (e, e * z)
            });
            let lse = max + sum.ln();
            let picked = row[targets[k] as usize] / t - lse;
            [picked, lse - dot / sum, lse]
        })
        .collect();
    let column = |c: usize| per_slot.iter().map(|s| s[c]).collect();
    [column(0), column(1), column(2)]
}

/// The gradient of [`token_logprobs`]' log-probs: `dx[slot] = g·(onehot
/// (target) − softmax(z))/t` for each slot, zero at each row's last
/// position and where `g` is zero (slots outside the loss). Parallel over
/// positions.
pub(super) fn token_logprobs_backward(
    x: &[f32],
    targets: &[u32],
    lse: &[f32],
    g: &[f32],
    sh: &TokenShape,
    t: f32,
) -> Vec<f32> {
    let mut dx = vec![0.0f32; x.len()];
    let w = sh.w();
    dx.par_chunks_mut(sh.v).enumerate().for_each(|(pos, out)| {
        let (r, i) = (pos / sh.l, pos % sh.l);
        if i == w {
            return;
        }
        let k = r * w + i;
        if g[k] == 0.0 {
            return;
        }
        let scale = g[k] / t;
        for (o, &v) in out.iter_mut().zip(sh.row(x, k)) {
            *o = -scale * exp_neg(v / t - lse[k]);
        }
        out[targets[k] as usize] += scale;
    });
    dx
}

/// `(Σ a, Σ b)` of `f(x) = (a, b)` over `xs`, each in [`fixed_sum`]'s
/// order (one call of `f` per element).
#[inline]
fn fixed_sum_dot(xs: &[f32], f: impl Fn(f32) -> (f32, f32)) -> (f32, f32) {
    let (mut sa, mut sb) = ([0.0f32; 8], [0.0f32; 8]);
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for ((a, b), &x) in sa.iter_mut().zip(sb.iter_mut()).zip(c) {
            let (fa, fb) = f(x);
            *a += fa;
            *b += fb;
        }
    }
    let (mut a, mut b) = (tree8(sa), tree8(sb));
    for &x in tail {
        let (fa, fb) = f(x);
        a += fa;
        b += fb;
    }
    (a, b)
}

/// Sum of `f(x)` over `xs` in eight interleaved partial sums combined in a
/// fixed tree: vectorisable, and the same bits on every CPU.
#[inline]
pub(super) fn fixed_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let mut s = tree8(acc);
    for &x in tail {
        s += f(x);
    }
    s
}

/// `Σ a_i·b_i` in [`fixed_sum`]'s order.
#[inline]
fn fixed_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let mut s = tree8(acc);
    for (&x, &y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// The eight partial sums of [`fixed_sum`] combined in its fixed tree.
#[inline]
fn tree8(acc: [f32; 8]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}
