#!/usr/bin/env bash
# Push/pull throughput of `repro` against the local S3 server (Garage), beside a plain
# `aws s3 cp --recursive` of the same bytes (the store's objects) in the same run.
# Usage: eval "$(scripts/s3-up.sh)"; scripts/bench-remote.sh [N_BIG_10MB] [N_SMALL_100KB] [JOBS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPRO=${REPRO:-${CARGO_TARGET_DIR:-$ROOT/target}/release/repro}
BIG=${1:-20}; SMALL=${2:-200}; JOBS=${3:-8}
: "${AWS_ENDPOINT_URL:?start the server first: eval \"\$(scripts/s3-up.sh)\"}"
BUCKET=${S3_BUCKET:-test}; P=s3://$BUCKET/bench-$$-$(date +%s)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT; cd "$W"
{
  echo 'stages:'
  echo '  blobs:'
  echo '    kind: cmd'
  echo '    run: |'
  echo '      mkdir "$OUT/d"'
  echo "      for i in \$(seq 1 $BIG); do head -c 10000000 /dev/urandom > \"\$OUT/d/big\$i.bin\"; done"
  echo "      for i in \$(seq 1 $SMALL); do head -c 100000 /dev/urandom > \"\$OUT/d/small\$i.bin\"; done"
  echo '    outputs: [d]'
} > p.yaml
"$REPRO" run p.yaml --store a >/dev/null
BYTES=$(du -sb --apparent-size a/objects | cut -f1); FILES=$(find a/objects -type f | wc -l)
echo "payload: $FILES objects, $BYTES bytes; repro -j $JOBS; $(aws --version 2>&1 | cut -d' ' -f1) (default 10 concurrent requests)"
timed() {  # label, command...: prints seconds and MB/s
  local label=$1; shift; local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
  python3 -c 'import sys; d=float(sys.argv[3])-float(sys.argv[2]); print(f"{sys.argv[1]:<36} {d:7.2f} s  {int(sys.argv[4])/d/1e6:8.1f} MB/s")' "$label" "$s" "$e" "$BYTES"
}
mkdir b; cp p.yaml p.lock b/
timed "repro push (S3)" "$REPRO" push p.yaml --store a --remote "$P/repro" -j "$JOBS"
timed "repro push again (all HEAD hits)" "$REPRO" push p.yaml --store a --remote "$P/repro" -j "$JOBS"
timed "repro pull (S3, rehashed)" bash -c "cd b && '$REPRO' pull p.yaml --store store --remote '$P/repro' -j '$JOBS'"
timed "aws s3 cp --recursive (upload)" aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --recursive --quiet a/objects "$P/aws/"
timed "aws s3 cp --recursive (download)" aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --recursive --quiet "$P/aws/" dl/
(cd b && "$REPRO" verify p.yaml --store store | tail -1)
