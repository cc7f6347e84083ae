#!/usr/bin/env bash
# Single-node Garage S3 server on 127.0.0.1 for the remote tests (.ci/run calls it); idempotent.
# stdout: export lines (use: eval "$(scripts/s3-up.sh)"). Stop it with scripts/s3-down.sh [--wipe].
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${SVC_S3_DIR:-/tmp/repro-services/s3}; PORT=${SVC_S3_PORT:-3900}; TOOLS=${SVC_TOOLS_DIR:-/tmp/repro-services/tools}
# garage: $SVC_GARAGE_BIN, else on PATH, else the prebuilt copy in ../shared/tools beside the checkout
# (Garage 2.5.0 from crates.io, stripped), else built from crates.io.
GARAGE=${SVC_GARAGE_BIN:-$(command -v garage || true)}; [ -n "$GARAGE" ] || GARAGE=$HERE/../../shared/tools/garage
[ -x "$GARAGE" ] || GARAGE=$TOOLS/garage/bin/garage; BUCKET=test; REGION=us-east-1; EP=http://127.0.0.1:$PORT
AK=GK0123456789abcdef01234567                                          # garage: GK + 24 hex
SK=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  # 64 hex
log() { echo "s3-up: $*" >&2; }
alive() { local p; p=$(cat "$1" 2>/dev/null) || return 1; [ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = garage ]; }
if [ ! -x "$GARAGE" ]; then   # not in Debian; build from crates.io (~35 min at -j1 on this box)
  log "building garage 2.5.0"
  cargo install garage@2.5.0 --locked --no-default-features --features bundled-libs,sqlite \
    --root "$TOOLS/garage" --target-dir "$TOOLS/garage-target" >&2
fi
mkdir -p "$BASE"/{meta,data,run}; CONF=$BASE/garage.toml; tmp=$(mktemp)
cat > "$tmp" <<EOF
metadata_dir = "$BASE/meta"
data_dir = "$BASE/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((PORT+1))"
rpc_public_addr = "127.0.0.1:$((PORT+1))"
rpc_secret = "5ec2e7a1c0ffee5ec2e7a1c0ffee5ec2e7a1c0ffee5ec2e7a1c0ffee5ec2e7a1"
[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$PORT"
root_domain = ".s3.localhost"
[admin]
api_bind_addr = "127.0.0.1:$((PORT+3))"
admin_token = "svc-admin-token"
EOF
if cmp -s "$tmp" "$CONF"; then rm -f "$tmp"; else mv "$tmp" "$CONF"; chmod 600 "$CONF"; fi
if ! alive "$BASE/run/garage.pid"; then   # --single-node: makes layout; --default-bucket: key + bucket + rights
  log "starting garage on $EP"
  GARAGE_DEFAULT_ACCESS_KEY=$AK GARAGE_DEFAULT_SECRET_KEY=$SK GARAGE_DEFAULT_BUCKET=$BUCKET \
    setsid "$GARAGE" -c "$CONF" server --single-node --default-bucket >>"$BASE/garage.log" 2>&1 </dev/null &
  echo $! > "$BASE/run/garage.pid"
fi
for _ in $(seq 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$((PORT+3))/health" 2>/dev/null && curl -sS -o /dev/null "$EP/" 2>/dev/null && { ready=1; break; }
  alive "$BASE/run/garage.pid" || { log "garage exited:"; tail -5 "$BASE/garage.log" >&2; exit 1; }
  sleep 0.1
done
[ "${ready:-}" = 1 ] || { log "not ready after 30 s, see $BASE/garage.log"; exit 1; }
log "ready: $EP bucket=$BUCKET (path-style, region $REGION)"
printf 'export %s\n' AWS_ENDPOINT_URL=$EP AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK \
  AWS_REGION=$REGION AWS_DEFAULT_REGION=$REGION AWS_ALLOW_HTTP=true S3_BUCKET=$BUCKET
