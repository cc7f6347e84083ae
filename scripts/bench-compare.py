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

The machine's limits are measured in the same run (issue 24): the CPU's
identity (Burn's `cpu` row: model name, family/model/stepping, L1d/L2, the
ISA gemm chose; PyTorch's CPU capability), a GEMM row (`gemm`: Burn's matmul
and torch.mm on the same shapes, GFLOP/s) and a memory-bandwidth row (`membw`:
read and copy GB/s on one thread and on all). Each model row carries its cost
per token, counted by the Burn side from the model's configuration
(`repro::model::cost`): FLOPs for compute-bound rows, read against the best
GEMM GFLOP/s either side reached; bytes for decoding rows, read against the
all-thread read bandwidth. The load average is printed at the start and end.

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

# The machine's limits; not model rows (their table is printed apart).
LIMITS = [
    ("gemm", "GEMM (GFLOP/s)"),
    ("membw", "memory bandwidth (GB/s)"),
]

ROWS = [
    ("rm_step", "RM train step MiniLM 16×128"),
    ("minilm_infer", "MiniLM inference 64×128 (model.features)"),
    ("lm_fwd_bwd", "SmolLM2 fwd+bwd 4×128"),
    ("lora_fwd_bwd", "SmolLM2 LoRA fwd+bwd 8×128"),
    ("lm_forward", "SmolLM2 no-grad forward 8×192"),
    ("gen_b1", "SmolLM2 generate b1 (16+64 tokens)"),
    ("gen_b8", "SmolLM2 generate b8 (16+64 tokens)"),
    ("gen_b32", "SmolLM2 generate b32 (16+64 tokens)"),
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
    ap.add_argument("--rows", default=",".join(r for r, _ in LIMITS + ROWS))
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
    asked = a.rows.split(",")
    names = dict(ROWS)
    unknown = [r for r in asked if r not in names and r not in dict(LIMITS)]
    if unknown:
        sys.exit(f"unknown rows {unknown}; known: {[r for r, _ in LIMITS + ROWS]}")
    wanted = [r for r in asked if r in names]
    load_start = os.getloadavg()
    cpu = run(shlex.split(a.burn) + ["cpu"], env)
    limits = measure_limits(a, asked, env, torch_py)
    res = {r: {"burn": [], "torch": [], "before": [], "tch": []} for r in wanted}
    base_env = env if a.before_burn else dict(env, BENCH_BASELINE="1")
    before_cmd = shlex.split(a.before_burn or a.burn)
    show_before = a.before or bool(a.before_burn)
    for rep in range(a.reps):
        if rep and wanted:
            table(res, wanted, names, threads, rep, show_before, bool(a.tch), limits)
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
    print_identity(cpu, limits, threads, load_start, os.getloadavg())
    print_limits(limits, threads)
    if wanted:
        table(res, wanted, names, threads, a.reps, show_before, bool(a.tch), limits)


def measure_limits(a, asked, env, torch_py):
    """The GEMM and bandwidth rows, `--reps` times, the sides taking turns.

    Returns {"gemm": {"burn": {shape: [gflops]}, "torch": {...}}, "membw":
    {(threads, huge_pages): {"read": [...], "copy": [...]}}, "torch_isa": str}.
    """
    out = {"gemm": {"burn": {}, "torch": {}}, "membw": {}, "torch_isa": None}
    if "gemm" in asked:
        for rep in range(a.reps):
            burn = run(shlex.split(a.burn) + ["gemm"], env)
            if not burn:
                break
            shapes = [f"{s['m']},{s['k']},{s['n']}" for s in burn["shapes"]]
            torch = run([a.python, torch_py, "gemm"] + shapes, env)
            for side, r in (("burn", burn), ("torch", torch)):
                for s in (r or {}).get("shapes", []):
                    out["gemm"][side].setdefault((s["m"], s["k"], s["n"]), []).append(s["gflops"])
            if torch:
                out["torch_isa"] = torch.get("isa")
            print(f"# rep {rep} gemm: " + ", ".join(
                f"{m}x{k}x{n} {median(v):.0f}" for (m, k, n), v in out["gemm"]["burn"].items()) + " GFLOP/s",
                file=sys.stderr, flush=True)
    if "membw" in asked:
        for rep in range(a.reps):
            r = run(shlex.split(a.burn) + ["membw"], env)
            for b in (r or {}).get("bandwidth", []):
                key = (b["threads"], bool(b.get("huge_pages")))
                slot = out["membw"].setdefault(key, {"read": [], "copy": []})
                slot["read"].append(b["read_gbs"])
                slot["copy"].append(b["copy_gbs"])
    return out


def gemm_peak(limits):
    """The best median GFLOP/s over shapes and sides: the compute-bound rows' limit."""
    best = [median(v) for side in limits["gemm"].values() for v in side.values()]
    return max(best, default=float("nan"))


def read_limit(limits, threads):
    """The best median read GB/s with the bench's thread count (else the most
    threads measured), huge pages or not: the decoding rows' limit."""
    counts = {t for t, _ in limits["membw"]}
    if not counts:
        return float("nan")
    t = int(threads) if int(threads) in counts else max(counts)
    return max(median(v["read"]) for (n, _), v in limits["membw"].items() if n == t)


def fmt_bytes(n):
    return "?" if n is None else f"{n // 1024} KiB" if n < 1 << 20 else f"{n / (1 << 20):g} MiB"


def print_identity(cpu, limits, threads, load_start, load_end):
    if cpu:
        fms = ", ".join(f"{k} {cpu[k]}" for k in ("family", "model", "stepping") if cpu.get(k) is not None)
        print(f"\nCPU: {cpu.get('model_name')} ({fms}); L1d {fmt_bytes(cpu.get('l1d_bytes'))}, "
              f"L2 {fmt_bytes(cpu.get('l2_bytes'))} per core; kernels: Burn gemm {cpu.get('isa')}, "
              f"PyTorch {limits.get('torch_isa') or '?'}; {threads} threads")
    print("load average (1, 5, 15 min): start " + " ".join(f"{x:.2f}" for x in load_start)
          + ", end " + " ".join(f"{x:.2f}" for x in load_end))


def print_limits(limits, threads):
    if not limits["gemm"]["burn"] and not limits["membw"]:
        return
    print("\n| limit | Burn | PyTorch | Burn/PyTorch |")
    print("|---|---:|---:|---:|")
    for shape, v in limits["gemm"]["burn"].items():
        b, t = median(v), median(limits["gemm"]["torch"].get(shape, []))
        print(f"| GEMM {'x'.join(map(str, shape))} GFLOP/s | {b:.1f} | {t:.1f} | {b / t:.2f}x |")
    for (n, huge), v in sorted(limits["membw"].items()):
        t = ("thread" if n == 1 else "threads") + (", huge pages" if huge else ", 4 KiB pages")
        print(f"| memory read, {n} {t}, GB/s | {median(v['read']):.1f} | | |")
        print(f"| memory copy (read + write), {n} {t}, GB/s | {median(v['copy']):.1f} | | |")
    print(f"\nLimits: GEMM peak {gemm_peak(limits):.1f} GFLOP/s (best of either side), "
          f"memory read {read_limit(limits, threads):.1f} GB/s ({threads} threads).")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def cost_cells(rows, bm, tm, limits, threads):
    """Cost per token and each side's share of the limit, from a row's Burn results.

    A compute row's limit is the GEMM peak over its FLOPs per token. A decoding
    row carries both its FLOPs and the bytes it reads per token; its limit is
    the roofline, whichever of the GEMM peak and the read bandwidth it meets
    first (at batch 1 the bandwidth; at batch 8 SmolLM2 does ~4.6 FLOPs per byte,
    about the machine's balance), named in the cell."""
    flops = next((x["flops_per_token"] for x in rows if "flops_per_token" in x), None)
    nbytes = next((x["bytes_per_token"] for x in rows if "bytes_per_token" in x), None)
    peak = gemm_peak(limits) * 1e9
    bw = read_limit(limits, threads) * 1e9
    bounds = []
    if flops is not None and peak == peak:
        bounds.append((peak / flops, "GEMM"))
    if nbytes is not None and bw == bw:
        bounds.append((bw / nbytes, "memory"))
    cost = ", ".join(c for c in [
        f"{flops / 1e6:.1f} MFLOP" if flops is not None else "",
        f"{nbytes / 1e6:.1f} MB" if nbytes is not None else "",
    ] if c) or "?"
    if not bounds:
        return cost, "?", "?"
    limit, name = min(bounds)
    tag = f" ({name})" if len(bounds) > 1 else ""
    return cost, f"{100 * bm / limit:.0f} %{tag}", f"{100 * tm / limit:.0f} %{tag}"


def table(res, wanted, names, threads, reps, before, tch, limits):
    print(f"\n{threads} threads, {reps} repetitions (median tok/s), iters={os.environ.get('BENCH_ITERS', '3')}; "
          "cost per token: matrix-product FLOPs (% of the GEMM peak) and, for decoding rows, bytes read "
          "(% of the roofline: the GEMM peak or the read bandwidth, whichever binds first, named)\n")
    head = ("| row | Burn tok/s | PyTorch tok/s | Burn/PyTorch | cost per token | Burn % of limit | "
            "PyTorch % of limit | Burn peak RSS | PyTorch peak RSS |")
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
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
        cost, bp, tp = cost_cells(res[row]["burn"], bm, tm, limits, threads)
        line = (f"| {names[row]} | {bm:.1f} | {tm:.1f} | {bm / tm:.2f}x | {cost} | {bp} | {tp} | "
                f"{rb:.0f} MiB | {rt:.0f} MiB |")
        if before:
            line += f" {pm:.1f} | {pm / tm:.2f}x | {bm / pm:.2f}x |"
        if tch:
            lm = median(tok["tch"])
            rl = max((x["rss_kb"] for x in res[row]["tch"]), default=0) / 1024
            line += f" {lm:.1f} | {lm / tm:.2f}x | {rl:.0f} MiB |"
        print(line)


if __name__ == "__main__":
    main()
