//! Training through the fused kernels: each op of [`super`] becomes one
//! node of Burn's autodiff graph on `Autodiff<Flex>`, with its backward
//! written out in [`super::kernels`] instead of Burn's chain of decomposed
//! ops (ARCHITECTURE.md, "Fused kernels"). Inputs that need no gradient
//! (masks, RoPE tables) get none.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Flex};
use burn::tensor::TensorData;
use burn::tensor::backend::BackendTypes;
use burn_flex::FlexTensor;

use super::kernels::{self, AttnShape, NormKept, TokenShape};
use super::{contiguous, values as vals};

/// The float primitive of `Autodiff<Flex>`: a Flex tensor and its graph node.
pub(super) type AdTensor = <Autodiff<Flex> as BackendTypes>::FloatTensorPrimitive;

/// An `Autodiff<Flex>` operand of a fused op: its graph tensor and its
/// values, made contiguous once (by [`super::operand`]).
pub(super) struct Tracked {
    /// The autodiff tensor (graph node and inner Flex tensor).
    pub(super) ad: AdTensor,
    /// The inner values, contiguous.
    pub(super) flex: FlexTensor,
}

/// A Flex tensor holding `data` with `shape`.
fn flex(data: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.to_vec()))
}

/// The incoming gradient of `ops`' node, contiguous.
fn incoming<S, const N: usize>(ops: &Ops<S, N>, grads: &mut Gradients) -> FlexTensor {
    contiguous(&grads.consume::<Flex>(&ops.node))
}

/// Records `op` on `inputs`' nodes: `tracked` computes the output and the
/// backward's state when some input needs a gradient, `untracked` the
/// output alone otherwise.
fn record<Op: Backward<Flex, N>, const N: usize>(
    op: Op,
    inputs: [&AdTensor; N],
    tracked: impl FnOnce() -> (FlexTensor, Op::State),
    untracked: impl FnOnce() -> FlexTensor,
) -> AdTensor {
    match op
        .prepare::<NoCheckpointing>(inputs.map(|t| t.node.clone()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = tracked();
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(untracked()),
    }
}

/// Backward of [`attention`].
#[derive(Debug)]
struct AttentionOp;

/// What [`AttentionOp`] keeps: q, k, v, the probabilities and the shapes.
#[derive(Debug, Clone)]
struct AttentionKept {
    qkv: [FlexTensor; 3],
    probs: FlexTensor,
    shape: AttnShape,
}

impl Backward<Flex, 3> for AttentionOp {
    type State = AttentionKept;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        let k = &ops.state;
        let [q, kk, v] = &k.qkv;
        let grads_qkv = kernels::attention_backward(
            vals(q),
            vals(kk),
            vals(v),
            vals(&k.probs),
            vals(&g),
            &k.shape,
        );
        for ((parent, grad), like) in ops.parents.iter().zip(grads_qkv).zip(&k.qkv) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, flex(grad, like.layout().shape()));
            }
        }
    }
}

/// [`super::attention`] on autodiff tensors: gradients for q, k and v.
pub(super) fn attention(
    q: &Tracked,
    k: &Tracked,
    v: &Tracked,
    bias: &Tracked,
    sh: AttnShape,
) -> AdTensor {
    let (fq, fk, fv, fm) = (
        q.flex.clone(),
        k.flex.clone(),
        v.flex.clone(),
        bias.flex.clone(),
    );
    let out_shape = [sh.b, sh.s, sh.heads * sh.hd];
    record(
        AttentionOp,
        [&q.ad, &k.ad, &v.ad],
        || {
            let mut probs = vec![0.0f32; sh.probs_len()];
            let out = kernels::attention(
                vals(&fq),
                vals(&fk),
                vals(&fv),
                vals(&fm),
                &sh,
                Some(&mut probs),
            );
            let probs = flex(probs, &[sh.probs_len()]);
            let kept = AttentionKept {
                qkv: [fq.clone(), fk.clone(), fv.clone()],
                probs,
                shape: sh,
            };
            (flex(out, &out_shape), kept)
        },
        || {
            flex(
                kernels::attention(vals(&fq), vals(&fk), vals(&fv), vals(&fm), &sh, None),
                &out_shape,
            )
        },
    )
}

/// Backward of [`gelu`].
#[derive(Debug)]
struct GeluOp;

impl Backward<Flex, 1> for GeluOp {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        if let [Some(node)] = &ops.parents {
            let dx = kernels::gelu_backward(vals(&ops.state), vals(&g));
            grads.register::<Flex>(node.id, flex(dx, ops.state.layout().shape()));
        }
    }
}

/// [`super::gelu`] on an autodiff tensor.
pub(super) fn gelu(x: &Tracked) -> AdTensor {
    let fx = x.flex.clone();
    let shape = fx.layout().shape().to_vec();
    let out = || flex(kernels::gelu(vals(&fx)), &shape);
    record(GeluOp, [&x.ad], || (out(), fx.clone()), out)
}

/// Backward of [`swiglu`].
#[derive(Debug)]
struct SwigluOp;

impl Backward<Flex, 2> for SwigluOp {
    type State = [FlexTensor; 2];

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        let [gate, up] = &ops.state;
        let d = kernels::swiglu_backward(vals(gate), vals(up), vals(&g));
        for (parent, grad) in ops.parents.iter().zip(d) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, flex(grad, gate.layout().shape()));
            }
        }
    }
}

/// [`super::swiglu`] on autodiff tensors: gradients for gate and up.
pub(super) fn swiglu(gate: &Tracked, up: &Tracked) -> AdTensor {
    let (fg, fu) = (gate.flex.clone(), up.flex.clone());
    let shape = fg.layout().shape().to_vec();
    let out = || flex(kernels::swiglu(vals(&fg), vals(&fu)), &shape);
    record(
        SwigluOp,
        [&gate.ad, &up.ad],
        || (out(), [fg.clone(), fu.clone()]),
        out,
    )
}

/// Backward of [`add_layer_norm`] and [`rms_norm`].
#[derive(Debug)]
struct NormOp;

/// What [`NormOp`] keeps: the kernel's state, gamma, the input's shape and
/// whether the norm is centred (LayerNorm) or not (RMSNorm).
#[derive(Debug, Clone)]
struct NormState {
    kept: std::sync::Arc<NormKept>,
    gamma: FlexTensor,
    shape: Vec<usize>,
    centred: bool,
}

impl NormOp {
    /// Input, gamma and beta gradients of the op's state and output gradient.
    fn grads(state: &NormState, g: &FlexTensor) -> [FlexTensor; 3] {
        let (dx, dgamma, dbeta) =
            kernels::norm_backward(&state.kept, vals(&state.gamma), vals(g), state.centred);
        let d = dgamma.len();
        [
            flex(dx, &state.shape),
            flex(dgamma, &[d]),
            flex(dbeta, &[d]),
        ]
    }
}

impl Backward<Flex, 4> for NormOp {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        let [dz, dgamma, dbeta] = Self::grads(&ops.state, &g);
        // x and the residual both receive dz.
        let wanted = [Some(dz.clone()), Some(dz), Some(dgamma), Some(dbeta)];
        for (parent, grad) in ops.parents.iter().zip(wanted) {
            if let (Some(node), Some(grad)) = (parent, grad) {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

impl Backward<Flex, 2> for NormOp {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        let [dx, dgamma, _] = Self::grads(&ops.state, &g);
        for (parent, grad) in ops.parents.iter().zip([dx, dgamma]) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

/// [`super::add_layer_norm`] on autodiff tensors: gradients for x, the
/// residual, gamma and beta.
pub(super) fn add_layer_norm(
    x: &Tracked,
    residual: &Tracked,
    gamma: &Tracked,
    beta: &Tracked,
    eps: f32,
) -> AdTensor {
    let (fx, fr, fg, fb) = (
        x.flex.clone(),
        residual.flex.clone(),
        gamma.flex.clone(),
        beta.flex.clone(),
    );
    let shape = fx.layout().shape().to_vec();
    let run = |keep| kernels::add_layer_norm(vals(&fx), vals(&fr), vals(&fg), vals(&fb), eps, keep);
    record_norm(
        [&x.ad, &residual.ad, &gamma.ad, &beta.ad],
        &fg,
        &shape,
        true,
        run,
    )
}

/// [`super::rms_norm`] on autodiff tensors: gradients for x and gamma.
pub(super) fn rms_norm(x: &Tracked, gamma: &Tracked, eps: f32) -> AdTensor {
    let (fx, fg) = (x.flex.clone(), gamma.flex.clone());
    let shape = fx.layout().shape().to_vec();
    let run = |keep| kernels::rms_norm(vals(&fx), vals(&fg), eps, keep);
    record_norm([&x.ad, &gamma.ad], &fg, &shape, false, run)
}

/// Records a normalisation ([`NormOp`]) on `inputs`: `run(keep)` computes
/// the output `shape` (and what the backward needs, with `keep`).
fn record_norm<const N: usize>(
    inputs: [&AdTensor; N],
    gamma: &FlexTensor,
    shape: &[usize],
    centred: bool,
    run: impl Fn(bool) -> (Vec<f32>, NormKept),
) -> AdTensor
where
    NormOp: Backward<Flex, N, State = NormState>,
{
    record(
        NormOp,
        inputs,
        || {
            let (out, kept) = run(true);
            let state = NormState {
                kept: std::sync::Arc::new(kept),
                gamma: gamma.clone(),
                shape: shape.to_vec(),
                centred,
            };
            (flex(out, shape), state)
        },
        || flex(run(false).0, shape),
    )
}

/// Backward of [`rope`]: the inverse rotation of the output gradient.
#[derive(Debug)]
struct RopeOp;

/// What [`RopeOp`] keeps: the tables, head width and the input's shape.
#[derive(Debug, Clone)]
struct RopeState {
    cos: FlexTensor,
    sin: FlexTensor,
    hd: usize,
    shape: Vec<usize>,
}

impl Backward<Flex, 1> for RopeOp {
    type State = RopeState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        if let [Some(node)] = &ops.parents {
            let st = &ops.state;
            let w = st.shape[2];
            let dx = kernels::rope(vals(&g), vals(&st.cos), vals(&st.sin), st.hd, w, true);
            grads.register::<Flex>(node.id, flex(dx, &st.shape));
        }
    }
}

/// [`super::rope`] on autodiff tensors: a gradient for `x` (the tables are
/// constants).
pub(super) fn rope(x: &Tracked, cos: &Tracked, sin: &Tracked, hd: usize) -> AdTensor {
    let (fx, fc, fs) = (x.flex.clone(), cos.flex.clone(), sin.flex.clone());
    let shape = fx.layout().shape().to_vec();
    let out = || {
        flex(
            kernels::rope(vals(&fx), vals(&fc), vals(&fs), hd, shape[2], false),
            &shape,
        )
    };
    record(
        RopeOp,
        [&x.ad],
        || {
            let state = RopeState {
                cos: fc.clone(),
                sin: fs.clone(),
                hd,
                shape: shape.clone(),
            };
            (out(), state)
        },
        out,
    )
}

/// Backward of [`token_logprobs`]: `g·(onehot − softmax)/t` per slot.
#[derive(Debug)]
struct TokenLogprobOp;

/// What [`TokenLogprobOp`] keeps: the logits, each slot's target and
/// log-sum-exp, the shape and the temperature.
#[derive(Debug, Clone)]
struct TokenState {
    logits: FlexTensor,
    targets: std::sync::Arc<Vec<u32>>,
    lse: std::sync::Arc<Vec<f32>>,
    shape: TokenShape,
    t: f32,
}

impl Backward<Flex, 1> for TokenLogprobOp {
    type State = TokenState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = incoming(&ops, grads);
        if let [Some(node)] = &ops.parents {
            let st = &ops.state;
            let dx = kernels::token_logprobs_backward(
                vals(&st.logits),
                &st.targets,
                &st.lse,
                vals(&g),
                &st.shape,
                st.t,
            );
            let sh = st.shape;
            grads.register::<Flex>(node.id, flex(dx, &[sh.b, sh.l, sh.v]));
        }
    }
}

/// [`super::token_logprobs`] on an autodiff tensor: the log-probs `[b, w]`
/// with a gradient for the logits, and the entropies (no gradient).
pub(super) fn token_logprobs(
    logits: &Tracked,
    targets: Vec<u32>,
    sh: TokenShape,
    t: f32,
) -> (AdTensor, Vec<f32>) {
    let fx = logits.flex.clone();
    let [picked, entropy, lse] = kernels::token_logprobs(vals(&fx), &targets, &sh, t);
    let out = || flex(picked.clone(), &[sh.b, sh.w()]);
    let state = move || TokenState {
        logits: fx,
        targets: std::sync::Arc::new(targets),
        lse: std::sync::Arc::new(lse),
        shape: sh,
        t,
    };
    let ad = record(TokenLogprobOp, [&logits.ad], || (out(), state()), out);
    (ad, entropy)
}
