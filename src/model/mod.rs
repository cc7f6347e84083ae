//! Models in Burn: the Llama family, BERT and MPNet, loaded from real weights, with
//! LoRA, reward/value heads and generation (issue 4).

pub mod bert;
pub mod cache;
pub mod chat;
pub mod chat_prompt;
pub mod cli;
pub mod config;
pub mod embed;
pub mod encoder;
pub mod export;
pub mod fast;
pub mod generate;
pub mod heads;
pub mod llama;
pub mod load;
pub mod lora;
pub mod mpnet;
pub mod rope;

/// Version of the numerics of every Burn stage: part of each Burn stage's
/// key (next to the backend), bumped whenever a change to the model code, the
/// Burn features or the kernels it selects alters output bytes. Version 1
/// (keys without the field) was the numerics before issue 11; 2 added the
/// fused inference kernels; 3 the AVX-512 GEMM kernels, the fused training
/// ops (their backward passes) and the fused SwiGLU. A kernel that only one
/// stage kind calls (`fast::token_logprobs`, `train.ppo`) bumps that kind's
/// `code_version` instead, so the other stages keep their keys.
pub const NUMERICS_VERSION: u32 = 3;
