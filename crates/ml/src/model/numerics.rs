//! The version of the numerics of the model code, which every Burn stage
//! kind declares in its `KindInfo::numerics` (so the engine's keys cover it
//! without importing the model code; ARCHITECTURE.md, "Layers").

/// Version of the numerics of every Burn stage: part of each Burn stage's
/// key (next to the backend), bumped whenever a change to the model code, the
/// Burn features or the kernels it selects alters output bytes. Version 1
/// (keys without the field) was the numerics before issue 11; 2 added the
/// fused inference kernels; 3 the AVX-512 GEMM kernels, the fused training
/// ops (their backward passes) and the fused SwiGLU. A kernel that only one
/// stage kind calls (`model::fast::token_logprobs`, `train.ppo`) bumps that kind's
/// `code_version` instead, so the other stages keep their keys.
pub const NUMERICS_VERSION: u32 = 3;
