#!/usr/bin/env python3
"""Burn (flex) against PyTorch eager on the same rows, shapes and weights (issue 11).

Each row runs in its own process on each side, the sides taking turns
(the order rotates every repetition), `--reps` times. The sides: Burn as
built, PyTorch eager, and with `--before` also "Burn before": the same Burn
binary with BENCH_BASELINE=1 (Burn's own ops, the fused kernels and the
allocator setting off), or with `--before-burn CMD` another Burn binary (the
compare bench built at an earlier commit, to show a change's effect in one
run), and with `--tch CMD` also Burn on LibTorch: that command (the compare
bench built with `--features tch`) run with BENCH_BACKEND=tch. Prints a
Markdown table: the median tok/s of each
side over the repetitions, the ratio Burn / PyTorch as `N.NNx` (and before /
PyTorch, LibTorch / PyTorch), and each side's largest peak RSS.

Usage: scripts/bench-compare.py --burn 'CMD' --python PY [--reps N] [--rows a,b]
                                [--before | --before-burn 'CMD'] [--tch 'CMD']
  --burn: command that runs one Burn row given its name as the last argument
          (make bench-compare passes the compare bench binary).
Environment: REPRO_MODELS, BENCH_LLAMA_DIR, BENCH_THREADS (also sets
RAYON_NUM_THREADS), BENCH_ITERS, BENCH_WARMUP.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys

ROWS = [
    ("rm_step", "RM train step MiniLM 16×128"),
    ("minilm_infer", "MiniLM inference 64×128 (model.features)"),
    ("lm_fwd_bwd", "SmolLM2 fwd+bwd 4×128"),
    ("lora_fwd_bwd", "SmolLM2 LoRA fwd+bwd 8×128"),
    ("lm_forward", "SmolLM2 no-grad forward 8×192"),
    ("gen_b1", "SmolLM2 generate b1 (16+64 tokens)"),
    ("gen_b8", "SmolLM2 generate b8 (16+64 tokens)"),
]


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        sys.stderr.write(f"FAILED: {shlex.join(cmd)}\n{p.stderr[-2000:]}\n")
        return None
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--burn", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rows", default=",".join(r for r, _ in ROWS))
    ap.add_argument("--before", action="store_true", help="also run Burn with BENCH_BASELINE=1")
    ap.add_argument("--before-burn", help="also run this Burn command (e.g. an earlier commit's build) as 'before'")
    ap.add_argument("--tch", help="also run this Burn command (built with --features tch) on LibTorch")
    a = ap.parse_args()
    if a.before and a.before_burn:
        sys.exit("--before and --before-burn are exclusive")
    threads = os.environ.get("BENCH_THREADS") or str(os.cpu_count())
    env = dict(os.environ, BENCH_THREADS=threads, RAYON_NUM_THREADS=threads, BENCH_BACKEND="flex")
    # LibTorch sizes its intra-op pool from BENCH_THREADS (compare.rs), its
    # OpenMP runtime from OMP_NUM_THREADS.
    tch_env = dict(env, BENCH_BACKEND="tch", OMP_NUM_THREADS=threads)
    torch_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches", "compare_torch.py")
    wanted = a.rows.split(",")
    names = dict(ROWS)
    unknown = [r for r in wanted if r not in names]
    if unknown:
        sys.exit(f"unknown rows {unknown}; known: {list(names)}")
    res = {r: {"burn": [], "torch": [], "before": [], "tch": []} for r in wanted}
    base_env = env if a.before_burn else dict(env, BENCH_BASELINE="1")
    before_cmd = shlex.split(a.before_burn or a.burn)
    show_before = a.before or bool(a.before_burn)
    for rep in range(a.reps):
        if rep:
            table(res, wanted, names, threads, rep, show_before, bool(a.tch))
        for row in wanted:
            sides = [("burn", shlex.split(a.burn) + [row], env), ("torch", [a.python, torch_py, row], env)]
            if show_before:
                sides.append(("before", before_cmd + [row], base_env))
            if a.tch:
                sides.append(("tch", shlex.split(a.tch) + [row], tch_env))
            k = rep % len(sides)
            sides = sides[k:] + sides[:k]
            for side, cmd, side_env in sides:
                r = run(cmd, side_env)
                if r:
                    res[row][side].append(r)
                    print(f"# rep {rep} {row} {side}: {r['tok_s']:.1f} tok/s, {r['rss_kb'] / 1024:.0f} MiB",
                          file=sys.stderr, flush=True)
    table(res, wanted, names, threads, a.reps, show_before, bool(a.tch))


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def table(res, wanted, names, threads, reps, before, tch):
    print(f"\n{threads} threads, {reps} repetitions (median tok/s), iters={os.environ.get('BENCH_ITERS', '3')}\n")
    head = "| row | Burn tok/s | PyTorch tok/s | Burn/PyTorch | Burn peak RSS | PyTorch peak RSS |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if before:
        head += " Burn before tok/s | before/PyTorch | after/before |"
        rule += "---:|---:|---:|"
    if tch:
        head += " LibTorch tok/s | LibTorch/PyTorch | LibTorch peak RSS |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for row in wanted:
        tok = {side: [x["tok_s"] for x in res[row][side]] for side in res[row]}
        bm, tm, pm = median(tok["burn"]), median(tok["torch"]), median(tok["before"])
        rb = max((x["rss_kb"] for x in res[row]["burn"]), default=0) / 1024
        rt = max((x["rss_kb"] for x in res[row]["torch"]), default=0) / 1024
        line = f"| {names[row]} | {bm:.1f} | {tm:.1f} | {bm / tm:.2f}x | {rb:.0f} MiB | {rt:.0f} MiB |"
        if before:
            line += f" {pm:.1f} | {pm / tm:.2f}x | {bm / pm:.2f}x |"
        if tch:
            lm = median(tok["tch"])
            rl = max((x["rss_kb"] for x in res[row]["tch"]), default=0) / 1024
            line += f" {lm:.1f} | {lm / tm:.2f}x | {rl:.0f} MiB |"
        print(line)


if __name__ == "__main__":
    main()
