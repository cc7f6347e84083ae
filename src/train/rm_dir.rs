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
    }
}
