//! Fused CPU kernels for inference on the plain Flex backend (issue 11).
//!
//! Burn's decomposed ops spend most of a small-model forward pass outside
//! the GEMMs: strided copies around the head split, one pass per mask, scale
//! and softmax, a scalar `erf` for GELU and a fresh buffer for every step.
//! Each function here computes the same value in one pass over memory and
//! returns `None` unless the tensors are plain Flex tensors (so autodiff and
//! the other backends keep Burn's ops; callers fall back to them).
//!
//! The sums here run in a fixed order (no SIMD-width-dependent lanes). The
//! GEMMs come from the `gemm` crate: the same f32 kernels on every AVX2+FMA
//! CPU, but for an inner dimension K above 512 its K blocks follow the L1
//! data cache's size and associativity (gemm-common `kernel_params`), so
//! CPUs with different L1 caches may differ in the last bits (README,
//! "Determinism"). Changing anything here changes output bytes: bump
//! [`super::NUMERICS_VERSION`].

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// Whether the fused kernels are in use (see [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switches the fused kernels on or off for this process. Only benchmarks
/// switch them off, to measure Burn's own ops beside them in one run
/// (`make bench-compare`'s "before" column); stages never do, so a stage's
/// bytes depend only on [`super::NUMERICS_VERSION`].
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The Flex tensor behind `t` (an O(1) clone), if `B` is plain Flex and `t`
/// holds contiguous f32 values.
fn flex_of<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    match t.clone().into_primitive() {
        TensorPrimitive::Float(p) => {
            let f = (&p as &dyn Any).downcast_ref::<FlexTensor>()?;
            let f = if f.is_contiguous() {
                f.clone()
            } else {
                f.to_contiguous()
            };
            (f.dtype() == burn::tensor::DType::F32).then_some(f)
        }
        TensorPrimitive::QFloat(_) => None,
    }
}

/// The contiguous f32 values of a Flex tensor.
fn values(f: &FlexTensor) -> &[f32] {
    let start = f.layout().start_offset();
    let n = f.layout().shape().num_elements();
    &f.storage::<f32>()[start..start + n]
}

/// A tensor of `B` (which must be Flex) holding `data` with `shape`.
fn tensor_of<B: Backend, const D: usize>(
    data: Vec<f32>,
    shape: [usize; D],
) -> Option<Tensor<B, D>> {
    let f: Box<dyn Any> = Box::new(FlexTensor::from_data(TensorData::new(data, shape)));
    let p = f.downcast::<B::FloatTensorPrimitive>().ok()?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(*p)))
}

/// A raw pointer that rayon tasks may share; every task writes a disjoint
/// part of the buffer behind it.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: tasks only write disjoint regions (see each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole wrapper).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Whether `t` is a plain Flex tensor (the fast paths apply).
pub fn is_flex<B: Backend, const D: usize>(t: &Tensor<B, D>) -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    match t.clone().into_primitive() {
        TensorPrimitive::Float(p) => (&p as &dyn Any).is::<FlexTensor>(),
        TensorPrimitive::QFloat(_) => false,
    }
}

/// Scaled dot-product attention with grouped heads on `[b, s, heads·hd]`
/// queries and `[b, t, kv_heads·hd]` keys and values (the projections'
/// outputs, heads not split apart): `softmax(q·kᵀ/√hd + bias)·v` per head,
/// query head `i` reading kv head `i / (heads / kv_heads)`, written as
/// `[b, s, heads·hd]`. `bias` is additive, shared by every head: `[b, 1, 1,
/// t]` (key padding) or `[b, 1, s, t]` (causal and padding). Parallel over
/// (row, head).
pub fn attention<B: Backend>(
    q: &Tensor<B, 3>,
    k: &Tensor<B, 3>,
    v: &Tensor<B, 3>,
    heads: usize,
    kv_heads: usize,
    bias: &Tensor<B, 4>,
) -> Option<Tensor<B, 3>> {
    let (fq, fk, fv, fm) = (flex_of(q)?, flex_of(k)?, flex_of(v)?, flex_of(bias)?);
    let [b, s, qd] = q.dims();
    let [_, t, kd] = k.dims();
    if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) || !qd.is_multiple_of(heads) {
        return None;
    }
    let hd = qd / heads;
    let rep = heads / kv_heads;
    if kd != kv_heads * hd || v.dims() != [b, t, kd] {
        return None;
    }
    // Bias rows per query: 1 (key mask) or s (full mask).
    let per_query = match bias.dims() {
        d if d == [b, 1, 1, t] => false,
        d if d == [b, 1, s, t] => true,
        _ => return None,
    };
    let (qv, kv, vv, mv) = (values(&fq), values(&fk), values(&fv), values(&fm));
    let mut out = vec![0.0f32; b * s * qd];
    let dst = SharedMut(out.as_mut_ptr());
    let scale = 1.0 / (hd as f32).sqrt();
    (0..b * heads).into_par_iter().for_each_init(
        || vec![0.0f32; s * t],
        |scores, task| {
            let (r, h) = (task / heads, task % heads);
            let g = h / rep;
            // SAFETY: q/k/v hold b·s·qd and b·t·kd values; the offsets and
            // strides below stay inside row r and head h (or kv head g).
            unsafe {
                gemm::gemm(
                    s,
                    t,
                    hd,
                    scores.as_mut_ptr(),
                    1,
                    t as isize,
                    false,
                    qv.as_ptr().add(r * s * qd + h * hd),
                    1,
                    qd as isize,
                    kv.as_ptr().add(r * t * kd + g * hd),
                    kd as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for i in 0..s {
                let row = &mut scores[i * t..(i + 1) * t];
                let at = if per_query { (r * s + i) * t } else { r * t };
                let brow = &mv[at..at + t];
                softmax_row(row, brow);
            }
            // SAFETY: the destination block (rows r·s.., columns h·hd..) is
            // this task's alone; `out` outlives the parallel loop.
            unsafe {
                gemm::gemm(
                    s,
                    hd,
                    t,
                    dst.at(r * s * qd + h * hd),
                    1,
                    qd as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    t as isize,
                    vv.as_ptr().add(r * t * kd + g * hd),
                    1,
                    kd as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        },
    );
    tensor_of::<B, 3>(out, [b, s, qd])
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
fn exp_neg(x: f32) -> f32 {
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

/// Exact (erf) GELU, `x·(1 + erf(x/√2))/2`, parallel over chunks.
pub fn gelu<B: Backend, const D: usize>(x: &Tensor<B, D>) -> Option<Tensor<B, D>> {
    let f = flex_of(x)?;
    let mut out = values(&f).to_vec();
    out.par_chunks_mut(16 * 1024).for_each(|c| {
        for x in c {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
    tensor_of::<B, D>(out, x.dims())
}

/// `LayerNorm(x + residual)` over the last axis with `gamma`, `beta` and
/// `eps`: mean, then the mean squared deviation, each summed in a fixed
/// order. Parallel over rows.
pub fn add_layer_norm<B: Backend>(
    x: &Tensor<B, 3>,
    residual: &Tensor<B, 3>,
    gamma: &Tensor<B, 1>,
    beta: &Tensor<B, 1>,
    eps: f64,
) -> Option<Tensor<B, 3>> {
    let (fx, fr, fg, fb) = (
        flex_of(x)?,
        flex_of(residual)?,
        flex_of(gamma)?,
        flex_of(beta)?,
    );
    let dims = x.dims();
    let d = dims[2];
    if residual.dims() != dims || gamma.dims() != [d] || beta.dims() != [d] || d == 0 {
        return None;
    }
    let (xv, rv, g, bt) = (values(&fx), values(&fr), values(&fg), values(&fb));
    let mut out = vec![0.0f32; xv.len()];
    let eps = eps as f32;
    out.par_chunks_mut(d * 64)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, o) in chunk.chunks_mut(d).enumerate() {
                let base = (c * 64 + j) * d;
                for ((o, &a), &r) in o
                    .iter_mut()
                    .zip(&xv[base..base + d])
                    .zip(&rv[base..base + d])
                {
                    *o = a + r;
                }
                let mean = fixed_sum(o, |v| v) / d as f32;
                let var = fixed_sum(o, |v| (v - mean) * (v - mean)) / d as f32;
                let inv = 1.0 / (var + eps).sqrt();
                for ((o, &g), &b) in o.iter_mut().zip(g).zip(bt) {
                    *o = (*o - mean) * inv * g + b;
                }
            }
        });
    tensor_of::<B, 3>(out, dims)
}

/// RMSNorm over the last axis, `x / √(mean(x²) + eps) · gamma` (Burn's
/// `RmsNorm` order of operations, the mean summed in a fixed order).
/// Parallel over rows.
pub fn rms_norm<B: Backend>(
    x: &Tensor<B, 3>,
    gamma: &Tensor<B, 1>,
    eps: f64,
) -> Option<Tensor<B, 3>> {
    let (fx, fg) = (flex_of(x)?, flex_of(gamma)?);
    let dims = x.dims();
    let d = dims[2];
    if gamma.dims() != [d] || d == 0 {
        return None;
    }
    let (xv, g) = (values(&fx), values(&fg));
    let mut out = vec![0.0f32; xv.len()];
    out.par_chunks_mut(d * 64)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (j, o) in chunk.chunks_mut(d).enumerate() {
                let row = &xv[(c * 64 + j) * d..(c * 64 + j + 1) * d];
                let ms = fixed_sum(row, |v| v * v) / d as f32;
                let rms = (ms + eps as f32).sqrt();
                for ((o, &x), &g) in o.iter_mut().zip(row).zip(g) {
                    *o = (x / rms) * g;
                }
            }
        });
    tensor_of::<B, 3>(out, dims)
}

/// Rotate-half RoPE on unsplit heads: `x` `[b, s, heads·hd]`, `cos`/`sin`
/// `[b, 1, s, hd]`; each head gets `x·cos + rotate_half(x)·sin` (the same
/// operations, in the same order, as [`super::rope::apply`]).
pub fn rope<B: Backend>(
    x: &Tensor<B, 3>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
    heads: usize,
) -> Option<Tensor<B, 3>> {
    let (fx, fc, fs) = (flex_of(x)?, flex_of(cos)?, flex_of(sin)?);
    let [b, s, w] = x.dims();
    if heads == 0 || w % heads != 0 {
        return None;
    }
    let hd = w / heads;
    let half = hd / 2;
    if cos.dims() != [b, 1, s, hd] || sin.dims() != [b, 1, s, hd] || !hd.is_multiple_of(2) {
        return None;
    }
    let (xv, cv, sv) = (values(&fx), values(&fc), values(&fs));
    let mut out = vec![0.0f32; xv.len()];
    out.par_chunks_mut(w).enumerate().for_each(|(pos, o)| {
        let (c, sn) = (&cv[pos * hd..(pos + 1) * hd], &sv[pos * hd..(pos + 1) * hd]);
        for (xh, oh) in xv[pos * w..(pos + 1) * w].chunks(hd).zip(o.chunks_mut(hd)) {
            for j in 0..hd {
                let rot = if j < half {
                    -xh[j + half]
                } else {
                    xh[j - half]
                };
                oh[j] = xh[j] * c[j] + rot * sn[j];
            }
        }
    });
    tensor_of::<B, 3>(out, [b, s, w])
}

/// Sum of `f(x)` over `xs` in eight interleaved partial sums combined in a
/// fixed tree: vectorisable, and the same bits on every CPU.
#[inline]
fn fixed_sum(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in tail {
        s += f(x);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::testing::max_diff;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::activation::{gelu as burn_gelu, softmax};

    type F = Flex;

    fn rand(shape: &[usize], seed: u64) -> Vec<f32> {
        let mut r = crate::util::rng::SplitMix64::new(seed);
        (0..shape.iter().product::<usize>())
            .map(|_| (r.next_f64() * 4.0 - 2.0) as f32)
            .collect()
    }

    fn t3(v: Vec<f32>, s: [usize; 3]) -> Tensor<F, 3> {
        Tensor::from_data(TensorData::new(v, s), &Default::default())
    }

    fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    /// Reference: Burn's decomposed attention with repeated kv heads.
    fn reference(
        q: &Tensor<F, 3>,
        k: &Tensor<F, 3>,
        v: &Tensor<F, 3>,
        h: usize,
        kvh: usize,
        bias: Tensor<F, 4>,
    ) -> Vec<f32> {
        let [b, s, qd] = q.dims();
        let t = k.dims()[1];
        let hd = qd / h;
        let split = |x: Tensor<F, 3>, n: usize, len: usize| {
            x.reshape([b, len, n, hd])
                .swap_dims(1, 2)
                .reshape([b, n, 1, len, hd])
                .repeat_dim(2, h / n)
                .reshape([b, h, len, hd])
        };
        let (q4, k4, v4) = (
            split(q.clone(), h, s),
            split(k.clone(), kvh, t),
            split(v.clone(), kvh, t),
        );
        let scores = q4
            .matmul(k4.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            + bias;
        host(
            softmax(scores, 3)
                .matmul(v4)
                .swap_dims(1, 2)
                .reshape([b, s, qd]),
        )
    }

    #[test]
    fn attention_matches_burn_ops_for_key_and_full_masks_with_grouped_heads() {
        let (b, s, t, h, kvh, hd) = (2, 5, 7, 6, 2, 4);
        let q = t3(rand(&[b, s, h * hd], 1), [b, s, h * hd]);
        let k = t3(rand(&[b, t, kvh * hd], 2), [b, t, kvh * hd]);
        let v = t3(rand(&[b, t, kvh * hd], 3), [b, t, kvh * hd]);
        // Key mask: row 1 has its last two keys padded.
        let keys: Vec<f32> = (0..b * t)
            .map(|i| if i >= t && i % t >= t - 2 { -1e9 } else { 0.0 })
            .collect();
        let bias =
            Tensor::<F, 4>::from_data(TensorData::new(keys, [b, 1, 1, t]), &Default::default());
        let got = host(attention(&q, &k, &v, h, kvh, &bias).unwrap());
        let want = reference(&q, &k, &v, h, kvh, bias);
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
        // Full mask: causal with an offset of t - s cached keys.
        let full: Vec<f32> = (0..b * s * t)
            .map(|i| {
                let (qi, j) = ((i / t) % s, i % t);
                if j <= qi + (t - s) { 0.0 } else { -1e9 }
            })
            .collect();
        let bias =
            Tensor::<F, 4>::from_data(TensorData::new(full, [b, 1, s, t]), &Default::default());
        let got = host(attention(&q, &k, &v, h, kvh, &bias).unwrap());
        let want = reference(&q, &k, &v, h, kvh, bias);
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
    }

    #[test]
    fn exp_neg_is_within_two_ulp_of_libm_and_zero_far_below() {
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let x = -(i as f32) * 87.0 / 200_000.0;
            let (got, want) = (f64::from(exp_neg(x)), f64::from(x).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(exp_neg(-1e9), 0.0);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    #[test]
    fn gelu_and_layer_norm_match_burn_ops() {
        let x = t3(rand(&[3, 4, 40], 4), [3, 4, 40]);
        let got = host(gelu(&x).unwrap());
        let want = host(burn_gelu(x.clone()));
        assert!(max_diff(&got, &want) < 1e-6, "{}", max_diff(&got, &want));
        let r = t3(rand(&[3, 4, 40], 5), [3, 4, 40]);
        let g =
            Tensor::<F, 1>::from_data(TensorData::new(rand(&[40], 6), [40]), &Default::default());
        let bt =
            Tensor::<F, 1>::from_data(TensorData::new(rand(&[40], 7), [40]), &Default::default());
        let got = host(add_layer_norm(&x, &r, &g, &bt, 1e-12).unwrap());
        let mut ln: burn::nn::LayerNorm<F> = burn::nn::LayerNormConfig::new(40)
            .with_epsilon(1e-12)
            .init(&Default::default());
        ln.gamma = burn::module::Param::from_tensor(g);
        ln.beta = Some(burn::module::Param::from_tensor(bt));
        let want = host(ln.forward(x + r));
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
    }

    #[test]
    fn autodiff_tensors_fall_back() {
        let x = Tensor::<Autodiff<F>, 3>::zeros([1, 2, 8], &Default::default());
        assert!(gelu(&x).is_none());
        let bias = Tensor::<Autodiff<F>, 4>::zeros([1, 1, 1, 2], &Default::default());
        assert!(attention(&x, &x, &x, 2, 2, &bias).is_none());
        assert!(!is_flex(&x));
    }
}
