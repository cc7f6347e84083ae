//! LoRA (Hu et al. 2021) on a linear layer: `y = x·W + (α/r)·x·A·B`, with the
//! base `W` frozen, `A ~ N(0, 1/r)` and `B = 0` so training starts from the
//! base model (PEFT `init_lora_weights="gaussian"`). The paper uses r = 16,
//! α = 32 on q, k, v, o (App. A.5).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::util::rng::SplitMix64 as Rng;

/// LoRA hyper-parameters.
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct LoraConfig {
    /// Rank r.
    #[schemars(range(min = 1))]
    pub rank: usize,
    /// Scale numerator α; the update is scaled by α / r.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub alpha: f64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 16,
            alpha: 32.0,
        }
    }
}

/// The trainable low-rank update of one linear layer.
#[derive(Module, Debug)]
pub struct LoraAdapter<B: Backend> {
    /// Down projection `[d_in, r]` (PEFT `lora_A.weight` transposed).
    pub a: Param<Tensor<B, 2>>,
    /// Up projection `[r, d_out]` (PEFT `lora_B.weight` transposed).
    pub b: Param<Tensor<B, 2>>,
    /// α / r.
    pub scale: f64,
}

/// A linear layer with an optional LoRA adapter; its weight is `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct LoraLinear<B: Backend> {
    /// The base layer (frozen once an adapter is attached).
    pub base: Linear<B>,
    /// The adapter, if any.
    pub lora: Option<LoraAdapter<B>>,
}

impl<B: Backend> LoraLinear<B> {
    /// A layer without adapter from a weight `[d_in, d_out]`.
    pub fn new(weight: Tensor<B, 2>) -> Self {
        LoraLinear {
            base: Linear {
                weight: Param::from_tensor(weight),
                bias: None,
            },
            lora: None,
        }
    }

    /// `x·W (+ scale·x·A·B)`. `x`: `[..., d_in]`, computed as one 2-D
    /// product over all leading axes (one GEMM, and one for each weight's
    /// gradient, instead of a batch of them).
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let mut dims = x.dims();
        let rows = dims[..D - 1].iter().product();
        let x = x.reshape([rows, dims[D - 1]]);
        let y = super::fast::linear(&self.base, &x);
        let y = match &self.lora {
            None => y,
            Some(l) => y + x.matmul(l.a.val()).matmul(l.b.val()).mul_scalar(l.scale),
        };
        dims[D - 1] = y.dims()[1];
        y.reshape(dims)
    }

    /// Freezes the base weight and attaches a fresh adapter.
    pub fn attach(self, cfg: LoraConfig, rng: &mut Rng) -> Self {
        let w = self.base.weight.val();
        let device = w.device();
        let [d_in, d_out] = w.dims();
        let r = cfg.rank.max(1);
        let a = rng.normal_vec(d_in * r, 1.0 / r as f64);
        let a = Tensor::<B, 2>::from_data(TensorData::new(a, [d_in, r]), &device);
        let b = Tensor::<B, 2>::zeros([r, d_out], &device);
        let base = self.base.no_grad();
        LoraLinear {
            base,
            lora: Some(LoraAdapter {
                a: Param::from_tensor(a),
                b: Param::from_tensor(b),
                scale: cfg.alpha / r as f64,
            }),
        }
    }

    /// Folds the adapter into the base weight (for export) and drops it.
    pub fn merge(self) -> Self {
        match self.lora {
            None => self,
            Some(l) => {
                let w = self.base.weight.val() + l.a.val().matmul(l.b.val()).mul_scalar(l.scale);
                LoraLinear::new(w.detach())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::batch::Batch;
    use crate::model::export::export_hf;
    use crate::model::llama::Llama;
    use crate::model::load::RandomSource;
    use crate::model::load::llama::{build_llama, load_hf_dir};
    use burn::backend::{Autodiff, Flex};
    use burn::module::AutodiffModule;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};

    type AD = Autodiff<Flex>;

    fn weights_of(m: &Llama<AD>) -> Vec<Vec<f32>> {
        let mut out = vec![
            m.model
                .embed_tokens
                .weight
                .val()
                .into_data()
                .to_vec()
                .unwrap(),
        ];
        for l in &m.model.layers {
            let a = &l.self_attn;
            for p in [&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj] {
                out.push(p.base.weight.val().into_data().to_vec().unwrap());
            }
            out.push(l.mlp.up_proj.weight.val().into_data().to_vec().unwrap());
            out.push(l.input_layernorm.gamma.val().into_data().to_vec().unwrap());
        }
        out
    }

    #[test]
    fn only_adapters_train_base_stays_bit_identical_and_merge_exports_the_same_model() {
        let device = Default::default();
        let cfg = crate::model::llama::tests::tiny_config();
        let base = build_llama::<AD>(&cfg, &mut RandomSource::new(11, 0.2), None, &device).unwrap();
        let before = weights_of(&base);
        let mut model = base.with_lora(LoraConfig::default(), 5);
        let batch = Batch::pad(
            &[vec![1, 5, 6, 7, 8, 9, 10, 2], vec![1, 11, 12, 13, 2]],
            0,
            false,
        );
        let mut optim = AdamConfig::new().init::<AD, Llama<AD>>();
        let mut losses = Vec::new();
        for _ in 0..6 {
            let loss = model.causal_lm_loss(&batch);
            losses.push(loss.clone().into_scalar());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            // q, k, v, o × (A, B) × 2 layers: nothing else has a gradient.
            assert_eq!(grads.len(), 16);
            model = optim.step(1e-2, model, grads);
        }
        assert!(
            losses[5] < losses[0],
            "LoRA training did not lower the loss: {losses:?}"
        );
        assert_eq!(weights_of(&model), before, "a base weight changed");
        let b: Vec<f32> = model.model.layers[0]
            .self_attn
            .q_proj
            .lora
            .as_ref()
            .unwrap()
            .b
            .val()
            .into_data()
            .to_vec()
            .unwrap();
        assert!(b.iter().any(|&x| x != 0.0), "adapter B never moved");

        // Adapters in PEFT layout: lora_A.weight = Aᵀ [r, in], lora_B.weight = Bᵀ [out, r].
        let peft = tempfile::tempdir().unwrap();
        crate::model::export::export_peft(&model, LoraConfig::default(), "tiny", peft.path())
            .unwrap();
        let bytes = std::fs::read(peft.path().join("adapter_model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.names().len(), 16);
        let a = st
            .tensor("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight")
            .unwrap();
        assert_eq!(a.shape(), &[16, 16]);
        let bt = st
            .tensor("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")
            .unwrap();
        assert_eq!(bt.shape(), &[8, 16]);
        let ours: Vec<f32> = model.model.layers[1]
            .self_attn
            .k_proj
            .lora
            .as_ref()
            .unwrap()
            .b
            .val()
            .into_data()
            .to_vec()
            .unwrap();
        let theirs: Vec<f32> = bt
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        // ours is [r=16, out=8]; theirs [out, r].
        assert_eq!(theirs[3 * 16 + 5], ours[5 * 8 + 3]);
        let cfg_json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(peft.path().join("adapter_config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(cfg_json["r"], 16);
        assert_eq!(cfg_json["lora_alpha"], 32.0);

        // Merged weights exported as HF files reload to the same logits.
        let infer = model.valid();
        let want: Vec<f32> = infer.forward(&batch, None).into_data().to_vec().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join("tests/fixtures/tiny_llama/plain/tokenizer.json"),
            dir.path().join("tokenizer.json"),
        )
        .unwrap();
        export_hf(infer, &cfg, dir.path()).unwrap();
        let back = load_hf_dir::<Flex>(dir.path(), &device).unwrap();
        assert_eq!(back.config, cfg);
        let got: Vec<f32> = back
            .model
            .forward(&batch, None)
            .into_data()
            .to_vec()
            .unwrap();
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "merged export differs by {diff}");
    }
}
