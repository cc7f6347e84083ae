//! Scoring new text with a trained reward model: the reader of the `model/`
//! directory that [`super::rm_dir`] writes (`train.reward_model`'s output).
//!
//! A reward is read exactly as training read it: the (prompt, response) is
//! rendered with the one transcript template (`Human: … Assistant: …`,
//! [`crate::data::template`]), tokenized with the RM's own `tokenizer.json`
//! and truncated from the left of the prompt to `max_len` tokens
//! ([`crate::data::tokenize::encode`], as `data.tokenize` did), pooled by the
//! backbone (BERT: mean over real tokens; Llama: last real token,
//! [`crate::model::encoder`]), then passed through `head.safetensors`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::head::RewardHead;
use super::rm_dir::{RM_JSON, read_head};
use crate::data::tokenize::encode;
use crate::model::embed::{check_seqs, embed_all};
use crate::model::encoder::{LoadedEncoder, load_encoder};
use crate::model::readback::to_vec_f32;
use crate::util::hooks::Hooks;

/// A loaded reward model: backbone, tokenizer and head.
pub struct RewardScorer<B: Backend> {
    /// The backbone with its tokenizer.
    pub encoder: LoadedEncoder<B>,
    /// The head.
    pub head: RewardHead<B>,
    /// `rm.json` as written by training.
    pub meta: serde_json::Value,
    /// The directory it came from.
    pub dir: PathBuf,
}

/// Loads a reward model directory (`<train.reward_model stage>/model`).
///
/// # Errors
/// A missing `rm.json` or `head.safetensors`, a backbone that does not
/// load, or a head whose shapes do not chain onto the backbone's width.
pub fn load_reward_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> anyhow::Result<RewardScorer<B>> {
    let meta_path = dir.join(RM_JSON);
    let text = std::fs::read_to_string(&meta_path).with_context(|| {
        format!(
            "{}: not a reward model directory (expected the `model/` output of a train.reward_model stage)",
            meta_path.display()
        )
    })?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", meta_path.display()))?;
    let encoder = load_encoder::<B>(dir, device)
        .with_context(|| format!("loading the reward model's backbone from {}", dir.display()))?;
    // The one reader of the head `rm_dir::write_head` wrote; it checks
    // that the head takes the backbone's width.
    let head = read_head::<B>(dir, encoder.hidden, device)?;
    Ok(RewardScorer {
        encoder,
        head,
        meta,
        dir: dir.to_path_buf(),
    })
}

impl<B: Backend> RewardScorer<B> {
    /// Token ids of each (prompt, response) through the training template,
    /// at most `max_len` tokens (prompt cut from the left).
    ///
    /// # Errors
    /// A tokenizer failure or a sequence the backbone cannot take.
    pub fn encode_pairs(
        &self,
        pairs: &[(&str, &str)],
        max_len: usize,
    ) -> anyhow::Result<Vec<Vec<u32>>> {
        let tok_path = self.dir.join("tokenizer.json");
        let seqs = pairs
            .iter()
            .map(|(p, r)| encode(&self.encoder.tokenizer, p, r, max_len, &tok_path).map(|e| e.ids))
            .collect::<Result<Vec<_>, _>>()?;
        check_seqs(&seqs, &self.encoder.config, "reward input")?;
        Ok(seqs)
    }

    /// Rewards of each (prompt, response), in order, scored in batches of
    /// `batch_size` sequences of similar length.
    ///
    /// # Errors
    /// See [`RewardScorer::encode_pairs`]; an interrupt.
    pub fn score(
        &self,
        pairs: &[(&str, &str)],
        max_len: usize,
        batch_size: usize,
        hooks: &dyn Hooks,
    ) -> anyhow::Result<Vec<f64>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let seqs = self.encode_pairs(pairs, max_len)?;
        let (feats, _) = embed_all(&self.encoder, &seqs, batch_size, hooks)?;
        let d = self.encoder.hidden;
        let device = self.head.score.weight.device();
        let x = Tensor::<B, 2>::from_data(TensorData::new(feats, [seqs.len(), d]), &device);
        let r = to_vec_f32(self.head.forward(x), "the reward model's scores")?;
        Ok(r.into_iter().map(f64::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encoder::Arch;
    use crate::model::encoder::tests::tiny_loaded;
    use crate::train::rm_dir::write_head;
    use crate::util::hooks::Quiet;
    use burn::backend::Flex;

    /// A saved tiny BERT RM with an MLP head; returns the head kept in memory.
    fn saved_rm(dir: &Path, head_hidden: usize) -> (LoadedEncoder<Flex>, RewardHead<Flex>) {
        std::fs::create_dir_all(dir.join("tok")).unwrap();
        let enc = tiny_loaded(Arch::Bert, 4, &dir.join("tok"));
        let model = dir.join("model");
        std::fs::create_dir_all(&model).unwrap();
        enc.save_encoder(&model).unwrap();
        let head = RewardHead::<Flex>::new(enc.hidden, head_hidden, 9, &Default::default());
        write_head(
            &model,
            &head,
            &serde_json::json!({"head_hidden": head_hidden}),
        )
        .unwrap();
        (enc, head)
    }

    #[test]
    fn scores_are_the_in_memory_head_on_the_templated_transcript() {
        let dir = tempfile::tempdir().unwrap();
        for head_hidden in [0, 5] {
            let (enc, head) = saved_rm(dir.path(), head_hidden);
            let rm =
                load_reward_model::<Flex>(&dir.path().join("model"), &Default::default()).unwrap();
            let pairs = [
                ("a b c", "yes"),
                ("d", "no no yes"),
                ("e e e e e e", "yes no"),
            ];
            let got = rm.score(&pairs, 8, 2, &Quiet::new(0, "rm")).unwrap();
            // By hand: the training template and truncation, one padded batch,
            // the head that was saved (not the loaded copy).
            let tok = dir.path().join("tok/tokenizer.json");
            let seqs: Vec<Vec<u32>> = pairs
                .iter()
                .map(|(p, r)| encode(&enc.tokenizer, p, r, 8, &tok).unwrap().ids)
                .collect();
            // [CLS] human : a b c assistant : yes [SEP] is 10 tokens; at 8 the
            // prompt loses its first two from the left.
            assert_eq!(seqs[0], vec![1, 6, 7, 8, 5, 4, 11, 2]);
            assert!(seqs.iter().all(|s| s.len() <= 8));
            let want: Vec<f32> = head
                .forward(enc.encoder.pooled(&enc.batch(&seqs)))
                .into_data()
                .to_vec()
                .unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - f64::from(*w)).abs() < 1e-5, "{g} vs {w}");
            }
            assert_eq!(got.len(), 3);
        }
    }

    #[test]
    fn a_directory_without_rm_json_or_with_a_mismatched_head_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        saved_rm(dir.path(), 0);
        let model = dir.path().join("model");
        std::fs::remove_file(model.join(RM_JSON)).unwrap();
        let e = load_reward_model::<Flex>(&model, &Default::default())
            .err()
            .unwrap();
        assert!(
            format!("{e:#}").contains("not a reward model directory"),
            "{e:#}"
        );
        let wide = RewardHead::<Flex>::new(7, 0, 1, &Default::default());
        write_head(&model, &wide, &serde_json::json!({})).unwrap();
        let e = load_reward_model::<Flex>(&model, &Default::default())
            .err()
            .unwrap();
        assert!(
            format!("{e:#}").contains("`score.weight` has shape [1, 7], expected [_, 16]"),
            "{e:#}"
        );
    }
}
