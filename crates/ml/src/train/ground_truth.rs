//! Ground truth for the fair trainer on planted features (issue 5): every
//! response's features are `[q + μ_c, q + ε, noise…]` where q is its quality
//! (chosen responses are better on average), μ_c a per-category offset
//! shared by both sides of a pair (invisible to the BT loss, like the
//! `synthetic` source's marker words) and ε extra noise. Plain BT leans on
//! the precise but category-shifted first feature, so its rewards separate
//! the categories; the fair RM can move weight to the clean, noisier second
//! feature, at some cost in BT accuracy.

use std::path::Path;

use crate::data::token_table::{TokenRow, write_tokens};
use crate::data::tokenize::Encoded;
use crate::util::rng::SplitMix64;

/// Feature width.
pub const D: usize = 8;

/// Writes `train.parquet`/`eval.parquet` token tables (dummy ids) into
/// `data` and a matching `features.safetensors` into `features`, with
/// `per_cat` training and `per_cat / 2` eval pairs per category.
pub fn write_planted(data: &Path, features: &Path, per_cat: usize, offsets: &[f64], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let mut tensors = Vec::new();
    for (split, n) in [("train", per_cat), ("eval", per_cat / 2)] {
        let mut rows = Vec::new();
        let (mut chosen, mut rejected) = (Vec::new(), Vec::new());
        for (c, mu) in offsets.iter().enumerate() {
            for i in 0..n {
                let enc = |ids: Vec<u32>| Encoded {
                    response_start: 1,
                    full_len: ids.len(),
                    ids,
                    truncated: false,
                    response_truncated: false,
                };
                rows.push(TokenRow {
                    id: format!("{split}-{c}-{i}"),
                    category: format!("cat{c}"),
                    source: "planted".into(),
                    chosen: enc(vec![1, 2, 3]),
                    rejected: enc(vec![1, 4]),
                });
                for (side, mean) in [(&mut chosen, 0.75), (&mut rejected, -0.75)] {
                    let q = mean + rng.normal();
                    side.push((q + mu) as f32);
                    side.push((q + rng.normal()) as f32);
                    side.extend((2..D).map(|_| rng.normal() as f32));
                }
            }
        }
        write_tokens(&data.join(format!("{split}.parquet")), &rows).unwrap();
        let n = rows.len();
        tensors.push((format!("{split}.chosen"), n, chosen));
        tensors.push((format!("{split}.rejected"), n, rejected));
    }
    tensors.push(("probes.more".into(), 0, vec![]));
    tensors.push(("probes.less".into(), 0, vec![]));
    let named: Vec<(&str, usize, usize, Vec<f32>)> = tensors
        .iter()
        .map(|(n, r, v)| (n.as_str(), *r, D, v.clone()))
        .collect();
    crate::testing::write_features(&features.join(super::features::FEATURES_FILE), &named);
}
