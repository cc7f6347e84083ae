//! Writing and reading `hidden.safetensors`, the frozen lower layers' hidden
//! states that `model.hidden_states` computes once, so that every reward model
//! fine-tuning the upper layers (`trainable: {last_layers: k}`) runs only
//! those layers (ARCHITECTURE.md, "Training paths").
//!
//! The file holds, for each group of [`FEATURE_TENSORS`] (`train.chosen`, …,
//! `probes.less`), an f32 tensor `<group>` `[tokens, hidden]` with every
//! sequence's real tokens one after the other (no padding), and an i64
//! tensor `<group>.lengths` `[rows]`, rows in the token table's order. Its
//! metadata names the architecture, the backbone's layer count and how many
//! layers ran (`lower_layers`), which a trainer checks against its own.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

pub use super::features::FEATURE_TENSORS;
use super::features::matrix;

/// File name under a `model.hidden_states` stage's outputs.
pub const HIDDEN_FILE: &str = "hidden.safetensors";

/// Variable-length sequences of hidden states, stored without padding.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ragged {
    /// `[sum(lengths), hidden]` row-major.
    pub data: Vec<f32>,
    /// Tokens of each sequence.
    pub lengths: Vec<usize>,
    /// Start (in tokens) of each sequence.
    pub starts: Vec<usize>,
    /// Width of a hidden state.
    pub hidden: usize,
}

impl Ragged {
    /// Sequences of `lengths` over `data` (`[sum(lengths) · hidden]`).
    fn new(data: Vec<f32>, lengths: Vec<usize>, hidden: usize) -> Self {
        let mut starts = Vec::with_capacity(lengths.len());
        let mut at = 0;
        for &l in &lengths {
            starts.push(at);
            at += l;
        }
        Ragged {
            data,
            lengths,
            starts,
            hidden,
        }
    }

    /// Room for sequences of `lengths` (zeros), filled with [`Ragged::set`].
    pub fn zeros(lengths: Vec<usize>, hidden: usize) -> Self {
        let n: usize = lengths.iter().sum();
        Ragged::new(vec![0.0; n * hidden], lengths, hidden)
    }

    /// Sequences.
    pub fn rows(&self) -> usize {
        self.lengths.len()
    }

    /// Tokens over every sequence.
    pub fn tokens(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Sequence `i`, `[lengths[i] · hidden]`.
    pub fn row(&self, i: usize) -> &[f32] {
        let (s, l) = (self.starts[i], self.lengths[i]);
        &self.data[s * self.hidden..(s + l) * self.hidden]
    }

    /// Overwrites sequence `i` with the first `lengths[i]` tokens of `states`
    /// (`[≥ lengths[i], hidden]`, e.g. one row of a right-padded batch).
    pub fn set(&mut self, i: usize, states: &[f32]) {
        let (s, l, d) = (self.starts[i], self.lengths[i], self.hidden);
        self.data[s * d..(s + l) * d].copy_from_slice(&states[..l * d]);
    }

    /// The longest of sequences `rows` (0 for none).
    pub fn longest(&self, rows: &[usize]) -> usize {
        rows.iter().map(|&i| self.lengths[i]).max().unwrap_or(0)
    }

    /// Appends sequences `rows` to `out`, each right-padded with zeros to `s`
    /// tokens (`s ≥` [`Ragged::longest`]): `[rows.len() · s · hidden]`.
    pub fn pad_into(&self, rows: &[usize], s: usize, out: &mut Vec<f32>) {
        let d = self.hidden;
        for &i in rows {
            let r = self.row(i);
            out.extend_from_slice(r);
            out.resize(out.len() + s * d - r.len(), 0.0);
        }
    }
}

/// Every group of a hidden-states file and what produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenStates {
    /// The groups, in [`FEATURE_TENSORS`] order.
    pub groups: Vec<Ragged>,
    /// `bert` or `llama`.
    pub architecture: String,
    /// Transformer layers of the backbone.
    pub n_layers: usize,
    /// Layers run to produce the states (the embeddings, then these).
    pub lower_layers: usize,
}

impl HiddenStates {
    /// The group called `name` (`train.chosen`, …).
    pub fn group(&self, name: &str) -> Option<&Ragged> {
        let i = FEATURE_TENSORS.iter().position(|n| *n == name)?;
        self.groups.get(i)
    }

    /// Probe items (rows of `probes.more`; 0 without probes).
    pub fn probe_items(&self) -> usize {
        self.group("probes.more").map_or(0, Ragged::rows)
    }

    /// Width of the hidden states.
    pub fn hidden(&self) -> usize {
        self.groups.first().map_or(0, |g| g.hidden)
    }
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `h` to `path` (see the module doc).
///
/// # Errors
/// Not one group per name of [`FEATURE_TENSORS`], or a write failure.
pub fn write_hidden(path: &Path, h: &HiddenStates) -> anyhow::Result<()> {
    if h.groups.len() != FEATURE_TENSORS.len() {
        bail!(
            "{}: {} groups, expected {}",
            path.display(),
            h.groups.len(),
            FEATURE_TENSORS.len()
        );
    }
    let mut owned: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for (name, g) in FEATURE_TENSORS.iter().zip(&h.groups) {
        if g.hidden != h.hidden() || g.data.len() != g.tokens() * g.hidden {
            bail!("{}: group {name} is malformed", path.display());
        }
        owned.push((
            (*name).to_string(),
            vec![g.tokens(), g.hidden],
            Dtype::F32,
            le_bytes(&g.data),
        ));
        let lengths: Vec<u8> = g
            .lengths
            .iter()
            .flat_map(|&l| (l as i64).to_le_bytes())
            .collect();
        owned.push((
            format!("{name}.lengths"),
            vec![g.rows()],
            Dtype::I64,
            lengths,
        ));
    }
    let views = owned
        .iter()
        .map(|(n, shape, dt, b)| TensorView::new(*dt, shape.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("building {}", path.display()))?;
    let fields = [
        ("architecture", h.architecture.clone()),
        ("n_layers", h.n_layers.to_string()),
        ("lower_layers", h.lower_layers.to_string()),
    ];
    let meta: HashMap<String, String> = fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    safetensors::tensor::serialize_to_file(views, Some(meta), path)
        .with_context(|| format!("writing {}", path.display()))?;
    fix_metadata_order(path, &fields).with_context(|| format!("writing {}", path.display()))
}

/// safetensors takes the metadata as a `HashMap` and writes it in the map's
/// (per-process random) order, so two runs would write different bytes.
/// Rewrites the header's `__metadata__` object in the order of `fields`: the
/// same keys and values, so the same length, and the tensors stay in place.
fn fix_metadata_order(path: &Path, fields: &[(&str, String)]) -> anyhow::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)?;
    let n = usize::try_from(u64::from_le_bytes(len))?;
    let mut header = vec![0u8; n];
    f.read_exact(&mut header)?;
    let text = String::from_utf8(header)?;
    const KEY: &str = "\"__metadata__\":";
    let start = text.find(KEY).context("no __metadata__ in the header")? + KEY.len();
    let end = start
        + text[start..]
            .find('}')
            .context("unterminated __metadata__")?
        + 1;
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text[start..end])?;
    let mut ordered = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if object.get(*k).and_then(|x| x.as_str()) != Some(v.as_str()) {
            bail!("metadata `{k}` was not written as given");
        }
        if i > 0 {
            ordered.push(',');
        }
        ordered.push_str(&serde_json::to_string(k)?);
        ordered.push(':');
        ordered.push_str(&serde_json::to_string(v)?);
    }
    ordered.push('}');
    if object.len() != fields.len() || ordered.len() != end - start {
        bail!("the metadata does not rewrite to the same length");
    }
    f.seek(SeekFrom::Start(8 + start as u64))?;
    f.write_all(ordered.as_bytes())?;
    Ok(())
}

fn group(st: &SafeTensors<'_>, name: &str, path: &Path) -> anyhow::Result<Ragged> {
    let len_name = format!("{name}.lengths");
    let l = st
        .tensor(&len_name)
        .with_context(|| format!("{}: no tensor `{len_name}`", path.display()))?;
    if l.dtype() != Dtype::I64 || l.shape().len() != 1 {
        bail!("{}: `{len_name}` must be 1-D i64", path.display());
    }
    let lengths = l
        .data()
        .chunks_exact(8)
        .map(|b| {
            let v = i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            usize::try_from(v).ok().filter(|&v| v > 0)
        })
        .collect::<Option<Vec<usize>>>()
        .with_context(|| format!("{}: `{len_name}` holds a length < 1", path.display()))?;
    let m = matrix(st, name, path)?;
    let tokens: usize = lengths.iter().sum();
    if m.rows != tokens {
        bail!(
            "{}: tensor `{name}` has {} tokens, its lengths add up to {tokens}",
            path.display(),
            m.rows
        );
    }
    Ok(Ragged::new(m.data, lengths, m.cols))
}

/// Reads and checks a hidden-states file: every group present, one width,
/// chosen and rejected of the same rows.
///
/// # Errors
/// A missing or malformed tensor or metadata field, named with the file.
pub fn read_hidden(path: &Path) -> anyhow::Result<HiddenStates> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let st = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    // default: no metadata: each field lookup below then fails, naming the key and the file.
    let meta = header.metadata().clone().unwrap_or_default();
    let field = |k: &str| {
        meta.get(k)
            .cloned()
            .with_context(|| format!("{}: no `{k}` in the metadata", path.display()))
    };
    let number = |k: &str| -> anyhow::Result<usize> {
        field(k)?
            .parse()
            .with_context(|| format!("{}: metadata `{k}` is not a count", path.display()))
    };
    let groups = FEATURE_TENSORS
        .iter()
        .map(|n| group(&st, n, path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let h = HiddenStates {
        architecture: field("architecture")?,
        n_layers: number("n_layers")?,
        lower_layers: number("lower_layers")?,
        groups,
    };
    if h.groups.iter().any(|g| g.hidden != h.hidden()) {
        bail!("{}: groups of different widths", path.display());
    }
    for pair in h.groups.chunks(2) {
        if pair[0].rows() != pair[1].rows() {
            bail!("{}: chosen and rejected row counts differ", path.display());
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ragged(lengths: &[usize], hidden: usize, salt: f32) -> Ragged {
        let mut r = Ragged::zeros(lengths.to_vec(), hidden);
        for (i, x) in r.data.iter_mut().enumerate() {
            *x = salt + i as f32;
        }
        r
    }

    #[test]
    fn writes_reads_back_pads_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(HIDDEN_FILE);
        let mut groups = vec![
            ragged(&[2, 3], 2, 0.0),
            ragged(&[1, 4], 2, 100.0),
            ragged(&[3], 2, 200.0),
            ragged(&[2], 2, 300.0),
            ragged(&[], 2, 0.0),
            ragged(&[], 2, 0.0),
        ];
        let h = HiddenStates {
            groups: groups.clone(),
            architecture: "bert".into(),
            n_layers: 6,
            lower_layers: 5,
        };
        write_hidden(&p, &h).unwrap();
        let back = read_hidden(&p).unwrap();
        assert_eq!(back, h);
        // The same bytes every time (the metadata in a fixed order).
        let bytes = std::fs::read(&p).unwrap();
        assert!(
            bytes[8..].starts_with(
                br#"{"__metadata__":{"architecture":"bert","n_layers":"6","lower_layers":"5"}"#
            ),
            "{}",
            String::from_utf8_lossy(&bytes[8..100])
        );
        for _ in 0..8 {
            write_hidden(&p, &h).unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), bytes);
        }
        assert_eq!(back.group("train.rejected").unwrap().row(1)[0], 102.0);
        // Padding: row 1 (3 tokens) then row 0 (2 tokens, one zero token).
        let s = back.groups[0].longest(&[1, 0]);
        assert_eq!(s, 3);
        let mut pad = Vec::new();
        back.groups[0].pad_into(&[1, 0], s, &mut pad);
        assert_eq!(&pad[..6], &[4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(&pad[6..], &[0.0, 1.0, 2.0, 3.0, 0.0, 0.0]);
        // Chosen and rejected must pair up.
        groups[3] = ragged(&[2, 2], 2, 0.0);
        let bad = HiddenStates { groups, ..h };
        write_hidden(&p, &bad).unwrap();
        let e = read_hidden(&p).unwrap_err().to_string();
        assert!(e.contains("row counts differ"), "{e}");
        std::fs::write(&p, b"junk").unwrap();
        assert!(read_hidden(&p).is_err());
    }
}
