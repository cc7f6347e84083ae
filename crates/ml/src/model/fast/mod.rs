//! Fused CPU kernels on the Flex backend (issue 11; ARCHITECTURE.md,
//! "Fused kernels").
//!
//! Burn's decomposed ops spend most of a small-model pass outside the
//! GEMMs: strided copies around the head split, one pass per mask, scale
//! and softmax, a scalar `erf` for GELU and a fresh buffer for every step;
//! under autodiff each of those also records a node and saves its inputs.
//! Each function here computes the same value in one pass over memory, on
//! plain Flex tensors (inference) and on `Autodiff<Flex>` tensors, where it
//! is one graph node with a backward of its own ([`grad`]). On any other
//! backend it returns `None` and callers keep Burn's ops.
//!
//! The sums here run in a fixed order over fixed chunks (no
//! SIMD-width-dependent lanes, no thread-count dependence). The GEMMs come
//! from the `gemm` crate, built with its AVX-512 kernels (`x86-v4`), chosen
//! at run time by the CPU's features; for an inner dimension K above 512
//! its K blocks also follow the L1 data cache (gemm-common
//! `kernel_params`), so CPUs with different vector units or L1 caches may
//! differ in the last bits (README, "Determinism"). The decoding products
//! ([`narrow_matmul`]) keep `gemm`'s bits exactly (module `narrow`).
//! Changing anything else here changes output bytes: bump
//! [`crate::model::NUMERICS_VERSION`] (for
//! [`token_logprobs`], which only `train.ppo` calls, that kind's
//! `code_version`).

mod decoding;
mod grad;
mod kernels;
mod narrow;
mod packed;

pub use decoding::with_packed_weights;

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;

use grad::{AdTensor, Tracked};
use kernels::AttnShape;

/// Whether the fused kernels are in use (see [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Switches the fused kernels on or off for this process. Only benchmarks
/// switch them off, to measure Burn's own ops beside them in one run
/// (`make bench-compare`'s "before" column); stages never do, so a stage's
/// bytes depend only on [`crate::model::NUMERICS_VERSION`].
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

thread_local! {
    /// Whether [`unfused`] has switched the kernels off on this thread.
    static OFF_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the fused kernels off on this thread only: Burn's own ops,
/// the path every other backend takes, as the reference a test compares
/// the fused path with (unlike [`set_enabled`], without touching tests
/// running beside it). The kernels decide on the calling thread, so `f`'s
/// own rayon work does not matter.
pub fn unfused<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the thread's setting back, even if `f` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            OFF_HERE.set(self.0);
        }
    }
    let _restore = Restore(OFF_HERE.replace(true));
    f()
}

/// A tensor as the kernels see it: plain Flex values, or an autodiff
/// tensor over Flex (values and graph node).
enum Operand {
    /// A plain Flex tensor, contiguous.
    Plain(FlexTensor),
    /// An `Autodiff<Flex>` tensor, with its values contiguous.
    Tracked(Tracked),
}

/// `t` as an [`Operand`], if `B` is Flex or `Autodiff<Flex>`, `t` holds f32
/// values and the kernels are enabled.
fn operand<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<Operand> {
    let p = primitive(t)?;
    let any = &p as &dyn Any;
    if let Some(f) = any.downcast_ref::<FlexTensor>() {
        return (f.dtype() == burn::tensor::DType::F32).then(|| Operand::Plain(contiguous(f)));
    }
    let a = any.downcast_ref::<AdTensor>()?;
    (a.primitive.dtype() == burn::tensor::DType::F32).then(|| {
        Operand::Tracked(Tracked {
            flex: contiguous(&a.primitive),
            ad: a.clone(),
        })
    })
}

/// `t`'s float primitive (an O(1) clone), if the kernels are enabled.
fn primitive<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<B::FloatTensorPrimitive> {
    if !ENABLED.load(Ordering::Relaxed) || OFF_HERE.get() {
        return None;
    }
    match t.clone().into_primitive() {
        TensorPrimitive::Float(p) => Some(p),
        TensorPrimitive::QFloat(_) => None,
    }
}

/// `f` itself (an O(1) clone) if contiguous, else a contiguous copy.
fn contiguous(f: &FlexTensor) -> FlexTensor {
    if f.is_contiguous() {
        f.clone()
    } else {
        f.to_contiguous()
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

/// A tensor of `B` (which must be `Autodiff<Flex>`) from its primitive.
fn tracked_of<B: Backend, const D: usize>(t: AdTensor) -> Option<Tensor<B, D>> {
    let f: Box<dyn Any> = Box::new(t);
    let p = f.downcast::<B::FloatTensorPrimitive>().ok()?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(*p)))
}

/// Whether `t` is a Flex or `Autodiff<Flex>` tensor (the fast paths apply).
pub fn is_flex<B: Backend, const D: usize>(t: &Tensor<B, D>) -> bool {
    operand(t).is_some()
}

/// `x·w` for a few rows `x` `[m, k]` (m ≤ 8: a decoding step; up to 32
/// inside [`with_packed_weights`]: an evaluation batch) and a
/// weight `w` `[k, n]` that is row-major or the transpose of a row-major
/// `[n, k]` (a tied LM head), on plain Flex tensors: each weight read from
/// memory once for all rows, in the bits Burn's own matmul gives on Flex
/// (module `narrow`). `None` elsewhere (more rows, a narrow or strided
/// weight, autodiff tensors, a CPU without AVX2 and FMA), where callers
/// keep Burn's matmul.
pub fn narrow_matmul<B: Backend>(x: &Tensor<B, 2>, w: &Tensor<B, 2>) -> Option<Tensor<B, 2>> {
    let ([m, k], [k2, n]) = (x.dims(), w.dims());
    // Below 64 columns or 3 inner terms gemm takes other paths (its
    // small-product and outer-product kernels), summed differently.
    if !(1..=packed::MAX_ROWS).contains(&m) || k != k2 || k < 3 || n <= 64 {
        return None;
    }
    let Operand::Plain(xf) = operand(x)? else {
        return None;
    };
    let wf = plain_flex(w)?;
    let layout = wf.layout();
    let layout_kind = match layout.strides() {
        [s0, 1] if *s0 == n as isize => narrow::Layout::KN,
        [1, s1] if *s1 == k as isize => narrow::Layout::NK,
        _ => return None,
    };
    if !narrow::supported() {
        return None;
    }
    let start = layout.start_offset();
    let wv = &wf.storage::<f32>()[start..start + k * n];
    let out = if m == 1 && layout_kind == narrow::Layout::NK {
        narrow::row_by_nk(values(&xf), k, wv, n)
    } else {
        let kc = narrow::gemm_kc(m, n, k, crate::util::machine::gemm_isa())?;
        match decoding::packed(&wf, wv, (k, n), layout_kind) {
            Some(w) => packed::matmul(values(&xf), m, &w, kc),
            None if m <= narrow::MAX_ROWS => {
                narrow::matmul(values(&xf), (m, k, n), wv, layout_kind, kc)
            }
            // Wider products read the weight packed or through gemm.
            None => return None,
        }
    };
    tensor_of::<B, 2>(out, [m, n])
}

/// `l.forward(x)` for a 2-D `x`, through [`narrow_matmul`] where it applies
/// (the bias, if any, added as Burn's `linear` adds it).
pub fn linear<B: Backend>(l: &burn::nn::Linear<B>, x: &Tensor<B, 2>) -> Tensor<B, 2> {
    match narrow_matmul(x, &l.weight.val()) {
        Some(y) => match &l.bias {
            Some(b) => y + b.val().unsqueeze::<2>(),
            None => y,
        },
        None => l.forward(x.clone()),
    }
}

/// The Flex tensor behind `t`, as stored (no copy), if `B` is Flex, `t`
/// holds f32 values and the kernels are enabled.
fn plain_flex<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
    let p = primitive(t)?;
    let f = (&p as &dyn Any).downcast_ref::<FlexTensor>()?;
    (f.dtype() == burn::tensor::DType::F32).then(|| f.clone())
}

/// Scaled dot-product attention with grouped heads on `[b, s, heads·hd]`
/// queries and `[b, t, kv_heads·hd]` keys and values (the projections'
/// outputs, heads not split apart): `softmax(q·kᵀ/√hd + bias)·v` per head,
/// query head `i` reading kv head `i / (heads / kv_heads)`, written as
/// `[b, s, heads·hd]`. `bias` is additive and gets no gradient: `[b, 1, 1,
/// t]` (key padding, BERT), `[b, 1, s, t]` (causal and padding, Llama) or
/// `[b, heads, s, t]` (padding plus a relative-position bias per head,
/// MPNet); `[b, heads, 1, t]` broadcasts over queries too. Parallel over
/// (row, head).
pub fn attention<B: Backend>(
    q: &Tensor<B, 3>,
    k: &Tensor<B, 3>,
    v: &Tensor<B, 3>,
    heads: usize,
    kv_heads: usize,
    bias: &Tensor<B, 4>,
) -> Option<Tensor<B, 3>> {
    let sh = AttnShape::new(q.dims(), k.dims(), v.dims(), bias.dims(), heads, kv_heads)?;
    match (operand(q)?, operand(k)?, operand(v)?, operand(bias)?) {
        (Operand::Plain(q), Operand::Plain(k), Operand::Plain(v), Operand::Plain(m)) => {
            let out = kernels::attention(values(&q), values(&k), values(&v), values(&m), &sh, None);
            tensor_of::<B, 3>(out, [sh.b, sh.s, sh.heads * sh.hd])
        }
        (Operand::Tracked(q), Operand::Tracked(k), Operand::Tracked(v), Operand::Tracked(m)) => {
            tracked_of::<B, 3>(grad::attention(&q, &k, &v, &m, sh))
        }
        _ => None,
    }
}

/// Exact (erf) GELU, `x·(1 + erf(x/√2))/2`, parallel over chunks.
pub fn gelu<B: Backend, const D: usize>(x: &Tensor<B, D>) -> Option<Tensor<B, D>> {
    match operand(x)? {
        Operand::Plain(f) => tensor_of::<B, D>(kernels::gelu(values(&f)), x.dims()),
        Operand::Tracked(a) => tracked_of::<B, D>(grad::gelu(&a)),
    }
}

/// SwiGLU's gating, `silu(gate)·up` (`silu(x) = x·σ(x)`), element-wise;
/// both inputs get gradients. Parallel over chunks.
pub fn swiglu<B: Backend, const D: usize>(
    gate: &Tensor<B, D>,
    up: &Tensor<B, D>,
) -> Option<Tensor<B, D>> {
    if gate.dims() != up.dims() {
        return None;
    }
    match (operand(gate)?, operand(up)?) {
        (Operand::Plain(g), Operand::Plain(u)) => {
            tensor_of::<B, D>(kernels::swiglu(values(&g), values(&u)), gate.dims())
        }
        (Operand::Tracked(g), Operand::Tracked(u)) => tracked_of::<B, D>(grad::swiglu(&g, &u)),
        _ => None,
    }
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
    let dims = x.dims();
    let d = dims[2];
    if residual.dims() != dims || gamma.dims() != [d] || beta.dims() != [d] || d == 0 {
        return None;
    }
    let eps = eps as f32;
    match (
        operand(x)?,
        operand(residual)?,
        operand(gamma)?,
        operand(beta)?,
    ) {
        (Operand::Plain(x), Operand::Plain(r), Operand::Plain(g), Operand::Plain(b)) => {
            let (out, _) =
                kernels::add_layer_norm(values(&x), values(&r), values(&g), values(&b), eps, false);
            tensor_of::<B, 3>(out, dims)
        }
        (Operand::Tracked(x), Operand::Tracked(r), Operand::Tracked(g), Operand::Tracked(b)) => {
            tracked_of::<B, 3>(grad::add_layer_norm(&x, &r, &g, &b, eps))
        }
        _ => None,
    }
}

/// RMSNorm over the last axis, `x / √(mean(x²) + eps) · gamma` (Burn's
/// `RmsNorm` order of operations, the mean summed in a fixed order).
/// Parallel over rows.
pub fn rms_norm<B: Backend>(
    x: &Tensor<B, 3>,
    gamma: &Tensor<B, 1>,
    eps: f64,
) -> Option<Tensor<B, 3>> {
    let dims = x.dims();
    let d = dims[2];
    if gamma.dims() != [d] || d == 0 {
        return None;
    }
    let eps = eps as f32;
    match (operand(x)?, operand(gamma)?) {
        (Operand::Plain(x), Operand::Plain(g)) => tensor_of::<B, 3>(
            kernels::rms_norm(values(&x), values(&g), eps, false).0,
            dims,
        ),
        (Operand::Tracked(x), Operand::Tracked(g)) => {
            tracked_of::<B, 3>(grad::rms_norm(&x, &g, eps))
        }
        _ => None,
    }
}

/// Rotate-half RoPE on unsplit heads: `x` `[b, s, heads·hd]`, `cos`/`sin`
/// `[b, 1, s, hd]`; each head gets `x·cos + rotate_half(x)·sin` (the same
/// operations, in the same order, as [`super::rope::apply`]). The tables
/// get no gradient.
pub fn rope<B: Backend>(
    x: &Tensor<B, 3>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
    heads: usize,
) -> Option<Tensor<B, 3>> {
    let [b, s, w] = x.dims();
    if heads == 0 || w % heads != 0 {
        return None;
    }
    let hd = w / heads;
    if cos.dims() != [b, 1, s, hd] || sin.dims() != [b, 1, s, hd] || !hd.is_multiple_of(2) {
        return None;
    }
    match (operand(x)?, operand(cos)?, operand(sin)?) {
        (Operand::Plain(x), Operand::Plain(c), Operand::Plain(sn)) => {
            let out = kernels::rope(values(&x), values(&c), values(&sn), hd, w, false);
            tensor_of::<B, 3>(out, [b, s, w])
        }
        (Operand::Tracked(x), Operand::Tracked(c), Operand::Tracked(sn)) => {
            tracked_of::<B, 3>(grad::rope(&x, &c, &sn, hd))
        }
        _ => None,
    }
}

/// Per-slot log-probs and entropies of logits `[b, l, v]` at temperature
/// `t`: slot `(r, i)`, `i < l − 1`, scores `targets[r·(l − 1) + i]` (the
/// token at position `i + 1`) under `log_softmax(logits[r, i] / t)`, and its
/// entropy; both `[b, l − 1]`. The log-probs get a gradient for the logits
/// (`(onehot − softmax)/t`, computed from the logits and each slot's
/// log-sum-exp, so no `[b, l, v]` of log-probs is kept); the entropies are
/// constants. `None` off Flex, for `l < 2`, a target outside the vocabulary
/// or a temperature that is not positive. Parallel over slots.
pub fn token_logprobs<B: Backend>(
    logits: &Tensor<B, 3>,
    targets: &[u32],
    t: f64,
) -> Option<(Tensor<B, 2>, Tensor<B, 2>)> {
    let [b, l, v] = logits.dims();
    let sh = kernels::TokenShape { b, l, v };
    let fits = l >= 2 && targets.len() == b * (l - 1) && targets.iter().all(|&x| (x as usize) < v);
    if !(fits && t > 0.0 && t.is_finite()) {
        return None;
    }
    let t = t as f32;
    let shape = [b, l - 1];
    let constant =
        |e: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(e, shape), &logits.device());
    match operand(logits)? {
        Operand::Plain(x) => {
            let [picked, entropy, _] = kernels::token_logprobs(values(&x), targets, &sh, t);
            Some((tensor_of::<B, 2>(picked, shape)?, constant(entropy)))
        }
        Operand::Tracked(x) => {
            let (picked, entropy) = grad::token_logprobs(&x, targets.to_vec(), sh, t);
            Some((tracked_of::<B, 2>(picked)?, constant(entropy)))
        }
    }
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
    fn reference<B: Backend>(
        q: &Tensor<B, 3>,
        k: &Tensor<B, 3>,
        v: &Tensor<B, 3>,
        h: usize,
        kvh: usize,
        bias: Tensor<B, 4>,
    ) -> Tensor<B, 3> {
        let [b, s, qd] = q.dims();
        let t = k.dims()[1];
        let hd = qd / h;
        let split = |x: Tensor<B, 3>, n: usize, len: usize| {
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
        softmax(scores, 3)
            .matmul(v4)
            .swap_dims(1, 2)
            .reshape([b, s, qd])
    }

    /// A key-padding mask (row 1's last two keys padded), a causal mask
    /// with `t - s` cached keys, and the padding plus a random bias per head
    /// and query (MPNet's relative positions), as additive biases.
    fn masks<B: Backend>(b: usize, h: usize, s: usize, t: usize) -> [Tensor<B, 4>; 3] {
        let keys: Vec<f32> = (0..b * t)
            .map(|i| if i >= t && i % t >= t - 2 { -1e9 } else { 0.0 })
            .collect();
        let full: Vec<f32> = (0..b * s * t)
            .map(|i| {
                let (qi, j) = ((i / t) % s, i % t);
                if j <= qi + (t - s) { 0.0 } else { -1e9 }
            })
            .collect();
        let per_head: Vec<f32> = rand(&[b, h, s, t], 4)
            .into_iter()
            .enumerate()
            .map(|(i, x)| x + keys[(i / (h * s * t)) * t + i % t])
            .collect();
        let dev = Default::default();
        [
            Tensor::from_data(TensorData::new(keys, [b, 1, 1, t]), &dev),
            Tensor::from_data(TensorData::new(full, [b, 1, s, t]), &dev),
            Tensor::from_data(TensorData::new(per_head, [b, h, s, t]), &dev),
        ]
    }

    #[test]
    fn attention_matches_burn_ops_for_key_full_and_per_head_masks_with_grouped_heads() {
        let (b, s, t, h, kvh, hd) = (2, 5, 7, 6, 2, 4);
        let q = t3(rand(&[b, s, h * hd], 1), [b, s, h * hd]);
        let k = t3(rand(&[b, t, kvh * hd], 2), [b, t, kvh * hd]);
        let v = t3(rand(&[b, t, kvh * hd], 3), [b, t, kvh * hd]);
        for bias in masks::<F>(b, h, s, t) {
            let got = host(attention(&q, &k, &v, h, kvh, &bias).unwrap());
            let want = host(reference(&q, &k, &v, h, kvh, bias));
            assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
        }
        // A bias per kv head (or any other head count) is not broadcast.
        let kv_bias = Tensor::<F, 4>::zeros([b, kvh, s, t], &Default::default());
        assert!(attention(&q, &k, &v, h, kvh, &kv_bias).is_none());
    }

    #[test]
    fn exp_neg_is_within_two_ulp_of_libm_and_zero_far_below() {
        let mut worst = 0.0f64;
        for i in 0..200_000 {
            let x = -(i as f32) * 87.0 / 200_000.0;
            let (got, want) = (f64::from(kernels::exp_neg(x)), f64::from(x).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(kernels::exp_neg(-1e9), 0.0);
        assert_eq!(kernels::exp_neg(0.0), 1.0);
    }

    #[test]
    fn narrow_matmul_gives_burns_bits_for_every_row_count_and_layout() {
        // (k, n): SmolLM2's decoding shapes (k 576 and 1536 span two and
        // three of gemm's K blocks), a K that does not split evenly, and
        // widths that leave tails past the last whole tile.
        let shapes = [(576, 576), (576, 192), (1536, 576), (700, 1000), (37, 131)];
        let dev = Default::default();
        for (s, &(k, n)) in shapes.iter().enumerate() {
            let kn = rand(&[k, n], 10 + s as u64);
            let w_kn = Tensor::<F, 2>::from_data(TensorData::new(kn.clone(), [k, n]), &dev);
            let w_nk = Tensor::<F, 2>::from_data(TensorData::new(kn, [n, k]), &dev).transpose();
            // Up to 8 rows unpacked and packed; 9–32 (evaluation batches,
            // groups of at most six rows, ragged ones too) packed only.
            for m in (1..=18).chain([23, 24, 29, 31, 32]) {
                let x = rand(&[m, k], 100 + m as u64);
                let x = Tensor::<F, 2>::from_data(TensorData::new(x, [m, k]), &dev);
                for w in [&w_kn, &w_nk] {
                    let want = host(x.clone().matmul(w.clone()));
                    // Unpacked, then packed (twice: made, then reused).
                    let unpacked = narrow_matmul(&x, w).map(host);
                    assert_eq!(
                        unpacked.is_some(),
                        m <= 8,
                        "m {m}: unpacked outside a scope"
                    );
                    let (made, reused) = with_packed_weights(|| {
                        let y = || host(narrow_matmul(&x, w).expect("the packed path applies"));
                        (y(), y())
                    });
                    let unpacked = unpacked.map(|u| ("unpacked", u));
                    for (path, got) in unpacked
                        .into_iter()
                        .chain([("packed", made), ("reused", reused)])
                    {
                        let same = got
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits());
                        assert!(
                            same,
                            "{path}: m {m}, k {k}, n {n}: {}",
                            max_diff(&got, &want)
                        );
                    }
                }
            }
        }
        // A weight changed inside a scope is read anew, not from the copy
        // packed before the change.
        let (k, n) = (576, 576);
        let x = Tensor::<F, 2>::from_data(TensorData::new(rand(&[4, k], 3), [4, k]), &dev);
        let w = Tensor::<F, 2>::from_data(TensorData::new(rand(&[k, n], 4), [k, n]), &dev);
        let (before, after) = with_packed_weights(|| {
            let before = host(narrow_matmul(&x, &w).unwrap());
            let w = w.clone() + 1.0;
            (before, (host(narrow_matmul(&x, &w).unwrap()), w))
        });
        assert_eq!(before, host(x.clone().matmul(w.clone())));
        assert_eq!(after.0, host(x.clone().matmul(after.1)));
        // Nine rows outside a scope, 33 inside one, a narrow weight and a
        // strided one keep Burn's path.
        let x9 = Tensor::<F, 2>::from_data(TensorData::new(rand(&[9, 8], 1), [9, 8]), &dev);
        let w = Tensor::<F, 2>::from_data(TensorData::new(rand(&[8, 100], 2), [8, 100]), &dev);
        assert!(narrow_matmul(&x9, &w).is_none());
        let x33 = Tensor::<F, 2>::from_data(TensorData::new(rand(&[33, 8], 1), [33, 8]), &dev);
        assert!(with_packed_weights(|| narrow_matmul(&x33, &w).is_none()));
        let x1 = x9.clone().slice([0..1, 0..8]);
        assert!(narrow_matmul(&x1, &w.clone().slice([0..8, 0..64])).is_none());
        assert!(narrow_matmul(&x1, &w.slice([0..8, 0..99])).is_none());
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

    type A = Autodiff<F>;

    /// A tracked `Autodiff<Flex>` tensor of random values.
    fn tracked<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<A, D> {
        Tensor::<A, D>::from_data(
            TensorData::new(rand(&shape, seed), shape),
            &Default::default(),
        )
        .require_grad()
    }

    /// `Σ out∘w` for fixed random weights `w`: a loss whose gradient with
    /// respect to `out` is `w`, so every output element matters.
    fn loss(out: Tensor<A, 3>) -> Tensor<A, 1> {
        let w = Tensor::<A, 3>::from_data(
            TensorData::new(rand(&out.dims(), 99), out.dims()),
            &Default::default(),
        );
        (out * w).sum()
    }

    /// The gradients of `inputs` after `loss`'s backward pass.
    fn grads_of<const D: usize>(loss: Tensor<A, 1>, inputs: &[&Tensor<A, D>]) -> Vec<Vec<f32>> {
        let g = loss.backward();
        inputs
            .iter()
            .map(|t| host(t.grad(&g).expect("a gradient")))
            .collect()
    }

    /// Fused and reference forward values and gradients agree within `tol`.
    fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let d = max_diff(g, w);
            assert!(d < tol, "value {i}: max difference {d}");
        }
    }

    #[test]
    fn attention_gradients_match_burn_autodiff_for_all_masks_with_grouped_heads() {
        let (b, s, t, h, kvh, hd) = (2, 5, 7, 6, 2, 4);
        for bias in masks::<A>(b, h, s, t) {
            let q = tracked([b, s, h * hd], 1);
            let k = tracked([b, t, kvh * hd], 2);
            let v = tracked([b, t, kvh * hd], 3);
            let out = attention(&q, &k, &v, h, kvh, &bias).expect("Autodiff<Flex> is fused");
            let mut got = vec![host(out.clone())];
            got.extend(grads_of(loss(out), &[&q, &k, &v]));
            let (q2, k2, v2) = (
                tracked([b, s, h * hd], 1),
                tracked([b, t, kvh * hd], 2),
                tracked([b, t, kvh * hd], 3),
            );
            let out = reference(&q2, &k2, &v2, h, kvh, bias.clone());
            let mut want = vec![host(out.clone())];
            want.extend(grads_of(loss(out), &[&q2, &k2, &v2]));
            assert_close(&got, &want, 1e-5);
        }
    }

    #[test]
    fn gelu_gradient_matches_burn_autodiff() {
        let x = tracked([3, 4, 40], 4);
        let out = gelu(&x).expect("fused");
        let mut got = vec![host(out.clone())];
        got.extend(grads_of(loss(out), &[&x]));
        let x2 = tracked([3, 4, 40], 4);
        let out = burn_gelu(x2.clone());
        let mut want = vec![host(out.clone())];
        want.extend(grads_of(loss(out), &[&x2]));
        assert_close(&got, &want, 1e-5);
    }

    #[test]
    fn swiglu_gradients_match_burn_autodiff() {
        let (g, u) = (tracked([3, 4, 40], 13), tracked([3, 4, 40], 14));
        let out = swiglu(&g, &u).expect("fused");
        let mut got = vec![host(out.clone())];
        got.extend(grads_of(loss(out), &[&g, &u]));
        let (g2, u2) = (tracked([3, 4, 40], 13), tracked([3, 4, 40], 14));
        let out = burn::tensor::activation::silu(g2.clone()) * u2.clone();
        let mut want = vec![host(out.clone())];
        want.extend(grads_of(loss(out), &[&g2, &u2]));
        assert_close(&got, &want, 1e-5);
    }

    #[test]
    fn layer_norm_gradients_match_burn_autodiff_for_input_residual_gamma_and_beta() {
        let (x, r) = (tracked([3, 70, 40], 4), tracked([3, 70, 40], 5));
        let (g, bt) = (tracked([40], 6), tracked([40], 7));
        let out = add_layer_norm(&x, &r, &g, &bt, 1e-12).expect("fused");
        let mut got = vec![host(out.clone())];
        got.extend(grads_of(loss(out), &[&x, &r]));
        got.extend(grads_of(
            loss(add_layer_norm(&x, &r, &g, &bt, 1e-12).unwrap()),
            &[&g, &bt],
        ));
        let mut ln: burn::nn::LayerNorm<A> = burn::nn::LayerNormConfig::new(40)
            .with_epsilon(1e-12)
            .init(&Default::default());
        let (x2, r2) = (tracked([3, 70, 40], 4), tracked([3, 70, 40], 5));
        ln.gamma = burn::module::Param::from_tensor(tracked([40], 6));
        ln.beta = Some(burn::module::Param::from_tensor(tracked([40], 7)));
        let out = ln.forward(x2.clone() + r2.clone());
        let mut want = vec![host(out.clone())];
        let gr = loss(out).backward();
        want.extend([&x2, &r2].map(|t| host(t.grad(&gr).unwrap())));
        let gr = loss(ln.forward(x2.clone() + r2.clone())).backward();
        want.push(host(ln.gamma.val().grad(&gr).unwrap()));
        want.push(host(ln.beta.as_ref().unwrap().val().grad(&gr).unwrap()));
        assert_close(&got, &want, 1e-4);
    }

    #[test]
    fn rms_norm_gradients_match_burn_autodiff() {
        let (x, g) = (tracked([2, 70, 24], 8), tracked([24], 9));
        let out = rms_norm(&x, &g, 1e-5).expect("fused");
        let mut got = vec![host(out.clone())];
        got.extend(grads_of(loss(out), &[&x]));
        got.extend(grads_of(loss(rms_norm(&x, &g, 1e-5).unwrap()), &[&g]));
        let (x2, g2) = (tracked([2, 70, 24], 8), tracked([24], 9));
        let norm = |x: Tensor<A, 3>| {
            let rms = (x.clone().powi_scalar(2).mean_dim(2) + 1e-5).sqrt();
            (x / rms) * g2.clone().reshape([1, 1, 24])
        };
        let out = norm(x2.clone());
        let mut want = vec![host(out.clone())];
        want.extend(grads_of(loss(out), &[&x2]));
        let gr = loss(norm(x2.clone())).backward();
        want.push(host(g2.grad(&gr).unwrap()));
        assert_close(&got, &want, 1e-4);
    }

    #[test]
    fn rope_gradient_matches_burn_autodiff() {
        let (b, s, heads, hd) = (2, 5, 3, 8);
        let x = tracked([b, s, heads * hd], 10);
        let dev = Default::default();
        let table = |seed| {
            Tensor::<A, 4>::from_data(
                TensorData::new(rand(&[b, 1, s, hd], seed), [b, 1, s, hd]),
                &dev,
            )
        };
        let (cos, sin) = (table(11), table(12));
        let out = rope(&x, &cos, &sin, heads).expect("fused");
        let mut got = vec![host(out.clone())];
        got.extend(grads_of(loss(out), &[&x]));
        let x2 = tracked([b, s, heads * hd], 10);
        let split = x2.clone().reshape([b, s, heads, hd]).swap_dims(1, 2);
        let out = crate::model::rope::apply(split, &cos, &sin)
            .swap_dims(1, 2)
            .reshape([b, s, heads * hd]);
        let mut want = vec![host(out.clone())];
        want.extend(grads_of(loss(out), &[&x2]));
        assert_close(&got, &want, 1e-5);
    }

    #[test]
    fn token_logprobs_decline_what_they_cannot_score() {
        let x = t3(rand(&[2, 3, 10], 1), [2, 3, 10]);
        let ok = vec![1u32; 4];
        assert!(token_logprobs(&x, &ok, 1.0).is_some());
        assert!(
            token_logprobs(&x, &[1, 1, 1, 10], 1.0).is_none(),
            "target outside the vocabulary"
        );
        assert!(
            token_logprobs(&x, &ok[..3], 1.0).is_none(),
            "one target per slot"
        );
        assert!(token_logprobs(&x, &ok, 0.0).is_none(), "temperature");
        let one = t3(rand(&[2, 1, 10], 1), [2, 1, 10]);
        assert!(token_logprobs(&one, &[], 1.0).is_none(), "no slot");
    }

    #[test]
    fn untracked_autodiff_inputs_take_the_fused_path_without_a_graph() {
        let x = Tensor::<A, 3>::ones([1, 2, 8], &Default::default());
        let y = gelu(&x).expect("fused");
        assert!(!y.is_require_grad());
        let bias = Tensor::<A, 4>::zeros([1, 1, 1, 2], &Default::default());
        assert!(attention(&x, &x, &x, 2, 2, &bias).is_some());
        assert!(is_flex(&x));
    }
}
