//! The trained reward model as files (`model/` under the stage's outputs):
//! the backbone in the `model.pretrained` layout (`model.safetensors`,
//! `config.json`, `tokenizer.json`, …), `head.safetensors` with HF-layout
//! tensors (`score.weight` `[1, d]`, `score.bias`, and `hidden.*` for an MLP
//! head) and `rm.json` saying how to read a reward: which pooling, which
//! head, how it was trained.

use std::path::Path;

use anyhow::Context;
use burn::tensor::backend::Backend;
use serde_json::Value;

use super::head::RewardHead;
use crate::model::export::write_linears;

/// Head tensors file name.
pub const HEAD_FILE: &str = "head.safetensors";
/// Description file name.
pub const RM_JSON: &str = "rm.json";

/// Copies every regular file of `src` into `dst` (the frozen backbone).
///
/// # Errors
/// A file that cannot be read or written.
pub fn copy_backbone(src: &Path, dst: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e.with_context(|| format!("reading {}", src.display()))?;
        if e.file_type()?.is_file() {
            let to = dst.join(e.file_name());
            std::fs::copy(e.path(), &to)
                .with_context(|| format!("copying {} to {}", e.path().display(), to.display()))?;
        }
    }
    Ok(())
}

/// Writes the head and `rm.json` into `dir`.
///
/// # Errors
/// A file that cannot be written.
pub fn write_head<B: Backend>(
    dir: &Path,
    head: &RewardHead<B>,
    meta: &Value,
) -> anyhow::Result<()> {
    let mut layers = Vec::new();
    if let Some(h) = &head.hidden {
        layers.push(("hidden", h));
    }
    layers.push(("score", &head.score));
    let path = dir.join(HEAD_FILE);
    write_linears(&path, &layers).with_context(|| format!("writing {}", path.display()))?;
    let text = serde_json::to_string_pretty(meta)?;
    let path = dir.join(RM_JSON);
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Reads the head [`write_head`] wrote in `dir` for `d`-dimensional features.
///
/// # Errors
/// A missing or malformed `head.safetensors`, or shapes that do not fit `d`.
pub fn read_head<B: Backend>(
    dir: &Path,
    d: usize,
    device: &B::Device,
) -> anyhow::Result<RewardHead<B>> {
    let path = dir.join(HEAD_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("parsing {}", path.display()))?;
    let linear = |name: &str, inp: usize| -> anyhow::Result<burn::nn::Linear<B>> {
        let t = |n: String| -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
            let v = st
                .tensor(&n)
                .with_context(|| format!("{}: no tensor `{n}`", path.display()))?;
            anyhow::ensure!(
                v.dtype() == safetensors::Dtype::F32,
                "{}: `{n}` is {:?}, expected F32",
                path.display(),
                v.dtype()
            );
            let data = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((v.shape().to_vec(), data))
        };
        let (shape, w) = t(format!("{name}.weight"))?;
        anyhow::ensure!(
            shape.len() == 2 && shape[1] == inp,
            "{}: `{name}.weight` has shape {shape:?}, expected [_, {inp}]",
            path.display()
        );
        let out = shape[0];
        // HF [out, in] → Burn [in, out].
        let mut wt = vec![0.0f32; inp * out];
        for o in 0..out {
            for i in 0..inp {
                wt[i * out + o] = w[o * inp + i];
            }
        }
        let bias = match st.tensor(&format!("{name}.bias")) {
            Ok(_) => {
                let (bs, b) = t(format!("{name}.bias"))?;
                anyhow::ensure!(
                    bs == [out],
                    "{}: `{name}.bias` has shape {bs:?}",
                    path.display()
                );
                Some(burn::module::Param::from_tensor(
                    burn::tensor::Tensor::from_data(
                        burn::tensor::TensorData::new(b, [out]),
                        device,
                    ),
                ))
            }
            Err(_) => None,
        };
        Ok(burn::nn::Linear {
            weight: burn::module::Param::from_tensor(burn::tensor::Tensor::from_data(
                burn::tensor::TensorData::new(wt, [inp, out]),
                device,
            )),
            bias,
        })
    };
    let has_hidden = st.names().contains(&"hidden.weight");
    if has_hidden {
        let hidden = linear("hidden", d)?;
        let h = hidden.weight.val().dims()[1];
        Ok(RewardHead {
            hidden: Some(hidden),
            score: linear("score", h)?,
        })
    } else {
        Ok(RewardHead {
            hidden: None,
            score: linear("score", d)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use safetensors::SafeTensors;

    #[test]
    fn head_is_written_in_hf_layout() {
        let dir = tempfile::tempdir().unwrap();
        let head = RewardHead::<Flex>::new(5, 3, 1, &Default::default());
        write_head(dir.path(), &head, &serde_json::json!({"head_hidden": 3})).unwrap();
        let bytes = std::fs::read(dir.path().join(HEAD_FILE)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("hidden.weight").unwrap().shape(), &[3, 5]);
        assert_eq!(st.tensor("score.weight").unwrap().shape(), &[1, 3]);
        assert_eq!(st.tensor("score.bias").unwrap().shape(), &[1]);
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(RM_JSON)).unwrap())
                .unwrap();
        assert_eq!(meta["head_hidden"], 3);
        // Read back: the same rewards.
        let back = read_head::<Flex>(dir.path(), 5, &Default::default()).unwrap();
        let x = burn::tensor::Tensor::<Flex, 2>::from_data(
            burn::tensor::TensorData::new(
                (0..10).map(|i| i as f32 * 0.3 - 1.0).collect::<Vec<_>>(),
                [2, 5],
            ),
            &Default::default(),
        );
        let a = head.forward(x.clone()).into_data().to_vec::<f32>().unwrap();
        let b = back.forward(x).into_data().to_vec::<f32>().unwrap();
        assert_eq!(a, b);
        assert!(read_head::<Flex>(dir.path(), 4, &Default::default()).is_err());
    }
}
