//! Models in Burn: the Llama family, BERT and MPNet, loaded from real weights, with
//! LoRA, reward/value heads and generation (issue 4).

pub mod batch;
pub mod bert;
pub mod cache;
pub mod chat;
pub mod chat_prompt;
pub mod config;
pub mod cost;
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
mod numerics;
pub mod pool;
pub mod readback;
pub mod rope;
pub mod sentence;

pub use numerics::NUMERICS_VERSION;
