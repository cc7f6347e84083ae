//! ggml tensor types and their dequantisation to f32.
//!
//! Block layouts from llama.cpp `gguf-py/gguf/quants.py` and
//! `ggml/src/ggml-quants.c` (`dequantize_row_q4_0` etc.):
//! - Q4_0 (id 2): 32 values in 18 bytes, `d: f16 | qs: [u8; 16]`,
//!   `x[j] = ((qs[j] & 0xF) - 8)·d`, `x[j+16] = ((qs[j] >> 4) - 8)·d`.
//! - Q4_1 (id 3): 32 values in 20 bytes, `d: f16 | m: f16 | qs: [u8; 16]`,
//!   `x[j] = (qs[j] & 0xF)·d + m`, `x[j+16] = (qs[j] >> 4)·d + m`.
//! - Q8_0 (id 8): 32 values in 34 bytes, `d: f16 | qs: [i8; 32]`, `x[j] = qs[j]·d`.

use half::{bf16, f16};

/// The ggml types we can dequantise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    /// 32-bit float (id 0).
    F32,
    /// 16-bit IEEE float (id 1).
    F16,
    /// 4-bit, one scale per 32 (id 2).
    Q4_0,
    /// 4-bit, scale and minimum per 32 (id 3).
    Q4_1,
    /// 8-bit, one scale per 32 (id 8).
    Q8_0,
    /// bfloat16 (id 30).
    BF16,
}

impl GgmlType {
    /// The type with ggml id `id`, if supported.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            30 => GgmlType::BF16,
            _ => return None,
        })
    }

    /// A short name (`Q4_1`).
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::BF16 => "BF16",
        }
    }

    /// Values per block.
    pub fn block_len(self) -> u64 {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q4_1 => 20,
            GgmlType::Q8_0 => 34,
        }
    }
}

/// A ggml type name for any id, for `model info` (unknown ids print as numbers).
pub fn type_name(id: u32) -> String {
    GgmlType::from_id(id).map_or_else(|| format!("type{id}"), |t| t.name().to_string())
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32()
}

/// Dequantises whole blocks of `raw`; a trailing partial block is ignored
/// (the caller sizes `raw` from the tensor's dims).
pub fn dequantize(ty: GgmlType, raw: &[u8]) -> Vec<f32> {
    let bb = ty.block_bytes() as usize;
    let n_blocks = raw.len() / bb;
    let mut out = Vec::with_capacity(n_blocks * ty.block_len() as usize);
    for blk in raw.chunks_exact(bb) {
        match ty {
            GgmlType::F32 => out.push(f32::from_le_bytes([blk[0], blk[1], blk[2], blk[3]])),
            GgmlType::F16 => out.push(f16_at(blk, 0)),
            GgmlType::BF16 => {
                out.push(bf16::from_bits(u16::from_le_bytes([blk[0], blk[1]])).to_f32())
            }
            GgmlType::Q4_0 => {
                let d = f16_at(blk, 0);
                let qs = &blk[2..18];
                out.extend(qs.iter().map(|&q| (f32::from(q & 0x0F) - 8.0) * d));
                out.extend(qs.iter().map(|&q| (f32::from(q >> 4) - 8.0) * d));
            }
            GgmlType::Q4_1 => {
                let d = f16_at(blk, 0);
                let m = f16_at(blk, 2);
                let qs = &blk[4..20];
                out.extend(qs.iter().map(|&q| f32::from(q & 0x0F) * d + m));
                out.extend(qs.iter().map(|&q| f32::from(q >> 4) * d + m));
            }
            GgmlType::Q8_0 => {
                let d = f16_at(blk, 0);
                out.extend(blk[2..34].iter().map(|&q| f32::from(q as i8) * d));
            }
        }
    }
    out
}
