//! What a pass of a model costs, counted from its configuration: the FLOPs of
//! its matrix products per token, and the bytes a decoding step reads per
//! token. The benches divide measured speed by these to say how close a row
//! runs to the machine's GEMM peak or memory bandwidth (issue 24).
//!
//! Only matrix products are counted (a multiply-add is 2 FLOPs); norms,
//! activations, softmax and the optimizer are elementwise and left out, as in
//! the usual model-FLOPs accounting (PaLM, App. B). Attention is counted over
//! the whole sequence, causal or not, since both Burn's fused kernel and
//! PyTorch eager compute the masked half too.

use super::bert::BertConfig;
use super::config::LlamaConfig;
use super::lora::LoraConfig;

/// How a pass is differentiated, which sets the backward's share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pass {
    /// Forward only (inference).
    Forward,
    /// Forward and backward with every weight trained: the backward costs
    /// twice the forward (the input and the weight gradient of every product).
    Train,
    /// Forward and backward with only LoRA adapters of this rank trained on
    /// the q/k/v/o projections: the backward takes every product's input
    /// gradient (once the forward) but only the adapters' weight gradients.
    Lora(LoraConfig),
}

/// FLOPs per token of one pass of a Llama on sequences of `seq` tokens,
/// logits for every position included.
///
/// With h = hidden, q = heads·head_dim, k = kv_heads·head_dim, i = the MLP
/// width, L layers, V the vocabulary and s = `seq`, the forward is
/// `F = L·(2·h·(2q + 2k) + 6·h·i + 4·q·s) + 2·h·V`
/// (projections q, k, v, o; gate, up and down; scores Q·Kᵀ and P·V; the LM
/// head). `Train` gives 3·F. `Lora` gives 2·F plus, on each of the 4·L
/// adapted projections (in → out), 3·2·r·(in + out) for the adapter's own
/// forward, input and weight gradients.
pub fn llama_flops_per_token(cfg: &LlamaConfig, seq: usize, pass: Pass) -> f64 {
    let (h, i, s) = (
        cfg.hidden_size as f64,
        cfg.intermediate_size as f64,
        seq as f64,
    );
    let q = (cfg.num_attention_heads * cfg.head_dim) as f64;
    let k = (cfg.num_key_value_heads * cfg.head_dim) as f64;
    let layers = cfg.num_hidden_layers as f64;
    let per_layer = 2.0 * h * (2.0 * q + 2.0 * k) + 6.0 * h * i + 4.0 * q * s;
    let forward = layers * per_layer + 2.0 * h * cfg.vocab_size as f64;
    match pass {
        Pass::Forward => forward,
        Pass::Train => 3.0 * forward,
        Pass::Lora(lora) => {
            let r = lora.rank as f64;
            // (in, out) of q, k, v, o.
            let adapted = (h + q) + (h + k) + (h + k) + (q + h);
            2.0 * forward + layers * 3.0 * 2.0 * r * adapted
        }
    }
}

/// FLOPs per token of one pass of a BERT encoder on sequences of `seq`
/// tokens (no pooler, no LM head: the reward model scores pooled states).
///
/// With h = hidden, i = the MLP width, L layers and s = `seq`, the forward is
/// `F = L·(8·h² + 4·h·i + 4·h·s)` (projections q, k, v, o; the two MLP
/// products; scores and P·V). `Train` gives 3·F; `Lora` is not used with
/// BERT here and counts as `Train`.
pub fn bert_flops_per_token(cfg: &BertConfig, seq: usize, pass: Pass) -> f64 {
    let (h, i, s) = (
        cfg.hidden_size as f64,
        cfg.intermediate_size as f64,
        seq as f64,
    );
    let forward = cfg.num_hidden_layers as f64 * (8.0 * h * h + 4.0 * h * i + 4.0 * h * s);
    match pass {
        Pass::Forward => forward,
        Pass::Train | Pass::Lora(_) => 3.0 * forward,
    }
}

/// Parameters a Llama's decoding step reads, all of them once per step
/// whatever the batch: every layer's projections and norms, the final norm
/// and the LM head (the embedding matrix when tied, which the lookup of the
/// new tokens' rows does not add to).
///
/// `L·(h·(2q + 2k) + 3·h·i + 2·h) + h + V·h`.
pub fn llama_params_per_step(cfg: &LlamaConfig) -> f64 {
    let (h, i) = (cfg.hidden_size as f64, cfg.intermediate_size as f64);
    let q = (cfg.num_attention_heads * cfg.head_dim) as f64;
    let k = (cfg.num_key_value_heads * cfg.head_dim) as f64;
    cfg.num_hidden_layers as f64 * (h * (2.0 * q + 2.0 * k) + 3.0 * h * i + 2.0 * h)
        + h
        + cfg.vocab_size as f64 * h
}

/// Bytes read per generated token when decoding `batch` sequences at once
/// in f32, with `prompt` tokens of prompt and `new_tokens` generated: each
/// step (the prefill included, which yields the first token) reads every
/// weight once for the `batch` tokens it yields, and each sequence's KV
/// cache, `2·L·k·c` values at a mean context of c = prompt + new_tokens / 2:
///
/// `4·(P / batch + 2·L·k·c)` with P = [`llama_params_per_step`].
pub fn llama_decode_bytes_per_token(
    cfg: &LlamaConfig,
    batch: usize,
    prompt: usize,
    new_tokens: usize,
) -> f64 {
    let k = (cfg.num_key_value_heads * cfg.head_dim) as f64;
    let ctx = prompt as f64 + new_tokens as f64 / 2.0;
    let kv = 2.0 * cfg.num_hidden_layers as f64 * k * ctx;
    4.0 * (llama_params_per_step(cfg) / batch.max(1) as f64 + kv)
}

/// FLOPs per generated token when decoding: the prefill of `prompt` tokens
/// (every layer, logits for its last position only, which yields the first
/// token) and `new_tokens − 1` steps of one token each at a mean context of
/// c = prompt + new_tokens / 2, spread over the `new_tokens`, plus the LM
/// head once per token:
///
/// `(prompt·B(prompt) + (new − 1)·B(c)) / new + 2·h·V`, where
/// `B(s) = L·(2·h·(2q + 2k) + 6·h·i + 4·q·s)` is [`llama_flops_per_token`]'s
/// layer term. With this and [`llama_decode_bytes_per_token`] a decoding row
/// is bounded by whichever of the GEMM peak and the memory bandwidth it
/// meets first (the roofline): at batch 8, 16 + 64 tokens, SmolLM2 does 4.6
/// FLOPs per byte.
pub fn llama_decode_flops_per_token(cfg: &LlamaConfig, prompt: usize, new_tokens: usize) -> f64 {
    let head = 2.0 * cfg.hidden_size as f64 * cfg.vocab_size as f64;
    let body = |s: usize| llama_flops_per_token(cfg, s, Pass::Forward) - head;
    let new = new_tokens.max(1) as f64;
    let steps = new - 1.0;
    let ctx = prompt + new_tokens / 2;
    (prompt as f64 * body(prompt) + steps * body(ctx)) / new + head
}

/// The matrix products `[m, k] × [k, n]` of one Llama forward on `tokens`
/// tokens at once, each shape once: the q and o projections, k and v, the
/// MLP's gate/up and down, and the LM head. What the GEMM bench row times
/// beside the square shapes.
pub fn llama_gemm_shapes(cfg: &LlamaConfig, tokens: usize) -> Vec<[usize; 3]> {
    let h = cfg.hidden_size;
    let q = cfg.num_attention_heads * cfg.head_dim;
    let k = cfg.num_key_value_heads * cfg.head_dim;
    let i = cfg.intermediate_size;
    let mut shapes = vec![
        [tokens, h, q],
        [tokens, h, k],
        [tokens, h, i],
        [tokens, i, h],
        [tokens, h, cfg.vocab_size],
    ];
    shapes.dedup();
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M's configuration (its config.json on the Hub).
    fn smollm2() -> LlamaConfig {
        LlamaConfig::from_hf_json(
            r#"{"vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
                "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
                "rms_norm_eps": 1e-5, "rope_theta": 100000, "max_position_embeddings": 8192,
                "tie_word_embeddings": true}"#,
            "smollm2",
        )
        .unwrap()
    }

    #[test]
    fn smollm2_has_its_published_parameter_count() {
        // 134,515,008 parameters (the Hub's safetensors index), less the
        // embedding lookup that the tied head already counts: none extra.
        assert_eq!(llama_params_per_step(&smollm2()), 134_515_008.0);
    }

    #[test]
    fn forward_flops_are_twice_the_weights_plus_attention() {
        let cfg = smollm2();
        // Without attention, a forward is two FLOPs per weight a token meets
        // (every weight but the norms' gains).
        let norms = (cfg.num_hidden_layers * 2 + 1) as f64 * 576.0;
        let at0 = llama_flops_per_token(&cfg, 0, Pass::Forward);
        assert_eq!(at0, 2.0 * (llama_params_per_step(&cfg) - norms));
        let at192 = llama_flops_per_token(&cfg, 192, Pass::Forward);
        assert_eq!(at192 - at0, 30.0 * 4.0 * 576.0 * 192.0);
        assert!((at192 / 1e6 - 282.0).abs() < 1.0, "{at192}");
        assert_eq!(llama_flops_per_token(&cfg, 192, Pass::Train), 3.0 * at192);
        let lora = llama_flops_per_token(&cfg, 192, Pass::Lora(LoraConfig::default()));
        assert!(lora > 2.0 * at192 && lora < 2.05 * at192);
    }

    #[test]
    fn minilm_forward_flops() {
        let cfg = BertConfig {
            vocab_size: 30522,
            hidden_size: 384,
            intermediate_size: 1536,
            num_hidden_layers: 6,
            num_attention_heads: 12,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        };
        let f = bert_flops_per_token(&cfg, 128, Pass::Forward);
        assert_eq!(
            f,
            6.0 * (8.0 * 384.0 * 384.0 + 4.0 * 384.0 * 1536.0 + 4.0 * 384.0 * 128.0)
        );
    }

    #[test]
    fn decoding_reads_the_weights_once_per_step_shared_by_the_batch() {
        let cfg = smollm2();
        let b1 = llama_decode_bytes_per_token(&cfg, 1, 16, 64);
        let b8 = llama_decode_bytes_per_token(&cfg, 8, 16, 64);
        // The KV cache: 2 (K and V) × 30 layers × 192 values at a mean context of 48.
        let kv = 4.0 * 2.0 * 30.0 * 192.0 * 48.0;
        assert!((b1 - (4.0 * 134_515_008.0 + kv)).abs() < 1e-3, "{b1}");
        assert!((b8 - (4.0 * 134_515_008.0 / 8.0 + kv)).abs() < 1e-3);
    }

    #[test]
    fn decoding_flops_add_the_prefill_to_one_token_steps() {
        let cfg = smollm2();
        let head = 2.0 * 576.0 * 49152.0;
        let body = |s| llama_flops_per_token(&cfg, s, Pass::Forward) - head;
        let f = llama_decode_flops_per_token(&cfg, 16, 64);
        assert!((f - ((16.0 * body(16) + 63.0 * body(48)) / 64.0 + head)).abs() < 1.0);
        // Without a prompt, each token costs one forward at its context.
        let g = llama_decode_flops_per_token(&cfg, 0, 64);
        assert!((g - (63.0 * body(32) / 64.0 + head)).abs() < 1.0);
        // SmolLM2 at batch 8 (16 + 64 tokens): about 4.6 FLOPs per byte read.
        let intensity = f / llama_decode_bytes_per_token(&cfg, 8, 16, 64);
        assert!((4.4..4.9).contains(&intensity), "{intensity}");
    }

    #[test]
    fn gemm_shapes_of_a_forward() {
        let s = llama_gemm_shapes(&smollm2(), 1536);
        assert_eq!(s[0], [1536, 576, 576]);
        assert_eq!(s[4], [1536, 576, 49152]);
    }
}
